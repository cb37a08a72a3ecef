import type { Publication, ServerFrame } from '@herald/protocol';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { type ClientOptions, createClient, type HeraldClient } from '../../src/index.ts';
import type { ConnectionState } from '../../src/link.ts';
import { memoryOutboxStore } from '../../src/outbox-store.ts';
import type { Transport, TransportConnection } from '../../src/transport.ts';
import { type WebSocketConstructor, webSocketTransport } from '../../src/transports/websocket.ts';

/**
 * For a test file: a `client()` factory whose clients are closed after each test. Clients get `ws` as
 * their WebSocket (Node 20 has none), short reconnect delays, and a memory outbox unless told otherwise.
 */
export function clientPerTest(): (options: Partial<ClientOptions> & { url: string }) => HeraldClient {
  const clients: HeraldClient[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  return (options) => {
    const client = createClient({
      WebSocket: WebSocket as unknown as ClientOptions['WebSocket'],
      reconnectDelay: { min: 20, max: 200 },
      ...options,
      // A memory outbox unless the test names another store (`store: undefined` for the default).
      outbox: { store: memoryOutboxStore(), ...options.outbox },
    });
    clients.push(client);
    return client;
  };
}

/** Every state a client went through, in order. */
export function recordStates(client: HeraldClient): ConnectionState[] {
  const states: ConnectionState[] = [client.state];
  client.on('state', (s) => states.push(s));
  return states;
}

/** Resolves when the client's state matches (now or later). */
export function waitForState(
  client: HeraldClient,
  match: (state: ConnectionState) => boolean,
  timeoutMs = 15_000,
): Promise<ConnectionState> {
  if (match(client.state)) return Promise.resolve(client.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for a state; last: ${JSON.stringify(client.state)}`)),
      timeoutMs,
    );
    const off = client.on('state', (state) => {
      if (!match(state)) return;
      clearTimeout(timer);
      off();
      resolve(state);
    });
  });
}

export const connected = (transport?: string) => (s: ConnectionState) =>
  s.status === 'connected' && (transport === undefined || s.transport === transport);

/** Offsets received on a channel must be exactly `from..to`, each once, in order. */
export function expectExactlyOnce(pubs: Publication[], from: number, to: number): void {
  const offsets = pubs.map((p) => p.offset);
  const expected = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  if (JSON.stringify(offsets) !== JSON.stringify(expected)) {
    throw new Error(`offsets are not ${from}..${to} exactly once in order: ${JSON.stringify(offsets)}`);
  }
}

/**
 * The real WebSocket transport with a hand on incoming frames: a test can drop, repeat or hold frames the
 * hub really sent, or `cut()` the connection right there, to produce what a flaky path would.
 */
export function tamperedWebSocket(
  tamper: (frame: ServerFrame, deliver: (frame: ServerFrame) => void, cut: () => void) => void,
): Transport {
  const inner = webSocketTransport({ WebSocket: WebSocket as unknown as WebSocketConstructor });
  return {
    name: 'websocket',
    open(url, handlers) {
      let conn: TransportConnection | undefined;
      const cut = () => {
        conn?.close();
        handlers.close({ code: 1006, reason: 'cut by the test' });
      };
      conn = inner.open(url, { ...handlers, frame: (frame) => tamper(frame, handlers.frame, cut) });
      return conn;
    },
  };
}

/** A reply to `publish`: `{epoch, offset}` without the fields of subscribe and history results. */
export function isPublishReply(frame: ServerFrame): boolean {
  if (!('id' in frame) || typeof frame.result !== 'object' || frame.result === null) return false;
  const result = frame.result as Record<string, unknown>;
  return 'offset' in result && !('channel' in result) && !('publications' in result);
}
