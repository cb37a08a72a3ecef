import type { PresenceMember } from '@herald/protocol';
import type { Logger } from './logger.ts';

/**
 * What happens to clients and channels on this node, as facts for whoever wires an observer in (webhooks,
 * a Pusher-protocol transport's own events, metrics). The type names are those the webhooks use.
 * `client` is the session id (a long-poll or client-action request is a session of its own); `user` is
 * null for anonymous clients.
 */
export type LifecycleEvent =
  | { type: 'client.connected'; client: string; user: string | null; transport: string }
  | {
      type: 'client.disconnected';
      client: string;
      user: string | null;
      transport: string;
      /** The close code: Herald's (4000-4999) when the hub closed it, else the transport's (1000...). */
      code: number;
      reason: string;
      /** Since the client was admitted. */
      durationMs: number;
    }
  /** The subscription is live: its result went to the client. */
  | { type: 'channel.subscribed'; channel: string; client: string; user: string | null }
  /** A live subscription ended: unsubscribed, reset to resubscribe, or its client gone. */
  | { type: 'channel.unsubscribed'; channel: string; client: string; user: string | null }
  /** The channel's first subscription on this node (not cluster-wide). */
  | { type: 'channel.occupied'; channel: string }
  /** The channel's last subscription on this node ended. */
  | { type: 'channel.vacated'; channel: string }
  /**
   * This node added the member to the channel's presence. A long-poll client's entry is a `lease`: added
   * again by each of its polls, never removed (it expires in the broker), so it reports no `left`.
   */
  | { type: 'presence.joined'; channel: string; member: PresenceMember; lease: boolean }
  /** This node removed the member from the channel's presence. */
  | { type: 'presence.left'; channel: string; member: PresenceMember };

export type LifecycleListener = (event: LifecycleEvent) => void;

/**
 * The hub's lifecycle observers. Events are built only when someone listens (`observed`), and none is
 * emitted per publication, so the fan-out path pays nothing. Listeners run synchronously, in the order
 * of the facts; one that throws is logged and does not disturb the hub or the other listeners.
 */
export class Lifecycle {
  private listeners: LifecycleListener[] = [];

  constructor(private readonly log: Logger) {}

  /** Whether any listener is registered: emitters check it before building an event. */
  get observed(): boolean {
    return this.listeners.length > 0;
  }

  /** Registers `listener`; returns what unregisters it. */
  observe(listener: LifecycleListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: LifecycleEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err, event: event.type }, 'a lifecycle listener failed');
      }
    }
  }
}
