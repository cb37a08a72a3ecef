import { CloseCodes, type ErrorBody } from '@herald/protocol';
import { HeraldClientError } from '../errors.ts';
import { ABNORMAL_CLOSURE, endpointUrl } from '../transport.ts';

export type FetchLike = typeof fetch;

/** How a client reaches the hub over plain HTTP. */
export interface HttpOptions {
  /** Default: the global fetch. */
  fetch?: FetchLike;
}

export function fetchOf(options: HttpOptions): FetchLike {
  const f = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
  // Without fetch these transports fail like an unreachable hub, and the client moves on.
  if (!f) return () => Promise.reject(new Error('fetch is not available here'));
  // Called as a connection's method, a browser's fetch throws "Illegal invocation" (its `this` must be
  // the window); called plainly it is fine. Node's fetch does not care, so only a browser shows this.
  return (input, init) => f(input, init);
}

/** An HTTP answer that is not 2xx, with the hub's error body when it sent one. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly error: ErrorBody,
  ) {
    super(error.message);
  }
}

export async function readRefusal(response: Response): Promise<HttpRefusal> {
  let error: ErrorBody = { code: response.status >= 500 ? 'unavailable' : 'bad_request', message: '' };
  try {
    const body = (await response.json()) as { error?: ErrorBody };
    if (body.error?.code) error = body.error;
  } catch {
    // not a Herald answer (a proxy's page): the status says enough
  }
  if (!error.message) error = { ...error, message: `HTTP ${response.status}` };
  return new HttpRefusal(response.status, error);
}

/** Whether a refusal of a stream or poll is about one of its channels rather than the connection. */
export function refusesChannel(refusal: HttpRefusal): boolean {
  return ['forbidden', 'unknown_namespace', 'invalid_channel'].includes(refusal.error.code);
}

/**
 * The close code a refused stream or poll stands for, as the WebSocket would have closed: 4004 and 45xx
 * follow docs/protocol.md; anything else (no such endpoint, a proxy's error, 5xx) is a transport failure
 * (1006), so the client falls back or retries.
 */
export function closeCodeOf(refusal: HttpRefusal): number {
  const { status, error } = refusal;
  if (error.code === 'token_expired') return CloseCodes.tokenExpired;
  if (status === 401) return CloseCodes.unauthorized;
  if (status === 403) return CloseCodes.forbidden;
  if (error.code === 'too_many_connections') return CloseCodes.connectionLimit;
  if (status === 400 || error.code === 'unknown_namespace') return CloseCodes.badRequest;
  return ABNORMAL_CLOSURE;
}

export function headersFor(token: string | undefined, extra: Record<string, string> = {}): Headers {
  const headers = new Headers(extra);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return headers;
}

/**
 * `POST /connection/<action>`: resolves with the result, rejects with a HeraldClientError (the hub's
 * code, or `disconnected` when the request did not get an answer).
 */
export async function clientAction(
  fetchFn: FetchLike,
  base: string,
  action: string,
  body: Record<string, unknown>,
  token: string | undefined,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetchFn(endpointUrl(base, `/connection/${action}`).href, {
      method: 'POST',
      headers: headersFor(token, { 'content-type': 'application/json' }),
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new HeraldClientError('disconnected', `${action} got no answer: ${String(err)}`);
  }
  if (!response.ok) throw HeraldClientError.from((await readRefusal(response)).error);
  return response.json();
}
