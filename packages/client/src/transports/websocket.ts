import type { Command, ServerFrame } from '@herald/protocol';
import { ABNORMAL_CLOSURE, endpointUrl, type Transport, type TransportHandlers } from '../transport.ts';

/** The part of the WebSocket API the transport uses: browsers' own, Node 22's, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

export interface WebSocketTransportOptions {
  /** A WebSocket class, for Node 20 (`import WebSocket from 'ws'`); default: the global one. */
  WebSocket?: WebSocketConstructor;
}

/** Herald's protocol over `GET /connection/websocket`, one JSON text frame per command or reply. */
export function webSocketTransport(options: WebSocketTransportOptions = {}): Transport {
  return {
    name: 'websocket',
    open(url: string, handlers: TransportHandlers) {
      const Ctor =
        options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
      let done = false;
      const finish = (code: number, reason: string) => {
        if (done) return;
        done = true;
        handlers.close({ code, reason });
      };
      if (!Ctor) {
        queueMicrotask(() => finish(ABNORMAL_CLOSURE, 'WebSocket is not available here'));
        return {
          send() {},
          close() {
            done = true;
          },
        };
      }
      const ws = new Ctor(endpointUrl(url, '/connection/websocket', 'ws').href);
      ws.onopen = () => {
        if (!done) handlers.open();
      };
      ws.onmessage = (event) => {
        if (done || typeof event.data !== 'string') return;
        let frame: ServerFrame;
        try {
          frame = JSON.parse(event.data) as ServerFrame;
        } catch {
          return; // the hub only sends JSON; anything else is not ours to act on
        }
        handlers.frame(frame);
      };
      ws.onerror = () => undefined; // a close event always follows, with the code
      ws.onclose = (event) => finish(event.code || ABNORMAL_CLOSURE, event.reason || 'connection closed');
      return {
        send(command: Command) {
          if (!done && ws.readyState === OPEN) ws.send(JSON.stringify(command));
        },
        close() {
          done = true;
          try {
            ws.close(1000);
          } catch {
            // closing a socket that is still connecting throws in some runtimes; it is abandoned either way
          }
        },
      };
    },
  };
}
