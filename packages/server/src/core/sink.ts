import type { ServerFrame } from '@herald/protocol';
import type { Delivery } from './delivery.ts';

/** What the hub needs from a transport to reach one connection. */
export interface Sink {
  /** Replies and pushes other than publications. */
  send(frame: ServerFrame): void;
  /** Hot path: one publication of a subscription whose position is already advanced. */
  sendPublication(delivery: Delivery): void;
  /**
   * Bytes accepted but not yet written to the network. A sink calls `session.checkQueue()` after queuing,
   * so every byte counts against `maxQueueBytes`.
   */
  queuedBytes(): number;
  /**
   * Resolves once what is queued has gone to the network (the socket's buffer is under its high-water
   * mark) or the connection has ended: a catch-up sends its next page then.
   */
  drained(): Promise<void>;
  /** Ends the connection; `code` is a Herald close code (4000-4999). */
  close(code: number, reason: string): void;
}
