import { HeraldError } from '@herald/protocol';
import { errorReply, jsonReply, toResponse } from './reply.ts';

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return toResponse(jsonReply(body, status, headers));
}

/** `{ "error": { "code", "message" } }` with the status that fits the code. */
export function errorResponse(err: unknown, headers: Record<string, string> = {}): Response {
  return toResponse(errorReply(err, headers));
}

/** The refusal of a body over `limit` bytes. */
export function bodyTooLarge(limit: number): HeraldError {
  return new HeraldError('payload_too_large', `request body is over ${limit} bytes`);
}

/** The refusal of a body the client stopped sending: nobody is left to answer, and it is no fault of the hub's. */
export function bodyCutShort(): HeraldError {
  return new HeraldError('bad_request', 'the request body ended before it was complete');
}

/** Reads a body as text, refusing bodies over `limit` bytes before buffering them. */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw bodyTooLarge(limit);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        throw bodyCutShort();
      }
      const { done, value } = chunk;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw bodyTooLarge(limit);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a JSON object body, refusing bodies over `limit` bytes before buffering them. */
export async function readJsonObject(request: Request, limit: number): Promise<Record<string, unknown>> {
  return parseJsonObject(await readBodyText(request, limit));
}

/** A request body that must be a JSON object: 400 `bad_json` or `bad_request` when it is not. */
export function parseJsonObject(text: string): Record<string, unknown> {
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
