import { describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

describe('slow consumer', () => {
  it('is disconnected once its send queue passes the cap, frees its buffers, and resumes from history', async () => {
    const hub = await hubs.start({ maxQueueBytes: 256 * 1024, namespaces: { '*': { historySize: 1000 } } });
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const fast = await WsTestClient.open(hub.wsUrl);
    await fast.call('subscribe', { channel: 'feed:big' });
    const slow = await WsTestClient.open(`ws://127.0.0.1:${proxy.port}/connection/websocket`);
    const start = await slow.call<{ epoch: string; offset: number }>('subscribe', { channel: 'feed:big' });
    proxy.stallAll();

    const total = 400;
    const chunk = 'x'.repeat(32 * 1024);
    for (let i = 0; i < total; i++) await hub.publish('feed:big', { i, chunk });

    await eventually(() => hub.server.hub.getStats().slowConsumers === 1, 'the stalled client is cut');
    // Its socket is gone too (terminated after a short grace), so the queued bytes are released.
    await eventually(() => hub.server.websocket.connections === 1, 'only the fast client remains', 10_000);
    expect(hub.server.hub.getStats().sessions).toBe(1);
    await eventually(() => fast.publications.length === total, 'the fast client gets everything');
    expect(fast.publications.map((p) => p.offset)).toEqual(Array.from({ length: total }, (_, i) => i + 1));

    // The cut client comes back and resumes from where it was: 12.5 MiB of catch-up under a 256 KiB cap
    // comes as the reply's first page, then the rest as pushes, as its socket drains.
    const back = await WsTestClient.open(hub.wsUrl);
    const resumed = await back.call<{ recovered: boolean; publications: { offset: number }[] }>('subscribe', {
      channel: 'feed:big',
      since: start,
    });
    expect(resumed.recovered).toBe(true);
    await eventually(
      () => resumed.publications.length + back.publications.length === total,
      'the resumed client catches up',
    );
    expect([...resumed.publications, ...back.publications].map((p) => p.offset)).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    expect(hub.server.hub.getStats().slowConsumers).toBe(1);
    back.close();
    fast.close();
  });
});
