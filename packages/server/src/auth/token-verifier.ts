import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { HeraldError } from '@herald/protocol';
import {
  createRemoteJWKSet,
  errors,
  type FlattenedJWSInput,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { ConfigError } from '../config.ts';

export interface TokenKeys {
  /** HS256 shared secret. */
  secret?: string;
  /** PEM public key; RSA keys verify RS256, P-256 keys ES256. */
  publicKey?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

/** Algorithms a JWKS may sign with; anything else, `none` above all, is refused before any key is looked up. */
const JWKS_ALGORITHMS = ['RS256', 'ES256'];

function publicKeyAlgorithm(pem: string): { key: KeyObject; alg: string } {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ConfigError(`tokenPublicKey: cannot read the PEM key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType === 'rsa') return { key, alg: 'RS256' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { key, alg: 'ES256' };
  }
  throw new ConfigError('tokenPublicKey: must be an RSA key (RS256) or a P-256 EC key (ES256)');
}

/**
 * Verifies Herald's JWTs with `jose`: signature with the configured keys, algorithm pinned to the ones
 * those keys are for, `exp`/`nbf` (and `iss`/`aud` when configured). Failures are HeraldErrors:
 * `token_expired`, `unauthorized`, or `unavailable` when the JWKS cannot be fetched.
 */
export class TokenVerifier {
  private readonly algorithms: string[] = [];
  private readonly secret: KeyObject | undefined;
  private readonly publicKey: { key: KeyObject; alg: string } | undefined;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(private readonly keys: TokenKeys) {
    if (keys.secret !== undefined) {
      this.secret = createSecretKey(Buffer.from(keys.secret, 'utf8'));
      this.algorithms.push('HS256');
    }
    if (keys.publicKey !== undefined) {
      this.publicKey = publicKeyAlgorithm(keys.publicKey);
      this.algorithms.push(this.publicKey.alg);
    }
    if (keys.jwksUrl !== undefined) {
      // jose caches the key set (10 minutes) and refetches at most every 30 s for an unknown `kid`.
      this.jwks = createRemoteJWKSet(new URL(keys.jwksUrl), { timeoutDuration: 5_000 });
      this.algorithms.push(...JWKS_ALGORITHMS);
    }
  }

  get configured(): boolean {
    return this.algorithms.length > 0;
  }

  /** Verifies `token` and returns its claims; `sub` must be a non-empty string. */
  async verify(token: string, kind: 'connection' | 'subscription'): Promise<JWTPayload & { sub: string }> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header, input) => this.keyFor(header, input), {
        algorithms: [...new Set(this.algorithms)],
        issuer: this.keys.issuer,
        audience: this.keys.audience,
      }));
    } catch (err) {
      if (err instanceof HeraldError) throw err;
      if (err instanceof errors.JWTExpired)
        throw new HeraldError('token_expired', `the ${kind} token has expired`);
      throw new HeraldError('unauthorized', `invalid ${kind} token: ${(err as Error).message}`);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw new HeraldError('unauthorized', `the ${kind} token has no "sub" claim`);
    }
    // A subscription token names its channel; keeping the two kinds apart stops one standing in for the other.
    if ((kind === 'subscription') !== (payload.channel !== undefined)) {
      throw new HeraldError(
        'unauthorized',
        kind === 'subscription'
          ? 'the subscription token has no "channel" claim'
          : 'a subscription token (with a "channel" claim) cannot be used to connect',
      );
    }
    return payload as JWTPayload & { sub: string };
  }

  private async keyFor(
    header: JWTHeaderParameters,
    input: FlattenedJWSInput,
  ): Promise<KeyObject | CryptoKey> {
    if (header.alg === 'HS256' && this.secret) return this.secret;
    if (this.publicKey && header.alg === this.publicKey.alg && (!this.jwks || header.kid === undefined)) {
      return this.publicKey.key;
    }
    if (!this.jwks) throw new HeraldError('unauthorized', `no key for algorithm ${header.alg}`);
    try {
      return await this.jwks(header, input);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (err instanceof errors.JOSEError && code !== 'ERR_JWKS_TIMEOUT' && code !== 'ERR_JOSE_GENERIC')
        throw err;
      throw new HeraldError('unavailable', 'cannot fetch the token key set (JWKS); try again');
    }
  }
}
