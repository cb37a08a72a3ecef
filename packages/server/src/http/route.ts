import { HeraldError } from '@herald/protocol';
import type { Hub } from '../hub.ts';
import { errorResponse } from './json.ts';

/** A web-standard handler of one endpoint of `hub`. */
export type RouteHandler = (request: Request, hub: Hub) => Promise<Response> | Response;

/** A client endpoint that answers one method; others get 405 with `Allow`. */
export function clientEndpoint(method: 'GET' | 'POST', handler: RouteHandler): RouteHandler {
  return (request, hub) =>
    request.method === method
      ? handler(request, hub)
      : errorResponse(new HeraldError('method_not_allowed', `use ${method}`), { allow: method });
}
