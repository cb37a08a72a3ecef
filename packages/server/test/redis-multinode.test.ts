import type { PresenceMember } from '@herald/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { HeraldConfigInput } from '../src/config.ts';
import { HeraldNodes } from './support/herald-nodes.ts';
import { expectEveryPublicationOnce as expectEveryPollOnce, Poller } from './support/poll-client.ts';
import { RedisServer } from './support/redis-server.ts';
import { ResumingSubscriber } from './support/resuming-subscriber.ts';
import {
  EventSourceSubscriber,
  expectEveryPublicationOnce as expectEverySseOnce,
  RawSseStream,
} from './support/sse-client.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const config: HeraldConfigInput = {
  presenceTtl: 2,
  sse: { retry: 0.05, heartbeat: 1 },
  poll: { timeout: 2 },
  namespaces: { '*': { presence: true, joinLeave: true } },
};

let redis: RedisServer | undefined;
let nodes: HeraldNodes | undefined;
const closers: Array<() => unknown> = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  nodes?.killAll();
  nodes = undefined;
  await redis?.stop();
  redis = undefined;
});

async function startDeployment(count: number, options: { persistent?: boolean } = {}) {
  redis = await RedisServer.start(options);
  nodes = await HeraldNodes.start(count, redis.url, config);
  return { redis, nodes };
}

describe('three hub nodes on one Redis', () => {
  it('every subscriber on every transport gets the whole sequence, in order, once, while a node dies and Redis restarts', async () => {
    const { redis, nodes } = await startDeployment(3, { persistent: true });
    const channels = ['race:a', 'race:b'];
    const perPublisher = 150;
    const perChannel = (perPublisher * 3) / channels.length;

    // Subscribers on all three transports, spread over the nodes; each moves on when its node fails.
    const ws = nodes.nodes.flatMap((node) =>
      channels.map(
        (channel) =>
          new ResumingSubscriber(
            nodes.rotation(node.index, (n) => n.wsUrl),
            channel,
            perChannel,
          ),
      ),
    );
    closers.push(() => {
      for (const s of ws) s.stop();
    });
    const sse = nodes.nodes.map(
      (node) =>
        new EventSourceSubscriber(`${node.url}/connection/sse?channel=race:a&channel=race:b`, channels, {
          fetch: nodes.failoverFetch(node.index),
        }),
    );
    closers.push(() => {
      for (const s of sse) s.close();
    });
    const pollers = nodes.nodes.map(
      (node) =>
        new Poller(
          nodes.rotation(node.index, (n) => n.url),
          channels,
        ),
    );
    closers.push(() => Promise.all(pollers.map((p) => p.stop())));
    await Promise.all(ws.map((s) => s.start()));
    await eventually(() => sse.every((s) => s.live), 'every SSE stream open with both channels');
    await eventually(() => pollers.every((p) => p.last.size === 2), 'every poller positioned');

    // Publishers on every node; a third of the way in one node dies, two thirds in Redis restarts.
    let published = 0;
    const events: Promise<void>[] = [];
    const milestones = new Map<number, () => Promise<void>>([
      [Math.floor(perPublisher * 1), () => nodes.kill(1)],
      [Math.floor(perPublisher * 2), () => redis.restart()],
    ]);
    let unavailable = 0;
    const publishers = [0, 1, 2].map(async (p) => {
      for (let i = 1; i <= perPublisher; i++) {
        const result = await nodes.publish(p, channels[i % 2], { p, i }, `p${p}-${i}`);
        unavailable += result.unavailable;
        const milestone = milestones.get(++published);
        if (milestone) events.push(milestone());
        await new Promise((r) => setTimeout(r, 3));
      }
    });
    await Promise.all(publishers);
    await Promise.all(events);

    // History holds each publisher's sequence exactly once: retries across nodes and the restart doubled nothing.
    for (const channel of channels) {
      const res = await fetch(`${nodes.nodes[0].url}/api/history`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel }),
      });
      const page = (await res.json()) as {
        offset: number;
        publications: Array<{ data: { p: number; i: number } }>;
      };
      expect(page.offset).toBe(perChannel);
      const keys = page.publications.map((pub) => `${pub.data.p}-${pub.data.i}`);
      expect(new Set(keys).size).toBe(perChannel);
    }

    await eventually(
      () => ws.every((s) => s.offset === perChannel),
      'every WebSocket subscriber at the end',
      30_000,
    );
    for (const s of ws) {
      expect(s.tally).toMatchObject({ received: perChannel, duplicates: 0, outOfOrder: 0, notRecovered: 0 });
    }
    await expectEverySseOnce(sse, perChannel);
    await expectEveryPollOnce(pollers, channels, perChannel);
    // The clients of the dead node did move, and Redis really was away for a while.
    expect(ws[2].tally.reconnects + ws[3].tally.reconnects).toBeGreaterThanOrEqual(2);
    expect(sse[1].tally.opens).toBeGreaterThanOrEqual(2);
    expect(unavailable).toBeGreaterThan(0);
  });

  it('shares presence between nodes, with join and leave pushes, and no ghosts of a node that died', async () => {
    const { nodes } = await startDeployment(3);
    const clients = await Promise.all(nodes.nodes.map((node) => WsTestClient.open(node.wsUrl)));
    closers.push(() => {
      for (const c of clients) c.terminate();
    });
    const ids: string[] = [];
    for (const client of clients) {
      const connected = await client.call<{ client: string }>('connect', { subs: { 'room:x': {} } });
      ids.push(connected.client);
    }
    const members = async (node: number) => {
      const res = await fetch(`${nodes.nodes[node].url}/api/presence`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'room:x' }),
      });
      const body = (await res.json()) as { members: Record<string, PresenceMember> };
      return Object.keys(body.members).sort();
    };
    // Client 0 subscribed first: it hears the other nodes' clients join.
    const joinsSeen = () =>
      clients[0].frames.filter((f) => f.type === 'join').map((f) => (f.member as PresenceMember).client);
    await eventually(
      () => joinsSeen().includes(ids[1]) && joinsSeen().includes(ids[2]),
      'joins from nodes 1 and 2 seen on node 0',
    );
    expect(await members(2)).toEqual([...ids].sort());

    // Node 1 dies without a word: its member expires (presenceTtl 2 s) and the others hear it leave.
    await nodes.kill(1);
    await eventually(
      () =>
        clients[2].frames.some((f) => f.type === 'leave' && (f.member as PresenceMember).client === ids[1]),
      'leave of the dead node’s client',
      20_000,
    );
    expect(await members(0)).toEqual([ids[0], ids[2]].sort());
  });

  it('without persistence, a Redis restart is an explicit epoch change, never a silent loss', async () => {
    const { redis, nodes } = await startDeployment(2);
    const channel = 'lost:feed';
    const client = await WsTestClient.open(nodes.nodes[0].wsUrl);
    closers.push(() => client.terminate());
    await client.call('connect', { subs: { [channel]: {} } });
    const sse = await RawSseStream.open(`${nodes.nodes[1].url}/connection/sse?channel=${channel}`);
    closers.push(() => sse.close());
    await eventually(() => sse.controls.some((c) => c.type === 'subscribed'), 'SSE subscribed');
    for (let i = 1; i <= 3; i++) await nodes.publish(i % 2, channel, i, `k${i}`);
    await eventually(
      () => client.publications.length === 3 && sse.publications.length === 3,
      'three delivered',
    );
    const before = client.publications[2];
    const cursorBefore = sse.lastEventId!;

    await redis.kill();
    const health = async (node: number) => {
      const res = await fetch(`${nodes.nodes[node].url}/health`);
      return { status: res.status, body: (await res.json()) as { status: string } };
    };
    await eventually(async () => (await health(0)).status === 503, 'node 0 degraded').catch(async () => {
      throw new Error(`health: ${JSON.stringify(await health(0))}`);
    });
    expect((await health(0)).body.status).toBe('degraded');
    const started = Date.now();
    const refused = await fetch(`${nodes.nodes[1].url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel, data: 'while down' }),
    });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect(Date.now() - started).toBeLessThan(5_000);
    // Clients keep their connections meanwhile.
    expect(client.closeCode).toBeUndefined();
    expect(sse.ended).toBe(false);

    await redis.restart(); // empty: every stream is gone
    await eventually(
      async () => (await health(0)).status === 200 && (await health(1)).status === 200,
      'healthy',
    );
    const after = await nodes.publish(0, channel, 'after', 'k4');
    expect(after.epoch).not.toBe(before.epoch);
    // Live subscribers see the new epoch, which the protocol defines as a reset (like recovered: false).
    await eventually(
      () => client.publications.length === 4 && sse.publications.length === 4,
      'fourth delivered',
    );
    expect(client.publications[3]).toMatchObject({ epoch: after.epoch, offset: 1, data: 'after' });
    expect(sse.publications[3]).toMatchObject({ epoch: after.epoch, offset: 1, data: 'after' });
    // A client resuming from before the loss is told plainly, on any node and transport.
    const resumer = await WsTestClient.open(nodes.nodes[1].wsUrl);
    closers.push(() => resumer.terminate());
    const resumed = await resumer.call<{ subs: Record<string, { recovered: boolean; epoch: string }> }>(
      'connect',
      {
        subs: { [channel]: { since: { epoch: before.epoch, offset: before.offset } } },
      },
    );
    expect(resumed.subs[channel]).toMatchObject({ recovered: false, epoch: after.epoch });
    const sseResumed = await RawSseStream.open(
      `${nodes.nodes[0].url}/connection/sse?channel=${channel}&lastEventId=${cursorBefore}`,
    );
    closers.push(() => sseResumed.close());
    await eventually(() => sseResumed.controls.some((c) => c.type === 'subscribed'), 'SSE resubscribed');
    expect(sseResumed.controls.find((c) => c.type === 'subscribed')).toMatchObject({
      recovered: false,
      epoch: after.epoch,
    });
  });
});
