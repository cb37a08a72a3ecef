import {
  encodeCursor,
  type HistoryOptions,
  type HistoryResult,
  type Publication,
  readWholeHistory,
} from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { createHub } from '../src/server.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { nonReadingClient } from './support/non-reading-client.ts';
import { poll } from './support/poll-client.ts';
import { EventSourceSubscriber, expectEveryPublicationOnce } from './support/sse-client.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/** Fills `channel` with `count` publications of about `size` bytes each. */
async function fill(hub: TestHub, channel: string, count: number, size: number): Promise<string> {
  const chunk = 'x'.repeat(size);
  let epoch = '';
  for (let i = 0; i < count; i += 25) {
    const done = await Promise.all(
      Array.from({ length: Math.min(25, count - i) }, () => hub.publish(channel, { chunk })),
    );
    epoch = done[0].epoch;
  }
  return epoch;
}

/** Publishes `count` small publications one after another while `during` runs. */
async function publishWhile(hub: TestHub, channel: string, count: number, during: Promise<unknown>) {
  for (let i = 0; i < count; i++) await hub.publish(channel, { live: i });
  await during;
}

const offsets = (pubs: { offset: number }[]) => pubs.map((p) => p.offset);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('every byte queued for a connection counts against maxQueueBytes', () => {
  it('cuts clients that ask for history and never read, never holding more than the cap for any connection', async () => {
    const maxQueueBytes = 1024 * 1024;
    const hub = await hubs.start({ maxQueueBytes, namespaces: { '*': { historySize: 1000 } } });
    await fill(hub, 'big:x', 200, 32 * 1024);
    const bystander = await WsTestClient.open(hub.wsUrl);
    await bystander.call('subscribe', { channel: 'big:x' });

    // What each connection holds when it is cut, and at any moment the test looks.
    const hubCore = hub.server.hub;
    const queuedAtCut: number[] = [];
    const cut = hubCore.dropSlowConsumer.bind(hubCore);
    hubCore.dropSlowConsumer = (session) => {
      queuedAtCut.push(session.sink.queuedBytes());
      cut(session);
    };
    let mostQueued = 0;
    const sampler = setInterval(() => {
      for (const session of hubCore.sessions) mostQueued = Math.max(mostQueued, session.sink.queuedBytes());
    }, 2);
    hubs.onCleanup(() => clearInterval(sampler));
    // 40 history replies of half a MiB each are far more than the cap and the kernel's socket buffers.
    const history = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ id: i + 1, type: 'history', channel: 'big:x' }),
    );
    const attackers = await Promise.all(Array.from({ length: 3 }, () => nonReadingClient(hub.port, history)));
    hubs.onCleanup(() => {
      for (const socket of attackers) socket.destroy();
    });

    await publishWhile(
      hub,
      'big:x',
      50,
      eventually(() => hub.server.hub.getStats().slowConsumers === 3, 'every non-reading client is cut'),
    );
    await eventually(() => hub.server.websocket.connections === 1, 'only the bystander remains', 10_000);
    clearInterval(sampler);
    expect(mostQueued).toBeLessThanOrEqual(maxQueueBytes);
    // History replies are made one at a time, each sized to the room the others left: once the queue
    // holds a page, a reply is a single publication, and the one that passes the cap cuts the client.
    expect(queuedAtCut).toHaveLength(3);
    for (const queued of queuedAtCut) {
      expect(queued).toBeGreaterThan(maxQueueBytes);
      expect(queued).toBeLessThanOrEqual(maxQueueBytes + 40 * 1024);
    }
    await eventually(() => bystander.publications.length === 50, 'the bystander gets every publication');
    expect(offsets(bystander.publications)).toEqual(range(201, 250));
    expect(hub.server.hub.getStats()).toMatchObject({ sessions: 1, slowConsumers: 3 });
    bystander.close();
  });

  it('pages history replies by bytes: `next` asks for the rest, forward and newest first', async () => {
    const hub = await hubs.start({ maxQueueBytes: 64 * 1024 });
    await fill(hub, 'log:x', 40, 4 * 1024);
    const client = await WsTestClient.open(hub.wsUrl);

    const follow = async (first: Record<string, unknown>) => {
      const pages: HistoryResult[] = [await client.call<HistoryResult>('history', first)];
      for (let next = pages[0].next; next; next = pages.at(-1)?.next)
        pages.push(await client.call<HistoryResult>('history', { ...first, ...next }));
      return pages;
    };
    const forward = await follow({ channel: 'log:x' });
    expect(forward.length).toBeGreaterThan(2);
    for (const page of forward) {
      expect(page.offset).toBe(40);
      // A page is at most half the cap (32 KiB): 7 of these publications.
      expect(page.publications.length).toBeLessThanOrEqual(7);
    }
    expect(offsets(forward.flatMap((p) => p.publications))).toEqual(range(1, 40));

    const newestFirst = await follow({ channel: 'log:x', reverse: true, limit: 30 });
    expect(offsets(newestFirst.flatMap((p) => p.publications))).toEqual(range(11, 40).reverse());

    const since = await follow({
      channel: 'log:x',
      since: { epoch: forward[0].epoch, offset: 25 },
      limit: 10,
    });
    expect(offsets(since.flatMap((p) => p.publications))).toEqual(range(26, 35));
    expect(since.at(-1)?.next).toBeUndefined();

    // The HTTP action pages the same way.
    const res = await fetch(`${hub.url}/connection/history`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'log:x' }),
    });
    const page = (await res.json()) as HistoryResult;
    // The rest of what was asked for: the channel's history size (1000) less what came.
    expect(page.next).toEqual({
      since: { epoch: page.epoch, offset: page.publications.length },
      limit: 1000 - page.publications.length,
    });
    expect(offsets(page.publications)).toEqual(range(1, page.publications.length));
    client.close();
  });

  it('pages the same over history that was trimmed: nothing repeated, nothing made up', async () => {
    const hub = await hubs.start({ maxQueueBytes: 16 * 1024, namespaces: { '*': { historySize: 10 } } });
    const epoch = await fill(hub, 'trim:x', 30, 2 * 1024);
    // History holds 21..30; a page holds 3 of these.
    const read = async (query: HistoryOptions) =>
      offsets((await readWholeHistory((q) => hub.server.hub.history('trim:x', q), query)).publications);
    expect(await read({})).toEqual(range(21, 30));
    expect(await read({ reverse: true })).toEqual(range(21, 30).reverse());
    // Newest first after 15: offsets 16..25 (a limit is at most historySize), of which history holds 21..25.
    expect(await read({ since: { epoch, offset: 15 }, limit: 10, reverse: true })).toEqual(
      range(21, 25).reverse(),
    );
    expect(await read({ since: { epoch, offset: 22 }, limit: 5 })).toEqual(range(23, 27));
  });

  it('a publication larger than a page still goes out, alone', async () => {
    const hub = await hubs.start({ maxQueueBytes: 64 * 1024, maxPayloadBytes: 48 * 1024 });
    await fill(hub, 'wide:x', 3, 40 * 1024);
    const client = await WsTestClient.open(hub.wsUrl);
    const pages = [await client.call<HistoryResult>('history', { channel: 'wide:x', limit: 3 })];
    for (let next = pages[0].next; next; next = pages.at(-1)?.next)
      pages.push(await client.call<HistoryResult>('history', { channel: 'wide:x', ...next }));
    expect(pages.map((p) => offsets(p.publications))).toEqual([[1], [2], [3]]);
    client.close();
  });
});

describe('a catch-up larger than maxQueueBytes is paged as the connection drains', () => {
  const maxQueueBytes = 64 * 1024;
  const stored = 300;
  const live = 50;

  it('on WebSocket: the subscribe reply, then pushes, every publication once in order', async () => {
    const hub = await hubs.start({ maxQueueBytes });
    const epoch = await fill(hub, 'resume:ws', stored, 4 * 1024);
    const client = await WsTestClient.open(hub.wsUrl);
    const subscribed = client.call<{ recovered: boolean; publications: Publication[] }>('subscribe', {
      channel: 'resume:ws',
      since: { epoch, offset: 0 },
    });
    await publishWhile(hub, 'resume:ws', live, subscribed);
    const result = await subscribed;
    expect(result.recovered).toBe(true);
    expect(result.publications.length).toBeLessThan(stored);
    await eventually(
      () => result.publications.length + client.publications.length === stored + live,
      'caught up and live',
    );
    expect(offsets([...result.publications, ...client.publications])).toEqual(range(1, stored + live));
    expect(hub.server.hub.getStats().slowConsumers).toBe(0);
    client.close();
  });

  it('on WebSocket, connect resuming several channels: their first pages share the room', async () => {
    const hub = await hubs.start({ maxQueueBytes });
    const channels = ['many:a', 'many:b', 'many:c', 'many:d'];
    const epochs = await Promise.all(channels.map((channel) => fill(hub, channel, 100, 4 * 1024)));
    const client = await WsTestClient.open(hub.wsUrl);
    const subs = Object.fromEntries(channels.map((c, i) => [c, { since: { epoch: epochs[i], offset: 0 } }]));
    const connected = await client.call<{
      subs: Record<string, { recovered: boolean; publications: Publication[] }>;
    }>('connect', { subs });
    const inReply = channels.flatMap((c) => connected.subs[c].publications);
    // Four first pages of half the cap each would have cut the client: together they fit in one page.
    expect(Buffer.byteLength(JSON.stringify(inReply))).toBeLessThanOrEqual(maxQueueBytes / 2);
    await eventually(() => inReply.length + client.publications.length === 400, 'every channel caught up');
    for (const channel of channels) {
      const got = [...inReply, ...client.publications].filter((p) => p.channel === channel);
      expect(offsets(got)).toEqual(range(1, 100));
      expect(connected.subs[channel].recovered).toBe(true);
    }
    expect(hub.server.hub.getStats().slowConsumers).toBe(0);
    client.close();
  });

  it('on SSE (eventsource package, Last-Event-ID at offset 0): every publication once in order', async () => {
    const hub = await hubs.start({ maxQueueBytes });
    const epoch = await fill(hub, 'resume:sse', stored, 4 * 1024);
    const lastEventId = encodeCursor({ 'resume:sse': { epoch, offset: 0 } });
    const subscriber = new EventSourceSubscriber(
      `${hub.url}/connection/sse?channel=resume:sse`,
      ['resume:sse'],
      {
        // The first request resumes from offset 0; the package's own reconnects send their own id.
        fetch: (input, init) => {
          const headers = new Headers(init?.headers);
          if (!headers.has('last-event-id')) headers.set('last-event-id', lastEventId);
          return fetch(input, { ...init, headers });
        },
      },
    );
    // It resumes: what it holds is offset 0 (the `subscribed` event names where the recovered page ends).
    subscriber.positions.set('resume:sse', { epoch, offset: 0 });
    await publishWhile(
      hub,
      'resume:sse',
      live,
      eventually(() => subscriber.offset('resume:sse') >= 1, 'the catch-up has begun'),
    );
    await expectEveryPublicationOnce([subscriber], stored + live);
    expect(subscriber.tally.opens).toBe(1);
    expect(hub.server.hub.getStats().slowConsumers).toBe(0);
  });

  it('on SSE from the web-standard handler: pages follow as its reader reads', async () => {
    const { handleRequest } = await import('../src/http/routes.ts');
    const hub = await createHub({ config: { maxQueueBytes, sse: { heartbeat: 3600 } } });
    hubs.onCleanup(() => hub.close());
    const chunk = 'x'.repeat(4 * 1024);
    let epoch = '';
    for (let i = 0; i < stored; i++) epoch = (await hub.publish('resume:web', { data: { chunk } })).epoch;
    const response = await handleRequest(
      new Request('http://hub.test/connection/sse?channel=resume:web', {
        headers: { 'last-event-id': encodeCursor({ 'resume:web': { epoch, offset: 0 } }) },
      }),
      hub,
      '',
    );
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const read = (async () => {
      while (!text.includes(`"offset":${stored + live},`)) {
        const { value } = await reader.read();
        text += decoder.decode(value, { stream: true });
        // A slow reader: the hub must wait for it, not queue the rest.
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    for (let i = 0; i < live; i++) await hub.publish('resume:web', { data: { live: i } });
    await read;
    const sent = [...text.matchAll(/\nevent: message\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]));
    expect(offsets(sent)).toEqual(range(1, stored + live));
    expect(hub.getStats().slowConsumers).toBe(0);
    await reader.cancel();
  });

  it('on long-polling: each answer a page, the cursor resuming the next, every publication once in order', async () => {
    const hub = await hubs.start({ maxQueueBytes });
    const epoch = await fill(hub, 'resume:poll', stored, 4 * 1024);
    let cursor = encodeCursor({ 'resume:poll': { epoch, offset: 0 } });
    const received: Publication[] = [];
    let polls = 0;
    const reader = (async () => {
      while (received.length < stored + live) {
        const answer = await poll(hub.url, `channel=resume:poll&cursor=${cursor}&timeout=5`);
        polls++;
        expect(Buffer.byteLength(JSON.stringify(answer.publications))).toBeLessThanOrEqual(maxQueueBytes);
        received.push(...answer.publications);
        cursor = answer.cursor;
      }
    })();
    await publishWhile(hub, 'resume:poll', live, reader);
    expect(offsets(received)).toEqual(range(1, stored + live));
    expect(polls).toBeGreaterThan(10);
  });
});
