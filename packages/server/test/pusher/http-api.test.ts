import { createHash, createHmac } from 'node:crypto';
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
  serverSdk,
  subscribed,
} from '../support/pusher.ts';

const pusherTest = pusherPerTest();
const { start, onCleanup, setup } = pusherTest;

function client(hub: TestHub, auth?: AuthEndpoint, user?: string, key?: string): Pusher {
  return pusherTest.client(hub, { auth, user, key });
}

/** A request signed by hand, as the SDKs sign it, with a timestamp of our choosing. */
async function signedRequest(hub: TestHub, method: string, path: string, body: string, timestamp: number) {
  const params: Record<string, string> = {
    auth_key: APP.key,
    auth_timestamp: String(timestamp),
    auth_version: '1.0',
    body_md5: createHash('md5').update(body).digest('hex'),
  };
  const query = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  const signature = createHmac('sha256', APP.secret).update(`${method}\n${path}\n${query}`).digest('hex');
  return fetch(`${hub.url}${path}?${query}&auth_signature=${signature}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body,
  });
}

describe('the HTTP API through the official SDK', () => {
  test('lists occupied channels with a prefix and user counts; reads one channel', async () => {
    const { hub, sdk, auth } = await setup();
    const alice = client(hub, auth, 'alice');
    await subscribed(alice, 'presence-lobby');
    await subscribed(alice, 'orders');
    await sdk.trigger('empty-but-used', 'x', 1);
    await expect
      .poll(async () => (await sdk.get({ path: '/channels' })).json())
      .toEqual({ channels: { 'presence-lobby': {}, orders: {} } });
    const presence = await sdk.get({
      path: '/channels',
      params: { filter_by_prefix: 'presence-', info: 'user_count' },
    });
    expect(await presence.json()).toEqual({ channels: { 'presence-lobby': { user_count: 1 } } });
    expect(await (await sdk.get({ path: '/channels/empty-but-used' })).json()).toEqual({ occupied: false });
    const orders = await sdk.get({ path: '/channels/orders', params: { info: 'subscription_count' } });
    expect(await orders.json()).toEqual({ occupied: true, subscription_count: 1 });
  });

  test('refuses user_count outside presence channels with 400', async () => {
    const { sdk } = await setup();
    await expect(sdk.get({ path: '/channels', params: { info: 'user_count' } })).rejects.toMatchObject({
      status: 400,
    });
    await expect(sdk.get({ path: '/channels/orders/users' })).rejects.toMatchObject({ status: 400 });
  });

  test('a trigger with socket_id leaves that connection out', async () => {
    const { hub, sdk, auth } = await setup();
    const sender = client(hub, auth);
    const other = client(hub, auth);
    const { channel: own } = await subscribed(sender, 'chat');
    const { channel: theirs } = await subscribed(other, 'chat');
    const ownSeen = collect(own, 'message');
    const theirsSeen = collect(theirs, 'message');
    await sdk.trigger('chat', 'message', { n: 1 }, { socket_id: await connected(sender) });
    await sdk.trigger('chat', 'message', { n: 2 });
    await expect.poll(() => theirsSeen).toEqual([{ n: 1 }, { n: 2 }]);
    await expect.poll(() => ownSeen).toEqual([{ n: 2 }]);
  });

  test('trigger with info answers the channels’ counts', async () => {
    const { hub, sdk, auth } = await setup();
    await subscribed(client(hub, auth, 'alice'), 'presence-team');
    const res = await sdk.trigger('presence-team', 'hello', {}, { info: 'user_count,subscription_count' });
    expect(await res.json()).toEqual({
      channels: { 'presence-team': { user_count: 1, subscription_count: 1 } },
    });
  });

  test('a bad signature and a stale timestamp get 401 with Pusher’s text', async () => {
    const { hub } = await setup();
    const forged = serverSdk(hub, { ...APP, secret: 'wrong-secret-000' });
    const refusal = await forged.trigger('x', 'y', {}).catch((err: { status: number; body: string }) => err);
    expect(refusal).toMatchObject({ status: 401 });
    expect((refusal as { body: string }).body).toMatch(
      /^Invalid signature: you should have sent HmacSHA256Hex/,
    );

    const body = JSON.stringify({ name: 'y', channels: ['x'], data: '{}' });
    const now = Math.floor(Date.now() / 1000);
    const fresh = await signedRequest(hub, 'POST', `/apps/${APP.id}/events`, body, now);
    expect(fresh.status).toBe(200);
    const stale = await signedRequest(hub, 'POST', `/apps/${APP.id}/events`, body, now - 601);
    expect(stale.status).toBe(401);
    expect(await stale.text()).toMatch(
      /^Timestamp expired: Given timestamp \(\d+\) not within 600s of server time/,
    );
  });

  test('a body that does not match body_md5 is refused', async () => {
    const { hub } = await setup();
    const body = JSON.stringify({ name: 'y', channels: ['x'], data: '{}' });
    const res = await signedRequest(
      hub,
      'POST',
      `/apps/${APP.id}/events`,
      body,
      Math.floor(Date.now() / 1000),
    );
    expect(res.status).toBe(200);
    const url = new URL(res.url);
    const tampered = await fetch(url, { method: 'POST', body: body.replace('"y"', '"z"') });
    expect(tampered.status).toBe(401);
    expect(await tampered.text()).toBe('Invalid body_md5\n');
  });

  test('bad events are refused with 400: reserved names, bad channel names, too many channels', async () => {
    const { hub, sdk } = await setup();
    await expect(sdk.trigger('x', 'pusher:spoof', {})).rejects.toMatchObject({ status: 400 });
    // The SDK checks channel names and counts itself; the hub does too.
    const now = Math.floor(Date.now() / 1000);
    const send = (channels: string[]) =>
      signedRequest(
        hub,
        'POST',
        `/apps/${APP.id}/events`,
        JSON.stringify({ name: 'e', data: '{}', channels }),
        now,
      );
    const badName = await send(['bad channel']);
    expect(badName.status).toBe(400);
    expect(await badName.text()).toBe('Invalid channel name bad channel\n');
    const many = await send(Array.from({ length: 101 }, (_, i) => `c${i}`));
    expect(many.status).toBe(400);
    const huge = await signedRequest(
      hub,
      'POST',
      `/apps/${APP.id}/events`,
      JSON.stringify({ name: 'e', data: 'x'.repeat(200_000), channels: ['c'] }),
      now,
    );
    expect(huge.status).toBe(413);
    expect(await huge.text()).toMatch(/^request body is over \d+ bytes/);
    const tooBigData = await sdk
      .trigger('c', 'e', 'x'.repeat(70_000))
      .catch((err: { status: number }) => err);
    expect(tooBigData).toMatchObject({ status: 413 });
  });
});

describe('sign-in', () => {
  test('a signed-in user gets sendToUser events, and terminate_connections closes its connections', async () => {
    const { hub, sdk, auth } = await setup();
    const alice = client(hub, auth, 'alice');
    const bystander = client(hub, auth, 'bob');
    alice.signin();
    bystander.signin();
    await connected(alice);
    await alice.user.signinDonePromise;
    await bystander.user.signinDonePromise;
    expect(alice.user.user_data).toMatchObject({ id: 'alice' });
    const note = next(alice.user, 'note');
    // The user channel is subscribed after sign-in; wait until the hub has it.
    await expect
      .poll(
        async () =>
          (
            await (
              await sdk.get({
                path: `/channels/${encodeURIComponent('#server-to-user-alice')}`,
                params: { info: 'subscription_count' },
              })
            ).json()
          ).subscription_count,
      )
      .toBe(1);
    await sdk.sendToUser('alice', 'note', { text: 'hi' });
    expect(await note).toEqual({ text: 'hi' });

    const closed = next<{ data: { code: number } }>(alice.connection, 'error');
    await sdk.terminateUserConnections('alice');
    expect((await closed).data.code).toBe(4009);
    await expect.poll(() => alice.connection.state).toBe('disconnected');
    expect(bystander.connection.state).toBe('connected');
  });

  test('a forged sign-in is refused and the connection closed with 4009', async () => {
    const { hub, sdk } = await setup();
    const forger = await authEndpoint(sdk, serverSdk(hub, { ...APP, secret: 'not-the-secret' }));
    onCleanup(() => forger.close());
    const mallory = client(hub, forger, 'alice');
    mallory.signin();
    const refused = next<{ data: { code: number } }>(mallory.connection, 'error');
    expect((await refused).data.code).toBe(4009);
  });

  test('an app that requires sign-in closes connections that do not sign in in time', async () => {
    const hub = await start({
      pusher: { apps: [{ ...APP, userAuthentication: 'required', signinTimeout: 1 }] },
    });
    const auth = await authEndpoint(serverSdk(hub));
    onCleanup(() => auth.close());
    const signed = client(hub, auth, 'alice');
    signed.signin();
    const lazy = client(hub, auth, 'bob');
    const refused = next<{ data: { code: number } }>(lazy.connection, 'error');
    expect((await refused).data.code).toBe(4009);
    expect(signed.connection.state).toBe('connected');
  });
});
