import {
  type IncomingMessage,
  maxHeaderSize,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { HeraldError } from '@herald/protocol';

const ignore = (): void => {};

/**
 * Answers on a raw socket, where there is no `ServerResponse` (a refused WebSocket upgrade, a request
 * Node's parser rejected): a complete HTTP response with the JSON error body, then the connection closes.
 */
export function replyOnSocket(socket: Duplex, error: HeraldError): void {
  // The peer may already be gone; Node leaves upgrade sockets without an error listener.
  socket.on('error', ignore);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: error.toJSON() });
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** What a `clientError` from Node's HTTP parser means for the client, in the error shape. */
function clientErrorOf(err: NodeJS.ErrnoException): HeraldError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      // The servers here take Node's default limit (16 KiB, or --max-http-header-size).
      return new HeraldError(
        'headers_too_large',
        `the request line and headers are over ${maxHeaderSize} bytes`,
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HeraldError('request_timeout', 'the request was not received in time');
    default:
      return new HeraldError('bad_request', 'malformed HTTP request');
  }
}

/**
 * Makes the errors Node's HTTP layer raises before any handler runs (oversized headers, malformed
 * requests, timeouts) answer with the same JSON error body as every other error; so does CONNECT,
 * which Node hands to no request handler (and would otherwise close without a word).
 */
export function answerClientErrors(server: Server): void {
  server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
    replyOnSocket(socket, new HeraldError('method_not_allowed', 'method CONNECT is not supported')),
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Bytes after a request whose response has started (an SSE stream, say) must not land inside it;
    // Node's own handler makes the same check.
    const inProgress = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (err.code === 'ECONNRESET' || inProgress?.headersSent) socket.destroy();
    else replyOnSocket(socket, clientErrorOf(err));
  });
}
