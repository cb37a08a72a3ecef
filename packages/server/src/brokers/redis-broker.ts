/*
 * Over 400 lines for a reason: the Redis broker is one class around one pair of clients (commands and
 * pub/sub) whose publish, read, presence and health paths share their start timeout, health probe and
 * sweep; the Lua scripts (redis-scripts.ts) and each channel's ordered feed (channel-feed.ts) are apart.
 */
import { HeraldError, type PresenceMember, type Publication, type StreamPosition } from '@herald/protocol';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type {
  Broker,
  BrokerHandlers,
  HistoryPage,
  HistoryQuery,
  PublishOptions,
  PublishOutcome,
} from '../core/broker.ts';
import { type BrokerPublication, DATA_JSON } from '../core/delivery.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { ChannelFeed } from './channel-feed.ts';
import { newEpoch } from './epoch.ts';
import { type BatchOutcome, PublishBatches } from './publish-batches.ts';
import {
  PRESENCE_ADD_SCRIPT,
  PRESENCE_LIST_SCRIPT,
  PRESENCE_REMOVE_SCRIPT,
  PUBLISH_BATCH_SCRIPT,
  READ_SCRIPT,
  RETIRE_SCRIPT,
  RedisKeys,
} from './redis-scripts.ts';

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`; with `cluster`, any one node of the cluster. */
  url: string;
  /** Redis Cluster: discover the nodes from `url` and route each channel's keys to its slot. */
  cluster?: boolean;
  /** Prefix of every key and pub/sub channel, so several Herald deployments can share one Redis. */
  prefix?: string;
  /** Milliseconds a command may take before it fails with `unavailable` (default 2,000). */
  commandTimeout?: number;
  /** Milliseconds to wait for Redis at start before running degraded (default 5,000). */
  startTimeout?: number;
  /** Milliseconds a stream's epoch outlives its last publication (default one day). */
  streamIdleTtl?: number;
  /** Milliseconds between catch-up sweeps over this node's channels (default 10,000). */
  sweepInterval?: number;
  logger?: Logger;
}

type Client = Redis | Cluster;

/** The scripts as commands (ioredis sends EVALSHA and loads the script on NOSCRIPT). */
interface ScriptCommands {
  /** The first argument is the number of keys (three per publication). */
  heraldPublishBatch(...args: Array<string | number>): Promise<BatchOutcome[]>;
  heraldRead(...args: Array<string | number>): Promise<[string, number, StreamEntry[]]>;
  heraldRetire(...args: Array<string | number>): Promise<number>;
  heraldPresenceAdd(...args: Array<string | number>): Promise<number>;
  heraldPresenceRemove(...args: Array<string | number>): Promise<number>;
  heraldPresenceList(...args: Array<string | number>): Promise<string[]>;
}

/** A read under way, and where its channel's feed stood when it was sent. */
interface SharedRead {
  feed: ChannelFeed;
  epoch: string;
  offset: number;
  page: Promise<HistoryPage>;
}

/** An XRANGE entry: `["<offset>-0", ["t", ms, "d", dataJson, "e", eventJson]]`. */
type StreamEntry = [string, string[]];

/** How long an epoch stays known after only reads (no publication) touched it; sweeps renew it. */
const READ_META_TTL = 60_000;

/**
 * Many hub nodes as one, through Redis: each channel's history is a Redis Stream (bounded by size and
 * TTL) whose epoch and offset are assigned by one Lua script together with the append, the idempotency
 * key and the pub/sub fan-out. A node subscribes in Redis only to the channels its clients use, and
 * delivers them in offset order, catching up from the stream after any gap or outage (ChannelFeed).
 * Presence is a hash plus a sorted set of expiry times, so the members of a node that dies expire.
 * While Redis is unreachable, commands fail fast with `unavailable` and `healthy()` is false.
 */
export class RedisBroker implements Broker {
  private readonly keys: RedisKeys;
  private readonly cmd: Client;
  private readonly sub: Client;
  private readonly scripts: ScriptCommands;
  private readonly batches: PublishBatches;
  private readonly feeds = new Map<string, ChannelFeed>();
  /** Subscriber positioning reads under way, by query, with the feed's position when each was sent. */
  private readonly positioning = new Map<string, SharedRead>();
  private handlers: BrokerHandlers | null = null;
  private readonly log: Logger;
  private readonly streamIdleTtl: number;
  private readonly startTimeout: number;
  private sweeper: NodeJS.Timeout | undefined;
  private up = false;
  /** The sweep runs every second; every `sweepEvery`-th run is a full catch-up. */
  private sweepEvery = 10;
  private sweeps = 0;
  /** The last health probe answered (a hung Redis keeps its socket open but stops answering). */
  private probeOk = true;
  private closed = false;

  constructor(readonly options: RedisBrokerOptions) {
    this.keys = new RedisKeys(options.prefix);
    this.log = options.logger ?? silentLogger;
    this.streamIdleTtl = options.streamIdleTtl ?? 24 * 3600_000;
    this.startTimeout = options.startTimeout ?? 5_000;
    this.cmd = this.connect('commands');
    this.sub = this.connect('subscriber');
    this.cmd.defineCommand('heraldPublishBatch', { lua: PUBLISH_BATCH_SCRIPT });
    for (const [name, lua, numberOfKeys] of [
      ['heraldRead', READ_SCRIPT, 2],
      ['heraldRetire', RETIRE_SCRIPT, 2],
      ['heraldPresenceAdd', PRESENCE_ADD_SCRIPT, 2],
      ['heraldPresenceRemove', PRESENCE_REMOVE_SCRIPT, 2],
      ['heraldPresenceList', PRESENCE_LIST_SCRIPT, 2],
    ] as const) {
      this.cmd.defineCommand(name, { lua, numberOfKeys });
    }
    this.scripts = this.cmd as unknown as ScriptCommands;
    const metaTtl = Math.max(this.streamIdleTtl, READ_META_TTL);
    this.batches = new PublishBatches(
      (keys, args) => this.scripts.heraldPublishBatch(keys.length, ...keys, newEpoch(), metaTtl, ...args),
      options.cluster === true,
    );
    this.sub.on('message', (name: string, message: string) => this.onMessage(name, message));
    // Pub/sub says nothing about what was published while it was down: resubscribe, then catch up.
    this.sub.on('ready', () => void this.resubscribe());
  }

  private connect(role: string): Client {
    const options: RedisOptions = {
      // Fail at once while disconnected, never queue: a publisher gets `unavailable` rather than a hang,
      // and a command that was in flight when the connection dropped is failed, not resent blindly.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      commandTimeout: this.options.commandTimeout ?? 2_000,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
      // Commands issued in one tick (a burst of publishes) go out in one write: one syscall, not one each.
      enableAutoPipelining: role === 'commands',
    };
    const client: Client = this.options.cluster
      ? new Cluster([this.options.url], {
          lazyConnect: true,
          enableOfflineQueue: false,
          redisOptions: options,
          clusterRetryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
        })
      : new Redis(this.options.url, { ...options, lazyConnect: true });
    let lastError = '';
    client.on('error', (err: Error) => {
      // One line per distinct failure, not one per reconnect attempt.
      if (err.message === lastError) return;
      lastError = err.message;
      this.log.warn({ err: err.message, role }, 'redis connection error');
    });
    for (const event of ['ready', 'close', 'end', 'reconnecting']) {
      client.on(event, () => {
        if (event === 'ready') lastError = '';
        this.updateHealth();
      });
    }
    return client;
  }

  async start(handlers: BrokerHandlers): Promise<void> {
    this.handlers = handlers;
    const connecting = Promise.all([this.cmd.connect(), this.sub.connect()]);
    const timeout = new Promise<'timeout'>((resolve) => {
      setTimeout(() => resolve('timeout'), this.startTimeout).unref();
    });
    const outcome = await Promise.race([connecting.then(() => 'ready' as const), timeout]).catch(
      (err: Error) => err,
    );
    if (outcome !== 'ready') {
      // Keep trying in the background: the node serves its clients and reports degraded until Redis is up.
      connecting.catch(() => undefined);
      this.log.warn(
        {
          url: redactBrokerUrl(this.options.url),
          cause: outcome === 'timeout' ? 'timeout' : outcome.message,
        },
        'redis is unreachable: running degraded until it answers',
      );
    }
    const interval = this.options.sweepInterval ?? 10_000;
    this.sweeper = setInterval(() => void this.sweep(), Math.min(interval, 1_000));
    this.sweeper.unref();
    this.sweepEvery = Math.max(1, Math.round(interval / 1_000));
    this.updateHealth();
  }

  async publish(
    channel: string,
    data: unknown,
    event: string | undefined,
    options: PublishOptions,
  ): Promise<PublishOutcome> {
    const k = this.keys;
    const window =
      options.idempotencyKey === undefined ? 0 : Math.max(0, Math.round(options.idempotencyWindow));
    let json = options.json ?? JSON.stringify(data) ?? 'null';
    // A raw newline in JSON can only be whitespace; pub/sub messages use newlines to separate publications.
    if (json.includes('\n')) json = json.replaceAll('\n', ' ');
    const outcome = await this.call('publish', () =>
      this.batches.add({
        keys: [k.meta(channel), k.stream(channel), k.idempotency(channel, options.idempotencyKey ?? '')],
        args: [
          json,
          event === undefined ? '' : JSON.stringify(event),
          options.historySize,
          Math.round(options.historyTtl),
          window,
          k.events(channel),
        ],
      }),
    );
    if (outcome[0] === -1) {
      throw new HeraldError('unavailable', `the Redis broker is unavailable (publish: ${outcome[1]})`);
    }
    return { epoch: outcome[1], offset: Number(outcome[2]), duplicate: outcome[0] === 1 };
  }

  /**
   * A subscriber's read may join an identical one already under way (a reconnect storm's resumes from one
   * position then cost one Redis read, not one each), but only while this node has handed nothing of the
   * channel to its hub since that read was sent: anything the read misses then reaches the subscriber
   * live, through its pending queue. Other reads (the history API) are always fresh, so a client that
   * published and then reads history sees its publication.
   */
  history(channel: string, query: HistoryQuery): Promise<HistoryPage> {
    const feed = query.subscriber ? this.feeds.get(channel) : undefined;
    if (!feed) return this.read(channel, query);
    const key = `${query.since?.epoch ?? ''}\n${query.since?.offset ?? ''}\n${query.limit ?? ''}\n${query.reverse === true}\n${query.maxBytes ?? ''}\n${channel}`;
    const shared = this.positioning.get(key);
    if (shared && shared.feed === feed && shared.epoch === feed.epoch && shared.offset === feed.offset) {
      return shared.page;
    }
    const read: SharedRead = {
      feed,
      epoch: feed.epoch,
      offset: feed.offset,
      page: this.read(channel, query),
    };
    this.positioning.set(key, read);
    const forget = () => {
      if (this.positioning.get(key) === read) this.positioning.delete(key);
    };
    read.page.then(forget, forget);
    return read.page;
  }

  private async read(channel: string, query: HistoryQuery): Promise<HistoryPage> {
    const k = this.keys;
    const limit = Math.min(query.limit ?? Number.MAX_SAFE_INTEGER, 1_000_000);
    const since = query.since;
    // Newest first after `since` means the `limit` publications after it, newest first: read downwards.
    const [epoch, offset, entries] = await this.call('history', () =>
      this.scripts.heraldRead(
        k.meta(channel),
        k.stream(channel),
        newEpoch(),
        since?.epoch ?? '',
        since ? `${since.offset + 1}-0` : '-',
        limit,
        query.reverse ? '1' : '0',
        READ_META_TTL,
        query.maxBytes ?? 0,
        since && query.reverse ? `${since.offset + limit}-0` : '+',
      ),
    );
    const publications = entries.map((entry) => fromEntry(channel, epoch, entry));
    return { epoch, offset: Number(offset), publications };
  }

  async subscribe(channel: string): Promise<void> {
    if (this.feeds.has(channel)) return;
    const feed = new ChannelFeed(
      channel,
      (since, limit) => this.read(channel, { since, limit }),
      (delivered) => this.retireEpoch(channel, delivered),
      (pub) => this.handlers?.publication(pub),
    );
    this.feeds.set(channel, feed);
    try {
      await this.call('subscribe', () => this.sub.subscribe(this.keys.events(channel)));
      await feed.start();
    } catch (err) {
      if (this.feeds.get(channel) === feed) {
        this.feeds.delete(channel);
        this.sub.unsubscribe(this.keys.events(channel)).catch(() => undefined);
      }
      feed.close();
      throw err;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const feed = this.feeds.get(channel);
    if (!feed) return;
    this.feeds.delete(channel);
    feed.close();
    // While disconnected there is nothing to undo: a reconnect subscribes only to the feeds left.
    await this.sub.unsubscribe(this.keys.events(channel)).catch(() => undefined);
  }

  async addPresence(channel: string, member: PresenceMember, ttl: number): Promise<void> {
    const k = this.keys;
    await this.call('presence', () =>
      this.scripts.heraldPresenceAdd(
        k.members(channel),
        k.memberExpiry(channel),
        k.events(channel),
        member.client,
        JSON.stringify(member),
        Math.max(1, Math.round(ttl)),
      ),
    );
  }

  async removePresence(channel: string, member: PresenceMember): Promise<void> {
    const k = this.keys;
    await this.call('presence', () =>
      this.scripts.heraldPresenceRemove(
        k.members(channel),
        k.memberExpiry(channel),
        k.events(channel),
        member.client,
      ),
    );
  }

  async presence(channel: string): Promise<PresenceMember[]> {
    const k = this.keys;
    const members = await this.call('presence', () =>
      this.scripts.heraldPresenceList(k.members(channel), k.memberExpiry(channel), k.events(channel)),
    );
    return members.map((json) => JSON.parse(json) as PresenceMember);
  }

  /** Channels with retained history (stream keys) or a subscribed node (pub/sub channels), on every node of a cluster. */
  async channels(): Promise<string[]> {
    const names = new Set(this.feeds.keys());
    const servers = this.cmd instanceof Cluster ? this.cmd.nodes('master') : [this.cmd];
    await this.call('channels', async () => {
      for (const server of servers) {
        let cursor = '0';
        do {
          const [next, keys] = await server.scan(cursor, 'MATCH', this.keys.streamPattern, 'COUNT', 1000);
          for (const key of keys) names.add(this.keys.channelOfStream(key));
          cursor = next;
        } while (cursor !== '0');
        const listened = (await server.pubsub('CHANNELS', this.keys.eventsPattern)) as string[];
        for (const name of listened) names.add(this.keys.channelOfEvents(name));
      }
    });
    return [...names].sort();
  }

  /** Only what this node listens to: streams and their history are Redis's memory, not the node's. */
  hasChannel(channel: string): boolean {
    return this.feeds.has(channel);
  }

  channelCount(): number {
    return this.feeds.size;
  }

  healthy(): boolean {
    return this.up;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    clearInterval(this.sweeper);
    for (const feed of this.feeds.values()) feed.close();
    this.feeds.clear();
    await Promise.all(
      [this.cmd, this.sub].map((client) =>
        client.status === 'ready' ? client.quit().catch(() => client.disconnect()) : client.disconnect(),
      ),
    );
  }

  // ---- internals

  private async retireEpoch(channel: string, delivered: StreamPosition): Promise<void> {
    const retired = await this.call('retire', () =>
      this.scripts.heraldRetire(
        this.keys.meta(channel),
        this.keys.stream(channel),
        delivered.epoch,
        delivered.offset,
        newEpoch(),
      ),
    );
    if (retired === 1) {
      this.log.warn(
        { channel, delivered },
        'redis lost publications already delivered: stream given a new epoch',
      );
    }
  }

  private onMessage(name: string, message: string): void {
    const channel = this.keys.channelOfEvents(name);
    const feed = this.feeds.get(channel);
    if (!feed) return;
    const kind = message[0];
    try {
      if (kind === 'p') {
        for (const pub of parsePublications(channel, message)) feed.receive(pub);
      } else if (kind === 'j' || kind === 'l') {
        const member = JSON.parse(message.slice(1)) as PresenceMember;
        this.handlers?.presence({ type: kind === 'j' ? 'join' : 'leave', channel, member });
      }
    } catch (err) {
      // Not written by Herald's scripts (someone else PUBLISHed on the channel): ignore it, loudly.
      this.log.warn({ channel, err: (err as Error).message }, 'unreadable message on a redis events channel');
    }
  }

  /** After (re)connecting the subscriber: listen to every channel again, then catch each up from its stream. */
  private async resubscribe(): Promise<void> {
    const channels = [...this.feeds.keys()];
    try {
      for (let i = 0; i < channels.length; i += 1000) {
        await this.sub.subscribe(...channels.slice(i, i + 1000).map((c) => this.keys.events(c)));
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'redis resubscribe failed; retrying on reconnect');
      return;
    }
    // Unsubscribed meanwhile: undo what the batch above subscribed again.
    const gone = channels.filter((c) => !this.feeds.has(c)).map((c) => this.keys.events(c));
    if (gone.length > 0) await this.sub.unsubscribe(...gone).catch(() => undefined);
    if (channels.length > 0) this.log.info({ channels: channels.length }, 'redis resubscribed; catching up');
    for (const channel of channels) void this.feeds.get(channel)?.catchUp();
  }

  /**
   * Runs every second: probes Redis for health; every `sweepInterval` it catches up the feeds that heard
   * nothing live since the last time (which also renews the epochs of the quiet streams this node
   * listens to), and at once those left stale. Busy feeds are not read: under load that read would fetch
   * again what pub/sub is still bringing.
   */
  private async sweep(): Promise<void> {
    const full = ++this.sweeps % this.sweepEvery === 0;
    for (const feed of this.feeds.values()) {
      if (feed.needsCatchUp || (full && !feed.heardSinceAsked())) void feed.catchUp();
    }
    if (this.cmd.status !== 'ready') return;
    try {
      await this.cmd.ping();
      this.probeOk = true;
    } catch {
      this.probeOk = false;
    }
    this.updateHealth();
  }

  private updateHealth(): void {
    if (this.closed) return;
    const up = this.cmd.status === 'ready' && this.sub.status === 'ready' && this.probeOk;
    if (up === this.up) return;
    this.up = up;
    if (this.handlers) this.handlers.health?.(up);
  }

  /** Runs a Redis call; any failure (down, timeout, refused) becomes `unavailable`. */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const raw = (err as Error).message;
      const message = /enableOfflineQueue/.test(raw) ? 'not connected' : raw;
      this.log.debug({ err: message, what }, 'redis call failed');
      throw new HeraldError('unavailable', `the Redis broker is unavailable (${what}: ${message})`);
    }
  }
}

function fromEntry(channel: string, epoch: string, [id, fields]: StreamEntry): Publication {
  // Fields are written in one order by the publish script: t, d, e.
  return publicationOf(channel, epoch, Number.parseInt(id, 10), Number(fields[1]), fields[3], fields[5]);
}

/** A publication as stored or published by the scripts; its data's JSON goes along for the push. */
function publicationOf(
  channel: string,
  epoch: string,
  offset: number,
  ts: number,
  dataJson: string,
  eventJson: string,
): BrokerPublication {
  const data = parseData(dataJson);
  const pub: BrokerPublication =
    data instanceof UnreadableData
      ? { channel, epoch, offset, data, ts }
      : { channel, epoch, offset, data, ts, [DATA_JSON]: dataJson };
  if (eventJson !== '') pub.event = JSON.parse(eventJson);
  return pub;
}

/**
 * Stands for data that is not JSON (an entry Herald's scripts did not write). It cannot be encoded, so
 * the hub resets the channel's subscribers past it (unsub `invalid_data`) instead of the feed failing
 * on the entry at every catch-up and the channel stalling on this node.
 */
class UnreadableData {
  toJSON(): never {
    throw new HeraldError('invalid_data', 'a stream entry holds data that is not JSON');
  }
}

function parseData(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return new UnreadableData();
  }
}

/**
 * `p<epoch>\n<first offset>\n<ts>\n` and `<event JSON or "">\n<data JSON>` per publication, joined by
 * `\n`, as the publish script writes it: the publications of one script call, consecutive offsets.
 */
function parsePublications(channel: string, message: string): Publication[] {
  const a = message.indexOf('\n');
  const b = message.indexOf('\n', a + 1);
  const c = message.indexOf('\n', b + 1);
  if (a < 0 || b < 0 || c < 0) throw new Error('not a publication message');
  const epoch = message.slice(1, a);
  let offset = Number(message.slice(a + 1, b));
  const ts = Number(message.slice(b + 1, c));
  if (!Number.isSafeInteger(offset) || !Number.isFinite(ts)) throw new Error('not a publication message');
  const pubs: Publication[] = [];
  for (let at = c + 1; at <= message.length; ) {
    const e = message.indexOf('\n', at);
    if (e < 0) throw new Error('a publication without data');
    let d = message.indexOf('\n', e + 1);
    if (d < 0) d = message.length;
    pubs.push(publicationOf(channel, epoch, offset++, ts, message.slice(e + 1, d), message.slice(at, e)));
    at = d + 1;
  }
  return pubs;
}

/** The URL without its password, for logs. */
export function redactBrokerUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
