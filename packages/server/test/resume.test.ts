import { describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { ResumingSubscriber } from './support/resuming-subscriber.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('resume after a cut connection', () => {
  it('delivers every publication exactly once, in order, when TCP is cut at random points during bursts', async () => {
    const total = 3000;
    // History holds every publication: on a loaded machine a cut can land after a burst's wait for
    // reconnects, leaving a subscriber away for several bursts; this test is about exactly-once, not
    // about the history window (which has its own tests).
    const hub = await hubs.start({ namespaces: { '*': { historySize: total } } });
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const subscribers = Array.from(
      { length: 20 },
      () => new ResumingSubscriber(`ws://127.0.0.1:${proxy.port}/connection/websocket`, 'feed:cuts', total),
    );
    await Promise.all(subscribers.map((s) => s.start()));
    let cuts = 0;
    for (let sent = 0, burstNo = 0; sent < total; burstNo++) {
      const burst = 1 + Math.floor(Math.random() * 200);
      const publishes = [];
      // Cut every third burst while it is in flight, at a random moment: at least 5 cuts in 3,000
      // publications (bursts are at most 200), however the machine schedules the timers.
      const cut =
        burstNo % 3 === 0 &&
        new Promise<void>((cutDone) =>
          setTimeout(() => {
            cuts += proxy.cutAll() > 0 ? 1 : 0;
            cutDone();
          }, Math.random() * 10),
        );
      for (let i = 0; i < burst && sent < total; i++, sent++)
        publishes.push(hub.publish('feed:cuts', { n: sent }));
      await Promise.all(publishes);
      // Let everyone come back before the next cut, so each cut hits live subscriptions.
      if (cut) {
        await cut;
        await eventually(() => subscribers.every((s) => s.live), 'all subscribers reconnected');
      }
    }
    await eventually(
      () => subscribers.every((s) => s.offset === total),
      'every subscriber reaches the last offset',
      30_000,
    );
    for (const s of subscribers) {
      s.stop();
      expect(s.tally.duplicates).toBe(0);
      expect(s.tally.outOfOrder).toBe(0);
      expect(s.tally.notRecovered).toBe(0);
      expect(s.tally.received).toBe(total);
    }
    expect(cuts).toBeGreaterThan(3);
    expect(subscribers.reduce((n, s) => n + s.tally.reconnects, 0)).toBeGreaterThan(3);
  });

  it('merges publications racing the history read: none lost, none doubled', async () => {
    const hub = await hubs.start();
    const first = await WsTestClient.open(hub.wsUrl);
    const start = await first.call<{ epoch: string; offset: number }>('subscribe', { channel: 'race:x' });
    first.close();
    // Publish continuously while many clients subscribe from the same old position.
    let publishing = true;
    let published = 0;
    const publisher = (async () => {
      while (publishing && published < 5000) {
        await hub.publish('race:x', published++);
      }
    })();
    const clients = [];
    for (let i = 0; i < 10; i++) {
      const c = await WsTestClient.open(hub.wsUrl);
      const reply = await c.call<{ recovered: boolean; publications: { offset: number }[] }>('subscribe', {
        channel: 'race:x',
        since: { epoch: start.epoch, offset: start.offset },
      });
      expect(reply.recovered).toBe(true);
      clients.push({ c, recovered: reply.publications.map((p) => p.offset) });
    }
    publishing = false;
    await publisher;
    for (const { c, recovered } of clients) {
      await eventually(
        () => recovered.length + c.publications.length >= published,
        'recovered + live reach the end',
      );
      const offsets = [...recovered, ...c.publications.map((p) => p.offset)];
      expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      c.close();
    }
  });
});

describe('recovered: false', () => {
  it('is reported with the current position when history was trimmed past the client position', async () => {
    const hub = await hubs.start({ namespaces: { '*': { historySize: 5 } } });
    const c = await WsTestClient.open(hub.wsUrl);
    const sub = await c.call<{ epoch: string; offset: number }>('subscribe', { channel: 'news:1' });
    await c.call('unsubscribe', { channel: 'news:1' });
    for (let i = 0; i < 10; i++) await hub.publish('news:1', i);
    const again = await c.call<Record<string, unknown>>('subscribe', {
      channel: 'news:1',
      since: { epoch: sub.epoch, offset: sub.offset },
    });
    expect(again).toMatchObject({ recovered: false, epoch: sub.epoch, offset: 10, publications: [] });
    await hub.publish('news:1', 'next');
    await eventually(() => c.publications.length === 1, 'live publication after reset');
    expect(c.publications[0].offset).toBe(11);
    c.close();
  });

  it('recovers exactly when history still reaches back', async () => {
    const hub = await hubs.start({ namespaces: { '*': { historySize: 5 } } });
    const c = await WsTestClient.open(hub.wsUrl);
    for (let i = 0; i < 10; i++) await hub.publish('news:1', i);
    const again = await c.call<{ recovered: boolean; publications: { offset: number }[] }>('subscribe', {
      channel: 'news:1',
      since: { epoch: (await hub.publish('news:1', 10)).epoch, offset: 6 },
    });
    expect(again.recovered).toBe(true);
    expect(again.publications.map((p) => p.offset)).toEqual([7, 8, 9, 10, 11]);
    c.close();
  });

  it('is reported when the epoch changed (the hub restarted and lost its memory)', async () => {
    const first = await hubs.start();
    const before = await first.publish('chat:r', 'a');
    await first.close();
    const hub = await hubs.start({}, { port: first.port });
    await hub.publish('chat:r', 'b');
    const c = await WsTestClient.open(hub.wsUrl);
    const reply = await c.call<Record<string, unknown>>('subscribe', { channel: 'chat:r', since: before });
    expect(reply.recovered).toBe(false);
    expect(reply.epoch).not.toBe(before.epoch);
    expect(reply.offset).toBe(1);
    c.close();
  });

  it('is reported for a position ahead of the stream (forged or from another hub)', async () => {
    const hub = await hubs.start();
    const pos = await hub.publish('chat:r', 'a');
    const c = await WsTestClient.open(hub.wsUrl);
    const reply = await c.call<Record<string, unknown>>('subscribe', {
      channel: 'chat:r',
      since: { epoch: pos.epoch, offset: 999 },
    });
    expect(reply).toMatchObject({ recovered: false, offset: 1 });
    c.close();
  });
});
