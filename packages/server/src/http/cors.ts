import { HeraldError } from '@herald/protocol';
import type { HubCore } from '../core/hub.ts';
import { isOriginAllowed, isOwnHost } from '../core/origin.ts';
import { type RequestHead, webApiRequest } from './api-request.ts';
import { errorReply, type Reply, toResponse } from './reply.ts';

const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = 'authorization, content-type, last-event-id';

/** Which browser origins may call a group of endpoints. */
export interface OriginPolicy {
  allowed: readonly string[];
  /** Whether a page served by the hub itself (Origin matching Host) may. */
  sameOrigin: boolean;
}

/** The client endpoints (SSE, long-polling, client actions, `/health`): `allowedOrigins`. */
export function clientOrigins(hub: HubCore): OriginPolicy {
  return { allowed: hub.config.allowedOrigins, sameOrigin: true };
}

/**
 * The operator endpoints (`/api/*`, `/metrics`, `/admin`): `apiAllowedOrigins`, default none. The hub's
 * own admin page may call them from its own origin when a key guards them anyway, or when it is reached
 * by a loopback name or a configured host; a same-origin request under any other Host is a DNS-rebinding
 * page (evil.example resolving to the hub) and is refused.
 */
export function operatorOrigins(hub: HubCore, host: string | undefined): OriginPolicy {
  const { apiKey, allowedOrigins, apiAllowedOrigins } = hub.config;
  return {
    allowed: apiAllowedOrigins,
    sameOrigin: apiKey !== undefined || isOwnHost(host, [...allowedOrigins, ...apiAllowedOrigins]),
  };
}

/**
 * The CORS headers for a browser request from `origin`, or the refusal (403 `origin_not_allowed`) when
 * `policy` does not allow it. With `"*"` any origin may read, without cookies; listed origins are echoed
 * with `Access-Control-Allow-Credentials`, so cookie-authenticated SSE works for them.
 */
export function corsHeaders(
  policy: OriginPolicy,
  origin: string,
  host: string | undefined,
): Record<string, string> {
  if (!isOriginAllowed(policy.allowed, origin, policy.sameOrigin ? host : undefined)) {
    throw new HeraldError('origin_not_allowed', `origin ${origin.slice(0, 100)} is not allowed`);
  }
  return policy.allowed.includes('*')
    ? { vary: 'Origin', 'access-control-allow-origin': '*' }
    : { vary: 'Origin', 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' };
}

/** What CORS makes of a request: an answer of its own (a refusal, a preflight), or headers to add to its answer. */
export type CorsOutcome =
  | { answer: Reply; headers?: undefined }
  | { answer?: undefined; headers: Record<string, string> | undefined };

const NOT_CROSS_ORIGIN: CorsOutcome = { headers: undefined };

/**
 * CORS for a request to an endpoint under `policy`. A request without `Origin` is not a browser's cross-origin one: nothing to add.
 */
export function corsFor(policy: OriginPolicy, request: RequestHead): CorsOutcome {
  const origin = request.header('origin');
  if (origin === undefined) return NOT_CROSS_ORIGIN;
  let cors: Record<string, string>;
  try {
    cors = corsHeaders(policy, origin, request.header('host'));
  } catch (err) {
    return { answer: errorReply(err, { vary: 'Origin' }) };
  }
  if (request.method === 'OPTIONS' && request.header('access-control-request-method') !== undefined) {
    const preflight = {
      'access-control-allow-methods': ALLOW_METHODS,
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': '600',
    };
    return { answer: { status: 204, headers: { ...cors, ...preflight }, body: null } };
  }
  return { headers: cors };
}

/**
 * CORS for a web-standard endpoint, from `policy`. A browser request from an origin not allowed is
 * refused outright, so a page elsewhere cannot even start an SSE or poll connection with a token it
 * got hold of.
 */
export async function withCors(
  request: Request,
  policy: OriginPolicy,
  handle: () => Promise<Response>,
): Promise<Response> {
  const cors = corsFor(policy, webApiRequest(request));
  if (cors.answer) return toResponse(cors.answer);
  const response = await handle();
  if (!cors.headers) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(cors.headers)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
