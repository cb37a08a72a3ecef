import type { PresenceMember } from '@herald/protocol';
import type {
  Broker,
  BrokerHandlers,
  HistoryPage,
  HistoryQuery,
  PublishOptions,
  PublishOutcome,
} from '../core/broker.ts';
import { MemoryStream } from './memory-stream.ts';

interface RememberedKey {
  epoch: string;
  offset: number;
  expiresAt: number;
}

interface MemoryBrokerOptions {
  /** Milliseconds between sweeps of expired history, keys and presence. */
  sweepInterval?: number;
  /** Milliseconds after its last publication that an empty stream is forgotten (its epoch with it). */
  streamIdleTtl?: number;
}

/** The default broker: everything in this process, nothing to install. */
export class MemoryBroker implements Broker {
  private handlers: BrokerHandlers | null = null;
  private readonly streams = new Map<string, MemoryStream>();
  private readonly streamRules = new Map<string, { size: number; ttl: number }>();
  private readonly keys = new Map<string, RememberedKey>();
  private readonly members = new Map<string, Map<string, { member: PresenceMember; expiresAt: number }>>();
  private readonly subscribed = new Set<string>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly streamIdleTtl: number;

  constructor(options: MemoryBrokerOptions = {}) {
    this.streamIdleTtl = options.streamIdleTtl ?? 24 * 3600_000;
    this.sweeper = setInterval(() => this.sweep(), options.sweepInterval ?? 5_000);
    this.sweeper.unref();
  }

  async start(handlers: BrokerHandlers): Promise<void> {
    this.handlers = handlers;
  }

  async publish(
    channel: string,
    data: unknown,
    event: string | undefined,
    options: PublishOptions,
  ): Promise<PublishOutcome> {
    const now = Date.now();
    const keyId =
      options.idempotencyKey === undefined ? undefined : `${channel}\u0000${options.idempotencyKey}`;
    if (keyId !== undefined) {
      const seen = this.keys.get(keyId);
      if (seen && seen.expiresAt > now) return { epoch: seen.epoch, offset: seen.offset, duplicate: true };
    }
    const stream = this.stream(channel);
    this.streamRules.set(channel, { size: options.historySize, ttl: options.historyTtl });
    const pub = stream.append(data, event, options.historySize, options.historyTtl);
    if (keyId !== undefined) {
      this.keys.set(keyId, {
        epoch: pub.epoch,
        offset: pub.offset,
        expiresAt: now + options.idempotencyWindow,
      });
    }
    if (this.subscribed.has(channel)) this.handlers?.publication(pub);
    return { epoch: pub.epoch, offset: pub.offset, duplicate: false };
  }

  async history(channel: string, query: HistoryQuery): Promise<HistoryPage> {
    const stream = this.stream(channel);
    const rules = this.streamRules.get(channel);
    if (rules) stream.trim(rules.size, rules.ttl);
    const limit = query.limit ?? Number.MAX_SAFE_INTEGER;
    let publications = [] as ReturnType<MemoryStream['since']>;
    if (query.since) {
      const { epoch, offset } = query.since;
      if (epoch === stream.epoch) publications = stream.since(offset, limit);
      // Newest first after `since`: the offsets up to `since + limit`, as the Redis broker reads them.
      if (query.reverse) publications = publications.filter((p) => p.offset <= offset + limit).reverse();
    } else {
      publications = query.reverse ? stream.latest(limit) : stream.since(0, limit);
    }
    return { epoch: stream.epoch, offset: stream.offset, publications };
  }

  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
    // The subscriber reads its position next, which creates the stream anyway; created here, every
    // channel held is in `streams`, which is what channelCount counts.
    this.stream(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
  }

  async addPresence(channel: string, member: PresenceMember, ttl: number): Promise<void> {
    let byClient = this.members.get(channel);
    if (!byClient) {
      byClient = new Map();
      this.members.set(channel, byClient);
    }
    const isNew = !byClient.has(member.client);
    byClient.set(member.client, { member, expiresAt: Date.now() + ttl });
    if (isNew) this.handlers?.presence({ type: 'join', channel, member });
  }

  async removePresence(channel: string, member: PresenceMember): Promise<void> {
    const byClient = this.members.get(channel);
    if (!byClient?.delete(member.client)) return;
    if (byClient.size === 0) this.members.delete(channel);
    this.handlers?.presence({ type: 'leave', channel, member });
  }

  async presence(channel: string): Promise<PresenceMember[]> {
    const now = Date.now();
    const byClient = this.members.get(channel);
    if (!byClient) return [];
    return [...byClient.values()].filter((m) => m.expiresAt > now).map((m) => m.member);
  }

  async channels(): Promise<string[]> {
    const names = new Set(this.subscribed);
    for (const [name, stream] of this.streams) if (stream.retained > 0) names.add(name);
    return [...names].sort();
  }

  hasChannel(channel: string): boolean {
    return this.streams.has(channel);
  }

  channelCount(): number {
    return this.streams.size;
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private stream(channel: string): MemoryStream {
    let stream = this.streams.get(channel);
    if (!stream) {
      stream = new MemoryStream(channel);
      this.streams.set(channel, stream);
    }
    return stream;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, key] of this.keys) if (key.expiresAt <= now) this.keys.delete(id);
    for (const [channel, stream] of this.streams) {
      const rules = this.streamRules.get(channel);
      if (rules) stream.trim(rules.size, rules.ttl, now);
      // A stream never published to holds nothing worth an epoch; forget it soon so that probing
      // random channel names cannot grow memory. Published streams keep their epoch much longer.
      const idleTtl = stream.offset === 0 ? Math.min(60_000, this.streamIdleTtl) : this.streamIdleTtl;
      if (stream.retained === 0 && now - stream.touchedAt > idleTtl && !this.subscribed.has(channel)) {
        this.streams.delete(channel);
        this.streamRules.delete(channel);
      }
    }
    for (const [channel, byClient] of this.members) {
      for (const entry of byClient.values()) {
        if (entry.expiresAt <= now) void this.removePresence(channel, entry.member);
      }
    }
  }
}
