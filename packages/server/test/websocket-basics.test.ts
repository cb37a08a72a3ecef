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
});
