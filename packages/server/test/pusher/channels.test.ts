import { describe, expect, test } from 'vitest';
import type { TestHub } from '../support/hub.ts';
import {
  APP,
  type AuthEndpoint,
  authEndpoint,
  collect,
  connected,
  next,
  type Pusher,
  pusherPerTest,
  rawPusher,
  serverSdk,
  subscribed,
} from '../support/pusher.ts';

const pusherTest = pusherPerTest();
const { start, onCleanup, setup } = pusherTest;

function client(hub: TestHub, auth?: AuthEndpoint, user?: string, key?: string): Pusher {
  return pusherTest.client(hub, { auth, user, key });
}

describe('connecting', () => {
  test('pusher-js gets a socket id and the activity timeout', async () => {
    const { hub, auth } = await setup();
    const pusher = client(hub, auth);
    const socketId = await connected(pusher);
    expect(socketId).toMatch(/^\d+\.\d+$/);
    expect(pusher.connection.activityTimeout).toBe(120_000);
  });

  test('an unknown app key is refused with 4001 and pusher-js does not reconnect', async () => {
    const { hub, auth } = await setup();
    const pusher = client(hub, auth, undefined, 'no-such-key');
    const error = await next<{ error: { data: { code: number; message: string } } }>(
      pusher.connection,
      'error',
    );
    expect(error.error.data).toEqual({ code: 4001, message: 'App key no-such-key does not exist' });
    await expect.poll(() => pusher.connection.state).toBe('disconnected');
  });

  test('a protocol version outside 5-7 is refused with 4007', async () => {
    const { hub } = await setup();
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`ws://127.0.0.1:${hub.port}/app/${APP.key}?protocol=4`);
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(data.toString()));
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(4007);
    expect(JSON.parse(frames[0])).toEqual({
      event: 'pusher:error',
      data: { code: 4007, message: 'Unsupported protocol version 4' },
    });
  });

  test('pusher:ping is answered with pusher:pong; a bad frame gets pusher:error', async () => {
    const { hub } = await setup();
    const raw = await rawPusher(hub);
    raw.send('pusher:ping', {});
    raw.ws.send('not json');
    raw.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    raw.send('pusher:nonsense', {});
    const [pong, notJson, binary, unknown] = await raw.next(4);
    expect(pong).toEqual({ event: 'pusher:pong', data: {} });
    for (const frame of [notJson, binary]) {
      expect(frame).toEqual({
        event: 'pusher:error',
        data: { code: null, message: 'send JSON text frames: {"event", "data", "channel"?}' },
      });
    }
    expect(unknown).toEqual({
      event: 'pusher:error',
      data: { code: null, message: 'unknown event pusher:nonsense' },
    });
    raw.ws.close();
  });
});

describe('bad subscriptions get their own error', () => {
  test('bad names, bad presence data, a bad resume position, a second subscribe', async () => {
    const { hub } = await setup();
    const raw = await rawPusher(hub);
    raw.send('pusher:subscribe', { channel: 'has space' });
    const noUser = JSON.stringify({ user_info: {} });
    raw.send('pusher:subscribe', {
      channel: 'presence-x',
      channel_data: noUser,
      auth: raw.sign(`${raw.socketId}:presence-x:${noUser}`),
    });
    raw.send('pusher:subscribe', { channel: 'feed', herald: { since: { epoch: 1 } } });
    raw.send('pusher:subscribe', { channel: 'private-encrypted-x', auth: 'nope' });
    raw.send('pusher:subscribe', { channel: 'twice' });
    const [badName, badPresence, badSince, badAuth, first] = await raw.next(5);
    expect(badName).toMatchObject({
      event: 'pusher:error',
      data: { message: expect.stringContaining('1-200 characters') },
    });
    expect(badPresence).toMatchObject({
      event: 'pusher:subscription_error',
      channel: 'presence-x',
      data: { type: 'AuthError', status: 400, error: 'channel_data must be JSON with a "user_id"' },
    });
    expect(badSince).toMatchObject({
      event: 'pusher:subscription_error',
      channel: 'feed',
      data: { status: 400 },
    });
    expect(badAuth).toMatchObject({ event: 'pusher:subscription_error', data: { status: 401 } });
    expect(first).toMatchObject({ event: 'pusher_internal:subscription_succeeded', channel: 'twice' });
    raw.send('pusher:subscribe', { channel: 'twice' });
    const [, , , , , again] = await raw.next(6);
    expect(again).toMatchObject({
      event: 'pusher:subscription_error',
      data: { type: 'AlreadySubscribed', status: 409 },
    });
    raw.ws.close();
  });

  test('a client event on a channel it has not subscribed to is refused', async () => {
    const { hub } = await setup({ clientEvents: true });
    const raw = await rawPusher(hub);
    raw.send('client-x', { a: 1 }, 'private-elsewhere');
    const [refused] = await raw.next(1);
    expect(refused).toMatchObject({
      event: 'pusher:error',
      data: { message: expect.stringContaining('subscribed') },
    });
    raw.ws.close();
  });
});

describe('public channels', () => {
  test('trigger and batch trigger reach subscribers in order', async () => {
    const { hub, sdk, auth } = await setup();
    const pusher = client(hub, auth);
    const { channel } = await subscribed(pusher, 'orders');
    const created = collect(channel, 'created');
    const other = collect((await subscribed(pusher, 'stock')).channel, 'changed');
    await sdk.trigger('orders', 'created', { id: 1 });
    await sdk.trigger(['orders', 'stock'], 'created', 'plain text');
    await sdk.triggerBatch([
      { channel: 'orders', name: 'created', data: { id: 2 } },
      { channel: 'stock', name: 'changed', data: { sku: 'a' } },
      { channel: 'orders', name: 'created', data: { id: 3 } },
    ]);
    await expect.poll(() => created).toEqual([{ id: 1 }, 'plain text', { id: 2 }, { id: 3 }]);
    expect(other).toEqual([{ sku: 'a' }]);
  });

  test('a client that unsubscribes gets no more events', async () => {
    const { hub, sdk, auth } = await setup();
    const pusher = client(hub, auth);
    const watcher = client(hub, auth);
    const { channel } = await subscribed(pusher, 'news');
    const seen = collect(channel, 'item');
    const witness = collect((await subscribed(watcher, 'news')).channel, 'item');
    pusher.unsubscribe('news');
    await expect
      .poll(
        async () =>
          (await (await sdk.get({ path: '/channels/news', params: { info: 'subscription_count' } })).json())
            .subscription_count,
      )
      .toBe(1);
    await sdk.trigger('news', 'item', 1);
    await expect.poll(() => witness).toEqual([1]);
    expect(seen).toEqual([]);
  });
});

describe('private and presence channels', () => {
  test('the auth endpoint signs private subscriptions; a forged signature is refused', async () => {
    const { hub, sdk, auth } = await setup();
    const pusher = client(hub, auth);
    const { channel } = await subscribed(pusher, 'private-orders');
    const seen = collect(channel, 'paid');
    await sdk.trigger('private-orders', 'paid', { id: 7 });
    await expect.poll(() => seen).toEqual([{ id: 7 }]);

    const forger = await authEndpoint(sdk, serverSdk(hub, { ...APP, secret: 'not-the-secret' }));
    onCleanup(() => forger.close());
    const intruder = client(hub, forger);
    const refused = next<{ status: number; type: string; error: string }>(
      intruder.subscribe('private-orders'),
      'pusher:subscription_error',
    );
    expect(await refused).toMatchObject({ type: 'AuthError', status: 401 });
    expect((await refused).error).toContain('invalid signature');
  });

  test('a private channel without a valid signature is refused', async () => {
    const { hub } = await setup();
    const raw = await rawPusher(hub, 'protocol=7');
    raw.send('pusher:subscribe', { channel: 'private-x', auth: `${APP.key}:00` });
    // Signed for another socket: a signature is good for one connection only.
    raw.send('pusher:subscribe', { channel: 'private-y', auth: raw.sign(`1.1:private-y`) });
    const refusals = await raw.next(2);
    expect(refusals).toMatchObject([
      { event: 'pusher:subscription_error', channel: 'private-x', data: { status: 401 } },
      { event: 'pusher:subscription_error', channel: 'private-y', data: { status: 401 } },
    ]);
    raw.send('pusher:subscribe', { channel: 'private-y', auth: raw.sign(`${raw.socketId}:private-y`) });
    const [, , ok] = await raw.next(3);
    expect(ok).toMatchObject({ event: 'pusher_internal:subscription_succeeded', channel: 'private-y' });
    raw.ws.close();
  });

  test('presence: members with info, member_added and member_removed, counts', async () => {
    const { hub, sdk, auth } = await setup();
    const alice = client(hub, auth, 'alice');
    const { channel: aliceRoom, data } = await subscribed(alice, 'presence-room');
    expect(data).toMatchObject({ count: 1, me: { id: 'alice', info: { name: 'User alice' } } });
    const added = next<{ id: string; info: unknown }>(aliceRoom, 'pusher:member_added');
    const bob = client(hub, auth, 'bob');
    const { data: bobView } = await subscribed(bob, 'presence-room');
    expect(await added).toEqual({ id: 'bob', info: { name: 'User bob' } });
    expect(bobView).toMatchObject({
      count: 2,
      members: { alice: { name: 'User alice' }, bob: { name: 'User bob' } },
    });

    // A second connection of bob's is no new member, and its leaving removes nobody.
    const bob2 = client(hub, auth, 'bob');
    const events: string[] = [];
    aliceRoom.bind('pusher:member_added', (m: { id: string }) => events.push(`added ${m.id}`));
    aliceRoom.bind('pusher:member_removed', (m: { id: string }) => events.push(`removed ${m.id}`));
    await subscribed(bob2, 'presence-room');
    const users = await (await sdk.get({ path: '/channels/presence-room/users' })).json();
    expect(users.users.map((u: { id: string }) => u.id).sort()).toEqual(['alice', 'bob']);
    const info = await (
      await sdk.get({ path: '/channels/presence-room', params: { info: 'user_count,subscription_count' } })
    ).json();
    expect(info).toEqual({ occupied: true, user_count: 2, subscription_count: 3 });
    bob2.disconnect();
    bob.disconnect();
    await expect.poll(() => events).toEqual(['removed bob']);
  });

  test('presence refuses a member past maxPresenceMembers', async () => {
    const hub = await start({ pusher: { apps: [{ ...APP, maxPresenceMembers: 1 }] } });
    const auth = await authEndpoint(serverSdk(hub));
    onCleanup(() => auth.close());
    await subscribed(client(hub, auth, 'alice'), 'presence-full');
    const refused = next<{ type: string; status: number }>(
      client(hub, auth, 'bob').subscribe('presence-full'),
      'pusher:subscription_error',
    );
    expect(await refused).toMatchObject({ type: 'LimitReached', status: 403 });
  });
});

describe('cache channels', () => {
  test('a subscriber gets the last event first, or pusher:cache_miss', async () => {
    const { hub, sdk, auth } = await setup();
    const first = client(hub, auth);
    const channel = first.subscribe('cache-prices');
    const miss = next(channel, 'pusher:cache_miss');
    await next(channel, 'pusher:subscription_succeeded');
    await miss;
    await sdk.trigger('cache-prices', 'price', { eur: 1 });
    await sdk.trigger('cache-prices', 'price', { eur: 2 });
    const late = client(hub, auth).subscribe('cache-prices');
    expect(await next(late, 'price')).toEqual({ eur: 2 });
  });
});

describe('client events', () => {
  test('go to the other subscribers of a private channel when the app enables them', async () => {
    const { hub, auth } = await setup({ clientEvents: true });
    const alice = client(hub, auth, 'alice');
    const bob = client(hub, auth, 'bob');
    const { channel: aliceChat } = await subscribed(alice, 'private-chat');
    const { channel: bobChat } = await subscribed(bob, 'private-chat');
    const own = collect(aliceChat, 'client-typing');
    const typing = next(bobChat, 'client-typing');
    aliceChat.trigger('client-typing', { who: 'alice' });
    expect(await typing).toEqual({ who: 'alice' });
    // Bob's answer comes after alice's own event would have: she never gets hers.
    const answer = next(aliceChat, 'client-typing');
    bobChat.trigger('client-typing', { who: 'bob' });
    expect(await answer).toEqual({ who: 'bob' });
    expect(own).toEqual([{ who: 'bob' }]);
  });

  test('are refused when the app does not enable them, and past the rate', async () => {
    const { hub, auth } = await setup();
    const alice = client(hub, auth, 'alice');
    const { channel } = await subscribed(alice, 'private-chat');
    const refused = next<{ data: { message: string } }>(alice.connection, 'error');
    channel.trigger('client-typing', {});
    expect((await refused).data.message).toContain('not enabled');

    const limited = await start({ pusher: { apps: [{ ...APP, clientEvents: true, clientEventRate: 2 }] } });
    const limitedAuth = await authEndpoint(serverSdk(limited));
    onCleanup(() => limitedAuth.close());
    const carol = client(limited, limitedAuth, 'carol');
    const { channel: chat } = await subscribed(carol, 'private-chat');
    const overRate = next<{ data: { code: number } }>(carol.connection, 'error');
    for (let i = 0; i < 3; i++) chat.trigger('client-typing', { i });
    expect((await overRate).data.code).toBe(4301);
  });
});
