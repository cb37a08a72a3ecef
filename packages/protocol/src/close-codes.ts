/**
 * WebSocket close codes. 4000-4499: the client should reconnect (with backoff and jitter) and resume;
 * 4500-4999: it should not reconnect until something changes (a new token, a fixed request).
 */
export const CloseCodes = {
  shutdown: 4000,
  slowConsumer: 4001,
  heartbeatTimeout: 4002,
  serverError: 4003,
  tokenExpired: 4004,
  streamDurationReached: 4005,
  badRequest: 4500,
  unauthorized: 4501,
  forbidden: 4502,
  connectionLimit: 4503,
  disconnectedByServer: 4504,
  messageTooLarge: 4505,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

export function shouldReconnect(code: number): boolean {
  // Codes outside Herald's range (1000-3999, e.g. 1006 abnormal closure) are network events: reconnect.
  return code < 4500 || code > 4999;
}
