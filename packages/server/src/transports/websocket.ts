import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCodes, HeraldError, type ServerFrame } from '@herald/protocol';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { ConnectContext } from '../core/auth.ts';
import { type Delivery, encodingSlot } from '../core/delivery.ts';
import type { HubCore } from '../core/hub.ts';
import type { Sink } from '../core/sink.ts';
import { replyOnSocket } from '../http/socket-reply.ts';
import { FlushQueue } from './flush-queue.ts';
import { heartbeat, type SinkSocket, SocketSink, sinkSocketServer, textFrame } from './socket-sink.ts';

export const WEBSOCKET_PATH = '/connection/websocket';

function connectContext(request: IncomingMessage): ConnectContext {
  const origin = request.headers.origin;
  return {
    transport: 'websocket',
    ip: request.socket.remoteAddress,
    origin,
    // Only a request with an Origin needs its Host (same-origin check); most idle sockets have neither.
    host: origin === undefined ? undefined : request.headers.host,
    cookie: request.headers.cookie,
  };
}

/** A publication's complete WebSocket frame, built once and written to every subscriber's socket. */
const FRAME = encodingSlot<Buffer>();

function encodeFrame(delivery: Delivery): Buffer {
  return textFrame(delivery.json);
}

const ping = (sink: WebSocketSink): void => sink.send({ type: 'ping' });

/** One WebSocket connection speaking Herald's protocol. */
class WebSocketSink extends SocketSink implements Sink {
  constructor(
    readonly transport: WebSocketTransport,
    ws: WebSocket,
    socket: Duplex,
  ) {
    super(ws, socket, transport.flushQueue);
  }

  received(data: RawData, isBinary: boolean): void {
    this.alive = true;
    if (isBinary) {
      this.send({
        type: 'error',
        error: { code: 'bad_request', message: 'binary frames are not supported; send JSON text' },
      });
      return;
    }
    this.session.handleText(data.toString());
  }

  errored(err: Error): void {
    this.transport.socketError(this, err);
  }

  ended(code: number, reason: string): void {
    this.transport.forget(this);
    this.session.transportClosed(code, reason);
  }

  send(frame: ServerFrame): void {
    this.enqueue(textFrame(Buffer.from(JSON.stringify(frame))));
  }

  sendPublication(delivery: Delivery): void {
    this.enqueue(delivery.encoded(FRAME, encodeFrame));
  }

  close(code: number, reason: string): void {
    this.closeSocket(code, reason, code === CloseCodes.slowConsumer);
  }
}

/** Serves `GET /connection/websocket` with `ws`; heartbeats for every socket run on one shared timer. */
export class WebSocketTransport {
  private readonly server: WebSocketServer;
  private readonly sinks = new Set<WebSocketSink>();
  readonly flushQueue = new FlushQueue<SocketSink>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly hub: HubCore) {
    this.server = sinkSocketServer(hub.config.maxPayloadBytes);
    // Handshakes ws itself refuses (bad key, version or method) get the JSON error shape too, not ws's
    // text body; ws leaves writing the answer to this listener.
    this.server.on('wsClientError', (err: Error, socket: Duplex, request: IncomingMessage) => {
      const code = request.method === 'GET' ? 'bad_request' : 'method_not_allowed';
      replyOnSocket(socket, new HeraldError(code, `WebSocket handshake refused: ${err.message}`));
    });
    this.heartbeat = setInterval(
      () => heartbeat(this.sinks, ping, 'no pong within the heartbeat interval'),
      hub.config.pingInterval * 1000,
    );
    this.heartbeat.unref();
  }

  get connections(): number {
    return this.sinks.size;
  }

  /**
   * Serves upgrades to `path` on an HTTP server: the hub's own, or an app's (a Next.js custom server).
   * Other upgrades go to `otherwise` (for example Next.js's own), or are refused with a 404.
   */
  attach(
    server: Server,
    options: {
      path?: string;
      otherwise?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
      /** Refuses an upgrade before anything else looks at it (the server's Host check). */
      guard?: (request: IncomingMessage) => HeraldError | undefined;
    } = {},
  ): void {
    const path = options.path ?? WEBSOCKET_PATH;
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        const refusal = options.guard?.(request);
        if (refusal) replyOnSocket(socket, refusal);
        // The raw path, not a parsed URL: the target is the client's, and `//` is no URL without a base.
        else if (request.url?.split('?', 1)[0] === path) this.handleUpgrade(request, socket, head);
        else if (options.otherwise) options.otherwise(request, socket, head);
        else replyOnSocket(socket, new HeraldError('not_found', 'no WebSocket endpoint at this path'));
      } catch (err) {
        this.hub.log.error({ err }, 'websocket upgrade failed');
        replyOnSocket(
          socket,
          err instanceof HeraldError ? err : new HeraldError('internal', 'internal error'),
        );
      }
    });
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const context = connectContext(request);
    // Origin and per-IP limits refuse before the upgrade, with a plain HTTP error a browser can show.
    const refusal = this.hub.admission.check(context);
    if (refusal) {
      replyOnSocket(socket, refusal);
      return;
    }
    this.server.handleUpgrade(request, socket, head, (ws) => this.accept(ws as SinkSocket, socket, context));
  }

  private accept(ws: SinkSocket, socket: Duplex, context: ConnectContext): void {
    const sink = new WebSocketSink(this, ws, socket);
    // The client's credentials come with its `connect` command: the session opens now and admits then.
    this.hub.open(sink, context);
    this.sinks.add(sink);
    ws.sink = sink;
  }

  socketError(sink: WebSocketSink, err: Error): void {
    this.hub.log.debug({ err, client: sink.session.id }, 'websocket error');
  }

  forget(sink: WebSocketSink): void {
    this.sinks.delete(sink);
  }

  /** Closes every connection with `code`; resolves when all sockets are gone. */
  async close(code: number = CloseCodes.shutdown, reason = 'server shutting down'): Promise<void> {
    clearInterval(this.heartbeat);
    for (const sink of this.sinks) sink.session.close(code, reason);
    const deadline = Date.now() + 3_000;
    while (this.sinks.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const sink of this.sinks) sink.ws.terminate();
    this.server.close();
  }
}
