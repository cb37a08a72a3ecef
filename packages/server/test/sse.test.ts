import { decodeCursor, encodeCursor } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/brokers/memory-broker.ts';
import { createHub } from '../src/server.ts';
import { publishInBursts } from './support/bursts.ts';
import { hubPerTest } from './support/hub.ts';
import { EventSourceSubscriber, expectEveryPublicationOnce, RawSseStream } from './support/sse-client.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { eventually } from './support/ws-client.ts';

const hubs = hubPerTest();
const fast = { sse: { retry: 0.02 } };

describe('SSE: GET /connection/sse', () => {
  it('streams each publication with a cursor id, its event name and one-line JSON data', async () => {
    const hub = await hubs.start({ sse: { heartbeat: 0.05 } });
    const stream = await RawSseStream.open(`${hub.url}/connection/sse?channel=news:a&channel=news:b`);
    const headers = stream.response.headers;
    expect(headers.get('content-type')).toBe('text/event-stream');
    expect(headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(headers.get('x-accel-buffering')).toBe('no');
    expect(headers.get('connection')).toBe('keep-alive');
    expect(headers.get('content-encoding')).toBeNull();
    await eventually(() => stream.controls.length === 3, 'connected + two subscribed');
    expect(stream.retries).toEqual([2000]);
    const [connected, ...subscribed] = stream.controls;
    expect(connected).toMatchObject({ type: 'connected', user: null, heartbeat: 0.05 });
    expect(subscribed.map((c) => c.type === 'subscribed' && c.channel).sort()).toEqual(['news:a', 'news:b']);

    const a = await hub.publish('news:a', { text: 'multi\nline' }, { event: 'headline' });
    const b = await hub.publish('news:b', 42);
    await eventually(() => stream.publications.length === 2, 'two publications');
    const [first, second] = stream.publications;
    expect(first).toMatchObject({
      channel: 'news:a',
      epoch: a.epoch,
      offset: 1,
      data: { text: 'multi\nline' },
    });
    expect(stream.messages.find((m) => m.id === first.id)?.event).toBe('headline');
    expect(second).toMatchObject({ channel: 'news:b', epoch: b.epoch, offset: 1, data: 42 });
    expect(stream.messages.find((m) => m.id === second.id)?.event).toBe('message');
    // The cursor holds both channels' positions.
    const cursor = decodeCursor(second.id);
    expect(cursor.position('news:a')).toEqual({ epoch: a.epoch, offset: 1 });
    expect(cursor.position('news:b')).toEqual({ epoch: b.epoch, offset: 1 });
    // Heartbeat comments keep the stream busy.
    await eventually(() => stream.comments.length >= 2, 'heartbeat comments');
    await stream.close();
    await eventually(() => hub.server.hub.getStats().sessions === 0, 'session released');
  });

  it('delivers a publication made right after the stream opens', async () => {
    const hub = await hubs.start();
    for (let i = 0; i < 20; i++) {
      const channel = `open:${i}`;
      const subscriber = new EventSourceSubscriber(`${hub.url}/connection/sse?channel=${channel}`, [channel]);
      await new Promise((resolve) => subscriber.es.addEventListener('open', resolve, { once: true }));
      await hub.publish(channel, i);
      await eventually(() => subscriber.data.length === 1, 'the publication arrives');
      expect(subscriber.data).toEqual([i]);
      subscriber.close();
    }
  });

  it('delivers every publication exactly once, in order, when TCP is cut at random points (eventsource package)', async () => {
    const hub = await hubs.start(fast);
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const channels = ['cut:a', 'cut:b'];
    const url = (list: string[]) =>
      `http://127.0.0.1:${proxy.port}/connection/sse?${list.map((c) => `channel=${c}`).join('&')}`;
    const all = Array.from({ length: 8 }, (_, i) => {
      const list = i % 2 ? channels : [channels[0]];
      return new EventSourceSubscriber(url(list), list);
    });
    await eventually(() => all.every((s) => s.live), 'all streams live');
    const perChannel = 1000;
    const cuts = await publishInBursts(
      (channel, n) => hub.publish(channel, n),
      channels,
      perChannel * channels.length,
      () => proxy.cutAll() > 0,
      () => eventually(() => all.every((s) => s.live), 'all streams back'),
    );
    await expectEveryPublicationOnce(all, perChannel);
    expect(cuts).toBeGreaterThan(3);
    expect(all.reduce((n, s) => n + s.tally.opens, 0)).toBeGreaterThan(all.length + 3);
  });

  it('ends streams at maxStreamDuration and the reconnect resumes with nothing lost', async () => {
    const hub = await hubs.start({ sse: { retry: 0.02, maxStreamDuration: 0.25 } });
    const channels = ['short:a', 'short:b'];
    const subscribers = Array.from(
      { length: 4 },
      () => new EventSourceSubscriber(`${hub.url}/connection/sse?channel=short:a&channel=short:b`, channels),
    );
    await eventually(() => subscribers.every((s) => s.live), 'all streams live');
    const perChannel = 600;
    for (let sent = 0; sent < perChannel * 2; sent++) {
      await hub.publish(channels[sent % 2], sent);
      // Spread the publications over more than a few stream lifetimes.
      if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await expectEveryPublicationOnce(subscribers, perChannel);
    for (const s of subscribers) {
      expect(s.tally.opens).toBeGreaterThan(1);
      const disconnects = s.controls.filter((c) => c.type === 'disconnect');
      expect(disconnects.length).toBeGreaterThan(0);
      expect(disconnects[0]).toMatchObject({ code: 4005, reconnect: true });
    }
  });

  it('resumes from Last-Event-ID or ?lastEventId=, the header winning over the query', async () => {
    const hub = await hubs.start();
    const url = `${hub.url}/connection/sse?channel=resume:x`;
    const first = await RawSseStream.open(url);
    await eventually(() => first.controls.length === 2, 'subscribed');
    for (let i = 1; i <= 5; i++) await hub.publish('resume:x', i);
    await eventually(() => first.publications.length === 5, 'five publications');
    const afterTwo = first.publications[1].id;
    const afterFour = first.publications[3].id;
    await first.close();
    for (let i = 6; i <= 8; i++) await hub.publish('resume:x', i);

    const offsets = async (headers: Record<string, string>, query = '') => {
      const stream = await RawSseStream.open(`${url}${query}`, headers);
      await eventually(() => stream.publications.at(-1)?.offset === 8, 'caught up');
      const subscribed = stream.controls.find((c) => c.type === 'subscribed');
      await stream.close();
      expect(subscribed).toMatchObject({ recovered: true, offset: 8 });
      return stream.publications.map((p) => p.offset);
    };
    expect(await offsets({ 'last-event-id': afterTwo })).toEqual([3, 4, 5, 6, 7, 8]);
    expect(await offsets({}, `&lastEventId=${afterFour}`)).toEqual([5, 6, 7, 8]);
    expect(await offsets({ 'last-event-id': afterFour }, `&lastEventId=${afterTwo}`)).toEqual([5, 6, 7, 8]);
  });

  it('lets go of a resuming stream whose client leaves before it opens', async () => {
    // History reads wait while the test holds them: the client gives up meanwhile, as in a reconnect storm.
    let held: Promise<void> | null = null;
    let release = () => {};
    const broker = new (class extends MemoryBroker {
      override async history(...args: Parameters<MemoryBroker['history']>) {
        await held;
        return super.history(...args);
      }
    })();
    const hub = await hubs.start({}, { broker });
    const { epoch } = await hub.publish('leave:x', 1);
    await hub.publish('leave:x', 2);
    held = new Promise((resolve) => {
      release = resolve;
    });
    const stats = () => hub.server.hub.getStats();
    const abandoned = new AbortController();
    const request = fetch(`${hub.url}/connection/sse?channel=leave:x`, {
      headers: { 'last-event-id': encodeCursor({ 'leave:x': { epoch, offset: 1 } }) },
      signal: abandoned.signal,
    });
    await eventually(() => stats().sessions === 1, 'connected, reading history');
    abandoned.abort();
    await expect(request).rejects.toThrow();
    await eventually(() => stats().sessions === 0, 'session released before its history is read');
    release();
    held = null;
    // The next client resumes as usual.
    const stream = await RawSseStream.open(`${hub.url}/connection/sse?channel=leave:x`, {
      'last-event-id': encodeCursor({ 'leave:x': { epoch, offset: 1 } }),
    });
    await eventually(() => stream.publications.length === 1, 'the missed publication');
    expect(stream.publications.map((p) => p.offset)).toEqual([2]);
    await stream.close();
  });

  it('refuses malformed and tampered cursors with 400 bad_cursor', async () => {
    const hub = await hubs.start();
    await hub.publish('cur:x', 1);
    const good = encodeCursor({ 'cur:x': { epoch: 'abcdefgh', offset: 1 } });
    const tampered = good.slice(0, 10) + (good[10] === 'A' ? 'B' : 'A') + good.slice(11);
    for (const [headers, query] of [
      [{ 'last-event-id': 'not a cursor' }, ''],
      [{ 'last-event-id': tampered }, ''],
      [{}, `&lastEventId=${tampered}`],
      [{ 'last-event-id': good.slice(0, -4) }, ''],
    ] as const) {
      const res = await fetch(`${hub.url}/connection/sse?channel=cur:x${query}`, { headers });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect((await res.json()).error.code).toBe('bad_cursor');
    }
    expect(hub.server.hub.getStats().sessions).toBe(0);
  });

  it('answers a forged or stale position with recovered:false and continues from the current end', async () => {
    const hub = await hubs.start({ namespaces: { '*': {}, tiny: { historySize: 5 } } });
    const real = await hub.publish('tiny:x', 0);
    const cases = {
      'wrong epoch': { 'tiny:x': { epoch: 'forged!!', offset: 1 } },
      'offset beyond the end': { 'tiny:x': { epoch: real.epoch, offset: 99 } },
      'channel missing from the cursor': { 'tiny:other': { epoch: real.epoch, offset: 1 } },
    };
    for (const [name, positions] of Object.entries(cases)) {
      const stream = await RawSseStream.open(`${hub.url}/connection/sse?channel=tiny:x`, {
        'last-event-id': encodeCursor(positions),
      });
      await eventually(() => stream.controls.length === 2, `${name}: subscribed`);
      const end = await hub.publish('tiny:x', name);
      await eventually(() => stream.publications.length === 1, `${name}: the next publication`);
      expect(stream.controls[1], name).toEqual({
        type: 'subscribed',
        channel: 'tiny:x',
        epoch: real.epoch,
        offset: end.offset - 1,
        recovered: false,
      });
      // The id of the control event and of what follows carry the fresh position.
      const subscribedId = stream.messages.find((m) => m.event === 'herald' && m.id)?.id as string;
      expect(decodeCursor(subscribedId).position('tiny:x')).toEqual({
        epoch: real.epoch,
        offset: end.offset - 1,
      });
      expect(decodeCursor(stream.lastEventId as string).position('tiny:x')).toEqual(end);
      await stream.close();
    }

    // History trimmed past the client's position: recovered:false, not a silent gap.
    const stream = await RawSseStream.open(`${hub.url}/connection/sse?channel=tiny:x`);
    await hub.publish('tiny:x', 'seen');
    await eventually(() => stream.publications.length === 1, 'one publication');
    const cursor = stream.lastEventId as string;
    await stream.close();
    for (let i = 0; i < 10; i++) await hub.publish('tiny:x', i);
    const resumed = await RawSseStream.open(`${hub.url}/connection/sse?channel=tiny:x`, {
      'last-event-id': cursor,
    });
    await eventually(() => resumed.controls.length === 2, 'subscribed');
    expect(resumed.controls[1]).toMatchObject({ recovered: false });
    expect(resumed.publications).toEqual([]);
    await resumed.close();
  });

  it('refuses bad channels and forbidden subscriptions before the stream starts, keeping nothing', async () => {
    const hub = await hubs.start({ namespaces: { open: {}, members: { subscribe: 'authenticated' } } });
    const status = async (query: string) => {
      const res = await fetch(`${hub.url}/connection/sse?${query}`);
      return [res.status, (await res.json()).error.code];
    };
    expect(await status('channel=bad%20name')).toEqual([400, 'invalid_channel']);
    expect(await status('channel=nowhere:x')).toEqual([404, 'unknown_namespace']);
    expect(await status('channel=open:x&channel=members:x')).toEqual([403, 'forbidden']);
    expect(await status('channel=open:x&token=abc')).toEqual([401, 'unauthorized']);
    const post = await fetch(`${hub.url}/connection/sse`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(hub.server.hub.getStats()).toMatchObject({ sessions: 0, channels: 0 });
  });

  it('answers browsers on other origins with CORS headers, refusing origins not allowed', async () => {
    const open = await hubs.start();
    const any = await RawSseStream.open(`${open.url}/connection/sse?channel=cors:x`, {
      origin: 'http://app.test',
    });
    expect(any.response.headers.get('access-control-allow-origin')).toBe('*');
    await any.close();
    const strict = await hubs.start({ allowedOrigins: ['http://app.test'] });
    const listed = await RawSseStream.open(`${strict.url}/connection/sse?channel=cors:x`, {
      origin: 'http://app.test',
    });
    expect(listed.response.headers.get('access-control-allow-origin')).toBe('http://app.test');
    expect(listed.response.headers.get('access-control-allow-credentials')).toBe('true');
    await listed.close();
    const other = await fetch(`${strict.url}/connection/sse?channel=cors:x`, {
      headers: { origin: 'http://evil.test' },
    });
    expect(other.status).toBe(403);
    expect((await other.json()).error.code).toBe('origin_not_allowed');
    expect(strict.server.hub.getStats().sessions).toBe(0);
  });

  it('cuts a slow consumer at maxQueueBytes; its reconnect resumes', async () => {
    const hub = await hubs.start({ maxQueueBytes: 64 * 1024, sse: { retry: 0.02 } });
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const slow = new EventSourceSubscriber(`http://127.0.0.1:${proxy.port}/connection/sse?channel=slow:x`, [
      'slow:x',
    ]);
    const healthy = await RawSseStream.open(`${hub.url}/connection/sse?channel=slow:x`);
    await eventually(() => slow.live && healthy.controls.length === 2, 'both live');
    proxy.stallAll();
    const payload = 'x'.repeat(32 * 1024);
    for (let i = 0; i < 800 && hub.server.hub.getStats().slowConsumers === 0; i++) {
      await hub.publish('slow:x', payload);
    }
    await eventually(() => hub.server.hub.getStats().slowConsumers === 1, 'the slow consumer is cut');
    proxy.cutAll();
    const last = await hub.publish('slow:x', 'end');
    await eventually(() => slow.offset('slow:x') === last.offset, 'the slow consumer resumes to the end');
    await eventually(() => healthy.publications.at(-1)?.offset === last.offset, 'the healthy one has all');
    expect(slow.tally).toMatchObject({ duplicates: 0, outOfOrder: 0, notRecovered: 0 });
    expect(healthy.publications.map((p) => p.offset)).toEqual(
      Array.from({ length: last.offset }, (_, i) => i + 1),
    );
    slow.close();
    await healthy.close();
  });

  it('tells streams to come back later, spread out, when the hub shuts down', async () => {
    const hub = await hubs.start();
    const stream = await RawSseStream.open(`${hub.url}/connection/sse?channel=bye:x`);
    await eventually(() => stream.controls.length === 2, 'subscribed');
    await hub.close();
    await stream.ends();
    expect(stream.controls.at(-1)).toMatchObject({ type: 'disconnect', code: 4000, reconnect: true });
    const retry = stream.retries.at(-1) as number;
    expect(retry).toBeGreaterThanOrEqual(2000);
    expect(retry).toBeLessThanOrEqual(4000);
  });

  it('serves the same stream from the web-standard handler (Request -> Response)', async () => {
    const { handleRequest } = await import('../src/http/routes.ts');
    const hub = await createHub({ config: { sse: { heartbeat: 3600 } } });
    hubs.onCleanup(() => hub.close());
    const controller = new AbortController();
    const response = await handleRequest(
      new Request('http://hub.test/realtime/connection/sse?channel=web:x', { signal: controller.signal }),
      hub,
      '/realtime',
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await hub.publish('web:x', { data: 'hello' });
    let text = '';
    while (!text.includes('"hello"')) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/^retry: 2000\n\nevent: herald\ndata: \{"type":"connected"/);
    expect(text).toMatch(/\nid: [A-Za-z0-9_-]+\nevent: message\ndata: \{[^\n]*"offset":1[^\n]*\}\n\n$/);
    expect(hub.getStats().sessions).toBe(1);
    await reader.cancel();
    expect(hub.getStats().sessions).toBe(0);
  });
});
