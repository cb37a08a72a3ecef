import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryBroker } from '../src/brokers/memory-broker.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { RedisServer } from './support/redis-server.ts';
import { SECRET, sign } from './support/tokens.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

async function watcher(hub: TestHub): Promise<WsTestClient> {
  const c = await WsTestClient.open(hub.wsUrl);
  await c.call('subscribe', { channel: 'chat:lobby' });
  return c;
}

async function stillReceives(hub: TestHub, c: WsTestClient): Promise<void> {
  const before = c.publications.length;
  await hub.publish('chat:lobby', 'still here');
  await eventually(() => c.publications.length === before + 1, 'watcher still receives');
}

/** Tries a WebSocket upgrade; resolves with the HTTP refusal (status and JSON body) or 'open'. */
function tryUpgrade(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: unknown; ws?: WebSocket }>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ status: 101, body: undefined, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', (err) => {
      if (!String(err.message).includes('Unexpected server response')) reject(err);
    });
  });
}

describe('client publish rate (token bucket per connection)', () => {
  it('answers rate_limited past the burst, refills over time, and leaves other connections alone', async () => {
    const hub = await hubs.start({ limits: { publishRate: 5, publishBurst: 5 } });
    const w = await watcher(hub);
    const flooder = await WsTestClient.open(hub.wsUrl);
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => flooder.command('publish', { channel: 'chat:lobby', data: i })),
    );
    const codes = replies.map((r) => (r.error as { code: string } | undefined)?.code ?? 'ok');
    expect(codes.filter((c) => c === 'ok')).toHaveLength(5);
    expect(codes.filter((c) => c === 'rate_limited')).toHaveLength(25);
    await eventually(() => w.publications.length === 5, 'only the allowed five are delivered');
    // Another connection has its own bucket.
    const polite = await WsTestClient.open(hub.wsUrl);
    await polite.call('publish', { channel: 'chat:lobby', data: 'mine' });
    // The flooder's bucket refills at 5 per second.
    await new Promise((r) => setTimeout(r, 450));
    await flooder.call('publish', { channel: 'chat:lobby', data: 'later' });
    await eventually(() => w.publications.length === 7, 'refilled publish delivered');
    for (const c of [w, flooder, polite]) c.close();
  });
});

describe('connection limits', () => {
  it('refuses a user past connectionsPerUser with too_many_connections (4503)', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, limits: { connectionsPerUser: 2 } });
    const token = await sign({ sub: 'greedy' });
    const open = await Promise.all([1, 2].map(() => WsTestClient.open(hub.wsUrl)));
    for (const c of open) await c.call('connect', { token });
    const third = await WsTestClient.open(hub.wsUrl);
    expect((await third.command('connect', { token, subs: { 'chat:lobby': {} } })).error).toMatchObject({
      code: 'too_many_connections',
    });
    expect(await third.closed).toBe(4503);
    expect(third.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 4503, reconnect: false });
    // Another user is not affected; a freed slot can be taken again.
    const other = await WsTestClient.open(hub.wsUrl);
    expect(await other.call('connect', { token: await sign({ sub: 'modest' }) })).toMatchObject({
      user: 'modest',
    });
    open[0].close();
    await open[0].closed;
    await eventually(() => hub.server.hub.sessions.size === 2, 'slot freed');
    const again = await WsTestClient.open(hub.wsUrl);
    expect(await again.call('connect', { token })).toMatchObject({ user: 'greedy' });
    for (const c of [open[1], other, again]) c.close();
  });

  it('refuses the upgrade past connectionsPerIp with HTTP 429 JSON', async () => {
    const hub = await hubs.start({ limits: { connectionsPerIp: 3 } });
    const open = await Promise.all([1, 2, 3].map(() => WsTestClient.open(hub.wsUrl)));
    await open[0].call('subscribe', { channel: 'chat:lobby' });
    const refused = await tryUpgrade(hub.wsUrl);
    expect(refused).toMatchObject({ status: 429, body: { error: { code: 'too_many_connections' } } });
    await stillReceives(hub, open[0]);
    open[2].close();
    await eventually(() => hub.server.hub.sessions.size === 2, 'slot freed');
    const admitted = await tryUpgrade(hub.wsUrl);
    expect(admitted.status).toBe(101);
    admitted.ws?.close();
    for (const c of open.slice(0, 2)) c.close();
  });
});

describe('subscriptions per connection', () => {
  it('answers too_many_subscriptions past the limit, in subscribe and in connect', async () => {
    const hub = await hubs.start({ limits: { subscriptionsPerConnection: 3 } });
    const c = await WsTestClient.open(hub.wsUrl);
    // A connect naming more channels than a connection may hold is refused whole, before any is looked at.
    expect(
      (await c.command('connect', { subs: { 'a:1': {}, 'a:2': {}, 'a:3': {}, 'a:4': {} } })).error,
    ).toMatchObject({ code: 'too_many_subscriptions' });
    expect(hub.server.hub.getStats().channels).toBe(0);
    const connected = await c.call<{ subs: Record<string, { error?: { code: string } }> }>('connect', {
      subs: { 'a:1': {}, 'a:2': {}, 'a:3': {} },
    });
    expect(Object.values(connected.subs).filter((s) => s.error)).toEqual([]);
    expect((await c.command('subscribe', { channel: 'a:6' })).error).toMatchObject({
      code: 'too_many_subscriptions',
    });
    await c.call('unsubscribe', { channel: 'a:1' });
    await c.call('subscribe', { channel: 'a:6' });
    c.close();
    // SSE and long-polling: the channels of the URL, refused whole in the same way.
    const four = 'channel=b:1&channel=b:2&channel=b:3&channel=b:4';
    for (const path of [`/connection/sse?${four}`, `/connection/poll?${four}&timeout=0`]) {
      const res = await fetch(`${hub.url}${path}`);
      expect([res.status, (await res.json()).error.code]).toEqual([429, 'too_many_subscriptions']);
    }
    expect(['b:1', 'b:2', 'b:3', 'b:4'].some((ch) => hub.server.hub.broker.hasChannel(ch))).toBe(false);
  });
});

describe('origins', () => {
  const allowedOrigins = ['https://app.example.com', 'https://*.example.org'];

  it('refuses a WebSocket upgrade from an origin not allowed with 403 JSON, whatever token it carries', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, allowedOrigins });
    const w = await watcher(hub);
    for (const origin of [
      'https://evil.example',
      'https://app.example.com.evil.example',
      'null',
      'https://example.org',
    ]) {
      const refused = await tryUpgrade(hub.wsUrl, { origin });
      expect([origin, refused.status]).toEqual([origin, 403]);
      expect(refused.body).toMatchObject({ error: { code: 'origin_not_allowed' } });
    }
    for (const origin of [
      'https://app.example.com',
      'https://eu.example.org',
      `http://127.0.0.1:${hub.port}`,
    ]) {
      const ok = await tryUpgrade(hub.wsUrl, { origin });
      expect([origin, ok.status]).toEqual([origin, 101]);
      ok.ws?.close();
    }
    const noOrigin = await tryUpgrade(hub.wsUrl); // a server-side client
    expect(noOrigin.status).toBe(101);
    noOrigin.ws?.close();
    await stillReceives(hub, w);
    w.close();
  });

  async function http(hub: TestHub, path: string, init: RequestInit & { headers?: Record<string, string> }) {
    const res = await fetch(`${hub.url}${path}`, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  it('answers CORS preflights and requests for allowed origins, and refuses others with 403', async () => {
    const hub = await hubs.start({ allowedOrigins, apiAllowedOrigins: ['https://app.example.com'] });
    const preflight = await http(hub, '/api/publish', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');

    const refusedPreflight = await http(hub, '/api/publish', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(refusedPreflight).toMatchObject({ status: 403, body: { error: { code: 'origin_not_allowed' } } });
    expect(refusedPreflight.headers.get('access-control-allow-origin')).toBeNull();

    const allowed = await http(hub, '/health', { headers: { origin: 'https://eu.example.org' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://eu.example.org');
    expect(allowed.headers.get('vary')).toBe('Origin');

    const refused = await http(hub, '/api/publish', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'chat:lobby', data: 'x' }),
    });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'origin_not_allowed' } } });
    expect((await hub.server.hub.history('chat:lobby', {})).publications).toEqual([]);
  });

  it('allows any origin by default, without credentials', async () => {
    const hub = await hubs.start();
    const res = await http(hub, '/health', { headers: { origin: 'https://anywhere.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const ws = await tryUpgrade(hub.wsUrl, { origin: 'https://anywhere.example' });
    expect(ws.status).toBe(101);
    ws.ws?.close();
  });
});

describe('oversized and malformed input', () => {
  it('answers payload_too_large, cuts frames far over the limit (1009), survives a flood of garbage', async () => {
    // Without the command rate, which the flood below would exceed (see 'commands per connection').
    const hub = await hubs.start({ maxPayloadBytes: 1024, limits: { commandRate: 0 } });
    const w = await watcher(hub);
    const c = await WsTestClient.open(hub.wsUrl);
    expect(
      (await c.command('publish', { channel: 'chat:lobby', data: 'x'.repeat(2000) })).error,
    ).toMatchObject({
      code: 'payload_too_large',
    });
    // A flood of malformed frames: each answered, none crashes or blocks anything.
    const garbage = [
      '{',
      '[]',
      '{"id":90001}',
      '{"id":90002,"type":"subscribe","channel":"a b"}',
      '\u0000\u0001',
    ];
    for (let i = 0; i < 2000; i++) c.sendRaw(garbage[i % garbage.length]);
    expect(await c.call('ping')).toEqual({});
    await eventually(
      () => c.frames.filter((f) => 'error' in f && f.error).length === 2001,
      'every frame answered',
    );
    await stillReceives(hub, w);

    const huge = await WsTestClient.open(hub.wsUrl);
    huge.sendRaw(
      JSON.stringify({ id: 1, type: 'publish', channel: 'chat:lobby', data: 'x'.repeat(2 * 1024 * 1024) }),
    );
    expect(await huge.closed).toBe(1009);
    await stillReceives(hub, w);
    expect(w.publications.every((p) => p.data === 'still here')).toBe(true);
    w.close();
    c.close();
  });
});

const codeOf = (frame: object) => (frame as { error?: { code: string } }).error?.code ?? 'ok';

async function apiPublish(hub: TestHub, channel: string): Promise<[number, string]> {
  const res = await fetch(`${hub.url}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data: 1 }),
  });
  const body = await res.json();
  return [res.status, body.error?.code ?? 'ok'];
}

async function channelList(hub: TestHub): Promise<string[]> {
  const res = await fetch(`${hub.url}/api/channels`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  return (await res.json()).channels;
}

describe('commands per connection (every kind)', () => {
  it('answers too_many_commands past the burst, whatever the command, and leaves others alone', async () => {
    const hub = await hubs.start({ limits: { commandRate: 5, commandBurst: 5 } });
    const w = await watcher(hub);
    const flooder = await WsTestClient.open(hub.wsUrl);
    const commands: Array<[string, Record<string, unknown>]> = [
      ['ping', {}],
      ['history', { channel: 'chat:lobby' }],
      ['presence', { channel: 'chat:lobby' }],
      ['subscribe', { channel: 'chat:s1' }],
      ['publish', { channel: 'chat:lobby', data: 'allowed' }],
      ['history', { channel: 'chat:lobby' }],
      ['presence', { channel: 'chat:lobby' }],
      ['subscribe', { channel: 'chat:s2' }],
      ['unsubscribe', { channel: 'chat:s1' }],
      ['publish', { channel: 'chat:lobby', data: 'refused' }],
      ['ping', {}],
      ['nonsense', {}],
    ];
    const replies = await Promise.all(commands.map(([type, fields]) => flooder.command(type, fields)));
    expect(replies.map(codeOf)).toEqual([...Array(5).fill('ok'), ...Array(7).fill('too_many_commands')]);
    await eventually(() => w.publications.length === 1, 'the allowed publish');
    await stillReceives(hub, w);
    expect(w.publications.map((p) => p.data)).toEqual(['allowed', 'still here']);
    // Its own bucket only: another connection is served, and the flooder again once it refills.
    const polite = await WsTestClient.open(hub.wsUrl);
    expect(await polite.call('ping')).toEqual({});
    await eventually(async () => codeOf(await flooder.command('ping')) === 'ok', 'refilled');
    for (const c of [w, flooder, polite]) c.close();
  });

  it('counts client actions over HTTP per client, across their requests', async () => {
    const hub = await hubs.start({ limits: { commandRate: 3, commandBurst: 3 } });
    const statuses: Array<[number, string]> = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${hub.url}/connection/history`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:lobby' }),
      });
      statuses.push([res.status, (await res.json()).error?.code ?? 'ok']);
    }
    expect(statuses).toEqual([
      [200, 'ok'],
      [200, 'ok'],
      [200, 'ok'],
      [429, 'too_many_commands'],
      [429, 'too_many_commands'],
    ]);
  });
});

describe('distinct channels', () => {
  it('refuses a new channel past channelsPerNode with too_many_channels; existing ones go on', async () => {
    const hub = await hubs.start({ limits: { channelsPerNode: 20, channelsPerIp: 0 } });
    const outcomes = [];
    for (let i = 0; i < 25; i++) outcomes.push(await apiPublish(hub, `chat:n${i}`));
    expect(outcomes.filter(([, code]) => code === 'ok')).toHaveLength(20);
    expect(outcomes.slice(20)).toEqual(Array(5).fill([429, 'too_many_channels']));
    expect(await apiPublish(hub, 'chat:n3')).toEqual([200, 'ok']);
    const c = await WsTestClient.open(hub.wsUrl);
    expect(codeOf(await c.command('subscribe', { channel: 'chat:new' }))).toBe('too_many_channels');
    expect(codeOf(await c.command('history', { channel: 'chat:new' }))).toBe('too_many_channels');
    expect(codeOf(await c.command('publish', { channel: 'chat:new', data: 1 }))).toBe('too_many_channels');
    await c.call('subscribe', { channel: 'chat:n3' });
    expect(await apiPublish(hub, 'chat:n3')).toEqual([200, 'ok']);
    await c.waitFor((f) => f.type === 'pub');
    expect(await channelList(hub)).toHaveLength(20);
    c.close();

    // Subscribes under way at once count as they go: exactly the cap gets in.
    const busy = await hubs.start({ limits: { channelsPerNode: 30, channelsPerIp: 0 } });
    const many = await WsTestClient.open(busy.wsUrl);
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => many.command('subscribe', { channel: `chat:s${i}` })),
    );
    expect(replies.filter((r) => codeOf(r) === 'ok')).toHaveLength(30);
    expect(replies.filter((r) => codeOf(r) === 'too_many_channels')).toHaveLength(20);
    many.close();
  });

  it('counts the channels anonymous clients bring into existence per IP, and frees them once gone', async () => {
    const broker = new MemoryBroker({ streamIdleTtl: 100, sweepInterval: 50 });
    const hub = await hubs.start(
      {
        tokenSecret: SECRET,
        limits: { channelsPerIp: 10, publishRate: 0 },
        namespaces: { '*': { historyTtl: 0.2 } },
      },
      { broker },
    );
    const anonymous = await WsTestClient.open(hub.wsUrl);
    const codes = [];
    for (let i = 0; i < 15; i++) {
      codes.push(codeOf(await anonymous.command('publish', { channel: `chat:a${i}`, data: i })));
    }
    expect(codes).toEqual([...Array(10).fill('ok'), ...Array(5).fill('too_many_channels')]);
    expect(codeOf(await anonymous.command('subscribe', { channel: 'chat:fresh' }))).toBe('too_many_channels');
    const poll = await fetch(`${hub.url}/connection/poll?channel=chat:fresh&timeout=0`);
    expect([poll.status, (await poll.json()).error?.code]).toEqual([429, 'too_many_channels']);
    // Its own channels, and everyone else, are not held back.
    await anonymous.call('subscribe', { channel: 'chat:a3' });
    const elsewhere = await WsTestClient.open(hub.wsUrl, { localAddress: '127.0.0.2' });
    await elsewhere.call('publish', { channel: 'chat:b0', data: 'other IP' });
    const known = await WsTestClient.open(hub.wsUrl);
    await known.call('connect', { token: await sign({ sub: 'alice' }) });
    await known.call('publish', { channel: 'chat:c0', data: 'authenticated' });
    expect(await apiPublish(hub, 'chat:d0')).toEqual([200, 'ok']);
    // Once the node no longer holds them (history expired, stream forgotten), the IP may create again.
    await eventually(
      async () => codeOf(await anonymous.command('publish', { channel: 'chat:later', data: 1 })) === 'ok',
      'channels released',
    );
    for (const c of [anonymous, elsewhere, known]) c.close();
  });

  it('counts per IP on Redis too, where the node itself holds only what it listens to', async () => {
    const redis = await RedisServer.start();
    hubs.onCleanup(() => redis.stop());
    const hub = await hubs.start({
      broker: redis.url,
      tokenSecret: SECRET,
      limits: { channelsPerIp: 5, channelsPerNode: 8 },
    });
    const anonymous = await WsTestClient.open(hub.wsUrl);
    const codes = [];
    for (let i = 0; i < 8; i++) {
      codes.push(codeOf(await anonymous.command('publish', { channel: `chat:r${i}`, data: i })));
    }
    expect(codes).toEqual([...Array(5).fill('ok'), ...Array(3).fill('too_many_channels')]);
    // Its history lives in Redis, so the node cap counts the channels this node listens to.
    const listener = await WsTestClient.open(hub.wsUrl);
    await listener.call('connect', { token: await sign({ sub: 'bob' }) });
    const subscribed = [];
    for (let i = 0; i < 10; i++) {
      subscribed.push(codeOf(await listener.command('subscribe', { channel: `chat:l${i}` })));
    }
    expect(subscribed).toEqual([...Array(8).fill('ok'), ...Array(2).fill('too_many_channels')]);
    for (const c of [anonymous, listener]) c.close();
  });

  it('keeps anonymous publishes to ever new names within the caps', async () => {
    const hub = await hubs.start({
      limits: { channelsPerNode: 250, channelsPerIp: 100, publishRate: 0, commandRate: 0 },
    });
    const clients = await Promise.all(
      [2, 3, 4, 5].map((n) => WsTestClient.open(hub.wsUrl, { localAddress: `127.0.0.${n}` })),
    );
    const accepted = await Promise.all(
      clients.map(async (c, n) => {
        const replies = await Promise.all(
          Array.from({ length: 150 }, (_, i) => c.command('publish', { channel: `chat:${n}-${i}`, data: i })),
        );
        return replies.filter((r) => codeOf(r) === 'ok').length;
      }),
    );
    expect(accepted.every((count) => count <= 100)).toBe(true);
    expect(accepted.reduce((a, b) => a + b, 0)).toBe(250);
    expect(await channelList(hub)).toHaveLength(250);
    for (const c of clients) c.close();
  });
});
