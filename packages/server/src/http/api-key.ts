import { timingSafeEqual } from 'node:crypto';
import { HeraldError } from '@herald/protocol';
import type { HubCore } from '../core/hub.ts';
import { errorResponse } from './json.ts';
import type { RouteHandler } from './route.ts';

/** How a key may be presented: `Authorization: apikey KEY`, `Bearer KEY` or HTTP Basic with KEY as password. */
export type KeyScheme = 'apikey' | 'bearer' | 'basic';

function presentedKey(authorization: string, schemes: readonly KeyScheme[]): string | undefined {
  const match = /^(\S+)\s+(.+)$/.exec(authorization.trim());
  if (!match) return undefined;
  const scheme = match[1].toLowerCase() as KeyScheme;
  if (!schemes.includes(scheme)) return undefined;
  if (scheme !== 'basic') return match[2];
  const decoded = Buffer.from(match[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * Whether a request's `Authorization` header presents one of `keys` (compared in constant time); with
 * no key configured, every request does.
 */
export function presentsKey(
  authorization: string | undefined,
  keys: ReadonlyArray<string | undefined>,
  schemes: readonly KeyScheme[] = ['apikey'],
): boolean {
  const expected = keys.filter((key): key is string => key !== undefined);
  if (expected.length === 0) return true;
  const given = Buffer.from(presentedKey(authorization ?? '', schemes) ?? '');
  let found = false;
  for (const key of expected) {
    const candidate = Buffer.from(key);
    // Every key is compared, found or not, so the time taken does not tell which one matched.
    if (given.length === candidate.length && timingSafeEqual(given, candidate)) found = true;
  }
  return found;
}

/**
 * An operator endpoint (`/metrics`, `/admin`) behind the keys `keysOf` names, when any is set.
 * `basic` schemes answer a refusal with a `WWW-Authenticate` challenge, so a browser asks for the key.
 */
export function requireKey(
  handler: RouteHandler,
  keysOf: (hub: HubCore) => Array<string | undefined>,
  schemes: readonly KeyScheme[],
): RouteHandler {
  return (request, hub) => {
    if (presentsKey(request.headers.get('authorization') ?? undefined, keysOf(hub), schemes))
      return handler(request, hub);
    const refusal = new HeraldError(
      'unauthorized',
      `missing or wrong key (Authorization: ${schemes.join(' or ')})`,
    );
    const challenge: Record<string, string> = schemes.includes('basic')
      ? { 'www-authenticate': 'Basic realm="Herald", charset="UTF-8"' }
      : {};
    return errorResponse(refusal, challenge);
  };
}
