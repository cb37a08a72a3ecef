import type { PresenceMember, Publication } from '@herald/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBroker } from '../src/brokers/create-broker.ts';
import type { Broker, PublishOptions } from '../src/core/broker.ts';
import { HeraldNodes } from './support/herald-nodes.ts';
import { type RedisServer, startRedisCluster } from './support/redis-server.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const rules: PublishOptions = { historySize: 100, historyTtl: 600_000, idempotencyWindow: 60_000 };
let cluster: RedisServer[];
let url: string;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  url = `redis://127.0.0.1:${cluster[0].port}?cluster=true`;
});

afterAll(async () => {
  await Promise.all(cluster.map((s) => s.stop()));
});

describe('redis broker on Redis Cluster', () => {
  it('keeps each channel on one slot, spreads channels over the shards, and works across nodes', async () => {
    const pubs: Publication[] = [];
    const presence: string[] = [];
    const [a, b]: Broker[] = [await createBroker(url), await createBroker(url)];
    await a.start({ publication: () => undefined, presence: () => undefined });
    await b.start({
      publication: (pub) => pubs.push(pub),
      presence: (e) => presence.push(`${e.type} ${e.channel} ${e.member.client}`),
    });
    const admin = new Redis(cluster[0].port);
    try {
      const channels = Array.from({ length: 12 }, (_, i) => `shard:c${i}`);
      const slots = new Set<number>();
      for (const channel of channels) {
        const keySlots = await Promise.all(
          ['meta', 'stream', 'idem:k', 'members', 'member-expiry', 'events'].map(
            (suffix) => admin.cluster('KEYSLOT', `herald:{${channel}}:${suffix}`) as Promise<number>,
          ),
        );
        expect(new Set(keySlots).size).toBe(1);
        slots.add(keySlots[0]);
      }
      // CLUSTER SLOTS: [[first, last, [host, port, id], ...], ...]
      const ranges = await admin.cluster('SLOTS');
      const ownerOf = (slot: number) => ranges.find(([first, last]) => slot >= first && slot <= last)?.[2][1];
      expect(new Set([...slots].map(ownerOf)).size).toBe(3);
      for (const channel of channels) await b.subscribe(channel);
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          (i % 2 ? a : b).publish(channels[i % 12], { i }, undefined, { ...rules, idempotencyKey: `k${i}` }),
        ),
      );
      expect(results.every((r) => !r.duplicate)).toBe(true);
      const retry = await b.publish(channels[0], 'again', undefined, { ...rules, idempotencyKey: 'k0' });
      expect(retry).toEqual({ ...results[0], duplicate: true });
      await eventually(() => pubs.length === 120, 'every publication delivered');
      for (const channel of channels) {
        expect(pubs.filter((p) => p.channel === channel).map((p) => p.offset)).toEqual(
          Array.from({ length: 10 }, (_, i) => i + 1),
        );
        expect((await a.history(channel, {})).publications).toHaveLength(10);
      }

      const member: PresenceMember = { client: 'c1', user: 'u1' };
      await a.addPresence(channels[3], member, 10_000);
      expect(await b.presence(channels[3])).toEqual([member]);
      await eventually(() => presence.includes(`join ${channels[3]} c1`), 'join across the cluster');
      expect(await a.channels()).toEqual(expect.arrayContaining(channels));
      expect(b.healthy()).toBe(true);
    } finally {
      admin.disconnect();
      await a.close();
      await b.close();
    }
  });

  it('serves herald processes started with --broker redis://…?cluster=true', async () => {
    const nodes = await HeraldNodes.start(2, url);
    try {
      const client = await WsTestClient.open(nodes.nodes[0].wsUrl);
      await client.call('connect', { subs: { 'shard:live': {} } });
      for (let i = 1; i <= 5; i++) await nodes.publish(1, 'shard:live', i, `live-${i}`);
      await eventually(() => client.publications.length === 5, 'five delivered from the other node');
      expect(client.publications.map((p) => p.data)).toEqual([1, 2, 3, 4, 5]);
      const health = await fetch(`${nodes.nodes[1].url}/health`);
      expect(health.status).toBe(200);
      client.close();
    } finally {
      nodes.killAll();
    }
  });
});
