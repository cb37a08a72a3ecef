import { describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('WebSocket transport', () => {
  it('delivers publications to every subscriber in offset order, once', async () => {
    const hub = await hubs.start();
    const clients = await Promise.all([1, 2, 3].map(() => WsTestClient.open(hub.wsUrl)));
    for (const c of clients) await c.call('connect', { subs: { 'chat:room': {} } });
    for (let i = 0; i < 200; i++) await hub.publish('chat:room', { i });
    for (const c of clients) {
      await eventually(() => c.publications.length === 200, 'all 200 publications');
      expect(c.publications.map((p) => p.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(c.publications.map((p) => (p.data as { i: number }).i)).toEqual(
        Array.from({ length: 200 }, (_, i) => i),
      );
      c.close();
    }
  });

  it('connects implicitly when the first command is not connect', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    const sub = await c.call<{ epoch: string; offset: number }>('subscribe', { channel: 'news' });
    expect(sub.offset).toBe(0);
    const pub = await c.call<{ offset: number }>('publish', { channel: 'news', data: 'hi' });
    expect(pub.offset).toBe(1);
    await eventually(() => c.publications.length === 1, 'own publication');
    c.close();
  });

  it('keeps each of many subscriptions apart: repeats refused, unsubscribes exact, deliveries per channel', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    const channels = Array.from({ length: 20 }, (_, i) => `many:c${i}`);
    await c.call('connect', { subs: Object.fromEntries(channels.slice(0, 5).map((ch) => [ch, {}])) });
    for (const channel of channels.slice(5)) await c.call('subscribe', { channel });
    for (const channel of [channels[0], channels[7], channels[19]]) {
      expect(await c.command('subscribe', { channel })).toMatchObject({
        error: { code: 'already_subscribed' },
      });
    }
    const dropped = [channels[2], channels[9], channels[19]];
    for (const channel of dropped) await c.call('unsubscribe', { channel });
    expect(await c.command('unsubscribe', { channel: channels[9] })).toMatchObject({
      error: { code: 'not_subscribed' },
    });
    await c.call('subscribe', { channel: channels[9] });
    for (const channel of channels) await hub.publish(channel, { channel });
    const expected = channels.filter((ch) => ch === channels[9] || !dropped.includes(ch));
    await eventually(() => c.publications.length === expected.length, `${expected.length} publications`);
    expect(c.publications.map((p) => p.channel)).toEqual(expected);
    c.close();
  });
});
