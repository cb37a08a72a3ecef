import { ErrorCodes, HeraldError } from '@herald/protocol';

/**
 * A whole answer, built before it is sent: what the server API and every error path produce. The
 * hub's own server writes it to Node with a `content-length`; route handlers turn it into a `Response`.
 */
export interface Reply {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** `null`: no body (a 204). */
  body: string | null;
}

export function jsonReply(body: unknown, status = 200, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** `{ "error": { "code", "message" } }` with the status that fits the code. */
export function errorReply(err: unknown, headers: Record<string, string> = {}): Reply {
  const error = err instanceof HeraldError ? err : new HeraldError('internal', 'internal error');
  return jsonReply({ error: error.toJSON() }, ErrorCodes[error.code], headers);
}

export function toResponse(reply: Reply): Response {
  return new Response(reply.body, { status: reply.status, headers: reply.headers });
}
