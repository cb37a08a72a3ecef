import { ErrorCodes, HeraldError } from '@herald/protocol';

export function jsonResponse(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}

/** `{ "error": { "code", "message" } }` with the status that fits the code. */
export function errorResponse(err: unknown, headers: HeadersInit = {}): Response {
  const error = err instanceof HeraldError ? err : new HeraldError('internal', 'internal error');
  return jsonResponse({ error: error.toJSON() }, ErrorCodes[error.code], headers);
}

/** Reads a body as text, refusing bodies over `limit` bytes before buffering them. */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw new HeraldError('payload_too_large', `request body is over ${limit} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        // The client went away mid-body: nobody is left to answer, and it is no fault of the hub's.
        throw new HeraldError('bad_request', 'the request body ended before it was complete');
      }
      const { done, value } = chunk;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw new HeraldError('payload_too_large', `request body is over ${limit} bytes`);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a JSON object body, refusing bodies over `limit` bytes before buffering them. */
export async function readJsonObject(request: Request, limit: number): Promise<Record<string, unknown>> {
  const text = await readBodyText(request, limit);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HeraldError('bad_json', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HeraldError('bad_request', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
