import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/**
 * The app's own auth routes, as a Next.js route handler would be: the session cookie (or a bearer token)
 * names the user. Some sessions misbehave on purpose.
 */
const app = {
  url: '',
  connectCalls: 0,
  subscribeCalls: 0,
  seen: [] as Array<{ path: string; body: Record<string, unknown>; authorization?: string }>,
};

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text);
}

beforeAll(async () => {
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    app.seen.push({ path: req.url ?? '', body, authorization: req.headers.authorization });
    const json = { 'content-type': 'application/json' };
    if (req.url === '/auth/connect') {
      app.connectCalls++;
      const session =
        /session=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ??
        /^Bearer (\w+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (session === 'slow') await new Promise((r) => setTimeout(r, 3_000));
      if (session === 'broken') return res.writeHead(500).end('oops');
      if (session === undefined || session === 'expired') {
        return res.writeHead(401, json).end(JSON.stringify({ error: { message: 'please log in' } }));
      }
      return res.writeHead(200, json).end(JSON.stringify({ user: session, info: { via: 'cookie' } }));
    }
    if (req.url === '/auth/subscribe') {
      app.subscribeCalls++;
      if (body.user === 'alice' && body.channel === 'rooms:a') return res.writeHead(200, json).end('{}');
      return res.writeHead(403, json).end(JSON.stringify({ error: { message: 'not your room' } }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
});

function startHub(): Promise<TestHub> {
  return hubs.start({
    authProxy: {
      connectUrl: `${app.url}/auth/connect`,
      subscribeUrl: `${app.url}/auth/subscribe`,
      timeout: 0.5,
      cacheTtl: 30,
    },
    namespaces: { rooms: { subscribe: 'proxy' }, '*': {} },
  });
}

function withCookie(hub: TestHub, cookie: string): Promise<WsTestClient> {
  return WsTestClient.open(hub.wsUrl, { headers: { cookie } });
}

describe('auth proxy: connections', () => {
  it('admits the user the app names from its session cookie, asking once per cookie', async () => {
    const hub = await startHub();
    const before = app.connectCalls;
    const first = await withCookie(hub, 'theme=dark; session=alice');
    expect(await first.call('connect')).toMatchObject({ user: 'alice' });
    const second = await withCookie(hub, 'theme=dark; session=alice');
    expect(await second.call('connect')).toMatchObject({ user: 'alice' });
    expect(app.connectCalls - before).toBe(1);
    expect(app.seen.find((s) => s.path === '/auth/connect')?.body).toMatchObject({ transport: 'websocket' });
    await first.call('subscribe', { channel: 'chat:lobby' });
    const members = await first.call<{ members: Record<string, { user: string; info: unknown }> }>(
      'presence',
      {
        channel: 'chat:lobby',
      },
    );
    expect(Object.values(members.members)).toMatchObject([{ user: 'alice', info: { via: 'cookie' } }]);
    // No cookie and no token: anonymous, without bothering the app.
    const anonymous = await WsTestClient.open(hub.wsUrl);
    expect(await anonymous.call('connect')).toMatchObject({ user: null });
    expect(app.connectCalls - before).toBe(1);
    for (const c of [first, second, anonymous]) c.close();
  });

  it('forwards a connection token as a bearer token', async () => {
    const hub = await startHub();
    const c = await WsTestClient.open(hub.wsUrl);
    expect(await c.call('connect', { token: 'bob' })).toMatchObject({ user: 'bob' });
    expect(app.seen.findLast((s) => s.path === '/auth/connect')?.authorization).toBe('Bearer bob');
    c.close();
  });

  it.each([
    ['refuses (401)', 'session=expired', 'unauthorized', 4501],
    ['is too slow', 'session=slow', 'unavailable', 4003],
    ['fails (500)', 'session=broken', 'unavailable', 4003],
  ])('closes the connection when the app %s, and others carry on', async (_name, cookie, code, closeCode) => {
    const hub = await startHub();
    const watcher = await withCookie(hub, 'session=carol');
    await watcher.call('subscribe', { channel: 'chat:lobby' });
    const c = await withCookie(hub, cookie);
    const reply = await c.command('connect', { subs: { 'chat:lobby': {} } });
    expect(reply.error).toMatchObject({ code });
    if (code === 'unauthorized') expect(reply.error).toMatchObject({ message: 'please log in' });
    expect(await c.closed).toBe(closeCode);
    await hub.publish('chat:lobby', 'hi');
    await eventually(() => watcher.publications.length === 1, 'watcher receives');
    expect(c.publications).toEqual([]);
    watcher.close();
  });

  it('does not cache a failure to answer: the next attempt asks again', async () => {
    const hub = await startHub();
    const before = app.connectCalls;
    for (let i = 0; i < 2; i++) {
      const c = await withCookie(hub, 'session=broken');
      expect((await c.command('connect')).error).toMatchObject({ code: 'unavailable' });
    }
    expect(app.connectCalls - before).toBe(2);
  });
});

describe('auth proxy: subscriptions', () => {
  it('lets the app decide each subscription to a proxy namespace, caching the answer', async () => {
    const hub = await startHub();
    const alice = await withCookie(hub, 'session=alice');
    const bob = await withCookie(hub, 'session=bob');
    await alice.call('connect');
    await bob.call('connect');
    const before = app.subscribeCalls;
    await alice.call('subscribe', { channel: 'rooms:a' });
    expect((await alice.command('subscribe', { channel: 'rooms:b' })).error).toMatchObject({
      code: 'forbidden',
      message: 'not your room',
    });
    expect((await bob.command('subscribe', { channel: 'rooms:a' })).error).toMatchObject({
      code: 'forbidden',
    });
    expect((await bob.command('history', { channel: 'rooms:a' })).error).toMatchObject({ code: 'forbidden' });
    await alice.call('unsubscribe', { channel: 'rooms:a' });
    await alice.call('subscribe', { channel: 'rooms:a' });
    // Asked three times: alice rooms:a (resubscribing reuses it), alice rooms:b, bob rooms:a (history reuses it).
    expect(app.subscribeCalls - before).toBe(3);
    expect(app.seen.findLast((s) => s.path === '/auth/subscribe')?.body).toMatchObject({
      channel: 'rooms:a',
      user: 'bob',
    });
    await hub.publish('rooms:a', 'for alice');
    await eventually(() => alice.publications.length === 1, 'alice receives');
    expect(bob.publications).toEqual([]);
    alice.close();
    bob.close();
  });
});
