import type { WebhookMember } from '@herald/protocol';
import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../core/logger.ts';
import { type LedgerEvents, type LifecycleLedger, type LostClient, settleInterval } from './ledger.ts';
import {
  CLAIM_DUE_SCRIPT,
  HEARTBEAT_SCRIPT,
  JOIN_SCRIPT,
  LEAVE_SCRIPT,
  LedgerKeys,
  OCCUPY_SCRIPT,
  REAP_CHANNEL_SCRIPT,
  RELEASE_SCRIPT,
  SETTLE_SCRIPT,
  TAKE_CLIENTS_SCRIPT,
} from './redis-ledger-scripts.ts';

export interface RedisLedgerOptions {
  /** The Redis broker's URL, Cluster mode and key prefix: the ledger keeps its keys beside the broker's. */
  url: string;
  cluster?: boolean;
  prefix?: string;
  /** This node's id. */
  node: string;
  graceMs: number;
  /** Ms after its last heartbeat that a node is taken for lost (the presence TTL). */
  ttlMs: number;
  log: Logger;
}

interface LedgerScripts {
  whOccupy(occ: string, node: string): Promise<number>;
  whRelease(occ: string, node: string, grace: number): Promise<[number, number?]>;
  whJoin(
    members: string,
    leaving: string,
    node: string,
    client: string,
    user: string,
    member: string,
  ): Promise<[string, number] | null>;
  whLeave(
    members: string,
    leaving: string,
    client: string,
    grace: number,
    node: string,
  ): Promise<[string, number, number?] | null>;
  whSettle(occ: string, leaving: string): Promise<[number, number, ...string[]]>;
  whReapChannel(occ: string, members: string, node: string): Promise<[number, number, ...string[]]>;
  whTakeClients(clients: string, count: number): Promise<string[]>;
  whHeartbeat(nodes: string, node: string, ttl: number): Promise<number>;
  whClaimDue(set: string, lease: number, limit: number, skip: string): Promise<string[]>;
}

/** How long a node that took due work or a lost node may take before another takes it again. */
const LEASE_MS = 30_000;

/**
 * The ledger of nodes sharing a Redis broker. Each change runs as one script (redis-ledger-scripts.ts) and
 * the node whose script makes an event happen sends it. Graces that end are found through one sorted set
 * that every node polls, and a node whose heartbeat stops (`presenceTtl`) is reaped by a survivor: its
 * members leave, channels only it held are vacated, and its clients are reported `node_lost`.
 */
export class RedisLedger implements LifecycleLedger {
  private readonly redis: Redis | Cluster;
  private readonly scripts: LedgerScripts;
  private readonly keys: LedgerKeys;
  /** What this node holds in each channel (a subscriber, members): the channels a reaper must visit. */
  private readonly holdings = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private events: LedgerEvents | null = null;
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private ticks = 0;
  private registered = false;

  constructor(private readonly options: RedisLedgerOptions) {
    this.keys = new LedgerKeys(options.prefix ?? 'herald:', options.node);
    const redisOptions = {
      lazyConnect: true,
      // Fail while disconnected rather than queue without bound; a failed change is logged. No command
      // timeout: a script that timed out here may still run in Redis, and the event it decides would
      // be lost while its effect stays (a member reported left that was never reported joined).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    };
    this.redis = options.cluster
      ? new Cluster([options.url], { lazyConnect: true, enableOfflineQueue: false, redisOptions })
      : new Redis(options.url, redisOptions);
    this.redis.on('error', () => undefined);
    for (const [name, lua, numberOfKeys] of [
      ['whOccupy', OCCUPY_SCRIPT, 1],
      ['whRelease', RELEASE_SCRIPT, 1],
      ['whJoin', JOIN_SCRIPT, 2],
      ['whLeave', LEAVE_SCRIPT, 2],
      ['whSettle', SETTLE_SCRIPT, 2],
      ['whReapChannel', REAP_CHANNEL_SCRIPT, 2],
      ['whTakeClients', TAKE_CLIENTS_SCRIPT, 1],
      ['whHeartbeat', HEARTBEAT_SCRIPT, 1],
      ['whClaimDue', CLAIM_DUE_SCRIPT, 1],
    ] as const) {
      this.redis.defineCommand(name, { lua, numberOfKeys });
    }
    this.scripts = this.redis as unknown as LedgerScripts;
  }

  async start(events: LedgerEvents): Promise<void> {
    this.events = events;
    try {
      await this.redis.connect();
      await this.heartbeat();
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'webhook ledger: redis unreachable; retrying');
    }
    const { ttlMs, graceMs } = this.options;
    this.timers = [
      setInterval(() => void this.heartbeat().catch(() => undefined), ttlMs / 3),
      setInterval(() => void this.tick(), settleInterval(graceMs || 2_000)),
    ];
    for (const timer of this.timers) timer.unref();
  }

  connected(client: LostClient): void {
    const record = JSON.stringify({ user: client.user, connectedAt: client.connectedAt });
    this.run('connected', this.redis.hset(this.keys.clients(), client.client, record));
  }

  disconnected(client: string): void {
    this.run('disconnected', this.redis.hdel(this.keys.clients(), client));
  }

  occupy(channel: string): void {
    this.hold(channel, 1);
    this.run(
      'occupy',
      this.scripts.whOccupy(this.keys.occupancy(channel), this.options.node).then((at) => {
        if (at > 0) this.events?.occupied(channel, at);
      }),
    );
  }

  release(channel: string): void {
    const { graceMs, node } = this.options;
    this.run(
      'release',
      this.scripts.whRelease(this.keys.occupancy(channel), node, graceMs).then(([outcome, at]) => {
        if (outcome === 1) this.events?.vacated(channel, at as number);
        else if (outcome === 2) this.due(channel, at as number);
      }),
    );
    this.hold(channel, -1);
  }

  join(channel: string, member: WebhookMember): void {
    const k = this.keys;
    const user = member.user === null ? '-' : `u${member.user}`;
    this.hold(channel, 1);
    this.run(
      'join',
      this.scripts
        .whJoin(
          k.members(channel),
          k.leaving(channel),
          this.options.node,
          member.client,
          user,
          JSON.stringify(member),
        )
        .then((joined) => {
          if (joined !== null)
            this.events?.joined(channel, JSON.parse(joined[0]) as WebhookMember, joined[1]);
        }),
    );
  }

  leave(channel: string, client: string, lease = false): void {
    const k = this.keys;
    const { graceMs, node } = this.options;
    this.run(
      'leave',
      this.scripts
        .whLeave(k.members(channel), k.leaving(channel), client, graceMs, lease ? node : '')
        .then((outcome) => {
          if (outcome === null) return;
          const [member, at, now] = outcome;
          if (at === 0) this.events?.left(channel, JSON.parse(member) as WebhookMember, now as number);
          else this.due(channel, at);
        }),
    );
    this.hold(channel, -1);
  }

  /** Waits for the changes under way, then takes this node off the list: it leaves nothing to reap. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled([...this.inFlight]);
    if (this.registered) {
      await Promise.allSettled([
        this.redis.zrem(this.keys.nodes, this.options.node),
        this.redis.del(this.keys.clients(), this.keys.channels()),
      ]);
    }
    this.redis.disconnect();
  }

  // ---- internals

  private run(what: string, op: Promise<unknown>): void {
    const tracked = op.catch((err) =>
      this.options.log.warn({ err: (err as Error).message, what }, 'webhook ledger change failed'),
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /** Counts what this node holds in `channel`, listing the channel for reapers while it holds anything. */
  private hold(channel: string, delta: number): void {
    const before = this.holdings.get(channel) ?? 0;
    const after = before + delta;
    if (after > 0) this.holdings.set(channel, after);
    else this.holdings.delete(channel);
    if (before === 0 && after > 0) this.run('hold', this.redis.sadd(this.keys.channels(), channel));
    else if (before > 0 && after <= 0) this.run('hold', this.redis.srem(this.keys.channels(), channel));
  }

  /** A grace that ends at `at`: whichever node polls the due set first then settles the channel. */
  private due(channel: string, at: number): void {
    const nonce = Math.random().toString(36).slice(2);
    this.run('due', this.redis.zadd(this.keys.due, at, `${channel}\n${nonce}`));
  }

  private async heartbeat(): Promise<void> {
    const added = await this.scripts.whHeartbeat(this.keys.nodes, this.options.node, this.options.ttlMs);
    if (added === 1 && this.registered) {
      this.options.log.error(
        { node: this.options.node },
        'webhook ledger: this node was taken for lost (no heartbeat for presenceTtl); its clients were reported node_lost',
      );
    }
    this.registered = true;
  }

  /** Settles graces that ended and, every other second or so, reaps nodes that stopped beating. */
  private async tick(): Promise<void> {
    if (this.ticking || this.redis.status !== 'ready') return;
    this.ticking = true;
    try {
      const k = this.keys;
      for (const entry of await this.scripts.whClaimDue(k.due, LEASE_MS, 100, '')) {
        const channel = entry.slice(0, entry.lastIndexOf('\n'));
        const [vacated, at, ...left] = await this.scripts.whSettle(k.occupancy(channel), k.leaving(channel));
        this.report(channel, vacated, at, left);
        await this.redis.zrem(k.due, entry);
      }
      if (++this.ticks % 4 === 0) {
        for (const node of await this.scripts.whClaimDue(k.nodes, LEASE_MS, 5, this.options.node)) {
          await this.reap(node);
        }
      }
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'webhook ledger sweep failed');
    } finally {
      this.ticking = false;
    }
  }

  /** What a lost node held: its members leave, the channels only it held are vacated, its clients are lost. */
  private async reap(node: string): Promise<void> {
    const k = this.keys;
    const channels = await this.redis.smembers(k.channels(node));
    this.options.log.warn({ node, channels: channels.length }, 'webhook ledger: reaping a lost node');
    for (const channel of channels) {
      const [vacated, at, ...left] = await this.scripts.whReapChannel(
        k.occupancy(channel),
        k.members(channel),
        node,
      );
      this.report(channel, vacated, at, left);
      await this.redis.srem(k.channels(node), channel);
    }
    for (;;) {
      const taken = await this.scripts.whTakeClients(k.clients(node), 500);
      if (taken.length === 0) break;
      for (let i = 0; i < taken.length; i += 2) {
        const record = JSON.parse(taken[i + 1]) as { user: string | null; connectedAt: number };
        this.events?.lost({ client: taken[i], user: record.user, connectedAt: record.connectedAt });
      }
    }
    await this.redis.del(k.channels(node));
    await this.redis.zrem(k.nodes, node);
  }

  private report(channel: string, vacated: number, at: number, left: string[]): void {
    for (const member of left) this.events?.left(channel, JSON.parse(member) as WebhookMember, at);
    if (vacated === 1) this.events?.vacated(channel, at);
  }
}
