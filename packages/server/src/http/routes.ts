import { HeraldError } from '@herald/protocol';
import type { Hub } from '../hub.ts';
import { clientActions } from '../transports/http/actions.ts';
import { POLL_PATH } from '../transports/http/poll.ts';
import { SSE_PATH } from '../transports/http/sse.ts';
import { handlePusherApi } from '../transports/pusher/api.ts';
import { admin } from './admin.ts';
import { serveApi } from './api.ts';
import { requireKey } from './api-key.ts';
import { webApiRequest } from './api-request.ts';
import { clientOrigins, operatorOrigins, withCors } from './cors.ts';
import { errorResponse, jsonResponse } from './json.ts';
import { metrics } from './metrics.ts';
import { toResponse } from './reply.ts';
import { clientEndpoint, type RouteHandler } from './route.ts';

function health(_request: Request, hub: Hub): Response {
  const up = hub.broker.healthy();
  const body = {
    status: up ? 'ok' : 'degraded',
    broker: up ? 'up' : 'down',
    ...hub.getStats(),
    ...webhookHealth(hub),
  };
  return jsonResponse(body, up ? 200 : 503);
}

/** The webhook counters, flat (the admin page lists /health as it is), when webhooks are configured. */
function webhookHealth(hub: Hub): Record<string, number> {
  const stats = hub.webhooks?.stats();
  if (!stats) return {};
  return {
    webhooksSent: stats.sent,
    webhooksFailed: stats.failed,
    webhooksRetried: stats.retried,
    webhooksDropped: stats.dropped,
    webhooksQueued: stats.queued,
  };
}

/**
 * Every plain-HTTP endpoint of the hub, keyed by path. Web-standard handlers, so the same table serves
 * the standalone server and Next.js route handlers.
 */
export const routes: Record<string, RouteHandler> = {
  '/health': health,
  // Prometheus sends `Bearer`; a browser opening the admin page answers the Basic challenge.
  '/metrics': requireKey(metrics, (hub) => [hub.config.apiKey, hub.config.metricsKey], ['apikey', 'bearer']),
  '/admin': requireKey(admin, (hub) => [hub.config.apiKey], ['apikey', 'basic']),
  [SSE_PATH]: clientEndpoint('GET', (request, hub) => hub.http.sse.handle(request)),
  [POLL_PATH]: clientEndpoint('GET', (request, hub) => hub.http.poll.handle(request)),
  ...clientActions,
};

/** Dispatches a request to its route; unknown paths get a 404 in the error shape. */
export async function handleRequest(request: Request, hub: Hub, basePath = ''): Promise<Response> {
  const path = new URL(request.url).pathname.slice(basePath.length) || '/';
  // The server API does its own CORS: the hub's server calls it without this table (`serveApi`).
  if (path.startsWith('/api/')) {
    return toResponse(await serveApi(hub, path.slice('/api/'.length), webApiRequest(request)));
  }
  // Pusher's HTTP API (`/apps/{id}/…`) is for the app's backend, as `/api/*` is.
  const pusher = path.startsWith('/apps/') ? hub.pusher : undefined;
  const operator = path === '/metrics' || path === '/admin' || pusher !== undefined;
  const policy = operator
    ? operatorOrigins(hub, request.headers.get('host') ?? undefined)
    : clientOrigins(hub);
  return withCors(request, policy, async () => {
    try {
      if (pusher) return await handlePusherApi(pusher, request);
      const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (!route) throw new HeraldError('not_found', `no endpoint at ${path.slice(0, 100)}`);
      return await route(request, hub);
    } catch (err) {
      if (err instanceof HeraldError) hub.log.debug({ code: err.code, path }, 'request refused');
      else hub.log.error({ err, path }, 'request failed');
      return errorResponse(err);
    }
  });
}
