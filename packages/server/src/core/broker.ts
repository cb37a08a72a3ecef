import type { PresenceMember, Publication, StreamPosition } from '@herald/protocol';

/** What a publication needs beyond its payload; the hub resolves it from the channel's namespace. */
export interface PublishOptions {
  historySize: number;
  /** Milliseconds. */
  historyTtl: number;
  idempotencyKey?: string;
  /** Milliseconds an idempotency key is remembered. */
  idempotencyWindow: number;
  /** `data` as JSON, as the hub checked and encoded it (undefined for no data): brokers that store JSON store this. */
  json?: string;
}

export interface PublishOutcome extends StreamPosition {
  /** The key was seen before: this is the first publication's position and nothing was delivered. */
  duplicate: boolean;
}

export interface HistoryQuery {
  /** Only publications with a greater offset (in the same epoch; any other epoch yields none). */
  since?: StreamPosition;
  /** At most this many; 0 returns only the current position. */
  limit?: number;
  /** Newest first: the newest `limit` publications, or with `since` those up to `since.offset + limit`. */
  reverse?: boolean;
  /**
   * A hint: the reader takes only publications whose data fits in about this many bytes, so the broker
   * may stop once their data passes it (always returning at least one). Fewer than `limit` then does not
   * mean history ends there.
   */
  maxBytes?: number;
  /**
   * The read positions a subscriber whose live publications queue up meanwhile, so a slightly older
   * read serves it as well as a new one: a broker may share a read already under way (see RedisBroker).
   */
  subscriber?: boolean;
}

export interface HistoryPage extends StreamPosition {
  /** In offset order (or reverse order if asked), each with the stream's current epoch. */
  publications: Publication[];
}

export interface BrokerHandlers {
  /**
   * Called for every publication of a channel this node subscribed to, in offset order per channel.
   * After an outage the broker catches up from history, so offsets arrive without gaps when history allows.
   */
  publication(pub: Publication): void;
  presence(event: { type: 'join' | 'leave'; channel: string; member: PresenceMember }): void;
  /** Broker health changed (for `/health`); publishes fail with `unavailable` while down. */
  health?(up: boolean): void;
}

/**
 * Where streams live and how publications reach every node. The in-memory broker serves one process;
 * the Redis broker shares streams, presence and idempotency keys between nodes.
 */
export interface Broker {
  start(handlers: BrokerHandlers): Promise<void>;
  /** Appends to the channel's stream (assigning the next offset) and fans out, atomically. */
  publish(
    channel: string,
    data: unknown,
    event: string | undefined,
    options: PublishOptions,
  ): Promise<PublishOutcome>;
  history(channel: string, query: HistoryQuery): Promise<HistoryPage>;
  /** Start delivering the channel's publications to this node. Resolves once delivery is live. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Adds or refreshes a member; it expires after `ttl` ms unless refreshed. Emits `join` when new. */
  addPresence(channel: string, member: PresenceMember, ttl: number): Promise<void>;
  /** Removes a member and emits `leave`. */
  removePresence(channel: string, member: PresenceMember): Promise<void>;
  presence(channel: string): Promise<PresenceMember[]>;
  /** Channels with at least one publication in history or one subscribed node. */
  channels(): Promise<string[]>;
  /**
   * Whether this node holds anything of the channel in its own memory (a stream, a subscription), and
   * how many channels it holds: what `limits.channelsPerNode` counts.
   */
  hasChannel(channel: string): boolean;
  channelCount(): number;
  healthy(): boolean;
  close(): Promise<void>;
}
