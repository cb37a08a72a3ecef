import { type CryptoKey, type JWTPayload, type KeyObject, SignJWT } from 'jose';

export const SECRET = 'test-secret-that-is-at-least-32-characters-long';

/** Seconds since the Unix epoch, as JWT `exp` wants them. */
export function inSeconds(seconds: number): number {
  return Math.floor(Date.now() / 1000) + seconds;
}

/** A real JWT signed with jose. `key` defaults to the HS256 test secret. */
export async function sign(
  claims: JWTPayload,
  options: { key?: CryptoKey | KeyObject | Uint8Array | string; alg?: string; kid?: string } = {},
): Promise<string> {
  const alg = options.alg ?? 'HS256';
  const key = options.key ?? SECRET;
  return new SignJWT(claims)
    .setProtectedHeader(options.kid ? { alg, kid: options.kid } : { alg })
    .setIssuedAt()
    .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
}

/** An unsecured JWT (`alg: none`, empty signature): what an attacker sends hoping nobody checks. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}
