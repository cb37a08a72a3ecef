import type { Publication } from '@herald/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/brokers/memory-broker.ts';
import { RedisBroker } from '../src/brokers/redis-broker.ts';
import { RedisKeys } from '../src/brokers/redis-scripts.ts';
import type { PublishOptions, PublishOutcome } from '../src/core/broker.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { poll } from './support/poll-client.ts';
import { RedisServer } from './support/redis-server.ts';
import { RawSseStream } from './support/sse-client.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/** `data` nested `depth` arrays deep, as JSON text: 4,100 levels are 8,200 bytes. */
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const DEEP = nested(4100);

async function post(hub: TestHub, path: string, body: string) {
  const res = await fetch(`${hub.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: res.status, body: await res.json() };
}

/** Sends a frame whose text the test builds itself, and waits for the reply with `id`. */
async function rawCommand(c: WsTestClient, id: number, text: string) {
  c.sendRaw(text);
  return c.waitFor((f) => 'id' in f && f.id === id);
}

const dataOf = (pubs: Publication[]) => pubs.map((p) => p.data);

describe('publication data depth', () => {
  it('refuses a 4,100-level nested data with invalid_data on every publish path; nothing is stored or delivered', async () => {
    const hub = await hubs.start();
    const channel = 'chat:deep';
    const first = await poll(hub.url, `channel=${channel}&timeout=0`);
    const ws = await WsTestClient.open(hub.wsUrl);
    await ws.call('subscribe', { channel });
    const sse = await RawSseStream.open(`${hub.url}/connection/sse?channel=${channel}`);
    await eventually(() => sse.controls.length === 2, 'SSE subscribed');
    await hub.publish(channel, 'before');
    await eventually(() => ws.publications.length === 1 && sse.publications.length === 1, 'before');
    const afterBefore = sse.lastEventId as string;

    const publisher = await WsTestClient.open(hub.wsUrl);
    const wsReply = await rawCommand(
      publisher,
      7,
      `{"id":7,"type":"publish","channel":"${channel}","data":${DEEP}}`,
    );
    expect(wsReply.error).toMatchObject({ code: 'invalid_data' });
    const body = `{"channel":"${channel}","data":${DEEP}}`;
    expect(await post(hub, '/api/publish', body)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_data' } },
    });
    expect(await post(hub, '/connection/publish', body)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_data' } },
    });
    expect(
      await post(hub, '/api/broadcast', `{"channels":["${channel}","chat:other"],"data":${DEEP}}`),
    ).toMatchObject({
      status: 200,
      body: { results: [{ error: { code: 'invalid_data' } }, { error: { code: 'invalid_data' } }] },
    });
    await expect(hub.server.hub.publish(channel, { data: JSON.parse(DEEP) })).rejects.toMatchObject({
      code: 'invalid_data',
    });

    // Nothing was stored: the next publication takes offset 2, and nobody saw anything in between.
    expect(await hub.publish(channel, 'after')).toMatchObject({ offset: 2 });
    await eventually(() => ws.publications.length === 2 && sse.publications.length === 2, 'after');
    expect(dataOf(ws.publications)).toEqual(['before', 'after']);
    expect(dataOf(sse.publications)).toEqual(['before', 'after']);
    expect(ws.frames.filter((f) => f.type === 'unsub')).toEqual([]);

    // The channel is not poisoned: history, resume, Last-Event-ID and poll catch-up all answer.
    const history = await post(hub, '/api/history', `{"channel":"${channel}"}`);
    expect(history.status).toBe(200);
    expect(dataOf(history.body.publications)).toEqual(['before', 'after']);
    const resumer = await WsTestClient.open(hub.wsUrl);
    const resumed = await resumer.call<{ recovered: boolean; publications: Publication[] }>('subscribe', {
      channel,
      since: { epoch: ws.publications[0].epoch, offset: 0 },
    });
    expect(resumed.recovered).toBe(true);
    expect(dataOf(resumed.publications)).toEqual(['before', 'after']);
    const replay = await RawSseStream.open(`${hub.url}/connection/sse?channel=${channel}`, {
      'last-event-id': afterBefore,
    });
    await eventually(() => replay.publications.length === 1, 'SSE replay');
    expect(dataOf(replay.publications)).toEqual(['after']);
    const caughtUp = await poll(hub.url, `channel=${channel}&cursor=${first.cursor}&timeout=0`);
    expect(dataOf(caughtUp.publications)).toEqual(['before', 'after']);
    for (const c of [ws, publisher, resumer]) c.close();
    await Promise.all([sse.close(), replay.close()]);
  });

  it('allows nesting up to maxPayloadDepth and refuses one level more', async () => {
    const hub = await hubs.start({ maxPayloadDepth: 3 });
    const c = await WsTestClient.open(hub.wsUrl);
    const code = async (data: unknown) =>
      ((await c.command('publish', { channel: 'chat:d', data })).error as { code: string } | undefined)
        ?.code ?? 'ok';
    expect(await code([[[1]]])).toBe('ok');
    expect(await code({ a: { b: { c: 'x' } } })).toBe('ok');
    expect(await code([{ a: [] }, 'flat', 3])).toBe('ok');
    expect(await code([[[[1]]]])).toBe('invalid_data');
    expect(await code({ a: [{ b: 1 }], z: { y: { x: { w: 1 } } } })).toBe('invalid_data');
    const history = await c.call<{ publications: Publication[] }>('history', { channel: 'chat:d' });
    expect(history.publications.map((p) => p.offset)).toEqual([1, 2, 3]);
    c.close();

    const defaults = await hubs.start();
    const d = await WsTestClient.open(defaults.wsUrl);
    const at = (depth: number) =>
      rawCommand(d, depth, `{"id":${depth},"type":"publish","channel":"chat:d","data":${nested(depth)}}`);
    expect((await at(64)).error).toBeUndefined();
    expect((await at(65)).error).toMatchObject({ code: 'invalid_data' });
    d.close();
  });

  it('refuses data an embedding app passes that JSON cannot encode', async () => {
    const hub = await hubs.start();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const data of [{ n: 10n }, cyclic]) {
      await expect(hub.server.hub.publish('chat:e', { data })).rejects.toMatchObject({
        code: 'invalid_data',
      });
    }
    expect((await hub.server.hub.history('chat:e', {})).offset).toBe(0);
  });
});

describe('event names an SSE client reserves', () => {
  it('refuses error, open and herald with invalid_event; message and others go through', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    const sse = await RawSseStream.open(`${hub.url}/connection/sse?channel=chat:ev`);
    await eventually(() => sse.controls.length === 2, 'subscribed');
    for (const event of ['error', 'open', 'herald']) {
      expect((await c.command('publish', { channel: 'chat:ev', data: 1, event })).error).toMatchObject({
        code: 'invalid_event',
      });
      for (const path of ['/api/publish', '/connection/publish']) {
        expect(await post(hub, path, JSON.stringify({ channel: 'chat:ev', data: 1, event }))).toMatchObject({
          status: 400,
          body: { error: { code: 'invalid_event' } },
        });
      }
      await expect(hub.server.hub.publish('chat:ev', { data: 1, event })).rejects.toMatchObject({
        code: 'invalid_event',
      });
    }
    for (const event of ['message', 'Error', 'opened', 'chat.message']) {
      await c.call('publish', { channel: 'chat:ev', data: event, event });
    }
    await eventually(() => sse.publications.length === 4, 'the allowed four');
    expect(sse.messages.filter((m) => m.event !== 'herald').map((m) => m.event)).toEqual([
      'message',
      'Error',
      'opened',
      'chat.message',
    ]);
    c.close();
    await sse.close();
  });
});

/**
 * A broker that hands the hub what no hub checked, as an entry written by an older version would be:
 * a publication whose data is `"unencodable"` is stored and fanned out as data JSON cannot encode.
 */
class UncheckedBroker extends MemoryBroker {
  override publish(
    channel: string,
    data: unknown,
    event: string | undefined,
    options: PublishOptions,
  ): Promise<PublishOutcome> {
    return super.publish(channel, data === 'unencodable' ? { n: 1n } : data, event, options);
  }
}

describe('a stored publication that cannot be encoded', () => {
  it('resets live subscribers explicitly and resumes them with recovered: false, never a gap', async () => {
    const hub = await hubs.start({}, { broker: new UncheckedBroker() });
    const channel = 'chat:bad';
    const ws = await WsTestClient.open(hub.wsUrl);
    await ws.call('subscribe', { channel });
    const sse = await RawSseStream.open(`${hub.url}/connection/sse?channel=${channel}`);
    await eventually(() => sse.controls.length === 2, 'SSE subscribed');
    await hub.publish(channel, 'ok1');
    await hub.publish(channel, 'unencodable');
    await hub.publish(channel, 'ok3');

    // Told, not skipped: the subscription ends with a reset naming the cause.
    const unsub = await ws.waitFor((f) => f.type === 'unsub');
    expect(unsub).toMatchObject({ channel, code: 'invalid_data', resubscribe: true });
    expect(dataOf(ws.publications)).toEqual(['ok1']);
    await sse.ends();
    expect(dataOf(sse.publications)).toEqual(['ok1']);
    expect(sse.controls.slice(-2)).toMatchObject([
      { type: 'unsub', code: 'invalid_data', resubscribe: true },
      { type: 'disconnect', reconnect: true },
    ]);

    // Resuming from before it: recovered: false at the end of the stream, then live again.
    const again = await ws.call<{
      recovered: boolean;
      epoch: string;
      offset: number;
      publications: Publication[];
    }>('subscribe', { channel, since: { epoch: ws.publications[0].epoch, offset: 1 } });
    expect(again).toMatchObject({ recovered: false, offset: 3, publications: [] });
    const reopened = await RawSseStream.open(`${hub.url}/connection/sse?channel=${channel}`, {
      'last-event-id': sse.lastEventId as string,
    });
    await eventually(() => reopened.controls.length === 2, 'SSE resubscribed');
    expect(reopened.controls[1]).toMatchObject({ type: 'subscribed', recovered: false, offset: 3 });
    await hub.publish(channel, 'ok4');
    await eventually(() => ws.publications.length === 2 && reopened.publications.length === 1, 'ok4');
    expect(dataOf(ws.publications)).toEqual(['ok1', 'ok4']);
    expect(dataOf(reopened.publications)).toEqual(['ok4']);

    // A resume that fails to recover leaves no half-made subscription: the next one is live at once.
    const fresh = await WsTestClient.open(hub.wsUrl);
    const resumed = await fresh.call('subscribe', { channel, since: { epoch: again.epoch, offset: 0 } });
    expect(resumed).toMatchObject({ recovered: false, offset: 4 });
    await hub.publish(channel, 'ok5');
    await fresh.waitFor((f) => f.type === 'pub');
    expect(dataOf(fresh.publications)).toEqual(['ok5']);
    for (const c of [ws, fresh]) c.close();
    await reopened.close();
  });
});

describe('on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('a subscriber on another node gets an entry too deep for this hub whole and in order', async () => {
    const hub = await hubs.start({ broker: redis.url });
    const channel = 'chat:legacy';
    const ws = await WsTestClient.open(hub.wsUrl);
    await ws.call('subscribe', { channel });
    // Another node that checks nothing (an older version) appends 10,000 levels, which no hub could
    // encode again; the hub relays the JSON text it stored instead of re-encoding, so nothing is skipped.
    const legacy = new RedisBroker({ url: redis.url });
    await legacy.start({ publication: () => undefined, presence: () => undefined });
    hubs.onCleanup(() => legacy.close());
    const rules = { historySize: 1000, historyTtl: 600_000, idempotencyWindow: 0 };
    await hub.publish(channel, 'ok1');
    await legacy.publish(channel, null, undefined, { ...rules, json: nested(10_000) });
    await hub.publish(channel, 'ok3');
    await eventually(() => ws.publications.length === 3, 'all three');
    expect(ws.frames.some((f) => f.type === 'unsub')).toBe(false);
    expect(ws.publications.map((p) => p.offset)).toEqual([1, 2, 3]);
    expect([ws.publications[0].data, ws.publications[2].data]).toEqual(['ok1', 'ok3']);
    let depth = 0;
    for (let level: unknown = ws.publications[1].data; Array.isArray(level); level = level[0]) depth++;
    expect(depth).toBe(10_000);
    // The hub itself refuses such data on Redis as anywhere.
    expect(await post(hub, '/api/publish', `{"channel":"${channel}","data":${DEEP}}`)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_data' } },
    });
    ws.close();
  });

  it('an entry whose data is not JSON resets subscribers instead of stalling the channel', async () => {
    const hub = await hubs.start({ broker: redis.url });
    const channel = 'chat:foreign';
    const ws = await WsTestClient.open(hub.wsUrl);
    await ws.call('subscribe', { channel });
    await hub.publish(channel, 'ok1');
    await ws.waitFor((f) => f.type === 'pub');
    // Someone else writes offset 2 into Herald's keys, with data that is not JSON, and announces it.
    const keys = new RedisKeys();
    const admin = new Redis(redis.url);
    hubs.onCleanup(() => admin.quit());
    const epoch = (await admin.hget(keys.meta(channel), 'epoch')) as string;
    await admin.hincrby(keys.meta(channel), 'offset', 1);
    await admin.xadd(keys.stream(channel), '2-0', 't', Date.now(), 'd', '{not json', 'e', '');
    await admin.publish(keys.events(channel), `p${epoch}\n2\n${Date.now()}\n\n{not json`);
    await hub.publish(channel, 'ok3');
    expect(await ws.waitFor((f) => f.type === 'unsub')).toMatchObject({ channel, code: 'invalid_data' });
    expect(await ws.call('subscribe', { channel, since: { epoch, offset: 1 } })).toMatchObject({
      recovered: false,
      offset: 3,
    });
    await hub.publish(channel, 'ok4');
    await eventually(() => ws.publications.length === 2, 'live again');
    expect(ws.publications.map((p) => [p.offset, p.data])).toEqual([
      [1, 'ok1'],
      [4, 'ok4'],
    ]);
    ws.close();
  });
});
