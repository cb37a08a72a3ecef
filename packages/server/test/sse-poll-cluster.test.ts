import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishInBursts } from './support/bursts.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { expectEveryPublicationOnce, Poller } from './support/poll-client.ts';
import { RedisServer } from './support/redis-server.ts';
import { EventSourceSubscriber, expectEveryPublicationOnce as expectAllSse } from './support/sse-client.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { eventually } from './support/ws-client.ts';

const hubs = hubPerTest();
let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.stop();
});

/** Two hubs on one Redis behind a balancer that sends each new connection to the next hub. */
async function cluster(): Promise<{ nodes: TestHub[]; proxy: TcpProxy }> {
  const config = { broker: redis.url, sse: { retry: 0.02 } };
  const nodes = [await hubs.start(config), await hubs.start(config)];
  const proxy = await TcpProxy.start(nodes.map((n) => n.port));
  hubs.onCleanup(() => proxy.close());
  return { nodes, proxy };
}

describe('SSE and long-polling across hubs sharing Redis', () => {
  it('resumes an EventSource on whichever node it reconnects to, with every publication once, in order', async () => {
    const { nodes, proxy } = await cluster();
    const channels = ['cluster:sse-a', 'cluster:sse-b'];
    const url = `http://127.0.0.1:${proxy.port}/connection/sse?channel=${channels[0]}&channel=${channels[1]}`;
    const subscribers = Array.from({ length: 4 }, () => new EventSourceSubscriber(url, channels));
    await eventually(() => subscribers.every((s) => s.live), 'all streams live');
    const perChannel = 400;
    const cuts = await publishInBursts(
      (channel, n) => nodes[n % 2].publish(channel, n),
      channels,
      perChannel * 2,
      () => proxy.cutAll() > 0,
      () => eventually(() => subscribers.every((s) => s.live), 'all streams back'),
    );
    await expectAllSse(subscribers, perChannel);
    expect(cuts).toBeGreaterThan(0);
  });

  it('answers polls from either node with the same cursor, exactly once', async () => {
    const { nodes, proxy } = await cluster();
    const channels = ['cluster:poll-a', 'cluster:poll-b'];
    // Polls reuse a kept-alive connection until a cut; the next one lands on the other node.
    const pollers = Array.from(
      { length: 3 },
      () => new Poller(() => `http://127.0.0.1:${proxy.port}`, channels),
    );
    await eventually(() => pollers.every((p) => p.last.size === 2), 'every poller positioned');
    const perChannel = 300;
    await publishInBursts(
      (channel, n) => nodes[n % 2].publish(channel, n),
      channels,
      perChannel * 2,
      () => proxy.cutAll() > 0,
    );
    await expectEveryPublicationOnce(pollers, channels, perChannel);
  });
});
