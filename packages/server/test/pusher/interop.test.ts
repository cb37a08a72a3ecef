import Echo from 'laravel-echo';
import { describe, expect, test } from 'vitest';
import { RedisBroker } from '../../src/brokers/redis-broker.ts';
import {
  APP,
  authEndpoint,
  collect,
  next,
  Pusher,
  pusherPerTest,
  serverSdk,
  subscribed,
} from '../support/pusher.ts';
import { RedisServer } from '../support/redis-server.ts';
import { SECRET, sign } from '../support/tokens.ts';
import { WsTestClient } from '../support/ws-client.ts';

const { start, onCleanup, client } = pusherPerTest();

describe('one channel, both protocols', () => {
  test('a Herald publication with an event reaches pusher-js; a Pusher trigger reaches Herald clients', async () => {
    const hub = await start({ pusher: { apps: [APP] } });
    const sdk = serverSdk(hub);
    const pusher = client(hub);
    const { channel } = await subscribed(pusher, 'orders');
    const shipped = collect(channel, 'shipped');
    const herald = await WsTestClient.open(hub.wsUrl);
    onCleanup(() => herald.close());
    await herald.call('subscribe', { channel: 'orders' });

    await hub.publish('orders', { id: 1 }, { event: 'shipped' });
    await sdk.trigger('orders', 'shipped', { id: 2 });
    await sdk.trigger('orders', 'note', 'not JSON');
    await expect.poll(() => shipped).toEqual([{ id: 1 }, { id: 2 }]);
    await expect.poll(() => herald.publications.length).toBe(3);
    expect(herald.publications.map(({ event, data, offset }) => ({ event, data, offset }))).toEqual([
      { event: 'shipped', data: { id: 1 }, offset: 1 },
      { event: 'shipped', data: { id: 2 }, offset: 2 },
      { event: 'note', data: 'not JSON', offset: 3 },
    ]);
    // What Pusher triggered is history for Herald clients.
    const history = await herald.call<{ publications: unknown[] }>('history', { channel: 'orders' });
    expect(history.publications).toHaveLength(3);
  });

  test('publications may not speak for the hub: pusher: events are not relayed to pusher-js', async () => {
    const hub = await start({ pusher: { apps: [APP] } });
    const pusher = client(hub);
    const { channel } = await subscribed(pusher, 'room');
    const all: string[] = [];
    channel.bind_global((event: string) => all.push(event));
    await hub.publish('room', {}, { event: 'pusher_internal:member_removed' });
    await hub.publish('room', { ok: true }, { event: 'after' });
    await expect.poll(() => all).toEqual(['after']);
  });
});

describe('two hubs on one Redis', () => {
  test('pusher-js clients on different hubs share channels, presence and the HTTP API', async () => {
    const redis = await RedisServer.start();
    onCleanup(() => redis.stop());
    const config = { pusher: { apps: [APP] } };
    const one = await start(config, { broker: new RedisBroker({ url: redis.url }) });
    const two = await start(config, { broker: new RedisBroker({ url: redis.url }) });
    const auth = await authEndpoint(serverSdk(one));
    onCleanup(() => auth.close());
    const alice = client(one, { auth, user: 'alice' });
    const bob = client(two, { auth, user: 'bob' });
    const { channel: aliceRoom } = await subscribed(alice, 'presence-room');
    const added = next<{ id: string }>(aliceRoom, 'pusher:member_added');
    const { channel: bobRoom, data } = await subscribed(bob, 'presence-room');
    expect((await added).id).toBe('bob');
    expect(data).toMatchObject({ count: 2 });
    const aliceSeen = collect(aliceRoom, 'said');
    const bobSeen = collect(bobRoom, 'said');
    // Triggered through hub two's API, heard on both.
    for (let i = 1; i <= 20; i++) await serverSdk(two).trigger('presence-room', 'said', { i });
    const expected = Array.from({ length: 20 }, (_, i) => ({ i: i + 1 }));
    await expect.poll(() => aliceSeen).toEqual(expected);
    await expect.poll(() => bobSeen).toEqual(expected);
    const users = await (await serverSdk(one).get({ path: '/channels/presence-room/users' })).json();
    expect(users.users.map((u: { id: string }) => u.id).sort()).toEqual(['alice', 'bob']);
    const removed = next<{ id: string }>(aliceRoom, 'pusher:member_removed');
    bob.disconnect();
    expect((await removed).id).toBe('bob');
  });
});

describe('Laravel Echo', () => {
  test('its pusher connector: a private channel, presence here/joining, and a whisper', async () => {
    const hub = await start({ pusher: { apps: [{ ...APP, clientEvents: true }] } });
    const sdk = serverSdk(hub);
    const auth = await authEndpoint(sdk);
    onCleanup(() => auth.close());
    const echoFor = (user: string) =>
      new Echo({
        broadcaster: 'pusher',
        key: APP.key,
        cluster: 'herald',
        wsHost: '127.0.0.1',
        wsPort: hub.port,
        forceTLS: false,
        enabledTransports: ['ws'],
        disableStats: true,
        authEndpoint: `${auth.url}/auth`,
        // Echo's option types are narrower than what it passes on to pusher-js, which takes both.
        auth: { headers: {}, params: { user } } as never,
        Pusher: Pusher as never,
      });
    const alice = echoFor('alice');
    const bob = echoFor('bob');
    onCleanup(() => {
      alice.disconnect();
      bob.disconnect();
    });

    const shipped = new Promise((resolve) => alice.private('orders').listen('.OrderShipped', resolve));
    await expect
      .poll(async () => (await (await sdk.get({ path: '/channels/private-orders' })).json()).occupied)
      .toBe(true);
    await sdk.trigger('private-orders', 'OrderShipped', { order: 7 });
    expect(await shipped).toEqual({ order: 7 });

    // Echo hands over each member's user_info.
    const here = new Promise((resolve) => alice.join('chat').here(resolve));
    expect(await here).toEqual([{ name: 'User alice' }]);
    const joining = new Promise((resolve) => alice.join('chat').joining(resolve));
    const whisper = new Promise((resolve) => alice.join('chat').listenForWhisper('typing', resolve));
    const bobHere = new Promise((resolve) => bob.join('chat').here(resolve));
    expect(await joining).toEqual({ name: 'User bob' });
    await bobHere;
    bob.join('chat').whisper('typing', { name: 'bob' });
    expect(await whisper).toEqual({ name: 'bob' });
  });
});

describe('Herald clients on Pusher channels', () => {
  test('with namespace "" on tokens, private and presence channels need one; public ones and pusher-js do not', async () => {
    const ns = { subscribe: 'token', presence: true, joinLeave: true } as const;
    const hub = await start({ tokenSecret: SECRET, pusher: { apps: [APP] }, namespaces: { '': ns } });
    const auth = await authEndpoint(serverSdk(hub));
    onCleanup(() => auth.close());
    const alice = client(hub, { auth, user: 'alice' });
    await subscribed(alice, 'orders');
    await subscribed(alice, 'private-orders');
    await subscribed(alice, 'presence-room');

    const herald = await WsTestClient.open(hub.wsUrl);
    onCleanup(() => herald.close());
    await herald.call('connect', { token: await sign({ sub: 'u1' }) });
    expect((await herald.command('subscribe', { channel: 'orders' })).error).toBeUndefined();
    for (const channel of ['private-orders', 'presence-room']) {
      const refused = await herald.command('subscribe', { channel });
      expect(refused.error).toEqual({ code: 'forbidden', message: `${channel} needs a subscription token` });
    }
    const token = await sign({ sub: 'u1', channel: 'private-orders' });
    expect((await herald.command('subscribe', { channel: 'private-orders', token })).error).toBeUndefined();
  });
});
