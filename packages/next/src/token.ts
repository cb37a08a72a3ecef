import { SignJWT } from 'jose';

export interface ConnectionTokenOptions {
  /** Public information about the user, shown to others in presence (the token's `info` claim). */
  info?: unknown;
  /** Lifetime: seconds, or a duration like `15m`. Default `15m`; the client fetches a new one before it ends. */
  expiresIn?: number | string;
  /** The hub's HS256 secret. Default: `HERALD_TOKEN_SECRET`, which the embedded hub reads too. */
  secret?: string;
}

/**
 * A connection token (HS256 JWT, `sub` = `user`) that the hub verifies with the same secret: what a token
 * route hands the browser's `getToken`. See docs/auth.md.
 */
export async function connectionToken(user: string, options: ConnectionTokenOptions = {}): Promise<string> {
  const secret = options.secret ?? process.env.HERALD_TOKEN_SECRET;
  if (!secret || secret.length < 32)
    throw new Error('connectionToken needs HERALD_TOKEN_SECRET (or `secret`) of at least 32 characters');
  if (user === '') throw new Error('connectionToken needs a non-empty user id');
  const expiresIn = options.expiresIn ?? '15m';
  return new SignJWT(options.info === undefined ? {} : { info: options.info })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn)
    .sign(new TextEncoder().encode(secret));
}
