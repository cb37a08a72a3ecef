import { handleRequest } from '@herald/server';
import { getHub, type HubSource, resolveHub } from './hub.ts';

/** The second argument Next.js passes to a route handler. */
export interface RouteContext {
  params: Promise<Record<string, string | string[] | undefined>>;
}

export type RouteHandler = (request: Request, context?: RouteContext) => Promise<Response>;

export interface HeraldRoutesOptions {
  /**
   * Path the catch-all route is mounted at (`/realtime` for `app/realtime/[...herald]/route.ts`).
   * Default: worked out per request from the catch-all segment.
   */
  basePath?: string;
}

/**
 * Route handlers for an App Router catch-all, serving the hub's HTTP endpoints (SSE, long-polling,
 * client actions, the server API, health) under its mount path:
 *
 * ```ts
 * // app/realtime/[...herald]/route.ts
 * export const { GET, POST, OPTIONS } = heraldRoutes();
 * ```
 *
 * `hub` defaults to the process-wide `getHub()`. A catch-all is rendered on demand, on Node.js (the
 * defaults); a route file that set `runtime = 'edge'` or `dynamic = 'force-static'` would break it.
 */
export function heraldRoutes(hub: HubSource = getHub, options: HeraldRoutesOptions = {}) {
  const handle: RouteHandler = async (request, context) => {
    const basePath = options.basePath ?? (await mountPath(request, context));
    return unbuffered(await handleRequest(request, await resolveHub(hub), basePath));
  };
  // OPTIONS too: Next.js would otherwise answer CORS preflights itself, without the hub's CORS headers.
  return { GET: handle, POST: handle, OPTIONS: handle };
}

/** The mount path: the request path without the segments the catch-all parameter matched. */
async function mountPath(request: Request, context: RouteContext | undefined): Promise<string> {
  const params = context ? await context.params : {};
  const rest = Object.values(params).find(Array.isArray);
  const segments = new URL(request.url).pathname.split('/');
  return rest ? segments.slice(0, segments.length - rest.length).join('/') : '';
}

/**
 * Streams must reach the browser as written: `no-transform` keeps Next.js's (and other proxies')
 * compression from holding chunks back, and `X-Accel-Buffering: no` does the same for nginx.
 */
function unbuffered(response: Response): Response {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return response;
  const headers = new Headers(response.headers);
  headers.set('cache-control', 'no-cache, no-transform');
  headers.set('x-accel-buffering', 'no');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
