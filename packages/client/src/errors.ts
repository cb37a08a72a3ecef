import type { ErrorBody, ErrorCode } from '@herald/protocol';

/** Codes the client itself produces, beside the hub's own (`forbidden`, `payload_too_large`…). */
export type ClientErrorCode =
  /** The connection dropped before the reply came; the request may or may not have reached the hub. */
  | 'disconnected'
  /** The client was closed. */
  | 'closed'
  /** No reply within `requestTimeout`. */
  | 'timeout'
  /** The app cancelled an outbox message. */
  | 'cancelled'
  /** An outbox message could not be confirmed within the idempotency window; it may have been published. */
  | 'expired';

/** Every error the client reports: `code` is a hub error code (docs/protocol.md) or a ClientErrorCode. */
export class HeraldClientError extends Error {
  override name = 'HeraldClientError';
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
  ) {
    super(message);
  }

  static from(body: ErrorBody): HeraldClientError {
    return new HeraldClientError(body.code as ErrorCode, body.message);
  }

  toJSON(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/** Errors worth trying again later with the same request: the hub or the path to it was briefly unwell. */
const TRANSIENT = new Set<string>([
  'disconnected',
  'timeout',
  'internal',
  'unavailable',
  'rate_limited',
  'too_many_commands',
  'not_connected',
  'token_expired',
]);

export function isTransient(code: string): boolean {
  return TRANSIENT.has(code);
}
