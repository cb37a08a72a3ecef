import { HeraldError, type PresenceMember, type Publication } from '@herald/protocol';
import type { HeraldConfig, NamespaceOptions } from '../config.ts';
import type { Broker } from './broker.ts';
import { ChannelLedger } from './channel-ledger.ts';
import { resolveNamespace } from './channel-name.ts';
import { Delivery } from './delivery.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import { PresenceTracker } from './presence.ts';
import { StoredDeliveries } from './stored-deliveries.ts';
import type { Subscriber, Subscription, SubscriptionHost } from './subscription.ts';

/** What the hub counts; shown by /health and /metrics. */
export interface Counters {
  published: number;
  delivered: number;
  slowConsumers: number;
}

/**
 * The channels this node holds: which subscriptions each has, the broker's subscribe/unsubscribe calls
 * for them in order, the limits on bringing channels into existence, this node's presence entries, and
 * fan-out of what the broker hands over to every subscription of a channel.
 */
/**
 * The most the deliveries of publications read back from history keep alive (see `StoredDeliveries`):
 * a minute of 5 msg/s on a few hundred channels at the sizes chat messages have.
 */
const STORED_DELIVERY_BYTES = 16 * 1024 * 1024;

export class Channels implements SubscriptionHost {
  readonly presence: PresenceTracker;
  /** Deliveries of stored publications, shared by the subscriptions that read them back together. */
  readonly stored = new StoredDeliveries(STORED_DELIVERY_BYTES);
  private readonly subscribers = new Map<string, Set<Subscription>>();
  /** Per channel, the tail of broker subscribe/unsubscribe calls, so they reach the broker in order. */
  private readonly brokerOps = new Map<string, Promise<void>>();
  /** Channels anonymous clients brought into existence, by IP (`limits.channelsPerIp`). */
  private readonly ledger = new ChannelLedger();
  /** Channels being brought into existence right now (admitted, broker call under way), with how many calls. */
  private readonly creating = new Map<string, number>();
  /** Whether the node holds the channel, or is bringing it into existence. */
  private readonly held = (channel: string): boolean =>
    this.subscribers.has(channel) || this.broker.hasChannel(channel) || this.creating.has(channel);

  constructor(
    readonly config: HeraldConfig,
    readonly broker: Broker,
    readonly log: Logger,
    readonly stats: Counters,
    /** The most one page of history may add to a connection's send queue (see `HubCore.pageBytes`). */
    readonly pageBytes: number,
    private readonly lifecycle: Lifecycle,
  ) {
    this.presence = new PresenceTracker(broker, log, config.presenceTtl * 1000, lifecycle);
  }

  /** Channels with a subscriber on this node. */
  get size(): number {
    return this.subscribers.size;
  }

  namespace(channel: string): NamespaceOptions {
    return resolveNamespace(this.config, channel);
  }

  /** Adds `sub` to its channel, subscribing the broker to the channel first if it is new here. */
  async attach(sub: Subscription): Promise<void> {
    let subs = this.subscribers.get(sub.channel);
    if (!subs) {
      subs = new Set();
      this.subscribers.set(sub.channel, subs);
      this.brokerOp(sub.channel, () => this.broker.subscribe(sub.channel));
      if (this.lifecycle.observed) this.lifecycle.emit({ type: 'channel.occupied', channel: sub.channel });
    }
    subs.add(sub);
    await this.brokerOps.get(sub.channel);
  }

  /** Removes `sub` (and its presence); the broker lets go of a channel left without subscribers. */
  detach(sub: Subscription): void {
    sub.pending = null;
    this.presence.leave(sub);
    const { channel } = sub;
    if (sub.announced) {
      sub.announced = false;
      this.emitSubscription('channel.unsubscribed', sub);
    }
    const subs = this.subscribers.get(channel);
    if (!subs?.delete(sub) || subs.size > 0) return;
    this.subscribers.delete(channel);
    this.brokerOp(channel, () => this.broker.unsubscribe(channel));
    if (this.lifecycle.observed) this.lifecycle.emit({ type: 'channel.vacated', channel });
  }

  /** The subscription went live (its result was sent): observers learn of it, and of its end later. */
  announce(sub: Subscription): void {
    sub.announced = true;
    this.emitSubscription('channel.subscribed', sub);
  }

  private emitSubscription(type: 'channel.subscribed' | 'channel.unsubscribed', sub: Subscription): void {
    if (!this.lifecycle.observed) return;
    const { channel, session } = sub;
    this.lifecycle.emit({ type, channel, client: session.id, user: session.identity.user });
  }

  /** A publication from the broker, offered to every subscription of its channel with shared encodings. */
  fanOut(pub: Publication): void {
    const subs = this.subscribers.get(pub.channel);
    if (!subs) return;
    const delivery = new Delivery(pub);
    for (const sub of subs) sub.offer(delivery);
  }

  fanOutPresence(type: 'join' | 'leave', channel: string, member: PresenceMember): void {
    const subs = this.subscribers.get(channel);
    if (!subs || !this.namespace(channel).joinLeave) return;
    for (const sub of subs) if (sub.pending === null) sub.session.sink.send({ type, channel, member });
  }

  /**
   * Runs `op` (a publish, subscribe or read, which brings a channel this node does not hold into
   * existence), unless the node holds `limits.channelsPerNode` channels or anonymous clients from the
   * session's IP brought `limits.channelsPerIp` into existence: then `too_many_channels`. Channels under
   * way count from admission, so concurrent calls cannot slip past. A new channel counts against the IP
   * at least `holdFor` ms (its publication's history), then until the node no longer holds it.
   */
  async withChannel<T>(
    channel: string,
    session: Subscriber | undefined,
    op: () => Promise<T>,
    holdFor = 0,
  ): Promise<T> {
    if (this.held(channel)) return op();
    const { channelsPerNode, channelsPerIp } = this.config.limits;
    if (channelsPerNode > 0 && this.channelsHeldOrComing() >= channelsPerNode) {
      throw new HeraldError('too_many_channels', `this node holds its limit of ${channelsPerNode} channels`);
    }
    const anonymousIp = session?.identity.user === null ? session.context.ip : undefined;
    const ip = channelsPerIp > 0 ? anonymousIp : undefined;
    if (ip !== undefined) {
      if (this.ledger.full(ip, channelsPerIp, this.held)) {
        throw new HeraldError(
          'too_many_channels',
          `anonymous clients from one IP address may bring at most ${channelsPerIp} channels into existence`,
        );
      }
      this.ledger.add(ip, channel, Date.now());
    }
    this.creating.set(channel, (this.creating.get(channel) ?? 0) + 1);
    try {
      const result = await op();
      if (ip !== undefined && holdFor > 0) this.ledger.add(ip, channel, Date.now() + holdFor);
      return result;
    } finally {
      const calls = (this.creating.get(channel) ?? 1) - 1;
      if (calls > 0) this.creating.set(channel, calls);
      else this.creating.delete(channel);
    }
  }

  /** Refreshes this node's presence entries and forgets channels that no longer count against an IP. */
  sweep(now: number): void {
    this.presence.refresh();
    this.ledger.sweep(this.held, now);
  }

  /** Resolves once every broker call issued so far has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.brokerOps.values()]);
    await this.presence.settled();
  }

  /** The channels the node's broker holds, and those under way that it does not hold yet. */
  private channelsHeldOrComing(): number {
    let coming = 0;
    for (const channel of this.creating.keys()) if (!this.broker.hasChannel(channel)) coming++;
    return this.broker.channelCount() + coming;
  }

  private brokerOp(channel: string, op: () => Promise<void>): void {
    const previous = this.brokerOps.get(channel) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(op);
    this.brokerOps.set(channel, next);
    next
      .catch((err) => this.log.error({ err, channel }, 'broker subscription change failed'))
      .finally(() => {
        if (this.brokerOps.get(channel) === next) this.brokerOps.delete(channel);
      });
  }
}
