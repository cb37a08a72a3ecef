import type { PresenceMember, Publication } from '@herald/protocol';
import { HeraldError, readWholeHistory } from '@herald/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBroker } from '../src/brokers/create-broker.ts';
import { MemoryBroker } from '../src/brokers/memory-broker.ts';
import { RedisBroker, type RedisBrokerOptions } from '../src/brokers/redis-broker.ts';
import { parseConfig } from '../src/config.ts';
import type { PublishOptions } from '../src/core/broker.ts';
import { Hub } from '../src/hub.ts';
import { RedisServer } from './support/redis-server.ts';
import { eventually } from './support/ws-client.ts';

const rules: PublishOptions = { historySize: 1000, historyTtl: 600_000, idempotencyWindow: 120_000 };

/** A broker with what it handed to its hub recorded. */
interface Node {
  broker: RedisBroker;
  pubs: Publication[];
  presence: Array<{ type: string; channel: string; member: PresenceMember }>;
  health: boolean[];
}

let redis: RedisServer;
let admin: Redis;
const nodes: Node[] = [];
let channelCount = 0;
/** A fresh channel name per test: every test shares the one Redis. */
const fresh = (ns = 'test') => `${ns}:c${++channelCount}`;

async function node(options: Partial<RedisBrokerOptions> = {}, server = redis): Promise<Node> {
  const n: Node = {
    broker: new RedisBroker({ url: server.url, commandTimeout: 1_000, sweepInterval: 1_000, ...options }),
    pubs: [],
    presence: [],
    health: [],
  };
  await n.broker.start({
    publication: (pub) => n.pubs.push(pub),
    presence: (event) => n.presence.push(event),
    health: (up) => n.health.push(up),
  });
  nodes.push(n);
  return n;
}

const publish = (n: Node, channel: string, data: unknown, options: Partial<PublishOptions> = {}) =>
  n.broker.publish(channel, data, undefined, { ...rules, ...options });

function offsetsOf(pubs: Publication[], channel: string): number[] {
  return pubs.filter((p) => p.channel === channel).map((p) => p.offset);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeAll(async () => {
  redis = await RedisServer.start();
  admin = new Redis(redis.url);
});

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.broker.close();
});

afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});

describe('redis broker: streams', () => {
  it('assigns dense offsets in one epoch shared by every node, and reads history like the memory broker', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    const results = await Promise.all(range(1, 20).map((i) => publish(i % 2 ? a : b, channel, { i })));
    expect(results.map((r) => r.offset).sort((x, y) => x - y)).toEqual(range(1, 20));
    expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
    const epoch = results[0].epoch;

    const all = await b.broker.history(channel, {});
    expect(all).toMatchObject({ epoch, offset: 20 });
    expect(all.publications.map((p) => p.offset)).toEqual(range(1, 20));
    expect(all.publications[0]).toMatchObject({ channel, epoch, offset: 1 });
    expect(typeof all.publications[0].ts).toBe('number');

    const since = await a.broker.history(channel, { since: { epoch, offset: 15 }, limit: 3 });
    expect(since.publications.map((p) => p.offset)).toEqual([16, 17, 18]);
    const sinceReversed = await a.broker.history(channel, {
      since: { epoch, offset: 15 },
      limit: 3,
      reverse: true,
    });
    expect(sinceReversed.publications.map((p) => p.offset)).toEqual([18, 17, 16]);
    const latest = await a.broker.history(channel, { limit: 2, reverse: true });
    expect(latest.publications.map((p) => p.offset)).toEqual([20, 19]);
    const otherEpoch = await a.broker.history(channel, { since: { epoch: 'nope', offset: 1 } });
    expect(otherEpoch).toMatchObject({ epoch, offset: 20, publications: [] });
    const position = await a.broker.history(channel, { limit: 0 });
    expect(position).toEqual({ epoch, offset: 20, publications: [] });
  });

  it('stops a read once the data passes maxBytes (at least one), whichever way it reads', async () => {
    const n = await node();
    const channel = fresh();
    // 1,012 bytes of data each: the fifth passes 5,000 and ends the read.
    const chunk = 'x'.repeat(1000);
    let epoch = '';
    for (const _ of range(1, 100)) epoch = (await publish(n, channel, { chunk })).epoch;
    const read = async (query: Parameters<RedisBroker['history']>[1]) =>
      (await n.broker.history(channel, query)).publications.map((p) => p.offset);

    expect(await read({ maxBytes: 5000 })).toEqual(range(1, 5));
    expect(await read({ maxBytes: 5000, limit: 3 })).toEqual(range(1, 3));
    expect(await read({ maxBytes: 5000, since: { epoch, offset: 10 } })).toEqual(range(11, 15));
    expect(await read({ maxBytes: 5000, reverse: true, limit: 50 })).toEqual(range(96, 100).reverse());
    expect(await read({ maxBytes: 5000, reverse: true, since: { epoch, offset: 10 }, limit: 50 })).toEqual(
      range(56, 60).reverse(),
    );
    expect(await read({ maxBytes: 1 })).toEqual([1]);
    // Past the first chunks (16, 32, ...), across their seams.
    expect(await read({ maxBytes: 60_000 })).toEqual(range(1, 60));
    expect(await read({})).toEqual(range(1, 100));

    // The hub pages its history replies on it and a reader following `next` gets the whole range.
    const hub = new Hub({ broker: n.broker, config: parseConfig({ maxQueueBytes: 16 * 1024 }) });
    const whole = await readWholeHistory((query) => hub.history(channel, query), {
      reverse: true,
      limit: 70,
    });
    expect(whole.publications.map((p) => p.offset)).toEqual(range(31, 100).reverse());
    const forward = await readWholeHistory((query) => hub.history(channel, query));
    expect(forward.publications.map((p) => p.offset)).toEqual(range(1, 100));
  });

  it('reads newest first after a position by offsets, as the memory broker does, also past trimmed history', async () => {
    const memory = new MemoryBroker();
    await memory.start({ publication: () => undefined, presence: () => undefined });
    const channel = fresh();
    for (const broker of [(await node()).broker, memory]) {
      let epoch = '';
      for (const i of range(1, 30))
        epoch = (await broker.publish(channel, { i }, undefined, { ...rules, historySize: 10 })).epoch;
      const read = async (query: Parameters<RedisBroker['history']>[1]) =>
        (await broker.history(channel, query)).publications.map((p) => p.offset);
      // History holds 21..30.
      expect(await read({ since: { epoch, offset: 0 }, limit: 25, reverse: true })).toEqual(
        range(21, 25).reverse(),
      );
      expect(await read({ since: { epoch, offset: 22 }, limit: 3, reverse: true })).toEqual([25, 24, 23]);
      expect(await read({ limit: 25, reverse: true })).toEqual(range(21, 30).reverse());
      expect(await read({ since: { epoch, offset: 0 }, limit: 3 })).toEqual([21, 22, 23]);
    }
    await memory.close();
  });

  it('keeps data and event names intact, whatever they hold', async () => {
    const a = await node();
    const channel = fresh();
    const data = { text: 'line one\nline "two"\u2028 ünïcode 🎉', n: [1, 2.5, null], nested: { ok: true } };
    await a.broker.subscribe(channel);
    await a.broker.publish(channel, data, 'chat\nmessage', rules);
    await a.broker.publish(channel, 'plain string', undefined, rules);
    await eventually(() => a.pubs.length === 2, 'both live publications');
    const [history] = [(await a.broker.history(channel, {})).publications];
    for (const pubs of [a.pubs, history]) {
      expect(pubs[0]).toMatchObject({ data, event: 'chat\nmessage', offset: 1 });
      expect(pubs[1]).toMatchObject({ data: 'plain string', offset: 2 });
      expect(pubs[1]).not.toHaveProperty('event');
    }
  });

  it('sends the publications of one turn as one script call and one message per channel, read back intact', async () => {
    const [a, b] = [await node(), await node()];
    const [one, two] = [fresh(), fresh()];
    await b.broker.subscribe(one);
    await b.broker.subscribe(two);
    const listener = new Redis(redis.url);
    const messages: string[] = [];
    listener.on('message', (_name: string, message: string) => messages.push(message));
    await listener.subscribe(`herald:{${one}}:events`, `herald:{${two}}:events`);
    // EVALSHA, or EVAL the first time the script meets this Redis.
    const scriptRuns = async () => {
      const stats = await admin.info('commandstats');
      const calls = (command: string) =>
        Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      return calls('evalsha') + calls('eval');
    };
    const before = await scriptRuns();
    const tricky = { text: 'line one\nline "two"\u2028 ünïcode 🎉', n: [1, 2.5, null] };
    const outcomes = await Promise.all([
      a.broker.publish(one, tricky, 'chat\nmessage', rules),
      a.broker.publish(two, 'other channel', undefined, rules),
      // JSON as an embedding app may hand it over, with newlines as whitespace.
      a.broker.publish(one, { pretty: true }, '', { ...rules, json: '{\n  "pretty": true\n}' }),
      a.broker.publish(one, null, undefined, rules),
    ]);
    expect(await scriptRuns()).toBe(before + 1);
    expect(outcomes.map((o) => o.offset)).toEqual([1, 1, 2, 3]);
    await eventually(() => b.pubs.length === 4 && messages.length === 2, 'all four, in two messages');
    listener.disconnect();
    const expected = [
      { channel: one, offset: 1, data: tricky, event: 'chat\nmessage' },
      { channel: one, offset: 2, data: { pretty: true }, event: '' },
      { channel: one, offset: 3, data: null },
    ];
    const history = (await a.broker.history(one, {})).publications;
    for (const pubs of [b.pubs.filter((p) => p.channel === one), history]) {
      expect(pubs).toMatchObject(expected);
      expect(pubs[2]).not.toHaveProperty('event');
    }
    expect(b.pubs.find((p) => p.channel === two)).toMatchObject({ offset: 1, data: 'other channel' });
  });

  it('gives a stream an epoch on first read that publishers then keep', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    const before = await a.broker.history(channel, { limit: 0 });
    expect(before.offset).toBe(0);
    expect((await publish(b, channel, 1)).epoch).toBe(before.epoch);
  });

  it('bounds history by size', async () => {
    const a = await node();
    const channel = fresh();
    for (const i of range(1, 30)) await publish(a, channel, i, { historySize: 10 });
    const page = await a.broker.history(channel, {});
    expect(page.offset).toBe(30);
    expect(page.publications.map((p) => p.offset)).toEqual(range(21, 30));
    expect(await admin.xlen(`herald:{${channel}}:stream`)).toBe(10);
  });

  it('bounds history by TTL, and the stream key expires with it', async () => {
    const a = await node();
    const channel = fresh();
    for (const i of range(1, 5)) await publish(a, channel, i, { historyTtl: 300 });
    expect((await a.broker.history(channel, {})).publications).toHaveLength(5);
    await new Promise((r) => setTimeout(r, 400));
    const page = await a.broker.history(channel, {});
    expect(page).toMatchObject({ offset: 5, publications: [] });
    await publish(a, channel, 6, { historyTtl: 300 });
    const after = await a.broker.history(channel, {});
    expect(after.publications.map((p) => p.offset)).toEqual([6]);
    expect(after.epoch).toBe(page.epoch);
    expect(await admin.pttl(`herald:{${channel}}:stream`)).toBeLessThanOrEqual(300);
  });

  it('keeps no history when the namespace keeps none, but still counts offsets', async () => {
    const a = await node();
    const channel = fresh();
    await publish(a, channel, 1, { historySize: 0 });
    await publish(a, channel, 2, { historySize: 0 });
    expect(await a.broker.history(channel, {})).toMatchObject({ offset: 2, publications: [] });
    expect(await admin.exists(`herald:{${channel}}:stream`)).toBe(0);
  });

  it('shares idempotency keys between nodes: a retry on another node publishes nothing', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    await b.broker.subscribe(channel);
    const first = await publish(a, channel, 'once', { idempotencyKey: 'k1' });
    const again = await publish(b, channel, 'twice', { idempotencyKey: 'k1' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ epoch: first.epoch, offset: first.offset, duplicate: true });
    const concurrent = await Promise.all(
      [a, b, a, b].map((n) => publish(n, channel, 'race', { idempotencyKey: 'k2' })),
    );
    expect(concurrent.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(concurrent.map((r) => r.offset)).size).toBe(1);
    const page = await a.broker.history(channel, {});
    expect(page.publications.map((p) => p.data)).toEqual(['once', 'race']);
    await eventually(() => b.pubs.length === 2, 'two deliveries');
    expect(b.pubs.map((p) => p.data)).toEqual(['once', 'race']);
  });

  it('is what createBroker builds from a redis:// URL, with its own key prefix', async () => {
    const broker = await createBroker(`${redis.url}?prefix=other:`);
    expect(broker).toBeInstanceOf(RedisBroker);
    await broker.start({ publication: () => undefined, presence: () => undefined });
    try {
      const channel = fresh();
      await broker.publish(channel, 1, undefined, rules);
      expect(await admin.exists(`other:{${channel}}:meta`)).toBe(1);
      expect(await admin.exists(`herald:{${channel}}:meta`)).toBe(0);
    } finally {
      await broker.close();
    }
    await expect(createBroker('redis://localhost:1?cluster=maybe')).rejects.toThrow(/cluster/);
  });
});

describe('redis broker: delivery between nodes', () => {
  it('delivers every publication of a subscribed channel in offset order, from publishers on every node', async () => {
    const [a, b, c] = [await node(), await node(), await node()];
    const channel = fresh();
    const other = fresh();
    await Promise.all([b.broker.subscribe(channel), c.broker.subscribe(channel)]);
    await Promise.all(range(1, 300).map((i) => publish([a, b, c][i % 3], i % 7 ? channel : other, i)));
    const expected = range(1, (await a.broker.history(channel, { limit: 0 })).offset);
    await eventually(() => offsetsOf(b.pubs, channel).length === expected.length, 'node b has all');
    await eventually(() => offsetsOf(c.pubs, channel).length === expected.length, 'node c has all');
    expect(offsetsOf(b.pubs, channel)).toEqual(expected);
    expect(offsetsOf(c.pubs, channel)).toEqual(expected);
    expect(offsetsOf(b.pubs, other)).toEqual([]);
    expect(a.pubs).toEqual([]);
  });

  it('subscribes in Redis only while the node listens to a channel', async () => {
    const a = await node();
    const channel = fresh();
    const numsub = async () =>
      ((await admin.pubsub('NUMSUB', `herald:{${channel}}:events`)) as [string, number])[1];
    expect(await numsub()).toBe(0);
    await a.broker.subscribe(channel);
    expect(await numsub()).toBe(1);
    await a.broker.unsubscribe(channel);
    expect(await numsub()).toBe(0);
    await publish(a, channel, 'unheard');
    await a.broker.subscribe(channel);
    await publish(a, channel, 'heard');
    await eventually(() => a.pubs.length === 1, 'one delivery');
    expect(a.pubs[0]).toMatchObject({ offset: 2, data: 'heard' });
  });

  it('shares one read between subscribers positioning from one place, until the node delivers something new', async () => {
    const [a, b] = [await node({ sweepInterval: 60_000 }), await node()];
    const channel = fresh();
    await a.broker.subscribe(channel);
    for (const i of range(1, 3)) await publish(b, channel, i);
    await eventually(() => a.pubs.length === 3, 'node a has all three');
    const { epoch } = await a.broker.history(channel, { limit: 0 });
    const scriptRuns = async () =>
      Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1]);
    const resume = () =>
      a.broker.history(channel, { since: { epoch, offset: 1 }, limit: 100, subscriber: true });

    const before = await scriptRuns();
    const storm = await Promise.all(range(1, 20).map(resume));
    expect(await scriptRuns()).toBe(before + 1);
    for (const page of storm) expect(page.publications.map((p) => p.data)).toEqual([2, 3]);
    // The history API reads afresh: a client that just published must find its publication.
    await a.broker.history(channel, { since: { epoch, offset: 1 }, limit: 100 });
    expect(await scriptRuns()).toBe(before + 2);

    await publish(b, channel, 4);
    await eventually(() => a.pubs.length === 4, 'node a has the fourth');
    const after = await Promise.all([resume(), resume()]);
    for (const page of after) expect(page.publications.map((p) => p.data)).toEqual([2, 3, 4]);
  });

  it('ignores messages on its channels that Herald did not write, and goes on', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    await b.broker.subscribe(channel);
    for (const junk of ['p{not a publication', 'j{"half":', 'xyz', '']) {
      await admin.publish(`herald:{${channel}}:events`, junk);
    }
    await publish(a, channel, 'fine');
    await eventually(() => b.pubs.length === 1, 'the real publication delivered');
    expect(b.pubs[0]).toMatchObject({ offset: 1, data: 'fine' });
    expect(b.presence).toEqual([]);
  });

  it('catches up from the stream when its pub/sub connection drops while others publish', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    await b.broker.subscribe(channel);
    const publishing = (async () => {
      for (const i of range(1, 400)) await publish(a, channel, i);
    })();
    await eventually(() => b.pubs.length >= 50, 'some delivered live');
    // Cut every pub/sub connection: b's subscriber reconnects and must read what it missed from the stream.
    await admin.client('KILL', 'TYPE', 'pubsub');
    await publishing;
    await eventually(() => b.pubs.length >= 400, 'all 400 delivered');
    expect(offsetsOf(b.pubs, channel)).toEqual(range(1, 400));
  });

  it('reads what pub/sub never brought once the channel goes quiet', async () => {
    const [a, b] = [await node(), await node({ sweepInterval: 60_000 })];
    const channel = fresh();
    await a.broker.subscribe(channel);
    await publish(b, channel, 'heard');
    await eventually(() => a.pubs.length === 1, 'first delivered live');
    // Appended behind pub/sub's back: only a periodic catch-up (sweepInterval 1 s) can find it.
    const { epoch } = await b.broker.history(channel, { limit: 0 });
    await admin.hset(`herald:{${channel}}:meta`, 'offset', 2);
    await admin.xadd(`herald:{${channel}}:stream`, '2-0', 't', Date.now(), 'd', '"silent"', 'e', '');
    await eventually(() => a.pubs.length === 2, 'the silent append caught up', 5_000);
    expect(a.pubs[1]).toMatchObject({ epoch, offset: 2, data: 'silent' });
    await publish(b, channel, 'live again');
    await eventually(() => a.pubs.length === 3, 'live again');
    expect(offsetsOf(a.pubs, channel)).toEqual([1, 2, 3]);
  });

  it('passes over what the stream no longer holds, so the hub can tell its subscribers', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    await b.broker.subscribe(channel);
    await publish(a, channel, 1, { historySize: 2 });
    await eventually(() => b.pubs.length === 1, 'first delivered');
    await admin.client('KILL', 'TYPE', 'pubsub');
    for (const i of range(2, 6)) await publish(a, channel, i, { historySize: 2 });
    await eventually(() => b.pubs.length >= 3, 'caught up with what history holds');
    await publish(a, channel, 7, { historySize: 2 });
    await eventually(() => offsetsOf(b.pubs, channel).at(-1) === 7, 'live again');
    // 2, 3 and 4 are gone from history: the hub sees the jump from 1 to 5 and resets its subscribers.
    expect(offsetsOf(b.pubs, channel)).toEqual([1, 5, 6, 7]);
  });
});

describe('redis broker: presence', () => {
  it('shares members between nodes and fans join and leave out to listening nodes', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    await Promise.all([a.broker.subscribe(channel), b.broker.subscribe(channel)]);
    const alice: PresenceMember = { client: 'c-alice', user: 'alice', info: { name: 'Alice' } };
    const bob: PresenceMember = { client: 'c-bob', user: 'bob' };
    await a.broker.addPresence(channel, alice, 10_000);
    await b.broker.addPresence(channel, bob, 10_000);
    await a.broker.addPresence(channel, alice, 10_000); // a refresh: no second join
    const members = await b.broker.presence(channel);
    expect(members.sort((x, y) => x.client.localeCompare(y.client))).toEqual([alice, bob]);
    await b.broker.removePresence(channel, bob);
    await b.broker.removePresence(channel, bob); // twice: one leave
    await eventually(() => a.presence.length === 3 && b.presence.length === 3, 'join, join, leave on both');
    for (const n of [a, b]) {
      expect(n.presence.map((e) => `${e.type} ${e.member.client}`)).toEqual([
        'join c-alice',
        'join c-bob',
        'leave c-bob',
      ]);
    }
    expect(await a.broker.presence(channel)).toEqual([alice]);
  });

  it('lets the members of a node that died expire, and tells the others they left', async () => {
    const [survivor, doomed] = [await node(), await node()];
    const channel = fresh();
    await survivor.broker.subscribe(channel);
    const ghost: PresenceMember = { client: 'c-ghost', user: null };
    const alive: PresenceMember = { client: 'c-alive', user: null };
    await doomed.broker.addPresence(channel, ghost, 300);
    await survivor.broker.addPresence(channel, alive, 10_000);
    // The node dies without saying goodbye: nothing removes its member.
    await doomed.broker.close();
    await new Promise((r) => setTimeout(r, 350));
    expect(await survivor.broker.presence(channel)).toEqual([alive]);
    await eventually(
      () => survivor.presence.some((e) => e.type === 'leave' && e.member.client === 'c-ghost'),
      'leave for the expired member',
    );
    // With no member left to refresh them, the keys expire on their own.
    const lonely = fresh();
    await survivor.broker.addPresence(lonely, ghost, 200);
    await new Promise((r) => setTimeout(r, 300));
    expect(await admin.exists(`herald:{${lonely}}:members`, `herald:{${lonely}}:member-expiry`)).toBe(0);
  });
});

describe('redis broker: channels', () => {
  it('lists channels with history or a listening node, across nodes', async () => {
    const [a, b] = [await node({ prefix: 'chan-test:' }), await node({ prefix: 'chan-test:' })];
    await publish(a, 'feed:one', 1);
    await b.broker.subscribe('feed:two');
    await publish(a, 'feed:gone', 1, { historySize: 0 });
    expect(await a.broker.channels()).toEqual(['feed:one', 'feed:two']);
    expect(await b.broker.channels()).toEqual(['feed:one', 'feed:two']);
  });
});

describe('redis broker: outages', () => {
  let own: RedisServer | undefined;
  afterEach(async () => {
    await own?.stop();
    own = undefined;
  });

  it('fails fast with unavailable while Redis is down, reports unhealthy, and recovers with nothing lost', async () => {
    own = await RedisServer.start({ persistent: true });
    const [a, b] = [await node({}, own), await node({}, own)];
    const channel = fresh();
    await b.broker.subscribe(channel);
    for (const i of range(1, 10)) await publish(a, channel, i);
    await eventually(() => b.pubs.length === 10, 'ten delivered');
    expect(a.broker.healthy()).toBe(true);

    await own.kill();
    await eventually(() => !a.broker.healthy() && !b.broker.healthy(), 'both unhealthy');
    expect(a.health.at(-1)).toBe(false);
    const started = Date.now();
    const error = await publish(a, channel, 'lost?').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).code).toBe('unavailable');
    // Bounded: far below any test timeout, never a hang (the command timeout is 1 s here).
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(a.broker.history(channel, {})).rejects.toMatchObject({ code: 'unavailable' });
    await expect(b.broker.subscribe(fresh())).rejects.toMatchObject({ code: 'unavailable' });

    await own.restart();
    await eventually(() => a.broker.healthy() && b.broker.healthy(), 'both healthy again');
    expect(a.health.at(-1)).toBe(true);
    for (const i of range(11, 20)) await publish(a, channel, i);
    await eventually(() => b.pubs.length === 20, 'twenty delivered');
    expect(offsetsOf(b.pubs, channel)).toEqual(range(1, 20));
    expect(new Set(b.pubs.map((p) => p.epoch)).size).toBe(1);
  });

  it('catches up from the persisted stream what was published just before Redis went down', async () => {
    own = await RedisServer.start({ persistent: true });
    const [a, b] = [await node({}, own), await node({}, own)];
    const channel = fresh();
    await b.broker.subscribe(channel);
    // Another node's pub/sub is cut first, so those publications reach b only through the stream.
    await own.restart();
    await eventually(() => a.broker.healthy(), 'a reconnected');
    const subscriberOf = new Redis(own.url);
    try {
      await subscriberOf.client('KILL', 'TYPE', 'pubsub');
      for (const i of range(1, 5)) await publish(a, channel, i);
      await own.restart();
    } finally {
      subscriberOf.disconnect();
    }
    await eventually(() => b.pubs.length === 5, 'caught up from the stream after the restart');
    expect(offsetsOf(b.pubs, channel)).toEqual(range(1, 5));
  });

  it('applies each publication of a batch cut by a Redis crash once, or lets its key retry it', async () => {
    own = await RedisServer.start({ persistent: true });
    const [a, b] = [await node({ commandTimeout: 5_000 }, own), await node({}, own)];
    const channels = range(1, 16).map(() => fresh());
    for (const channel of channels) await b.broker.subscribe(channel);
    // Made in one turn: 32 script calls of 500 publications (24 MB), each fsynced to the AOF as it runs.
    const total = 16_000;
    const pad = 'x'.repeat(1500);
    const keep = { historySize: 2000 };
    const channelOf = (i: number) => channels[i % channels.length];
    const first = new Map<number, { epoch: string; offset: number } | 'failed'>();
    const publishing = Promise.all(
      range(1, total).map((i) =>
        publish(a, channelOf(i), { i, pad }, { ...keep, idempotencyKey: `k${i}` }).then(
          (outcome) => {
            first.set(i, outcome);
          },
          (err: unknown) => {
            expect(err).toMatchObject({ code: 'unavailable' });
            first.set(i, 'failed');
          },
        ),
      ),
    );
    // Killed as soon as another client sees the first script's publications: later ones are cut or unsent.
    const watcher = new Redis(own.url);
    try {
      const deadline = Date.now() + 30_000;
      while (!(await watcher.exists(`herald:{${channels[1]}}:stream`)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      watcher.disconnect();
    }
    await own.kill();
    await publishing;
    const failed = range(1, total).filter((i) => first.get(i) === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(total);

    await own.restart();
    await eventually(() => a.broker.healthy() && b.broker.healthy(), 'healthy again');
    const inspect = new Redis(own.url);
    const stored = async () => {
      const where = new Map<number, { channel: string; offset: number }>();
      for (const channel of channels) {
        for (const [id, fields] of await inspect.xrange(`herald:{${channel}}:stream`, '-', '+')) {
          const { i } = JSON.parse(fields[3]) as { i: number };
          expect(where.has(i)).toBe(false);
          where.set(i, { channel, offset: Number.parseInt(id, 10) });
        }
      }
      return where;
    };
    // Restarted from the AOF: nothing answered as published was lost.
    const survived = await stored();
    for (const [i, outcome] of first) {
      if (outcome !== 'failed') expect(survived.get(i)?.offset).toBe(outcome.offset);
    }
    // The publisher retries what failed, with its key: applied before the crash means a duplicate.
    const retried = await Promise.all(
      failed.map((i) => publish(a, channelOf(i), { i, pad }, { ...keep, idempotencyKey: `k${i}` })),
    );
    for (const [n, i] of failed.entries()) {
      expect(retried[n].duplicate).toBe(survived.has(i));
      if (survived.has(i)) expect(retried[n].offset).toBe(survived.get(i)?.offset);
    }
    const all = await stored();
    inspect.disconnect();
    expect([...all.keys()].sort((x, y) => x - y)).toEqual(range(1, total));
    for (const channel of channels) {
      const offsets = [...all.values()].filter((w) => w.channel === channel).map((w) => w.offset);
      await eventually(() => offsetsOf(b.pubs, channel).length === offsets.length, `b has all of ${channel}`);
      expect(offsetsOf(b.pubs, channel)).toEqual(range(1, offsets.length));
    }
  });

  it('starts a new epoch when Redis lost the stream, and hands the new incarnation over from its start', async () => {
    own = await RedisServer.start();
    const [a, b] = [await node({}, own), await node({}, own)];
    const channel = fresh();
    await b.broker.subscribe(channel);
    const before = await publish(a, channel, 'old');
    await eventually(() => b.pubs.length === 1, 'delivered');
    await own.restart(); // no persistence: every stream is gone
    await eventually(() => a.broker.healthy() && b.broker.healthy(), 'healthy again');
    const after = await publish(a, channel, 'new');
    expect(after.epoch).not.toBe(before.epoch);
    expect(after.offset).toBe(1);
    await eventually(() => b.pubs.length === 2, 'new incarnation delivered');
    expect(b.pubs[1]).toMatchObject({ epoch: after.epoch, offset: 1, data: 'new' });
    // A reader still holding the old position gets nothing of the new epoch: the hub says recovered:false.
    const resumed = await a.broker.history(channel, { since: { epoch: before.epoch, offset: 1 } });
    expect(resumed).toMatchObject({ epoch: after.epoch, offset: 1, publications: [] });
  });

  it('answers unavailable within the command timeout when Redis hangs, and reports it unhealthy', async () => {
    own = await RedisServer.start();
    const [a, b] = [await node({}, own), await node({}, own)];
    const channel = fresh();
    await b.broker.subscribe(channel);
    await publish(a, channel, 1);
    own.pause();
    try {
      const started = Date.now();
      await expect(publish(a, channel, 2)).rejects.toMatchObject({ code: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(5_000); // commandTimeout is 1 s here
      await eventually(() => !a.broker.healthy(), 'a hung Redis is unhealthy');
    } finally {
      own.resume();
    }
    await eventually(() => a.broker.healthy(), 'healthy again');
    await publish(a, channel, 3);
    await eventually(() => offsetsOf(b.pubs, channel).at(-1) === 3, 'delivery resumed');
    // Whether the timed-out publish was applied is unknown to the publisher; either way b has no gap.
    const offsets = offsetsOf(b.pubs, channel);
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i + 1));
  });

  it('gives a stream a new epoch when Redis comes back behind what was delivered, so no offset is reused', async () => {
    const [a, b] = [await node(), await node()];
    const channel = fresh();
    await b.broker.subscribe(channel);
    for (const i of range(1, 10)) await publish(a, channel, i);
    await eventually(() => b.pubs.length === 10, 'ten delivered');
    const { epoch } = b.pubs[0];
    // As if Redis restarted from an older snapshot: the last three publications never happened.
    await admin
      .multi()
      .hset(`herald:{${channel}}:meta`, 'offset', 7)
      .xdel(`herald:{${channel}}:stream`, '8-0', '9-0', '10-0')
      .exec();
    await admin.client('KILL', 'TYPE', 'pubsub');
    await eventually(async () => (await a.broker.history(channel, { limit: 0 })).epoch !== epoch, 'retired');
    const next = await publish(a, channel, 'after');
    expect(next).toMatchObject({ offset: 1, duplicate: false });
    expect(next.epoch).not.toBe(epoch);
    await eventually(() => b.pubs.length === 11, 'delivered in the new epoch');
    expect(b.pubs[10]).toMatchObject({ epoch: next.epoch, offset: 1, data: 'after' });
  });

  it('starts degraded when Redis is not there', async () => {
    const missing = new RedisBroker({ url: 'redis://127.0.0.1:1', startTimeout: 200 });
    await missing.start({ publication: () => undefined, presence: () => undefined });
    expect(missing.healthy()).toBe(false);
    await expect(missing.publish('x', 1, undefined, rules)).rejects.toMatchObject({ code: 'unavailable' });
    await missing.close();
  });
});
