import type { Command, ServerFrame, StreamPosition } from '@herald/protocol';

/**
 * What a transport reports. A transport speaks Herald's command/reply/push protocol whatever it runs on:
 * WebSocket carries it as is; SSE and long-polling translate commands to HTTP requests and their events
 * to pushes, so the connection logic above them (resume, heartbeats, fallback) is one.
 */
export interface TransportHandlers {
  /** The transport can carry commands now (WebSocket: the upgrade succeeded). */
  open(): void;
  /** A reply or push from the hub. */
  frame(frame: ServerFrame): void;
  /**
   * The transport ended, once, for good. `code` is Herald's close code (4000-4999) when the hub gave one,
   * a WebSocket or network code (1006…) otherwise.
   */
  close(event: { code: number; reason: string }): void;
  /**
   * The client's one position for `channel` (where its delivery stands), the resume point of every
   * transport: the `since` of `connect` and `subscribe` is built from it, and a transport that resumes
   * on its own (long-polling: every poll's cursor) asks it. No transport keeps a position of its own, so
   * a reconnect on any transport, or a switch between them, resumes from where delivery stands.
   */
  position(channel: string): StreamPosition | undefined;
}

export interface TransportConnection {
  /** Sends one command; the `connect` command comes first, right after `open`. */
  send(command: Command): void;
  /** Ends the connection. No handler is called after it. */
  close(): void;
}

export interface Transport {
  /** `websocket`, `sse`, `poll`, or a custom name. */
  readonly name: string;
  /** Starts connecting to the hub whose base URL (`https://host[/mount]`) is `url`. */
  open(url: string, handlers: TransportHandlers): TransportConnection;
}

/** Close code for a transport that failed without a Herald close code (refused, unreachable, cut). */
export const ABNORMAL_CLOSURE = 1006;

/** The URL of a hub endpoint below the base URL, resolved against the page in browsers. */
export function endpointUrl(base: string, path: string, protocol?: 'ws'): URL {
  const location = (globalThis as { location?: { href: string } }).location;
  const url = new URL(base, location?.href);
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  if (protocol === 'ws') url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
}
