import { HeraldError } from '@herald/protocol';

/** What a publish carries, from the server API or a client. */
export interface PublishInput {
  data: unknown;
  event?: string;
  idempotencyKey?: string;
  /** `false` skips the schemas (the server's own publishes only; a client's are always checked). */
  validate?: boolean;
}

/**
 * Checks publication `data` before anything is stored and returns it as JSON (undefined for no data):
 * arrays and objects nested at most `maxDepth` deep (`invalid_data`), at most `maxBytes` of JSON
 * (`payload_too_large`), and encodable at all (`invalid_data`). Within the depth limit, encoding it again
 * later (history, resume, fan-out) cannot exhaust the stack the way a few thousand levels do.
 */
export function encodePayload(data: unknown, maxDepth: number, maxBytes: number): string | undefined {
  checkShape(data, maxDepth, maxBytes);
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw new HeraldError('invalid_data', `data cannot be encoded as JSON: ${(err as Error).message}`);
  }
  const size = json === undefined ? 0 : Buffer.byteLength(json);
  if (size > maxBytes) {
    throw new HeraldError('payload_too_large', `data is ${size} bytes of JSON; the limit is ${maxBytes}`);
  }
  return json;
}

/**
 * Walks `data` without recursion, so no depth of input can exhaust the stack here. Every value takes at
 * least a byte of JSON, so a walk past `maxBytes` values is over the size limit whatever the values are
 * (which also bounds the walk of objects that share parts, which JSON.parse never makes).
 */
function checkShape(data: unknown, maxDepth: number, maxBytes: number): void {
  if (typeof data !== 'object' || data === null) return;
  const values: unknown[] = [data];
  const depths: number[] = [1];
  let seen = 0;
  while (values.length > 0) {
    const value = values.pop() as object;
    const depth = depths.pop() as number;
    if (depth > maxDepth) {
      throw new HeraldError('invalid_data', `data is nested more than ${maxDepth} levels deep`);
    }
    const children: unknown[] = Array.isArray(value) ? value : Object.values(value);
    seen += children.length;
    if (seen > maxBytes) {
      throw new HeraldError('payload_too_large', `data holds more values than fit in ${maxBytes} bytes`);
    }
    for (const child of children) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
}
