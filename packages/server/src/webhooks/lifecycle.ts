import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { WebhookMember } from '@herald/protocol';
import type { HeraldConfig } from '../config.ts';
import type { Logger } from '../core/logger.ts';
import { WebhookDispatcher, type WebhookStats } from './dispatcher.ts';
import type { LedgerEvents, LifecycleLedger, LostClient } from './ledger.ts';
import { MemoryLedger } from './memory-ledger.ts';
import { RedisLedger } from './redis-ledger.ts';

/** A client as the lifecycle events name it. */
export interface LifecycleClient {
  client: string;
  user: string | null;
}

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

/**
 * The hub's lifecycle turned into webhooks. Events of one client (connected, subscribed, joined, left,
 * unsubscribed, disconnected) are sent in order, and so are a channel's (occupied, vacated). What only
 * this node sees (a client's connection and subscriptions) is sent at once; what the cluster decides
 * (occupied, vacated, joined, left, node_lost) goes through the ledger, which picks the one node that
 * sends it and keeps the flap damping (`presence.grace`).
 */
export class LifecycleWebhooks implements LedgerEvents {
  readonly dispatcher: WebhookDispatcher;
  private readonly ledger: LifecycleLedger;
  /** Subscribers of each channel on this node: the ledger hears only of the first and the last. */
  private readonly subscribers = new Map<string, number>();

  constructor(
    config: HeraldConfig,
    log: Logger,
    shared?: SharedLedger,
    readonly node: string = newNodeId(),
  ) {
    this.dispatcher = new WebhookDispatcher(config.webhooks, log);
    const graceMs = config.presence.grace * 1000;
    this.ledger = shared
      ? new RedisLedger({ ...shared, node, graceMs, ttlMs: config.presenceTtl * 1000, log })
      : new MemoryLedger(graceMs);
  }

  start(): Promise<void> {
    return this.ledger.start(this);
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
    await this.ledger.close();
    await this.dispatcher.drain(Math.max(0, deadline - Date.now()));
  }

  // ---- what happens on this node

  clientConnected(client: LifecycleClient, transport: string, connectedAt: number): void {
    const { node } = this;
    this.dispatcher.emit('client.connected', { ...client, transport, node }, clientKey(client.client));
    this.ledger.connected({ ...client, connectedAt });
  }

  clientDisconnected(client: LifecycleClient, code: number, reason: string, connectedAt: number): void {
    const durationMs = Math.max(0, Date.now() - connectedAt);
    this.dispatcher.emit(
      'client.disconnected',
      { ...client, code, reason, durationMs },
      clientKey(client.client),
    );
    this.ledger.disconnected(client.client);
  }

  channelSubscribed(channel: string, client: LifecycleClient): void {
    this.dispatcher.emit('channel.subscribed', { channel, ...client }, clientKey(client.client));
    const count = (this.subscribers.get(channel) ?? 0) + 1;
    this.subscribers.set(channel, count);
    if (count === 1) this.ledger.occupy(channel);
  }

  channelUnsubscribed(channel: string, client: LifecycleClient): void {
    this.dispatcher.emit('channel.unsubscribed', { channel, ...client }, clientKey(client.client));
    const count = (this.subscribers.get(channel) ?? 1) - 1;
    if (count > 0) {
      this.subscribers.set(channel, count);
      return;
    }
    this.subscribers.delete(channel);
    this.ledger.release(channel);
  }

  presenceJoined(channel: string, member: WebhookMember): void {
    this.ledger.join(channel, member);
  }

  presenceLeft(channel: string, member: WebhookMember): void {
    this.ledger.leave(channel, member.client);
  }

  // ---- what the ledger decided this node sends

  occupied(channel: string): void {
    this.dispatcher.emit('channel.occupied', { channel }, channelKey(channel));
  }

  vacated(channel: string): void {
    this.dispatcher.emit('channel.vacated', { channel }, channelKey(channel));
  }

  joined(channel: string, member: WebhookMember): void {
    this.dispatcher.emit('presence.joined', { channel, member }, clientKey(member.client));
  }

  left(channel: string, member: WebhookMember): void {
    this.dispatcher.emit('presence.left', { channel, member }, clientKey(member.client));
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
