import type { TokenSource } from './connection.ts';

/**
 * The `sub` claim of a JWT, read without verifying it: only to keep apart what belongs to different users
 * in one browser (the shared connection, the kept outbox). The hub verifies every token it is sent.
 */
export function tokenSubject(token: string | null | undefined): string | undefined {
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

/** How long the token fetched at creation may serve as the first connect's token. */
const FIRST_TOKEN_FRESH_MS = 5_000;

/**
 * Who this client connects as, for scoping what the browser keeps: the token's subject, `anonymous`
 * without a token. With `getToken` the first token is fetched for it and handed to the first connect
 * (`getToken` below), so it costs no extra request.
 */
export function identityOf(options: { token?: string; getToken?: TokenSource }): {
  identity: Promise<string>;
  getToken: TokenSource | undefined;
} {
  const { token, getToken } = options;
  if (!getToken) return { identity: Promise.resolve(tokenSubject(token) ?? 'anonymous'), getToken };
  let first: ReturnType<TokenSource> | undefined = Promise.resolve().then(getToken);
  const fetchedAt = Date.now();
  const identity = Promise.resolve(first).then(
    (t) => tokenSubject(t) ?? 'anonymous',
    () => 'anonymous',
  );
  return {
    identity,
    getToken: () => {
      // Only a connect that follows at once gets it: a later one asks for a token of its own.
      const token = first !== undefined && Date.now() - fetchedAt < FIRST_TOKEN_FRESH_MS ? first : getToken();
      first = undefined;
      return token;
    },
  };
}
