import { createHash } from 'node:crypto';
import {
  CloseCodes,
  checkEventName,
  HeraldError,
  type HistoryResult,
  type PresenceMember,
  type Publication,
  type PublishResult,
  type StreamPosition,
  type SubscribeResult,
} from '@herald/protocol';
import { ConfigAuthenticator } from '../auth/config-authenticator.ts';
import { MemoryBroker } from '../brokers/memory-broker.ts';
import { type HeraldConfig, type NamespaceOptions, parseConfig } from '../config.ts';
import { checkPublish, checkRead } from './access.ts';
import type { Authenticator, ConnectContext, Credentials, Identity } from './auth.ts';
import type { Broker } from './broker.ts';
import { ChannelLedger } from './channel-ledger.ts';
import { resolveNamespace } from './channel-name.ts';
import { Delivery } from './delivery.ts';
import { ConnectionCounter, type RateKind, rateOf, TokenBucket } from './limits.ts';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import { isOriginAllowed } from './origin.ts';
import { fitting, publicationBytes } from './paging.ts';
import { encodePayload } from './payload.ts';
import { PresenceTracker } from './presence.ts';
import { Session } from './session.ts';
import type { Sink } from './sink.ts';
import { Subscription } from './subscription.ts';

export interface HubOptions {
  config?: HeraldConfig;
  broker?: Broker;
  authenticator?: Authenticator;
  logger?: Logger;
}

export interface PublishInput {
  data: unknown;
  event?: string;
  idempotencyKey?: string;
}

/** A subscription positioned on its stream; call `activate` after sending `result` to start live delivery. */
export interface PositionedSubscription {
  result: SubscribeResult;
  /** `result.publications`, each known to encode (transports that send them one by one reuse the bytes). */
  deliveries: Delivery[];
  activate(): void;
}

export interface HubStats {
  sessions: number;
  channels: number;
  published: number;
  delivered: number;
  slowConsumers: number;
}

/**
 * The hub core: sessions, channel subscriptions, subscribe-with-resume and fan-out. It knows no transport
 * and no broker implementation; both plug in through `Sink` and `Broker`.
 */
export class Hub {
  readonly config: HeraldConfig;
  readonly broker: Broker;
  readonly auth: Authenticator;
  readonly log: Logger;
  /**
   * The most one page (a history reply, a catch-up's share of history) may add to a connection's send
   * queue: half of `maxQueueBytes`, so a page and the live traffic meanwhile fit under the cap.
   */
  readonly pageBytes: number;
  readonly sessions = new Set<Session>();
  private readonly channels = new Map<string, Set<Subscription>>();
  /** Per channel, the tail of broker subscribe/unsubscribe calls, so they reach the broker in order. */
  private readonly brokerOps = new Map<string, Promise<void>>();
  private readonly stats = { published: 0, delivered: 0, slowConsumers: 0 };
  private started = false;
  private readonly presenceTracker: PresenceTracker;
  private readonly connectionsPerIp = new ConnectionCounter();
  private readonly connectionsPerUser = new ConnectionCounter();
  /** Publish and command rates of clients whose sessions last one request, by client; idle ones are swept. */
  private readonly clientBuckets = new Map<string, TokenBucket>();
  /** Channels anonymous clients brought into existence, by IP (`limits.channelsPerIp`). */
  private readonly channelLedger = new ChannelLedger();
  /** Channels being brought into existence right now (admitted, broker call under way), with how many calls. */
  private readonly creating = new Map<string, number>();
  /** Whether the node holds the channel, or is bringing it into existence. */
  private readonly held = (channel: string): boolean =>
    this.channels.has(channel) || this.broker.hasChannel(channel) || this.creating.has(channel);
  /** Sessions whose credentials expire; checked by the shared sweep. */
  private readonly expiring = new Set<Session>();
  private sweeper: NodeJS.Timeout | undefined;
  private lastPresenceRefresh = Date.now();

  constructor(options: HubOptions = {}) {
    this.config = options.config ?? parseConfig({});
    this.broker = options.broker ?? new MemoryBroker();
    this.auth = options.authenticator ?? new ConfigAuthenticator(this.config);
    this.log = options.logger ?? silentLogger;
    this.pageBytes = Math.floor(this.config.maxQueueBytes / 2);
    this.presenceTracker = new PresenceTracker(this.broker, this.log, this.config.presenceTtl * 1000);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // One timer for the whole hub (token expiry, presence refresh), never one per connection.
    const { pingInterval, presenceTtl } = this.config;
    this.sweeper = setInterval(
      () => this.sweep(),
      Math.min(1000, pingInterval * 1000, (presenceTtl * 1000) / 3),
    );
    this.sweeper.unref();
    await this.broker.start({
      publication: (pub) => this.fanOut(pub),
      presence: (event) => this.fanOutPresence(event.type, event.channel, event.member),
      health: (up) => this.log[up ? 'info' : 'warn']({ up }, 'broker health changed'),
    });
  }

  /** Closes every session with `code` and releases the broker. */
  async close(code: number = CloseCodes.shutdown, reason = 'server shutting down'): Promise<void> {
    clearInterval(this.sweeper);
    for (const session of [...this.sessions]) session.close(code, reason);
    await Promise.allSettled([...this.brokerOps.values()]);
    await this.presenceTracker.settled();
    await this.broker.close();
  }

  namespace(channel: string): NamespaceOptions {
    return resolveNamespace(this.config, channel);
  }

  /**
   * Whether a connection from `context` may open at all (its Origin, connections per IP). Transports call
   * it before accepting, to refuse with a plain HTTP error; `connectSession` checks again for every transport.
   */
  admit(context: ConnectContext): HeraldError | undefined {
    return this.refusal(context, 0);
  }

  /** `counted`: whether the connection is already among those of its IP. */
  private refusal(context: ConnectContext, counted: 0 | 1): HeraldError | undefined {
    if (!isOriginAllowed(this.config.allowedOrigins, context.origin, context.host)) {
      return new HeraldError(
        'origin_not_allowed',
        `origin ${String(context.origin).slice(0, 100)} is not allowed`,
      );
    }
    const max = this.config.limits.connectionsPerIp;
    if (max > 0 && context.ip !== undefined && this.connectionsPerIp.count(context.ip) - counted >= max) {
      return new HeraldError('too_many_connections', `at most ${max} connections per IP address`);
    }
    return undefined;
  }

  openSession(sink: Sink, context: ConnectContext): Session {
    const session = new Session(this, sink, context);
    this.sessions.add(session);
    if (context.ip !== undefined) this.connectionsPerIp.add(context.ip);
    return session;
  }

  /** Verifies credentials and the token's expiry. */
  async authenticate(credentials: Credentials, context: ConnectContext): Promise<Identity> {
    const identity = await this.auth.connect(credentials, context);
    if (identity.expiresAt !== undefined && identity.expiresAt * 1000 <= Date.now()) {
      throw new HeraldError('token_expired', 'the connection token has expired');
    }
    return identity;
  }

  /**
   * Admits an open session: origin, connections per IP and per user, then its credentials. Throws the
   * refusal; on success the session carries its identity and is counted.
   */
  async connectSession(session: Session, credentials: Credentials): Promise<Identity> {
    const { context } = session;
    const refusal = this.refusal(context, 1);
    if (refusal) throw refusal;
    const identity = await this.authenticate(credentials, context);
    if (session.closed) return identity;
    const perUser = this.config.limits.connectionsPerUser;
    if (identity.user !== null) {
      if (perUser > 0 && this.connectionsPerUser.count(identity.user) >= perUser) {
        throw new HeraldError('too_many_connections', `at most ${perUser} connections per user`);
      }
      this.connectionsPerUser.add(identity.user);
    }
    session.connected = true;
    this.setIdentity(session, identity);
    return identity;
  }

  /** A refreshed identity (same user) with its new expiry. */
  setIdentity(session: Session, identity: Identity): void {
    session.identity = identity;
    session.expiryNotified = false;
    if (identity.expiresAt === undefined) this.expiring.delete(session);
    else this.expiring.add(session);
  }

  /** Called by the session once it is closed: drops its subscriptions and its counts. */
  releaseSession(session: Session): void {
    if (!this.sessions.delete(session)) return;
    for (const sub of session.subscriptions.values()) this.detach(sub);
    session.subscriptions.clear();
    this.expiring.delete(session);
    if (session.context.ip !== undefined) this.connectionsPerIp.remove(session.context.ip);
    if (session.connected && session.identity.user !== null)
      this.connectionsPerUser.remove(session.identity.user);
  }

  /**
   * Whether the session may read `channel` (subscribe, history, presence): private channels, the
   * namespace's `subscribe` rule, and for `token`/`proxy` namespaces the authenticator. A session already
   * subscribed passed all that.
   */
  async authorizeRead(session: Session, channel: string, token?: string): Promise<NamespaceOptions> {
    const ns = this.namespace(channel);
    if (session.subscriptions.has(channel) && token === undefined) return ns;
    const mode = checkRead(session.identity, channel, ns);
    if (mode !== null) {
      await this.auth.authorizeSubscription(
        { identity: session.identity, channel, token, credentials: session.credentials },
        mode,
      );
    }
    return ns;
  }

  // ---- publish, history, presence

  /** Publishes as the server (HTTP API, embedding app): no namespace publish rule applies. */
  async publish(channel: string, input: PublishInput): Promise<PublishResult> {
    return this.publishFrom(undefined, channel, input);
  }

  /** Publishes on behalf of a client connection, after the namespace and private-channel rules allow it. */
  async publishAs(session: Session, channel: string, input: PublishInput): Promise<PublishResult> {
    checkPublish(session.identity, channel, this.namespace(channel));
    return this.publishFrom(session, channel, input);
  }

  private async publishFrom(
    session: Session | undefined,
    channel: string,
    input: PublishInput,
  ): Promise<PublishResult> {
    const ns = this.namespace(channel);
    const json = encodePayload(input.data, this.config.maxPayloadDepth, this.config.maxPayloadBytes);
    if (input.event !== undefined) checkEventName(input.event);
    const options = {
      historySize: ns.historySize,
      historyTtl: ns.historyTtl * 1000,
      idempotencyKey: input.idempotencyKey,
      idempotencyWindow: this.config.idempotencyWindow * 1000,
      json,
    };
    const outcome = await this.withChannel(
      channel,
      session,
      () => this.broker.publish(channel, input.data, input.event, options),
      options.historyTtl,
    );
    if (!outcome.duplicate) this.stats.published++;
    const result: PublishResult = { epoch: outcome.epoch, offset: outcome.offset };
    if (outcome.duplicate) result.duplicate = true;
    return result;
  }

  /**
   * Reads history, at most a page of publications (always at least one): what fits in the room left in
   * `session`'s send queue, or in a page for a request of its own. A cut reply says in `next` how to ask
   * for the rest, so no reply outgrows the connection's send queue. `session`: the client asking, whose IP
   * a channel it brings into existence counts against.
   */
  async history(
    channel: string,
    query: { since?: StreamPosition; limit?: number; reverse?: boolean },
    session?: Session,
  ): Promise<HistoryResult> {
    const ns = this.namespace(channel);
    const limit = Math.min(query.limit ?? ns.historySize, ns.historySize);
    const { since, reverse } = query;
    const budget = session ? this.room(session) : this.pageBytes;
    const page = await this.withChannel(channel, session, () =>
      this.broker.history(channel, { since, limit, reverse, maxBytes: budget }),
    );
    const all = page.publications;
    const { count } = fitting(all, budget, publicationBytes, 1);
    const publications = count === all.length ? all : all.slice(0, count);
    const result: HistoryResult = { epoch: page.epoch, offset: page.offset, publications };
    if (count === 0) return result;
    // What is left of the range asked for (the broker may have stopped early too) is a run of offsets:
    // going forward, after the last one sent unless the stream ends there; going newest first, from where
    // the range starts up to below the last one sent.
    const last = publications[count - 1].offset;
    const start = reverse ? Math.max(0, since ? since.offset : page.offset - limit) : last;
    const left = reverse ? last - 1 - start : last < page.offset ? limit - count : 0;
    if (left > 0) result.next = { since: { epoch: page.epoch, offset: start }, limit: left };
    return result;
  }

  /** Bytes a page may still add to the session's send queue (negative when it is already past a page). */
  room(session: Session): number {
    return this.pageBytes - session.sink.queuedBytes() - session.unsentBytes;
  }

  /**
   * Runs `op` (a publish, subscribe or read, which brings a channel this node does not hold into
   * existence), unless the node holds `limits.channelsPerNode` channels or anonymous clients from the
   * session's IP brought `limits.channelsPerIp` into existence: then `too_many_channels`. Channels under
   * way count from admission, so concurrent calls cannot slip past. A new channel counts against the IP
   * at least `holdFor` ms (its publication's history), then until the node no longer holds it.
   */
  private async withChannel<T>(
    channel: string,
    session: Session | undefined,
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
      if (this.channelLedger.full(ip, channelsPerIp, this.held)) {
        throw new HeraldError(
          'too_many_channels',
          `anonymous clients from one IP address may bring at most ${channelsPerIp} channels into existence`,
        );
      }
      this.channelLedger.add(ip, channel, Date.now());
    }
    this.creating.set(channel, (this.creating.get(channel) ?? 0) + 1);
    try {
      const result = await op();
      if (ip !== undefined && holdFor > 0) this.channelLedger.add(ip, channel, Date.now() + holdFor);
      return result;
    } finally {
      const calls = (this.creating.get(channel) ?? 1) - 1;
      if (calls > 0) this.creating.set(channel, calls);
      else this.creating.delete(channel);
    }
  }

  /** The channels the node's broker holds, and those under way that it does not hold yet. */
  private channelsHeldOrComing(): number {
    let coming = 0;
    for (const channel of this.creating.keys()) if (!this.broker.hasChannel(channel)) coming++;
    return this.broker.channelCount() + coming;
  }

  async presence(channel: string): Promise<PresenceMember[]> {
    if (!this.namespace(channel).presence) {
      throw new HeraldError('presence_disabled', `presence is off in the namespace of ${channel}`);
    }
    return this.broker.presence(channel);
  }

  async channelNames(): Promise<string[]> {
    return this.broker.channels();
  }

  getStats(): HubStats {
    return { sessions: this.sessions.size, channels: this.channels.size, ...this.stats };
  }

  // ---- subscribe with resume

  /**
   * Subscribes the session and positions it: from `since` it gathers exactly the missed publications
   * (`recovered: true`), or reports `recovered: false` with the current position when the epoch differs or
   * history no longer reaches back. Live publications arriving meanwhile wait in `pending` and are merged
   * by offset on `activate`, so none is lost or doubled.
   */
  async subscribe(
    session: Session,
    channel: string,
    options: { since?: StreamPosition; token?: string } = {},
  ): Promise<PositionedSubscription> {
    this.checkCanAdd(session, channel);
    const ns = await this.authorizeRead(session, channel, options.token);
    // Again after the await: concurrent subscribes must not slip past the checks.
    this.checkCanAdd(session, channel);
    if (session.closed) throw new HeraldError('not_connected', 'the connection is closed');
    const sub = new Subscription(session, channel);
    session.subscriptions.set(sub);
    try {
      await this.withChannel(channel, session, () => this.attach(sub));
      const { recovered, deliveries, bytes, end } = await this.position(sub, options.since, 0);
      const publications = deliveries.map((delivery) => delivery.pub);
      const result: SubscribeResult = { channel, epoch: sub.epoch, offset: sub.offset, publications };
      if (options.since) result.recovered = recovered;
      return {
        result,
        deliveries,
        activate: () => {
          session.unsentBytes -= bytes;
          if (sub.offset < end) void this.catchUp(sub);
          else this.activate(sub);
          if (ns.presence && !session.closed && session.subscriptions.get(channel) === sub) {
            const { user, info } = session.identity;
            const lease = session.context.perRequest === true;
            const client = lease ? this.leaseId(session) : session.id;
            this.presenceTracker.join(
              sub,
              info === undefined ? { client, user } : { client, user, info },
              lease,
            );
          }
        },
      };
    } catch (err) {
      if (session.subscriptions.get(channel) === sub) session.subscriptions.delete(channel);
      this.detach(sub);
      throw err;
    }
  }

  private checkCanAdd(session: Session, channel: string): void {
    if (session.subscriptions.has(channel)) {
      throw new HeraldError('already_subscribed', `already subscribed to ${channel}`);
    }
    const max = this.config.limits.subscriptionsPerConnection;
    if (max > 0 && session.subscriptions.size >= max) {
      throw new HeraldError('too_many_subscriptions', `at most ${max} subscriptions per connection`);
    }
  }

  unsubscribe(session: Session, channel: string): void {
    const sub = session.subscriptions.get(channel);
    if (!sub) throw new HeraldError('not_subscribed', `not subscribed to ${channel}`);
    session.subscriptions.delete(channel);
    this.detach(sub);
  }

  /**
   * Reads the stream from `since` and moves `sub` to the position after the page it returns: the first
   * missed publications that fit in the room left in the session's send queue (at least `min`), as
   * deliveries known to encode, their `bytes` reserved in `session.unsentBytes` until the caller has
   * queued them. `sub` is caught up once at `end`, the stream's end when read. When `since` cannot be
   * honoured the subscription starts at the current end of the stream; so it does when a publication of
   * the page cannot be encoded (see Delivery.encodable): told `recovered: false`, never sent a gap, and
   * never left half subscribed by a reply that fails to encode. `limit`: read at most this many.
   */
  private async position(
    sub: Subscription,
    since: StreamPosition | undefined,
    min: 0 | 1,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<{ recovered: boolean; deliveries: Delivery[]; bytes: number; end: number }> {
    const ns = this.namespace(sub.channel);
    const page = await this.broker.history(sub.channel, {
      since,
      limit: since ? Math.min(limit, ns.historySize) : 0,
      subscriber: true,
    });
    sub.epoch = page.epoch;
    sub.offset = page.offset;
    const end = page.offset;
    const fresh = { recovered: false, deliveries: [], bytes: 0, end };
    if (!since) return fresh;
    const pubs = page.publications;
    const recovered =
      since.epoch === page.epoch &&
      since.offset <= page.offset &&
      (pubs.length > 0 ? pubs[0].offset === since.offset + 1 : since.offset === page.offset);
    if (!recovered) return fresh;
    const all = pubs.map((pub) => new Delivery(pub));
    const session = sub.session;
    const { count, bytes } = fitting(all, this.room(session), (d) => (d.encodable ? d.json.length : 0), min);
    const deliveries = count === all.length ? all : all.slice(0, count);
    const broken = deliveries.find((delivery) => !delivery.encodable);
    if (broken) {
      this.log.error(
        { channel: sub.channel, offset: broken.pub.offset },
        'a stored publication cannot be encoded: the subscriber starts from the end, recovered: false',
      );
      return fresh;
    }
    session.unsentBytes += bytes;
    sub.offset = count > 0 ? deliveries[count - 1].pub.offset : since.offset;
    return { recovered: true, deliveries, bytes, end };
  }

  /**
   * Sends `sub` what it is missing from history, a page at a time as its connection drains (never more
   * than the queue has room for), then switches it to live delivery: what waited in `pending` meanwhile
   * is merged by offset. `since`: where to read from when it is not the subscription's own position (the
   * start of a new epoch). History that no longer covers the way resets the subscription.
   */
  private async catchUp(sub: Subscription, since?: StreamPosition): Promise<void> {
    const { session } = sub;
    const current = () => !session.closed && session.subscriptions.get(sub.channel) === sub;
    // After the first page, each read asks for about two pages' worth, judged by the sizes seen so far,
    // so a long catch-up does not read the whole rest of history (from Redis) for every page.
    let limit: number | undefined;
    try {
      for (let from = since; ; from = undefined) {
        await session.sink.drained();
        if (!current()) return;
        const position = from ?? { epoch: sub.epoch, offset: sub.offset };
        const { recovered, deliveries, bytes, end } = await this.position(sub, position, 1, limit);
        // Queued below at once, or not at all.
        session.unsentBytes -= bytes;
        if (!current()) return;
        if (!recovered) {
          this.resetSubscription(sub, 'history no longer covers the gap');
          return;
        }
        if (bytes > 0) limit = Math.max(16, Math.ceil((2 * this.pageBytes * deliveries.length) / bytes));
        for (const delivery of deliveries) {
          if (session.closed) return;
          session.sink.sendPublication(delivery, sub);
          this.stats.delivered++;
        }
        if (sub.offset >= end) break;
        // Live publications up to `end` come again from history with the next page: no need to hold them.
        sub.pending = sub.pending?.filter((d) => d.pub.epoch !== sub.epoch || d.pub.offset > end) ?? null;
      }
      this.activate(sub);
    } catch (err) {
      this.log.warn({ err, channel: sub.channel }, 'could not read history to catch up');
      if (current()) this.resetSubscription(sub, 'history unavailable while catching up');
    }
  }

  /** Sends what waited in `pending` (only what follows the position) and switches to live delivery. */
  private activate(sub: Subscription): void {
    const waiting = sub.pending;
    sub.pending = null;
    if (!waiting || sub.session.closed) return;
    for (const delivery of waiting) this.deliver(sub, delivery);
  }

  // ---- fan-out

  private fanOut(pub: Publication): void {
    const subs = this.channels.get(pub.channel);
    if (!subs) return;
    const delivery = new Delivery(pub);
    for (const sub of subs) this.deliver(sub, delivery);
  }

  private deliver(sub: Subscription, delivery: Delivery): void {
    if (sub.pending !== null) {
      sub.pending.push(delivery);
      return;
    }
    const { offset, epoch } = delivery.pub;
    if (epoch === sub.epoch) {
      if (offset <= sub.offset) return; // already sent: from history, or a broker redelivery
      if (offset === sub.offset + 1) {
        if (!delivery.encodable) {
          this.log.error({ channel: sub.channel, offset }, 'a publication cannot be encoded');
          this.resetSubscription(sub, `publication ${offset} cannot be encoded`, 'invalid_data');
          return;
        }
        sub.offset = offset;
        sub.session.sink.sendPublication(delivery, sub);
        this.stats.delivered++;
        return;
      }
    }
    // A gap, or the stream was reset (new epoch): heal from history before going on.
    sub.pending = [delivery];
    void this.catchUp(sub, epoch === sub.epoch ? undefined : { epoch, offset: 0 });
  }

  /**
   * Ends a subscription that lost continuity; the client resubscribes from its position and is told
   * `recovered: false` if that cannot be honoured.
   */
  private resetSubscription(sub: Subscription, reason: string, code = 'insufficient_state'): void {
    if (sub.session.subscriptions.get(sub.channel) === sub) sub.session.subscriptions.delete(sub.channel);
    this.detach(sub);
    sub.session.sink.send({ type: 'unsub', channel: sub.channel, code, reason, resubscribe: true });
  }

  /** Cuts a connection whose send queue passed `maxQueueBytes`; its queue is dropped with it. */
  dropSlowConsumer(session: Session): void {
    this.stats.slowConsumers++;
    this.log.warn({ client: session.id, queued: session.sink.queuedBytes() }, 'slow consumer disconnected');
    session.close(CloseCodes.slowConsumer, 'slow consumer: send queue over limit');
  }

  private fanOutPresence(type: 'join' | 'leave', channel: string, member: PresenceMember): void {
    const subs = this.channels.get(channel);
    if (!subs || !this.namespace(channel).joinLeave) return;
    for (const sub of subs) if (sub.pending === null) sub.session.sink.send({ type, channel, member });
  }

  /**
   * Who a per-request client is across its requests: its user; anonymous, its IP; behind a route handler
   * that knows no IP, its own `clientId`. Its publish rate is kept under this key, which `clientId` alone
   * cannot change, so rotating ids gains nothing.
   */
  private requester(session: Session): string {
    const { identity, context } = session;
    if (identity.user !== null) return `user\u0000${identity.user}`;
    if (context.ip !== undefined) return `ip\u0000${context.ip}`;
    return `client\u0000${context.clientId ?? session.id}`;
  }

  /** A per-request client's presence member id: the requester and its `clientId` (one per tab), hashed. */
  private leaseId(session: Session): string {
    const digest = createHash('sha256')
      .update(`${this.requester(session)}\u0000${session.context.clientId ?? ''}`)
      .digest('base64url');
    return `lease-${digest.slice(0, 22)}`;
  }

  /** The publish or command bucket of a per-request client, shared by all its requests. */
  clientBucket(session: Session, kind: RateKind): TokenBucket {
    const key = `${kind}\u0000${this.requester(session)}`;
    let bucket = this.clientBuckets.get(key);
    if (!bucket) {
      const { rate, burst } = rateOf(this.config.limits, kind);
      bucket = new TokenBucket(rate, burst);
      this.clientBuckets.set(key, bucket);
    }
    return bucket;
  }

  // ---- the shared sweep

  /**
   * Runs on the hub's one timer. A connection whose token passed `exp` is asked to refresh
   * (`{"type":"refresh"}`) and closed with 4004 if it has not within `tokenExpiryGrace`; this node's
   * presence entries are refreshed at a third of their TTL.
   */
  private sweep(now = Date.now()): void {
    const grace = this.config.tokenExpiryGrace * 1000;
    for (const session of this.expiring) {
      const expiresAt = (session.identity.expiresAt as number) * 1000;
      if (now < expiresAt) continue;
      if (now >= expiresAt + grace) {
        session.close(CloseCodes.tokenExpired, 'the connection token expired and was not refreshed');
      } else if (!session.expiryNotified) {
        session.expiryNotified = true;
        session.sink.send({
          type: 'refresh',
          code: 'token_expired',
          within: Math.ceil((expiresAt + grace - now) / 1000),
        });
      }
    }
    if (now - this.lastPresenceRefresh >= (this.config.presenceTtl * 1000) / 3) {
      this.lastPresenceRefresh = now;
      this.presenceTracker.refresh();
      for (const [key, bucket] of this.clientBuckets) if (bucket.idle(now)) this.clientBuckets.delete(key);
      this.channelLedger.sweep(this.held, now);
    }
  }

  // ---- channel registry

  private async attach(sub: Subscription): Promise<void> {
    let subs = this.channels.get(sub.channel);
    if (!subs) {
      subs = new Set();
      this.channels.set(sub.channel, subs);
      this.brokerOp(sub.channel, () => this.broker.subscribe(sub.channel));
    }
    subs.add(sub);
    await this.brokerOps.get(sub.channel);
  }

  private detach(sub: Subscription): void {
    sub.pending = null;
    this.presenceTracker.leave(sub);
    const subs = this.channels.get(sub.channel);
    if (!subs?.delete(sub) || subs.size > 0) return;
    this.channels.delete(sub.channel);
    this.brokerOp(sub.channel, () => this.broker.unsubscribe(sub.channel));
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
