import type { TargetName } from '../targets.ts';
import { rawProtocols } from './raw-protocols.ts';
import { SseCounter } from './sse-counter.ts';
import { WsCounter } from './ws-counter.ts';

export interface CounterEvents {
  ready(counter: Counter): void;
  /** Could not connect or subscribe, or the connection ended before it was live. */
  failed(counter: Counter, reason: string): void;
  /** A live connection ended without us dropping it. */
  lost(counter: Counter): void;
}

/** A throughput subscriber: counts delivered messages without decoding them. */
export interface Counter {
  readonly channel: string;
  readonly count: number;
  readonly state: 'idle' | 'upgrading' | 'handshaking' | 'live' | 'closed';
  /** Monotonic µs when it last became live. */
  readonly readyAt: number;
  readonly unexpectedCloses: number;
  /** Resumes the server could not honour. */
  readonly notRecovered: number;
  events: CounterEvents;
  /** Connects and subscribes; with `resume`, from the last position seen where the system can resume. */
  open(resume: boolean): void;
  /** Cuts the connection abruptly. */
  drop(): void;
  close(): void;
}

export function createCounter(target: TargetName, host: string, port: number, channel: string): Counter {
  switch (target) {
    case 'herald-ws':
    case 'herald-redis':
    case 'herald-redis-baseline':
      return new WsCounter(host, port, rawProtocols.herald, channel);
    case 'ws':
      return new WsCounter(host, port, rawProtocols.ws, channel);
    case 'socketio':
      return new WsCounter(host, port, rawProtocols.socketio, channel);
    case 'herald-sse':
      return new SseCounter(host, port, channel);
    case 'pushpin':
      return new WsCounter(host, port, rawProtocols.pushpin, channel);
    case 'herald-pusher':
      return new WsCounter(host, port, rawProtocols.pusher, channel);
  }
}
