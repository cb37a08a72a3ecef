import { continuity, recovers, type StreamPosition, type SubscribeResult } from '@herald/protocol';
import type { NamespaceOptions } from '../config.ts';
import type { ConnectContext, Identity } from './auth.ts';
import type { Broker } from './broker.ts';
import type { Delivery } from './delivery.ts';
import type { Logger } from './logger.ts';
import { fitting } from './paging.ts';
import type { Sink } from './sink.ts';
import type { StoredDeliveries } from './stored-deliveries.ts';

/** The session a subscription belongs to, as the subscription and the channel registry see it. */
export interface Subscriber {
  readonly id: string;
  readonly identity: Identity;
  readonly context: ConnectContext;
  readonly sink: Sink;
  readonly closed: boolean;
  /** Bytes of publications reserved for replies being made, not yet queued. */
  unsentBytes: number;
  /** Bytes a page may still add to the send queue. */
  room(): number;
  readonly subscriptions: {
    get(channel: string): Subscription | undefined;
    delete(channel: string): void;
  };
}

/** What a subscription needs of the channel registry that holds it (`Channels`). */
export interface SubscriptionHost {
  readonly broker: Broker;
  readonly log: Logger;
  readonly stats: { delivered: number };
  /** Deliveries of stored publications, shared by every subscription reading them back. */
  readonly stored: StoredDeliveries;
  /** The most one page of history may add to a connection's send queue. */
  readonly pageBytes: number;
  namespace(channel: string): NamespaceOptions;
  detach(sub: Subscription): void;
}

/** A subscription positioned on its stream; call `activate` after sending `result` to start live delivery. */
export interface PositionedSubscription {
  result: SubscribeResult;
  /** `result.publications`, each known to encode (transports that send them one by one reuse the bytes). */
  deliveries: Delivery[];
  activate(): void;
}

/** A page of history read for a subscription (see `Subscription.position`). */
export interface PositionedPage {
  recovered: boolean;
  deliveries: Delivery[];
  /** Their encoded size, reserved in `session.unsentBytes` until the caller has queued them. */
  bytes: number;
  /** The stream's end when read: the subscription is caught up once there. */
  end: number;
}

/**
 * One session's subscription to one channel, how far along the stream it has been sent, and what keeps
 * it in order: each publication is offered (`offer`) and placed by the protocol's position rule
 * (`continuity`): the next one is sent, duplicates are dropped, and a gap or a new epoch is healed from
 * history before going on (publications arriving meanwhile wait in `pending`, merged by offset after).
 */
export class Subscription {
  epoch = '';
  offset = 0;
  /**
   * While the subscription is being positioned (history read in flight), live publications wait here;
   * they are merged by offset once the history is sent. `null` once live.
   */
  pending: Delivery[] | null = [];
  /** Whether lifecycle observers were told it is live (`Channels.announce`), so they hear of its end. */
  announced = false;

  constructor(
    readonly session: Subscriber,
    readonly channel: string,
    private readonly channels: SubscriptionHost,
  ) {}

  /** Whether it is still the session's subscription to its channel (not ended, not replaced). */
  get current(): boolean {
    return !this.session.closed && this.session.subscriptions.get(this.channel) === this;
  }

  /**
   * A publication of the channel, live from the broker: sent if it is the next one; dropped if already
   * sent (from history, or a broker redelivery); kept while positioning; otherwise (a gap, or the stream
   * was reset to a new epoch) it waits while the way to it is read from history.
   */
  offer(delivery: Delivery): void {
    if (this.pending !== null) {
      this.pending.push(delivery);
      return;
    }
    const { offset, epoch } = delivery.pub;
    const next = continuity(this, delivery.pub);
    if (next === 'duplicate') return;
    if (next === 'next') {
      if (!delivery.encodable) {
        this.channels.log.error({ channel: this.channel, offset }, 'a publication cannot be encoded');
        this.reset(`publication ${offset} cannot be encoded`, 'invalid_data');
        return;
      }
      this.offset = offset;
      this.session.sink.sendPublication(delivery);
      this.channels.stats.delivered++;
      return;
    }
    this.pending = [delivery];
    void this.catchUp(next === 'gap' ? undefined : { epoch, offset: 0 });
  }

  /**
   * Reads the stream from `since` and moves to the position after the page it returns: the first missed
   * publications that fit in the room left in the session's send queue (at least `min`), as deliveries
   * known to encode, their `bytes` reserved in `session.unsentBytes` until the caller has queued them.
   * When `since` cannot be honoured the subscription starts at the current end of the stream; so it does
   * when a publication of the page cannot be encoded (see Delivery.encodable): told `recovered: false`,
   * never sent a gap, and never left half subscribed by a reply that fails to encode; and when the session
   * closed while history was read (nothing to send it). The deliveries are shared with every subscription
   * reading the same publications (`StoredDeliveries`). `limit`: read at most this many.
   */
  async position(
    since: StreamPosition | undefined,
    min: 0 | 1,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<PositionedPage> {
    const { broker, log } = this.channels;
    const page = await broker.history(this.channel, {
      since,
      limit: since ? Math.min(limit, this.channels.namespace(this.channel).historySize) : 0,
      subscriber: true,
    });
    this.epoch = page.epoch;
    this.offset = page.offset;
    const end = page.offset;
    const fresh = { recovered: false, deliveries: [], bytes: 0, end };
    const session = this.session;
    // A client that went away while history was read (a reconnect it gave up on) costs nothing more.
    if (!since || session.closed) return fresh;
    if (!recovers(since, page)) return fresh;
    const { stored } = this.channels;
    const all = page.publications.map((pub) => stored.of(pub));
    const { count, bytes } = fitting(all, session.room(), (d) => (d.encodable ? d.json.length : 0), min);
    const deliveries = count === all.length ? all : all.slice(0, count);
    const broken = deliveries.find((delivery) => !delivery.encodable);
    if (broken) {
      log.error(
        { channel: this.channel, offset: broken.pub.offset },
        'a stored publication cannot be encoded: the subscriber starts from the end, recovered: false',
      );
      return fresh;
    }
    session.unsentBytes += bytes;
    this.offset = count > 0 ? deliveries[count - 1].pub.offset : since.offset;
    return { recovered: true, deliveries, bytes, end };
  }

  /**
   * Starts live delivery once the subscribe result has been sent: catches up first if the stream went
   * past `end` while the result was made.
   */
  start(end: number): void {
    if (this.offset < end) void this.catchUp();
    else this.activate();
  }

  /**
   * Sends what is missing from history, a page at a time as the connection drains (never more than the
   * queue has room for), then switches to live delivery: what waited in `pending` meanwhile is merged by
   * offset. `since`: where to read from when it is not the subscription's own position (the start of a
   * new epoch). History that no longer covers the way resets the subscription.
   */
  private async catchUp(since?: StreamPosition): Promise<void> {
    const { session } = this;
    const { log, stats, pageBytes } = this.channels;
    // After the first page, each read asks for about two pages' worth, judged by the sizes seen so far,
    // so a long catch-up does not read the whole rest of history (from Redis) for every page.
    let limit: number | undefined;
    try {
      for (let from = since; ; from = undefined) {
        await session.sink.drained();
        if (!this.current) return;
        const position = from ?? { epoch: this.epoch, offset: this.offset };
        const { recovered, deliveries, bytes, end } = await this.position(position, 1, limit);
        // Queued below at once, or not at all.
        session.unsentBytes -= bytes;
        if (!this.current) return;
        if (!recovered) {
          this.reset('history no longer covers the gap');
          return;
        }
        if (bytes > 0) limit = Math.max(16, Math.ceil((2 * pageBytes * deliveries.length) / bytes));
        for (const delivery of deliveries) {
          if (session.closed) return;
          session.sink.sendPublication(delivery);
          stats.delivered++;
        }
        if (this.offset >= end) break;
        // Live publications up to `end` come again from history with the next page: no need to hold them.
        this.pending = this.pending?.filter((d) => d.pub.epoch !== this.epoch || d.pub.offset > end) ?? null;
      }
      this.activate();
    } catch (err) {
      log.warn({ err, channel: this.channel }, 'could not read history to catch up');
      if (this.current) this.reset('history unavailable while catching up');
    }
  }

  /** Sends what waited in `pending` (only what follows the position) and switches to live delivery. */
  private activate(): void {
    const waiting = this.pending;
    this.pending = null;
    if (!waiting || this.session.closed) return;
    for (const delivery of waiting) this.offer(delivery);
  }

  /**
   * Ends a subscription that lost continuity; the client resubscribes from its position and is told
   * `recovered: false` if that cannot be honoured.
   */
  private reset(reason: string, code = 'insufficient_state'): void {
    const { session, channel } = this;
    if (session.subscriptions.get(channel) === this) session.subscriptions.delete(channel);
    this.channels.detach(this);
    session.sink.send({ type: 'unsub', channel, code, reason, resubscribe: true });
  }
}
