import type { PresenceMember } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/brokers/memory-broker.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { SECRET, sign } from './support/tokens.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

const config = {
  tokenSecret: SECRET,
  pingInterval: 0.1,
  namespaces: {
    room: { joinLeave: true },
    quiet: {},
    off: { presence: false },
  },
};

async function user(
  hub: TestHub,
  sub: string,
  url = hub.wsUrl,
): Promise<{ c: WsTestClient; client: string }> {
  const c = await WsTestClient.open(url);
  const { client } = await c.call<{ client: string }>('connect', {
    token: await sign({ sub, info: { name: sub } }),
  });
  return { c, client };
}

async function apiPresence(hub: TestHub, channel: string) {
  const res = await fetch(`${hub.url}/api/presence`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel }),
  });
  return { status: res.status, body: await res.json() };
}

function pushes(c: WsTestClient, type: 'join' | 'leave') {
  return c.frames
    .filter((f) => f.type === type)
    .map((f) => (f as unknown as { member: PresenceMember }).member);
}

describe('presence', () => {
  it('lists members with user, client and info, over the protocol and the API', async () => {
    const hub = await hubs.start(config);
    const ada = await user(hub, 'ada');
    const bob = await user(hub, 'bob');
    await ada.c.call('subscribe', { channel: 'quiet:1' });
    await bob.c.call('subscribe', { channel: 'quiet:1' });
    const expected = {
      [ada.client]: { client: ada.client, user: 'ada', info: { name: 'ada' } },
      [bob.client]: { client: bob.client, user: 'bob', info: { name: 'bob' } },
    };
    expect(await ada.c.call('presence', { channel: 'quiet:1' })).toEqual({ members: expected });
    expect(await apiPresence(hub, 'quiet:1')).toEqual({ status: 200, body: { members: expected } });
    // quiet: presence without join/leave pushes.
    expect(pushes(ada.c, 'join')).toEqual([]);
    await bob.c.call('unsubscribe', { channel: 'quiet:1' });
    expect(Object.keys((await apiPresence(hub, 'quiet:1')).body.members)).toEqual([ada.client]);
    ada.c.close();
    bob.c.close();
  });

  it('pushes join and leave where the namespace asks for them', async () => {
    const hub = await hubs.start(config);
    const ada = await user(hub, 'ada');
    const bob = await user(hub, 'bob');
    await ada.c.call('subscribe', { channel: 'room:1' });
    await bob.c.call('subscribe', { channel: 'room:1' });
    await eventually(() => pushes(ada.c, 'join').some((m) => m.user === 'bob'), 'ada sees bob join');
    expect(pushes(ada.c, 'join').find((m) => m.user === 'bob')).toEqual({
      client: bob.client,
      user: 'bob',
      info: { name: 'bob' },
    });
    bob.c.close();
    await eventually(() => pushes(ada.c, 'leave').some((m) => m.client === bob.client), 'ada sees bob leave');
    expect(Object.keys((await apiPresence(hub, 'room:1')).body.members)).toEqual([ada.client]);
    ada.c.close();
  });

  it('removes a client that vanished without closing (heartbeat timeout), with a leave push', async () => {
    const hub = await hubs.start(config);
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const ada = await user(hub, 'ada');
    const ghost = await user(hub, 'ghost', `ws://127.0.0.1:${proxy.port}/connection/websocket`);
    await ada.c.call('subscribe', { channel: 'room:1' });
    await ghost.c.call('subscribe', { channel: 'room:1' });
    expect(Object.keys((await apiPresence(hub, 'room:1')).body.members)).toHaveLength(2);
    proxy.stallAll(); // the ghost's network goes silent: no close, no pongs
    await eventually(() => pushes(ada.c, 'leave').some((m) => m.client === ghost.client), 'ghost leaves');
    expect(Object.keys((await apiPresence(hub, 'room:1')).body.members)).toEqual([ada.client]);
    ada.c.close();
  });

  it("expires members nobody refreshes any more (a crashed node's), and keeps live ones refreshed", async () => {
    const broker = new MemoryBroker({ sweepInterval: 50 });
    const hub = await hubs.start({ ...config, presenceTtl: 1 }, { broker });
    const ada = await user(hub, 'ada');
    await ada.c.call('subscribe', { channel: 'room:1' });
    // A member added by another node that then died: nobody will refresh it.
    await broker.addPresence('room:1', { client: 'dead-node-client', user: 'zed' }, 1000);
    expect(Object.keys((await apiPresence(hub, 'room:1')).body.members).sort()).toEqual(
      [ada.client, 'dead-node-client'].sort(),
    );
    await eventually(
      () => pushes(ada.c, 'leave').some((m) => m.client === 'dead-node-client'),
      'ghost expires',
    );
    // Well past the TTL, ada is still present: the hub's sweep refreshes its own members.
    await new Promise((r) => setTimeout(r, 1500));
    expect(Object.keys((await apiPresence(hub, 'room:1')).body.members)).toEqual([ada.client]);
    expect(pushes(ada.c, 'leave').some((m) => m.client === ada.client)).toBe(false);
    ada.c.close();
  });

  it('answers presence_disabled where presence is off', async () => {
    const hub = await hubs.start(config);
    const ada = await user(hub, 'ada');
    await ada.c.call('subscribe', { channel: 'off:1' });
    expect((await ada.c.command('presence', { channel: 'off:1' })).error).toMatchObject({
      code: 'presence_disabled',
    });
    expect(await apiPresence(hub, 'off:1')).toMatchObject({
      status: 400,
      body: { error: { code: 'presence_disabled' } },
    });
    ada.c.close();
  });
});
