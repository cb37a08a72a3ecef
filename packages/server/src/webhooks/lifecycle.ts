import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StreamPosition, WebhookMember } from '@herald/protocol';
import type { HeraldConfig } from '../config.ts';
import type { PublishInput } from '../core/hub.ts';
import type { LifecycleEvent } from '../core/lifecycle.ts';
import type { Logger } from '../core/logger.ts';
import type { Session } from '../core/session.ts';
import { WebhookDispatcher, type WebhookStats } from './dispatcher.ts';
import type { EndpointQueue } from './endpoint-queue.ts';
import type { ChannelEvents, LedgerEvents, LifecycleLedger, LostClient } from './ledger.ts';
import { MemoryLedger } from './memory-ledger.ts';
import { RedisLedger } from './redis-ledger.ts';

/** Where the Redis broker keeps its keys (see `RedisBroker.options`); absent: this hub is alone. */
export interface SharedLedger {
  url: string;
  cluster?: boolean;
  prefix?: string;
}

/** Close code of the `client.disconnected` a survivor sends for a client of a lost node (a network-class code). */
export const NODE_LOST_CODE = 1006;

/** This process's name in `client.connected` and in the ledger: host, pid and a random tail. */
export function newNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '')
      .slice(0, 40) || 'node';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** A long-poll client's presence lease, as this node last renewed it. */
interface Lease {
  channel: string;
  client: string;
  renewedAt: number;
}

/**
 * The hub's lifecycle (`hub.observe`) turned into webhooks. Events of one client (connected, subscribed,
 * joined, left, unsubscribed, disconnected) are sent in order, and so are a channel's (occupied, vacated).
 * What only this node sees (a client's connection and subscriptions) is sent at once; what the cluster
 * decides (occupied, vacated, joined, left, node_lost) goes through the ledger, which picks the one node
 * that sends it and keeps the flap damping (`presence.grace`).
 *
 * Long-polling requests are sessions of their own: they send no `client.*` or `channel.(un)subscribed`
 * (a pair per poll would say nothing); the client shows in presence through its lease, joined on its first
 * poll and left `presenceTtl` after its last, and its polls hold the channels they read.
 */
export class LifecycleWebhooks implements LedgerEvents {
  readonly dispatcher: WebhookDispatcher;
  private readonly ledger: LifecycleLedger;
  private readonly ttlMs: number;
  /** Sessions of per-request transports, between their `client.connected` and `client.disconnected`. */
  private readonly requestSessions = new Set<string>();
  /** Presence leases this node renewed, by channel and member; let go when not renewed for the TTL. */
  private readonly leases = new Map<string, Lease>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Other formats told of the channel events the ledger decides (Pusher's webhooks). */
  private readonly formats: ChannelEvents[] = [];
  private starting: Promise<void> | undefined;

  constructor(
    config: HeraldConfig,
    log: Logger,
    shared?: SharedLedger,
    readonly node: string = newNodeId(),
  ) {
    this.dispatcher = new WebhookDispatcher(config.webhooks, log);
    const graceMs = config.presence.grace * 1000;
    this.ttlMs = config.presenceTtl * 1000;
    this.ledger = shared
      ? new RedisLedger({ ...shared, node, graceMs, ttlMs: this.ttlMs, log })
      : new MemoryLedger(graceMs);
  }

  /**
   * Also tells `format` of every channel event this node is the one to send, and delivers, counts and
   * drains its `queues` with the lifecycle webhooks'.
   */
  alsoTell(format: ChannelEvents, queues: readonly EndpointQueue[]): void {
    this.formats.push(format);
    this.dispatcher.adopt(queues);
  }

  start(): Promise<void> {
    this.starting ??= this.ledger.start(this).then(() => {
      this.sweeper = setInterval(() => this.expireLeases(Date.now()), Math.max(250, this.ttlMs / 4));
      this.sweeper.unref();
    });
    return this.starting;
  }

  stats(): WebhookStats {
    return this.dispatcher.stats();
  }

  /**
   * Drains: the ledger's last changes settle, then what is queued is sent for at most `timeoutMs`
   * (what is left then is dropped and counted).
   */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    clearInterval(this.sweeper);
    // Leases this node renews go with it, as its connections' members did (within the grace, a poll that
    // another node serves takes them back).
    this.expireLeases(Number.POSITIVE_INFINITY);
    await this.ledger.close();
    await this.dispatcher.drain(Math.max(0, deadline - Date.now()));
  }

  /** The hub's listener (`hub.observe`): one fact of this node. */
  readonly observe = (event: LifecycleEvent): void => {
    switch (event.type) {
      case 'client.connected': {
        const { client, user, transport } = event;
        if (transport === 'poll') {
          this.requestSessions.add(client);
          return;
        }
        const data = { client, user, transport, node: this.node };
        this.dispatcher.emit('client.connected', data, clientKey(client));
        this.ledger.connected({ client, user, connectedAt: Date.now() });
        return;
      }
      case 'client.disconnected': {
        const { client, user, code, reason, durationMs } = event;
        if (this.requestSessions.delete(client)) return;
        const data = { client, user, code, reason, durationMs };
        this.dispatcher.emit('client.disconnected', data, clientKey(client));
        this.ledger.disconnected(client);
        return;
      }
      case 'channel.subscribed':
      case 'channel.unsubscribed': {
        const { type, channel, client, user } = event;
        if (!this.requestSessions.has(client))
          this.dispatcher.emit(type, { channel, client, user }, clientKey(client));
        return;
      }
      case 'channel.occupied':
        this.ledger.occupy(event.channel);
        return;
      case 'channel.vacated':
        this.ledger.release(event.channel);
        return;
      case 'presence.joined': {
        const { channel, member } = event;
        if (event.lease) {
          const key = `${channel}\u0000${member.client}`;
          const lease = this.leases.get(key);
          if (lease) {
            lease.renewedAt = Date.now();
            return;
          }
          this.leases.set(key, { channel, client: member.client, renewedAt: Date.now() });
        }
        this.ledger.join(channel, member);
        return;
      }
      case 'presence.left':
        this.ledger.leave(event.channel, event.member.client);
        return;
    }
  };

  /** A client published (sent only to endpoints that list `publication`), in offset order per channel. */
  published(session: Session, channel: string, input: PublishInput, position: StreamPosition): void {
    if (!this.dispatcher.wants('publication')) return;
    const { epoch, offset } = position;
    const data = {
      channel,
      epoch,
      offset,
      data: input.data,
      client: session.id,
      user: session.identity.user,
    };
    this.dispatcher.emit(
      'publication',
      input.event === undefined ? data : { ...data, event: input.event },
      `publication\u0000${channel}`,
    );
  }

  /** Leases not renewed on this node for the TTL (by `now`) leave, unless another node renewed them since. */
  private expireLeases(now: number): void {
    for (const [key, lease] of this.leases) {
      if (now - lease.renewedAt < this.ttlMs) continue;
      this.leases.delete(key);
      this.ledger.leave(lease.channel, lease.client, true);
    }
  }

  // ---- what the ledger decided this node sends

  occupied(channel: string, at: number): void {
    this.dispatcher.emit('channel.occupied', { channel }, channelKey(channel), at);
    for (const format of this.formats) format.occupied(channel, at);
  }

  vacated(channel: string, at: number): void {
    this.dispatcher.emit('channel.vacated', { channel }, channelKey(channel), at);
    for (const format of this.formats) format.vacated(channel, at);
  }

  joined(channel: string, member: WebhookMember, at: number): void {
    this.dispatcher.emit('presence.joined', { channel, member }, clientKey(member.client), at);
    for (const format of this.formats) format.joined(channel, member, at);
  }

  left(channel: string, member: WebhookMember, at: number): void {
    this.dispatcher.emit('presence.left', { channel, member }, clientKey(member.client), at);
    for (const format of this.formats) format.left(channel, member, at);
  }

  lost(client: LostClient): void {
    this.dispatcher.emit(
      'client.disconnected',
      {
        client: client.client,
        user: client.user,
        code: NODE_LOST_CODE,
        reason: 'node_lost',
        durationMs: Math.max(0, Date.now() - client.connectedAt),
      },
      clientKey(client.client),
    );
  }
}

const clientKey = (client: string) => `client\u0000${client}`;
const channelKey = (channel: string) => `channel\u0000${channel}`;
