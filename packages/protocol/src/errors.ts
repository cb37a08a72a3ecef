/**
 * Error codes carried in `{ code, message }` by replies, HTTP errors and `error` pushes.
 * The HTTP status is what the HTTP API answers with the same code.
 */
export const ErrorCodes = {
  bad_json: 400,
  bad_request: 400,
  unknown_command: 400,
  invalid_channel: 400,
  bad_cursor: 400,
  invalid_data: 400,
  invalid_event: 400,
  presence_disabled: 400,
  not_connected: 400,
  already_connected: 400,
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  origin_not_allowed: 403,
  not_found: 404,
  unknown_namespace: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  already_subscribed: 409,
  not_subscribed: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  too_many_connections: 429,
  too_many_subscriptions: 429,
  too_many_channels: 429,
  too_many_commands: 429,
  limit_exceeded: 429,
  headers_too_large: 431,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** Marks Herald errors, so they are recognised across duplicate copies of this module. */
const brand = Symbol.for('herald.error');

export class HeraldError extends Error {
  readonly code: ErrorCode;
  readonly [brand] = true;

  /**
   * Bundlers load a module more than once per process (Next.js route bundles, dev-mode reloads, a
   * custom server beside its bundled routes), so a hub from one copy throws errors that another copy's
   * `instanceof HeraldError` would not recognise; the shared brand makes them one class.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of instanceof: a subclass checks exactly.
    if (this !== HeraldError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true;
  }

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'HeraldError';
    this.code = code;
  }

  get status(): number {
    return ErrorCodes[this.code];
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
