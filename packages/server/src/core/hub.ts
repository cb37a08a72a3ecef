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
import type { HeraldConfig, NamespaceOptions } from '../config.ts';
import { checkPublish } from './access.ts';
import { Admission } from './admission.ts';
import type { Authenticator, ConnectContext, Credentials } from './auth.ts';
import type { Broker } from './broker.ts';
import { resolveNamespace } from './channel-name.ts';
import { Channels, type Counters } from './channels.ts';
import type { DataSchemas } from './data-schemas.ts';
import { Lifecycle, type LifecycleListener } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import { fitting, publicationBytes } from './paging.ts';
import { encodePayload, type PublishInput } from './payload.ts';
import { Session, type SessionHost, type SessionSink } from './session.ts';
import { type PositionedSubscription, Subscription } from './subscription.ts';

/** What the core is built from: it makes none of them itself (`Hub` in ../hub.ts picks the defaults). */
export interface HubParts {
  config: HeraldConfig;
  broker: Broker;
  authenticator: Authenticator;
  logger?: Logger;
  /** Schemas publication data is checked against, in order (each one's output goes to the next). */
  schemas?: DataSchemas[];
}

export type { PublishInput } from './payload.ts';

export interface HubStats extends Counters {
  sessions: number;
  channels: number;
}

/**
 * The hub core, a thin front over its parts: `Admission` (who may connect and read), `Channels` (the
 * channels held, broker calls, fan-out) and the sessions. It runs the commands every transport shares
 * (publish, history, presence, subscribe with resume) and the one timer. It knows no transport, no broker
 * and no authenticator implementation; they plug in through `Sink`, `Broker` and `Authenticator`.
 */
export class HubCore implements SessionHost {
  readonly config: HeraldConfig;
  readonly broker: Broker;
  readonly log: Logger;
  /**
   * The most one page (a history reply, a catch-up's share of history) may add to a connection's send
   * queue: half of `maxQueueBytes`, so a page and the live traffic meanwhile fit under the cap.
   */
  readonly pageBytes: number;
  readonly admission: Admission;
  readonly channels: Channels;
  /** Who learns of clients and channels coming and going (see `observe`). */
  readonly lifecycle: Lifecycle;
  readonly sessions = new Set<Session>();
  /** Checked in order before a publication is stored; replaceable (an embedding app's new schemas). */
  schemas: DataSchemas[];
  private readonly stats: Counters = { published: 0, delivered: 0, slowConsumers: 0 };
  private started = false;
  private sweeper: NodeJS.Timeout | undefined;
  private lastPresenceRefresh = Date.now();

  constructor(parts: HubParts) {
    this.config = parts.config;
    this.broker = parts.broker;
    this.log = parts.logger ?? silentLogger;
    this.schemas = parts.schemas ?? [];
    this.pageBytes = Math.floor(this.config.maxQueueBytes / 2);
    this.admission = new Admission(this.config, parts.authenticator);
    this.lifecycle = new Lifecycle(this.log);
    this.channels = new Channels(
      this.config,
      this.broker,
      this.log,
      this.stats,
      this.pageBytes,
      this.lifecycle,
    );
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
      publication: (pub: Publication) => this.channels.fanOut(pub),
      presence: (event) => this.channels.fanOutPresence(event.type, event.channel, event.member),
      health: (up) => this.log[up ? 'info' : 'warn']({ up }, 'broker health changed'),
    });
  }

  /** Closes every session with `code` and releases the broker. */
  async close(code: number = CloseCodes.shutdown, reason = 'server shutting down'): Promise<void> {
    clearInterval(this.sweeper);
    for (const session of [...this.sessions]) session.close(code, reason);
    await this.channels.settled();
    await this.broker.close();
  }

  namespace(channel: string): NamespaceOptions {
    return resolveNamespace(this.config, channel);
  }

  /**
   * Lets a client in: the one verb for every transport whose client presents its credentials with the
   * connection (SSE, long-polling, client actions; a new transport too). Opens the session on `sink`
   * (`sink.session` is set at once, so a shutdown meanwhile reaches it), counts it against its IP and
   * admits it with `credentials`: Origin, connections per IP and per user, the authenticator. Resolves
   * with the admitted session, or rejects with the refusal (a HeraldError), leaving nothing open or counted.
   */
  async connect(sink: SessionSink, context: ConnectContext, credentials: Credentials): Promise<Session> {
    const session = this.open(sink, context);
    try {
      await session.admit(credentials);
    } catch (err) {
      session.transportClosed();
      throw err;
    }
    return session;
  }

  /**
   * Opens a session whose client presents its credentials in-band, with its first command: Herald's
   * WebSocket protocol, whose `connect` command admits the session (`Session.admit`, the same path as
   * `connect`). The session exists, counted against its IP, from the upgrade on: a socket that has not
   * sent `connect` yet counts against `connectionsPerIp`, and its frames have a session to be answered by.
   * A transport that knows the credentials when the connection opens calls `connect` instead.
   */
  open(sink: SessionSink, context: ConnectContext): Session {
    const session = new Session(this, sink, context);
    sink.session = session;
    this.sessions.add(session);
    this.admission.opened(session);
    return session;
  }

  /**
   * Registers a lifecycle observer (webhooks, a transport's own events): told of clients connected and
   * disconnected, subscriptions, channels occupied and vacated on this node, presence joins and leaves.
   * Returns what unregisters it.
   */
  observe(listener: LifecycleListener): () => void {
    return this.lifecycle.observe(listener);
  }

  /** Called by the session once it is closed: drops its subscriptions and its counts. */
  released(session: Session, code: number, reason: string): void {
    if (!this.sessions.delete(session)) return;
    for (const sub of session.subscriptions.values()) this.channels.detach(sub);
    session.subscriptions.clear();
    this.admission.released(session);
    if (session.connected && this.lifecycle.observed) {
      const { id: client, identity, context, connectedAt } = session;
      this.lifecycle.emit({
        type: 'client.disconnected',
        client,
        user: identity.user,
        transport: context.transport,
        code,
        reason,
        durationMs: Date.now() - connectedAt,
      });
    }
  }

  // ---- publish, history, presence

  /** Publishes as the server (HTTP API, embedding app): no namespace publish rule applies. */
  async publish(channel: string, input: PublishInput): Promise<PublishResult> {
    return this.publishFrom(undefined, channel, input);
  }

  /** Publishes on behalf of a client connection, after the namespace and private-channel rules allow it. */
  async publishAs(session: Session, channel: string, input: PublishInput): Promise<PublishResult> {
    checkPublish(session.identity, channel, this.namespace(channel));
    return this.publishFrom(session, channel, { ...input, validate: true });
  }

  private async publishFrom(
    session: Session | undefined,
    channel: string,
    input: PublishInput,
  ): Promise<PublishResult> {
    const ns = this.namespace(channel);
    const { maxPayloadDepth, maxPayloadBytes } = this.config;
    // Size and depth first: no schema ever walks data the hub would refuse anyway.
    let json = encodePayload(input.data, maxPayloadDepth, maxPayloadBytes);
    if (input.event !== undefined) checkEventName(input.event);
    let data = input.data;
    if (input.validate !== false) {
      for (const schemas of this.schemas) {
        const pending = schemas.check(channel, input.event, data);
        const checked = pending instanceof Promise ? await pending : pending;
        if (checked) data = checked.value;
      }
      if (data !== input.data) json = encodePayload(data, maxPayloadDepth, maxPayloadBytes);
    }
    const options = {
      historySize: ns.historySize,
      historyTtl: ns.historyTtl * 1000,
      idempotencyKey: input.idempotencyKey,
      idempotencyWindow: this.config.idempotencyWindow * 1000,
      json,
    };
    const outcome = await this.channels.withChannel(
      channel,
      session,
      () => this.broker.publish(channel, data, input.event, options),
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
    const budget = session ? session.room() : this.pageBytes;
    const page = await this.channels.withChannel(channel, session, () =>
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
    const ns = await this.admission.authorizeRead(session, channel, options.token);
    // Again after the await: concurrent subscribes must not slip past the checks.
    this.checkCanAdd(session, channel);
    if (session.closed) throw new HeraldError('not_connected', 'the connection is closed');
    const sub = new Subscription(session, channel, this.channels);
    session.subscriptions.set(sub);
    try {
      await this.channels.withChannel(channel, session, () => this.channels.attach(sub));
      const { recovered, deliveries, bytes, end } = await sub.position(options.since, 0);
      const publications = deliveries.map((delivery) => delivery.pub);
      const result: SubscribeResult = { channel, epoch: sub.epoch, offset: sub.offset, publications };
      if (options.since) result.recovered = recovered;
      return {
        result,
        deliveries,
        activate: () => {
          session.unsentBytes -= bytes;
          sub.start(end);
          if (!sub.current) return;
          this.channels.announce(sub);
          if (ns.presence) {
            const { user, info } = session.identity;
            const requestClient = session.context.requestClient;
            const lease = requestClient !== undefined;
            const client = lease ? requestClient.presenceId(session) : session.id;
            this.channels.presence.join(
              sub,
              info === undefined ? { client, user } : { client, user, info },
              lease,
            );
          }
        },
      };
    } catch (err) {
      if (session.subscriptions.get(channel) === sub) session.subscriptions.delete(channel);
      this.channels.detach(sub);
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
    this.channels.detach(sub);
  }

  /** Cuts a connection whose send queue passed `maxQueueBytes`; its queue is dropped with it. */
  dropSlowConsumer(session: Session): void {
    this.stats.slowConsumers++;
    this.log.warn({ client: session.id, queued: session.sink.queuedBytes() }, 'slow consumer disconnected');
    session.close(CloseCodes.slowConsumer, 'slow consumer: send queue over limit');
  }

  /**
   * Runs on the hub's one timer: token expiry (see `Admission.sweep`); this node's presence entries are
   * refreshed at a third of their TTL.
   */
  private sweep(now = Date.now()): void {
    this.admission.sweep(now);
    if (now - this.lastPresenceRefresh >= (this.config.presenceTtl * 1000) / 3) {
      this.lastPresenceRefresh = now;
      this.channels.sweep(now);
    }
  }
}
