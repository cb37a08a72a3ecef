import type { Publication, ServerFrame } from '@herald/protocol';
import WebSocket from 'ws';

type Frame = ServerFrame & Record<string, unknown>;

/**
 * A bare protocol client on `ws` for tests: sends commands, matches replies by id, answers pings and
 * records every publication push. Deliberately not @herald/client, so server tests check the wire itself.
 */
export class WsTestClient {
  readonly frames: Frame[] = [];
  readonly publications: Publication[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private nextId = 1;
  private readonly waiters = new Map<number, (frame: Frame) => void>();
  private listeners: Array<(frame: Frame) => void> = [];
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      if ('id' in frame && typeof frame.id === 'number') {
        this.waiters.get(frame.id)?.(frame);
        this.waiters.delete(frame.id);
      } else if (frame.type === 'pub') {
        this.publications.push(frame as unknown as Publication);
      } else if (frame.type === 'ping') {
        this.sendRaw(JSON.stringify({ type: 'pong' }));
      }
      for (const listener of this.listeners) listener(frame);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        resolve(code);
      });
    });
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<WsTestClient> {
    const ws = new WebSocket(url, options);
    const client = new WsTestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  sendRaw(data: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** Sends a command and resolves with its reply frame (`result` or `error`). */
  command(type: string, fields: Record<string, unknown> = {}): Promise<Frame> {
    const id = this.nextId++;
    const reply = new Promise<Frame>((resolve) => this.waiters.set(id, resolve));
    this.sendRaw(JSON.stringify({ id, type, ...fields }));
    return reply;
  }

  /** Like `command`, but throws on an error reply and returns `result`. */
  async call<T = Record<string, unknown>>(type: string, fields: Record<string, unknown> = {}): Promise<T> {
    const reply = await this.command(type, fields);
    if (reply.error) throw new Error(`${type} failed: ${JSON.stringify(reply.error)}`);
    return reply.result as T;
  }

  /** Resolves with the first frame (already received or future) that matches. */
  waitFor(match: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      const listener = (frame: Frame) => {
        if (!match(frame)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve(frame);
      };
      this.listeners.push(listener);
    });
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** Polls `check` (which may be async) until it is true; fails with `message` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${message}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
