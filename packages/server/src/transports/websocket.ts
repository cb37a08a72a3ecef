import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCodes, type HeraldError, type ServerFrame } from '@herald/protocol';
import type { ConnectContext } from '../core/auth.ts';
import type { Delivery } from '../core/delivery.ts';
import type { Hub } from '../core/hub.ts';
import type { Session } from '../core/session.ts';
import type { Sink } from '../core/sink.ts';
import { FlushQueue } from './flush-queue.ts';
import {
  acceptKey,
  closeFrame,
  FrameReader,
  KEY_PATTERN,
  Opcode,
  serverFrame,
  textFrame,
} from './websocket-frames.ts';

export const WEBSOCKET_PATH = '/connection/websocket';

/** How long a closing connection may take to answer our close frame before its socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function connectContext(request: IncomingMessage): ConnectContext {
  return {
    transport: 'websocket',
    ip: request.socket.remoteAddress,
    origin: request.headers.origin,
    host: request.headers.host,
    cookie: request.headers.cookie,
  };
}

/** Answers an upgrade with a plain HTTP error in the JSON error shape, and closes. */
function refuse(
  socket: Duplex,
  error: HeraldError | { status: number; code: string; message: string },
  extra = '',
): void {
  const { status, code } = error;
  const body = JSON.stringify({
    error: 'toJSON' in error ? error.toJSON() : { code, message: error.message },
  });
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

const OPEN = 0;
/** Our close frame is sent; waiting for the peer's. */
const CLOSING = 1;
const CLOSED = 2;

/** The connection a socket carries; socket listeners are shared functions that find it here. */
const kSink = Symbol('herald.websocket');
type TaggedSocket = Duplex & { [kSink]: WebSocketSink };

function onSocketData(this: TaggedSocket, chunk: Buffer): void {
  this[kSink].receive(chunk);
}
function onSocketEnd(this: TaggedSocket): void {
  // The peer half-closed; finish our side too.
  this.end();
}
function onSocketError(this: TaggedSocket, err: Error): void {
  this[kSink].transport.socketError(this[kSink], err);
  this.destroy();
}
function onSocketClose(this: TaggedSocket): void {
  this[kSink].gone();
}

/**
 * One WebSocket connection, speaking RFC 6455 on the socket itself (no per-connection library objects).
 * Frames queue in `pending` and are written once per event-loop turn, corked together, so a burst of
 * publications costs one syscall per socket instead of one per frame.
 */
class WebSocketSink extends FrameReader implements Sink {
  readonly kind = 'websocket';
  session!: Session;
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  /** Cleared by every heartbeat tick, set by any frame from the client. */
  alive = true;
  private state = OPEN;

  constructor(
    readonly transport: WebSocketTransport,
    readonly socket: Duplex,
  ) {
    super();
  }

  send(frame: ServerFrame): void {
    this.enqueue(textFrame(Buffer.from(JSON.stringify(frame))));
  }

  sendPublication(delivery: Delivery): void {
    if (delivery.wsFrame === undefined) delivery.wsFrame = textFrame(delivery.json);
    this.enqueue(delivery.wsFrame);
  }

  queuedBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  private enqueue(frame: Buffer): void {
    if (this.state !== OPEN) return;
    if (this.pending === null) {
      this.pending = [frame];
      this.transport.flushQueue.add(this);
    } else {
      this.pending.push(frame);
    }
    this.pendingBytes += frame.length;
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
    if (this.state !== OPEN) return;
    if (code === CloseCodes.slowConsumer) {
      // Its queue is what we must free; the close frame would wait behind it anyway.
      this.pending = null;
      this.pendingBytes = 0;
    } else {
      this.flush();
    }
    this.state = CLOSING;
    if (!this.socket.destroyed) this.socket.write(closeFrame(code, reason));
    this.destroySoon();
  }

  terminate(): void {
    this.state = CLOSED;
    this.socket.destroy();
  }

  /** The socket is gone. */
  gone(): void {
    this.state = CLOSED;
    this.pending = null;
    this.transport.forget(this);
    this.session.transportClosed();
  }

  /** A peer that never finishes the close handshake must not hold its buffers. */
  private destroySoon(): void {
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  // ---- frames from the client

  protected get maxPayload(): number {
    return this.transport.maxPayload;
  }

  protected get reading(): boolean {
    return this.state !== CLOSED;
  }

  protected onFrame(): void {
    this.alive = true;
  }

  protected onMessage(text: boolean, payload: Buffer): void {
    if (this.state !== OPEN) return;
    if (!text) {
      this.send({
        type: 'error',
        error: { code: 'bad_request', message: 'binary frames are not supported; send JSON text' },
      });
      return;
    }
    this.session.handleText(payload.toString());
  }

  protected onPing(payload: Buffer): void {
    this.enqueue(serverFrame(Opcode.pong, payload));
  }

  protected onClose(code: number | undefined): void {
    if (this.state === OPEN) {
      // The client closes: echo its code (RFC 6455 5.5.1), after what was queued for it.
      this.flush();
      this.socket.end(closeFrame(code));
    } else {
      this.socket.end();
    }
    this.state = CLOSED;
    this.destroySoon();
  }

  protected onProtocolError(code: number, reason: string): void {
    if (this.state === OPEN) this.socket.end(closeFrame(code, reason));
    else this.socket.end();
    this.state = CLOSED;
    this.pending = null;
    this.destroySoon();
  }
}

/**
 * Serves `GET /connection/websocket`: the handshake and the frames are done here (see
 * websocket-frames.ts); heartbeats for every socket run on one shared timer.
 */
export class WebSocketTransport {
  private readonly sinks = new Set<WebSocketSink>();
  readonly flushQueue = new FlushQueue<WebSocketSink>();
  /** Frames over the payload limit still get a readable error; only far larger ones are cut (1009). */
  readonly maxPayload: number;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly hub: Hub) {
    this.maxPayload = Math.max(4 * hub.config.maxPayloadBytes, 1024 * 1024);
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
    } = {},
  ): void {
    const path = options.path ?? WEBSOCKET_PATH;
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (new URL(request.url ?? '/', 'http://x').pathname === path)
        this.handleUpgrade(request, socket, head);
      else if (options.otherwise) options.otherwise(request, socket, head);
      else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const context = connectContext(request);
    // Origin and per-IP limits refuse before the upgrade, with a plain HTTP error a browser can show.
    const refusal = this.hub.admit(context);
    if (refusal) {
      refuse(socket, refusal);
      return;
    }
    const { headers } = request;
    const key = headers['sec-websocket-key'];
    if (
      request.method !== 'GET' ||
      headers.upgrade?.toLowerCase() !== 'websocket' ||
      typeof key !== 'string' ||
      !KEY_PATTERN.test(key)
    ) {
      refuse(socket, { status: 400, code: 'bad_request', message: 'not a valid WebSocket handshake' });
      return;
    }
    if (headers['sec-websocket-version'] !== '13') {
      refuse(
        socket,
        { status: 426, code: 'bad_request', message: 'WebSocket version 13 is required' },
        'Sec-WebSocket-Version: 13\r\n',
      );
      return;
    }
    // Herald defines no subprotocol; like `ws`, the first one a client offers is accepted.
    const offered = headers['sec-websocket-protocol']?.split(',')[0].trim();
    if (offered !== undefined && !TOKEN.test(offered)) {
      refuse(socket, { status: 400, code: 'bad_request', message: 'invalid Sec-WebSocket-Protocol' });
      return;
    }
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n${offered ? `Sec-WebSocket-Protocol: ${offered}\r\n` : ''}\r\n`,
    );
    this.accept(socket, context, head);
  }

  private accept(socket: Duplex, context: ConnectContext, head: Buffer): void {
    (socket as Socket).setNoDelay?.(true);
    (socket as Socket).setTimeout?.(0);
    const sink = new WebSocketSink(this, socket);
    (socket as TaggedSocket)[kSink] = sink;
    sink.session = this.hub.openSession(sink, context);
    this.sinks.add(sink);
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    if (head.length > 0) sink.receive(head);
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
    for (const sink of this.sinks) sink.terminate();
  }
}
