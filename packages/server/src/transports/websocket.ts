import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCodes, HeraldError, type ServerFrame } from '@herald/protocol';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { ConnectContext } from '../core/auth.ts';
import { type Delivery, encodingSlot } from '../core/delivery.ts';
import type { HubCore } from '../core/hub.ts';
import type { Session } from '../core/session.ts';
import type { Sink } from '../core/sink.ts';
import { replyOnSocket } from '../http/socket-reply.ts';
import { FlushQueue } from './flush-queue.ts';

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

/** A complete unmasked text frame (RFC 6455 5.2), so fan-out writes prebuilt bytes straight to the socket. */
export function textFrame(payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}

/** A publication's complete WebSocket frame, built once and written to every subscriber's socket. */
const FRAME = encodingSlot<Buffer>();

function encodeFrame(delivery: Delivery): Buffer {
  return textFrame(delivery.json);
}

/**
 * One WebSocket connection. Frames queue in `pending` and are written once per event-loop turn,
 * corked together, so a burst of publications costs one syscall per socket instead of one per frame.
 */
class WebSocketSink implements Sink {
  session!: Session;
  /** Frames waiting for this turn's flush; null when none (most connections, most of the time). */
  pending: Buffer[] | null = null;
  pendingBytes = 0;
  /** Cleared by every heartbeat tick, set by any frame from the client. */
  alive = true;
  private closing = false;
  /** Resolves when the socket drains; shared by every catch-up waiting for it, null when none waits. */
  private draining: Promise<void> | null = null;

  constructor(
    readonly transport: WebSocketTransport,
    readonly ws: WebSocket,
    readonly socket: Duplex,
  ) {}

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

  send(frame: ServerFrame): void {
    this.enqueue(textFrame(Buffer.from(JSON.stringify(frame))));
  }

  sendPublication(delivery: Delivery): void {
    this.enqueue(delivery.encoded(FRAME, encodeFrame));
  }

  queuedBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  private enqueue(frame: Buffer): void {
    if (this.closing) return;
    if (this.pending === null) {
      this.pending = [frame];
      this.transport.flushQueue.add(this);
    } else {
      this.pending.push(frame);
    }
    this.pendingBytes += frame.length;
    this.session.checkQueue();
  }

  drained(): Promise<void> {
    this.flush();
    const socket = this.socket;
    if (this.closing || socket.destroyed || !socket.writableNeedDrain) return Promise.resolve();
    // A socket that closes instead never drains: whatever waits is collected with it.
    this.draining ??= new Promise((resolve) =>
      socket.once('drain', () => {
        this.draining = null;
        resolve();
      }),
    );
    return this.draining;
  }

  flush(): void {
    const frames = this.pending;
    if (frames === null) return;
    this.pending = null;
    this.pendingBytes = 0;
    if (this.socket.destroyed) return;
    if (frames.length === 1) {
      this.socket.write(frames[0]);
      return;
    }
    this.socket.cork();
    for (const frame of frames) this.socket.write(frame);
    this.socket.uncork();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    if (code === CloseCodes.slowConsumer) {
      // Its queue is what we must free; the close frame would wait behind it anyway.
      this.pending = null;
      this.pendingBytes = 0;
    } else {
      this.flush();
    }
    this.closing = true;
    this.ws.close(code, reason.slice(0, 120));
    // A peer that never answers the close handshake must not hold its buffers.
    setTimeout(() => this.ws.terminate(), 2_000).unref();
  }
}

/**
 * ws lets a server construct its own WebSocket subclass (the `WebSocket` option). This one hands ws's
 * events to its sink in `emit` instead of through listeners: no listener table and no closures per
 * connection, which is most of what an idle socket costs beyond ws's own (see BENCHMARKS.md, memory).
 */
class HeraldSocket extends WebSocket {
  sink!: WebSocketSink;

  override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
    const sink = this.sink;
    switch (event) {
      case 'message':
        sink.received(a as RawData, b as boolean);
        return true;
      case 'ping':
      case 'pong':
        sink.alive = true;
        return true;
      case 'error':
        sink.transport.socketError(sink, a as Error);
        return true;
      case 'close':
        sink.transport.forget(sink);
        sink.session.transportClosed(a as number, String(b));
        return true;
      default:
        return super.emit(event, a, b);
    }
  }
}

/** Serves `GET /connection/websocket` with `ws`; heartbeats for every socket run on one shared timer. */
export class WebSocketTransport {
  private readonly server: WebSocketServer;
  private readonly sinks = new Set<WebSocketSink>();
  readonly flushQueue = new FlushQueue<WebSocketSink>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly hub: HubCore) {
    this.server = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // Frames over the payload limit still get a readable error; only far larger ones are cut by ws (1009).
      maxPayload: Math.max(4 * hub.config.maxPayloadBytes, 1024 * 1024),
      // The transport keeps its own set of connections; ws's would cost a Set entry and a closure each.
      clientTracking: false,
      WebSocket: HeraldSocket,
    });
    // Handshakes ws itself refuses (bad key, version or method) get the JSON error shape too, not ws's
    // text body; ws leaves writing the answer to this listener.
    this.server.on('wsClientError', (err: Error, socket: Duplex, request: IncomingMessage) => {
      const code = request.method === 'GET' ? 'bad_request' : 'method_not_allowed';
      replyOnSocket(socket, new HeraldError(code, `WebSocket handshake refused: ${err.message}`));
    });
    this.heartbeat = setInterval(() => this.beat(), hub.config.pingInterval * 1000);
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
    this.server.handleUpgrade(request, socket, head, (ws) =>
      this.accept(ws as HeraldSocket, socket, context),
    );
  }

  private accept(ws: HeraldSocket, socket: Duplex, context: ConnectContext): void {
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

  private beat(): void {
    for (const sink of this.sinks) {
      if (!sink.alive) {
        sink.session.close(CloseCodes.heartbeatTimeout, 'no pong within the heartbeat interval');
        continue;
      }
      sink.alive = false;
      sink.send({ type: 'ping' });
    }
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
