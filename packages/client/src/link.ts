import type {
  ErrorBody,
  JoinPush,
  LeavePush,
  PublicationPush,
  StreamPosition,
  SubscribeResult,
} from '@herald/protocol';

/** The connection as the app sees it. */
export type ConnectionState =
  | { status: 'connecting'; transport: string }
  | { status: 'connected'; transport: string; client: string; user: string | null }
  | {
      status: 'disconnected';
      reason: string;
      /** The close code, when there was one (docs/protocol.md). */
      code?: number;
      /** Whether the client will try again by itself. */
      reconnect: boolean;
    }
  | { status: 'closed' };

/** What a connection tells the channels riding on it. */
export type LinkEvent =
  | { type: 'state'; state: ConnectionState }
  | { type: 'push'; push: PublicationPush | JoinPush | LeavePush }
  /**
   * The channel's subscription on the wire was (re)established: after a `subscribe`, after every reconnect,
   * after the hub ended it and it was renewed. `to` names the consumer it answers; absent, it is for all.
   */
  | { type: 'subscribed'; channel: string; result: SubscribeResult; to?: string }
  /** Subscribing failed; `final` when it will not be tried again by itself. */
  | { type: 'subscribe_error'; channel: string; error: ErrorBody; final: boolean };

export interface WireSubscribeOptions {
  /** Where the consumer's stream stands, for the first wire subscription. */
  since?: StreamPosition;
  /** Subscription token, asked for on every (re)subscribe. */
  getToken?: () => string | undefined | Promise<string | undefined>;
}

/** Commands a link forwards for its channels and outbox: everything but connection management. */
export type LinkRequest =
  | { type: 'publish'; channel: string; data: unknown; event?: string; idempotencyKey?: string }
  | { type: 'history'; channel: string; since?: StreamPosition; limit?: number; reverse?: boolean }
  | { type: 'presence'; channel: string };

/**
 * One hub connection as consumers use it. The tab holding the connection uses it directly; other tabs of
 * the origin reach it through a BroadcastChannel (shared-link.ts). Subscriptions are counted per consumer,
 * so one wire subscription serves every tab and component on the channel.
 */
export interface Link {
  readonly state: ConnectionState;
  on(listener: (event: LinkEvent) => void): () => void;
  subscribe(consumer: string, channel: string, options: WireSubscribeOptions): void;
  unsubscribe(consumer: string, channel: string): void;
  /** Resolves with the reply's result, or rejects with a HeraldClientError. Waits while disconnected. */
  request(request: LinkRequest): Promise<unknown>;
}
