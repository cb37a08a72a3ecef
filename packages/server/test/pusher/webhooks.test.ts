import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import PusherServer from 'pusher';
import { describe, expect, test } from 'vitest';
import type { PusherWebhookEvent } from '../../src/config.ts';
import { APP, authEndpoint, next, pusherPerTest, serverSdk, subscribed } from '../support/pusher.ts';
import { eventually } from '../support/ws-client.ts';

const pusherTest = pusherPerTest();
const { start, onCleanup } = pusherTest;

/** A request as the receiver got it; `webhook`: the official SDK's reading of it. */
interface Received {
  headers: Record<string, string>;
  rawBody: string;
}

/** The official server SDK of the app, as the app's backend holds it (no hub needed to verify). */
function appSdk(secret = APP.secret): PusherServer {
  return new PusherServer({ appId: APP.id, key: APP.key, secret, host: '127.0.0.1' });
}

type PusherEvent = { name: string; channel: string } & Record<string, unknown>;

/**
 * The app's webhook endpoint, as a Pusher app writes it: a real HTTP server that checks each request
 * with the official SDK (`pusher.webhook(request).isValid()`) and keeps the events of the valid ones;
 * it answers its first `failFirst` requests 503.
 */
async function receiver(sdk: PusherServer, failFirst: number) {
  const requests: Received[] = [];
  const events: PusherEvent[] = [];
  const server = createServer((req, res) => {
    let rawBody = '';
    req.on('data', (chunk) => {
      rawBody += chunk;
    });
    req.on('end', () => {
      const headers = req.headers as Record<string, string>;
      requests.push({ headers, rawBody });
      if (requests.length <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      const webhook = sdk.webhook({ headers, rawBody });
      if (!webhook.isValid()) {
        res.writeHead(401).end();
        return;
      }
      events.push(...(webhook.getEvents() as unknown as PusherEvent[]));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/pusher`,
    requests,
    events,
    named: (name: string) => events.filter((e) => e.name === name),
  };
}

async function setup(events?: PusherWebhookEvent[], failFirst = 0) {
  const sdk = appSdk();
  const hooks = await receiver(sdk, failFirst);
  const webhook = events
    ? { url: hooks.url, events, retryDelayMs: 20 }
    : { url: hooks.url, retryDelayMs: 20 };
  const hub = await start({
    pusher: { apps: [{ ...APP, clientEvents: true, webhooks: [webhook] }] },
    presence: { grace: 0 },
  });
  const auth = await authEndpoint(serverSdk(hub));
  onCleanup(() => auth.close());
  const client = (user: string) => pusherTest.client(hub, { auth, user });
  return { hub, hooks, client };
}

describe('Pusher-format webhooks, verified by the official SDK', () => {
  test('channel_occupied and channel_vacated, once per channel', async () => {
    const { hooks, client } = await setup();
    const ann = client('ann');
    const bob = client('bob');
    await subscribed(ann, 'orders');
    await subscribed(bob, 'orders');
    ann.unsubscribe('orders');
    bob.unsubscribe('orders');
    await eventually(() => hooks.named('channel_vacated').length === 1, 'orders vacated');
    expect(hooks.events).toEqual([
      { name: 'channel_occupied', channel: 'orders' },
      { name: 'channel_vacated', channel: 'orders' },
    ]);
    const request = hooks.requests[0];
    expect(request.headers['x-pusher-key']).toBe(APP.key);
    const body = JSON.parse(request.rawBody) as { time_ms: number; events: unknown[] };
    expect(body.time_ms).toBeTypeOf('number');
    expect(body.events).toHaveLength(1);
  });

  test('member_added and member_removed per user, not per connection', async () => {
    const { hooks, client } = await setup(['member_added', 'member_removed']);
    const ann = client('ann');
    const annAgain = client('ann');
    const bob = client('bob');
    await subscribed(ann, 'presence-room');
    await subscribed(annAgain, 'presence-room');
    await subscribed(bob, 'presence-room');
    await eventually(() => hooks.named('member_added').length === 2, 'two members added');
    ann.disconnect();
    bob.disconnect();
    await eventually(() => hooks.named('member_removed').length === 1, 'bob removed');
    annAgain.disconnect();
    await eventually(() => hooks.named('member_removed').length === 2, 'ann removed');
    // `events` leaves channel_occupied/vacated out.
    expect(hooks.events).toEqual([
      { name: 'member_added', channel: 'presence-room', user_id: 'ann' },
      { name: 'member_added', channel: 'presence-room', user_id: 'bob' },
      { name: 'member_removed', channel: 'presence-room', user_id: 'bob' },
      { name: 'member_removed', channel: 'presence-room', user_id: 'ann' },
    ]);
  });

  test('client_event with its data, socket_id and (on presence channels) user_id', async () => {
    const { hooks, client } = await setup(['client_event']);
    const ann = client('ann');
    const bob = client('bob');
    const chat = (await subscribed(ann, 'presence-chat')).channel;
    const bobChat = (await subscribed(bob, 'presence-chat')).channel;
    const priv = (await subscribed(ann, 'private-notes')).channel;
    await subscribed(bob, 'private-notes');
    const typing = next(bobChat, 'client-typing');
    chat.trigger('client-typing', { who: 'ann' });
    await typing;
    priv.trigger('client-note', 'plain');
    await eventually(() => hooks.events.length === 2, 'two client events');
    // Two channels: their deliveries run side by side, so either may arrive first.
    const byChannel = [...hooks.events].sort((a, b) => a.channel.localeCompare(b.channel));
    expect(byChannel).toEqual([
      {
        name: 'client_event',
        channel: 'presence-chat',
        event: 'client-typing',
        data: JSON.stringify({ who: 'ann' }),
        socket_id: ann.connection.socket_id,
        user_id: 'ann',
      },
      {
        name: 'client_event',
        channel: 'private-notes',
        event: 'client-note',
        data: 'plain',
        socket_id: ann.connection.socket_id,
      },
    ]);
  });

  test('cache_miss when a cache channel has no event yet', async () => {
    const { hooks, client } = await setup(['cache_miss']);
    const ann = client('ann');
    const channel = ann.subscribe('cache-prices');
    await next(channel, 'pusher:cache_miss');
    await eventually(() => hooks.events.length === 1, 'the cache miss');
    expect(hooks.events).toEqual([{ name: 'cache_miss', channel: 'cache-prices' }]);
  });

  test('a failed delivery is retried and counted with the lifecycle webhooks', async () => {
    const { hub, hooks, client } = await setup(['channel_occupied'], 1);
    await subscribed(client('ann'), 'orders');
    await eventually(() => hooks.events.length === 1, 'orders occupied, on the second try');
    expect(hooks.requests).toHaveLength(2);
    expect(hooks.requests[1].rawBody).toBe(hooks.requests[0].rawBody);
    // The hub counts the try once it has read the answer, after the receiver kept the event.
    const stats = () => hub.server.hub.webhooks?.stats();
    await eventually(() => stats()?.sent === 1, 'the delivery counted');
    expect(stats()).toMatchObject({ sent: 1, retried: 1, failed: 0, dropped: 0, queued: 0 });
  });

  test('a tampered body or signature, or another secret, is refused by the SDK', async () => {
    const { hooks, client } = await setup(['channel_occupied']);
    await subscribed(client('ann'), 'orders');
    await eventually(() => hooks.events.length === 1, 'orders occupied');
    const { headers, rawBody } = hooks.requests[0];
    const sdk = appSdk();
    expect(sdk.webhook({ headers, rawBody }).isValid()).toBe(true);
    const tamperedBody = rawBody.replace('orders', 'orderz');
    expect(sdk.webhook({ headers, rawBody: tamperedBody }).isValid()).toBe(false);
    const signature = headers['x-pusher-signature'];
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;
    expect(sdk.webhook({ headers: { ...headers, 'x-pusher-signature': flipped }, rawBody }).isValid()).toBe(
      false,
    );
    const other = appSdk('another-secret-99');
    expect(other.webhook({ headers, rawBody }).isValid()).toBe(false);
    // Posted to the receiver, the tampered request is answered 401 and its event is not kept.
    const refused = await fetch(hooks.url, { method: 'POST', headers, body: tamperedBody });
    expect(refused.status).toBe(401);
    expect(hooks.events).toEqual([{ name: 'channel_occupied', channel: 'orders' }]);
  });
});
