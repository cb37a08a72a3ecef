import { HeraldError } from '@herald/protocol';
import type { Hub } from '../core/hub.ts';
import { isOriginAllowed } from '../core/origin.ts';
import { errorResponse } from './json.ts';

const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = 'authorization, content-type, last-event-id';

/**
 * The CORS headers for a browser request from `origin`, or the refusal (403 `origin_not_allowed`) when
 * `allowedOrigins` does not allow it. With `"*"` any origin may read, without cookies; listed origins are
 * echoed with `Access-Control-Allow-Credentials`, so cookie-authenticated SSE works for them.
 */
export function corsHeaders(hub: Hub, origin: string, host: string | undefined): Record<string, string> {
  const allowed = hub.config.allowedOrigins;
  if (!isOriginAllowed(allowed, origin, host)) {
    throw new HeraldError('origin_not_allowed', `origin ${origin.slice(0, 100)} is not allowed`);
  }
  return allowed.includes('*')
    ? { vary: 'Origin', 'access-control-allow-origin': '*' }
    : { vary: 'Origin', 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' };
}

/**
 * CORS for every HTTP endpoint, from `allowedOrigins`. A browser request from an origin not listed is
 * refused outright, so a page elsewhere cannot even start an SSE or poll connection with a token it got
 * hold of.
 */
export async function withCors(
  request: Request,
  hub: Hub,
  handle: () => Promise<Response>,
): Promise<Response> {
  const origin = request.headers.get('origin');
  if (origin === null) return handle();
  let cors: Record<string, string>;
  try {
    cors = corsHeaders(hub, origin, request.headers.get('host') ?? undefined);
  } catch (err) {
    return errorResponse(err, { vary: 'Origin' });
  }
  if (request.method === 'OPTIONS' && request.headers.has('access-control-request-method')) {
    return new Response(null, {
      status: 204,
      headers: {
        ...cors,
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': ALLOW_HEADERS,
        'access-control-max-age': '600',
      },
    });
  }
  const response = await handle();
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(cors)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
