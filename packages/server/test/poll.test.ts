import { decodeCursor, encodeCursor } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { publishInBursts } from './support/bursts.ts';
import { hubPerTest } from './support/hub.ts';
import { expectEveryPublicationOnce, Poller, poll } from './support/poll-client.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { eventually } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('long-polling: GET /connection/poll', () => {
  it('answers a first poll at once with positions, then holds until there is something', async () => {
    const hub = await hubs.start();
    const before = await hub.publish('lp:a', 'before');
    const first = await poll(hub.url, 'channel=lp:a&channel=lp:b');
    expect(first.publications).toEqual([]);
    expect(first.subscribed).toEqual([
      { type: 'subscribed', channel: 'lp:a', epoch: before.epoch, offset: 1 },
      expect.objectContaining({ type: 'subscribed', channel: 'lp:b', offset: 0 }),
    ]);
    expect(decodeCursor(first.cursor).position('lp:a')).toEqual(before);

    const held = poll(hub.url, `channel=lp:a&channel=lp:b&cursor=${first.cursor}`);
    await eventually(() => hub.server.hub.http.poll.waiting === 1, 'the poll is held');
    const published = await hub.publish('lp:b', { n: 1 }, { event: 'tick' });
    const second = await held;
    expect(second.subscribed).toEqual([]);
    expect(second.publications).toEqual([
      expect.objectContaining({
        channel: 'lp:b',
        offset: 1,
        epoch: published.epoch,
        data: { n: 1 },
        event: 'tick',
      }),
    ]);
    expect(decodeCursor(second.cursor).position('lp:b')).toEqual(published);
    expect(decodeCursor(second.cursor).position('lp:a')).toEqual(before);

    // What was published between two polls comes from history on the next one, at once.
    await hub.publish('lp:a', 2);
    await hub.publish('lp:a', 3);
    const third = await poll(hub.url, `channel=lp:a&channel=lp:b&cursor=${second.cursor}`);
    expect(third.publications.map((p) => [p.channel, p.offset])).toEqual([
      ['lp:a', 2],
      ['lp:a', 3],
    ]);
    await eventually(() => hub.server.hub.getStats().sessions === 0, 'every poll session released');
  });

  it('answers an empty batch with the same positions when the timeout passes', async () => {
    const hub = await hubs.start({ poll: { timeout: 0.2 } });
    const first = await poll(hub.url, 'channel=lp:idle');
    const idle = await poll(hub.url, `channel=lp:idle&cursor=${first.cursor}&timeout=30`);
    expect(idle).toEqual({ publications: [], subscribed: [], cursor: first.cursor });
    const now = await poll(hub.url, `channel=lp:idle&cursor=${first.cursor}&timeout=0`);
    expect(now.publications).toEqual([]);
    expect(hub.server.hub.getStats().sessions).toBe(0);
  });

  it('is exactly-once across many polls during bursts, with TCP cut at random points', async () => {
    const hub = await hubs.start();
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const channels = ['lp:x', 'lp:y'];
    const pollers = Array.from(
      { length: 6 },
      (_, i) => new Poller(() => `http://127.0.0.1:${i % 2 ? proxy.port : hub.port}`, channels),
    );
    await eventually(() => pollers.every((p) => p.last.size === 2), 'every poller positioned');
    const perChannel = 800;
    const cuts = await publishInBursts(
      (channel, n) => hub.publish(channel, n),
      channels,
      perChannel * 2,
      () => proxy.cutAll() > 0,
    );
    await expectEveryPublicationOnce(pollers, channels, perChannel);
    expect(cuts).toBeGreaterThan(2);
    expect(pollers.reduce((n, p) => n + p.tally.failures, 0)).toBeGreaterThan(0);
  });

  it('reports recovered:false when history no longer covers the cursor, then continues from the end', async () => {
    const hub = await hubs.start({ namespaces: { '*': {}, tiny: { historySize: 3 } } });
    const first = await poll(hub.url, 'channel=tiny:x');
    for (let i = 0; i < 10; i++) await hub.publish('tiny:x', i);
    const lost = await poll(hub.url, `channel=tiny:x&cursor=${first.cursor}`);
    expect(lost.publications).toEqual([]);
    expect(lost.subscribed).toEqual([
      expect.objectContaining({ channel: 'tiny:x', offset: 10, recovered: false }),
    ]);
    await hub.publish('tiny:x', 'next');
    const next = await poll(hub.url, `channel=tiny:x&cursor=${lost.cursor}`);
    expect(next.publications.map((p) => p.offset)).toEqual([11]);
    expect(next.subscribed).toEqual([]);

    const forged = encodeCursor({ 'tiny:x': { epoch: 'not-this', offset: 11 } });
    const reset = await poll(hub.url, `channel=tiny:x&cursor=${forged}`);
    expect(reset.subscribed).toEqual([expect.objectContaining({ offset: 11, recovered: false })]);
  });

  it('refuses bad requests with a specific error and keeps nothing', async () => {
    const hub = await hubs.start();
    const error = async (query: string, init: RequestInit = {}) => {
      const res = await fetch(`${hub.url}/connection/poll?${query}`, init);
      return [res.status, (await res.json()).error.code];
    };
    expect(await error('channel=lp:a&cursor=%%%')).toEqual([400, 'bad_cursor']);
    expect(await error('channel=lp:a&cursor=AQAAAAAA')).toEqual([400, 'bad_cursor']);
    expect(await error('')).toEqual([400, 'bad_request']);
    expect(await error('channel=lp:a&timeout=soon')).toEqual([400, 'bad_request']);
    expect(await error('channel=no%20way')).toEqual([400, 'invalid_channel']);
    expect(await error('channel=lp:a&token=forged')).toEqual([401, 'unauthorized']);
    expect(await error('channel=lp:a', { method: 'POST' })).toEqual([405, 'method_not_allowed']);
    expect(hub.server.hub.getStats()).toMatchObject({ sessions: 0, channels: 0 });
  });

  it('releases a held poll when the client goes away', async () => {
    const hub = await hubs.start();
    const first = await poll(hub.url, 'channel=lp:gone');
    const abort = new AbortController();
    const held = poll(hub.url, `channel=lp:gone&cursor=${first.cursor}`, { signal: abort.signal });
    await eventually(() => hub.server.hub.http.poll.waiting === 1, 'held');
    abort.abort();
    await expect(held).rejects.toThrow();
    await eventually(() => hub.server.hub.getStats().sessions === 0, 'session released');
    expect(hub.server.hub.http.poll.waiting).toBe(0);
  });
});
