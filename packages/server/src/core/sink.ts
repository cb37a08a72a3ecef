import type { ServerFrame } from '@herald/protocol';
import type { Delivery } from './delivery.ts';
import type { Subscription } from './subscription.ts';

export type TransportKind = 'websocket' | 'sse' | 'poll' | 'local';

/** What the hub needs from a transport to reach one connection. */
export interface Sink {
  readonly kind: TransportKind;
  /** Replies and pushes other than publications. */
  send(frame: ServerFrame): void;
  /** Hot path: one publication for one subscription (whose position is already advanced). */
  sendPublication(delivery: Delivery, subscription: Subscription): void;
  /** Bytes accepted but not yet written to the network. */
  queuedBytes(): number;
  /** Ends the connection; `code` is a Herald close code (4000-4999). */
  close(code: number, reason: string): void;
}
