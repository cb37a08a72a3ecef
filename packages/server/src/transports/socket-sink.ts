import type { Duplex } from 'node:stream';
import { CloseCodes } from '@herald/protocol';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Session } from '../core/session.ts';
import type { FlushQueue } from './flush-queue.ts';

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

/**
 * The output side of one WebSocket connection, whatever protocol it speaks. Frames queue in `pending`
 * and are written once per event-loop turn, corked together, so a burst of publications costs one
 * syscall per socket instead of one per frame.
 */
/** What a socket reports to: its sink, or a stand-in for a socket being refused. */
export interface SocketEvents {
  alive: boolean;
  received(data: RawData, isBinary: boolean): void;
  errored(err: Error): void;
  ended(code: number, reason: string): void;
}

/** For a socket accepted only to be told why it is refused: it reports to nobody. */
export const IGNORED: SocketEvents = {
  alive: true,
  received() {},
  errored() {},
  ended() {},
};

export abstract class SocketSink implements SocketEvents {
  session!: Session;
  /** Frames waiting for this turn's flush; null when none (most connections, most of the time). */
  pending: Buffer[] | null = null;
  pendingBytes = 0;
  /** Cleared by every heartbeat tick, set by any frame from the client. */
  alive = true;
  protected closing = false;
  /** Resolves when the socket drains; shared by every catch-up waiting for it, null when none waits. */
  private draining: Promise<void> | null = null;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Duplex,
    private readonly flushQueue: FlushQueue<SocketSink>,
  ) {}

  /** A message from the client. */
  abstract received(data: RawData, isBinary: boolean): void;
  /** The socket failed (logged; `ended` follows). */
  abstract errored(err: Error): void;
  /** The socket is gone, whoever closed it: the close code and reason it ended with. */
  abstract ended(code: number, reason: string): void;

  queuedBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  protected enqueue(frame: Buffer): void {
    if (this.closing) return;
    if (this.pending === null) {
      this.pending = [frame];
      this.flushQueue.add(this);
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

  /**
   * Sends the close frame with `code` after what is queued, or instead of it when `dropQueue` (a slow
   * consumer, whose queue is what must be freed).
   */
  protected closeSocket(code: number, reason: string, dropQueue: boolean): void {
    if (this.closing) return;
    if (dropQueue) {
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
export class SinkSocket extends WebSocket {
  sink!: SocketEvents;

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
        sink.errored(a as Error);
        return true;
      case 'close':
        sink.ended(a as number, String(b));
        return true;
      default:
        return super.emit(event, a, b);
    }
  }
}

/**
 * One heartbeat tick over every sink of a transport: a sink silent since the last tick is closed
 * (`heartbeatTimeout`), the others are pinged with the transport's own ping.
 */
export function heartbeat<T extends SocketSink>(
  sinks: Iterable<T>,
  ping: (sink: T) => void,
  reason: string,
): void {
  for (const sink of sinks) {
    if (!sink.alive) {
      sink.session.close(CloseCodes.heartbeatTimeout, reason);
      continue;
    }
    sink.alive = false;
    ping(sink);
  }
}

/** The ws server a WebSocket transport accepts its upgrades with (Herald's protocol and Pusher's alike). */
export function sinkSocketServer(maxPayloadBytes: number): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // Frames over the payload limit still get a readable error; only far larger ones are cut by ws (1009).
    maxPayload: Math.max(4 * maxPayloadBytes, 1024 * 1024),
    // The transport keeps its own set of connections; ws's would cost a Set entry and a closure each.
    clientTracking: false,
    WebSocket: SinkSocket,
  });
}
