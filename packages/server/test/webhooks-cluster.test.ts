import type { WebhookEvent } from '@herald/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../src/brokers/redis-broker.ts';
import type { HeraldConfigInput } from '../src/config.ts';
import { HeraldNodes } from './support/herald-nodes.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { RedisServer } from './support/redis-server.ts';
import { SECRET, sign } from './support/tokens.ts';
import { WebhookReceiver } from './support/webhook-receiver.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();
let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  hubs.onCleanup(() => r.stop());
  return r;
}

function config(r: WebhookReceiver, graceSeconds: number, extra: HeraldConfigInput = {}): HeraldConfigInput {
  return {
    tokenSecret: SECRET,
    webhooks: [{ url: r.url, secret: r.secret, retryDelayMs: 20 }],
    presence: { grace: graceSeconds },
    ...extra,
  };
}

/** `count` hubs in this process, each with its own Redis broker on the shared Redis (its own key prefix). */
async function cluster(count: number, hubConfig: HeraldConfigInput, prefix: string): Promise<TestHub[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      hubs.start(hubConfig, { broker: new RedisBroker({ url: redis.url, prefix, sweepInterval: 200 }) }),
    ),
  );
}

async function connect(wsUrl: string, user: string): Promise<{ ws: WsTestClient; id: string }> {
  const ws = await WsTestClient.open(wsUrl);
  const result = await ws.call<{ client: string }>('connect', { token: await sign({ sub: user }) });
  return { ws, id: result.client };
}

/** How many times each event (type and data) arrived: a cluster must send each exactly once. */
function tally(events: WebhookEvent[], types: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (!types.includes(e.type)) continue;
    const key = `${e.type} ${JSON.stringify(e.data)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CLUSTER_TYPES = ['channel.occupied', 'channel.vacated', 'presence.joined', 'presence.left'];

describe('lifecycle webhooks across nodes (Redis broker)', () => {
  it.each([2, 3])(
    'with %i hubs, sends each occupied, vacated, joined and left exactly once',
    async (count) => {
      const r = await receiver();
      const nodes = await cluster(count, config(r, 0.3), `wh${count}:`);
      // Nine users spread over the nodes, all at once, into one shared channel and one channel per node.
      const users = Array.from({ length: 9 }, (_, i) => `u${i}`);
      const clients = await Promise.all(
        users.map(async (user, i) => {
          const client = await connect(nodes[i % count].wsUrl, user);
          await Promise.all([
            client.ws.call('subscribe', { channel: 'room:all' }),
            client.ws.call('subscribe', { channel: `room:node${i % count}` }),
          ]);
          return { ...client, user };
        }),
      );
      await eventually(() => r.of('presence.joined').length === 9 + 9, 'every join');
      await Promise.all(
        clients.map(async ({ ws }, i) => {
          if (i % 2 === 0) await ws.call('unsubscribe', { channel: 'room:all' });
          ws.close();
          await ws.closed;
        }),
      );
      await eventually(() => r.of('channel.vacated').length === 1 + count, 'every channel vacated');
      await sleep(1_000); // room for a second sender to show itself
      const counts = tally(r.events, CLUSTER_TYPES);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      expect(
        r
          .of('channel.occupied')
          .map((e) => e.data.channel)
          .sort(),
      ).toEqual(['room:all', ...Array.from({ length: count }, (_, n) => `room:node${n}`)].sort());
      expect(
        r
          .of('channel.vacated')
          .map((e) => e.data.channel)
          .sort(),
      ).toEqual(['room:all', ...Array.from({ length: count }, (_, n) => `room:node${n}`)].sort());
      const joinedAll = r.of('presence.joined').filter((e) => e.data.channel === 'room:all');
      const leftAll = r.of('presence.left').filter((e) => e.data.channel === 'room:all');
      expect(joinedAll.map((e) => e.data.member.client).sort()).toEqual(clients.map((c) => c.id).sort());
      expect(leftAll.map((e) => e.data.member.client).sort()).toEqual(clients.map((c) => c.id).sort());
      // Per channel, occupied before vacated.
      const room = r.events.filter((e) => e.data && (e.data as { channel?: string }).channel === 'room:all');
      const types = room
        .map((e) => e.type)
        .filter((t) => t === 'channel.occupied' || t === 'channel.vacated');
      expect(types).toEqual(['channel.occupied', 'channel.vacated']);
      // Decided in Redis, stamped with its clock: timestamps order a channel's events across nodes.
      for (const channel of new Set(r.of('channel.occupied').map((e) => e.data.channel))) {
        const [occupied] = r.of('channel.occupied').filter((e) => e.data.channel === channel);
        const [vacated] = r.of('channel.vacated').filter((e) => e.data.channel === channel);
        expect(Date.parse(occupied.timestamp)).toBeLessThanOrEqual(Date.parse(vacated.timestamp));
      }
      expect(r.of('client.connected')).toHaveLength(9);
      expect(r.of('client.disconnected')).toHaveLength(9);
    },
  );

  it('damps a user who moves to another node within the grace', async () => {
    const r = await receiver();
    const [a, b] = await cluster(2, config(r, 1.5), 'whflap:');
    const first = await connect(a.wsUrl, 'ann');
    await first.ws.call('subscribe', { channel: 'room:1' });
    await eventually(() => r.of('presence.joined').length === 1, 'joined');
    first.ws.terminate();
    await eventually(() => r.of('client.disconnected').length === 1, 'the first connection gone');
    const second = await connect(b.wsUrl, 'ann');
    await second.ws.call('subscribe', { channel: 'room:1' });
    await sleep(2_500);
    expect(r.of('presence.joined')).toHaveLength(1);
    expect(r.of('presence.left')).toEqual([]);
    expect(r.of('channel.occupied')).toHaveLength(1);
    expect(r.of('channel.vacated')).toEqual([]);
    second.ws.close();
    await eventually(() => r.of('channel.vacated').length === 1, 'vacated after the grace');
    expect(r.of('presence.left').map((e) => e.data.member.client)).toEqual([first.id]);
  });

  it("reports a SIGKILLed node's members, channels and clients from the survivors, once", async () => {
    const r = await receiver();
    const nodes = await HeraldNodes.start(3, redis.url, config(r, 0.5, { presenceTtl: 2 }));
    hubs.onCleanup(() => nodes.killAll());
    const wsUrl = (i: number) => nodes.nodes[i].wsUrl;
    const watcher = await connect(wsUrl(0), 'watcher');
    await watcher.ws.call('subscribe', { channel: 'room:1' });
    const doomed = await Promise.all(['x', 'y'].map((user) => connect(wsUrl(2), user)));
    for (const { ws } of doomed) await ws.call('subscribe', { channel: 'room:1' });
    await doomed[0].ws.call('subscribe', { channel: 'solo:1' });
    await eventually(() => r.of('presence.joined').length === 4, 'every join');

    await nodes.kill(2);
    await eventually(
      () =>
        r.of('client.disconnected').length === 2 &&
        r.of('presence.left').length === 3 &&
        r.of('channel.vacated').length === 1,
      "the lost node's leaves, vacancy and disconnects",
      20_000,
    );
    await sleep(2_000); // the other survivor must not send them again
    const lost = r.of('client.disconnected');
    expect(lost.map((e) => e.data.client).sort()).toEqual(doomed.map((d) => d.id).sort());
    for (const e of lost) expect(e.data).toMatchObject({ reason: 'node_lost', code: 1006 });
    expect(
      r
        .of('presence.left')
        .map((e) => `${e.data.channel} ${e.data.member.user}`)
        .sort(),
    ).toEqual(['room:1 x', 'room:1 y', 'solo:1 x']);
    expect(r.of('channel.vacated').map((e) => e.data.channel)).toEqual(['solo:1']);
    expect([...tally(r.events, CLUSTER_TYPES).values()].every((n) => n === 1)).toBe(true);
    // The watcher's node goes on: its member and channel stay.
    expect(r.of('presence.left').some((e) => e.data.member.user === 'watcher')).toBe(false);
    watcher.ws.close();
  });
});
