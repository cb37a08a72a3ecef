import type { PollResult, PresenceMember, SseControlEvent } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/brokers/memory-broker.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { RawSseStream } from './support/sse-client.ts';
import { inSeconds, SECRET, sign, unsignedToken } from './support/tokens.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/** Opens `/connection/<path>` expecting a refusal; returns its status and error body. */
async function refused(hub: TestHub, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${hub.url}/connection/${path}`, { headers });
  const body = await res.json();
  return { status: res.status, code: body.error?.code as string | undefined, headers: res.headers };
}

function sse(hub: TestHub, query: string, headers: Record<string, string> = {}): Promise<RawSseStream> {
  return RawSseStream.open(`${hub.url}/connection/sse?${query}`, headers);
}

async function poll(hub: TestHub, query: string, headers: Record<string, string> = {}): Promise<PollResult> {
  const res = await fetch(`${hub.url}/connection/poll?${query}`, { headers });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

async function action(hub: TestHub, name: string, body: object, headers: Record<string, string> = {}) {
  const res = await fetch(`${hub.url}/connection/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

function connected(stream: RawSseStream) {
  return stream.controls.find((c) => c.type === 'connected') as
    | (SseControlEvent & { user: string | null; session: string; client: string })
    | undefined;
}

async function watcher(hub: TestHub, channel: string): Promise<WsTestClient> {
  const c = await WsTestClient.open(hub.wsUrl);
  await c.call('connect', { token: await sign({ sub: 'watcher' }) });
  await c.call('subscribe', { channel });
  return c;
}

describe('SSE and long-polling: connection tokens', () => {
  it('take the token from ?token= or Authorization: Bearer (the header wins)', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const byQuery = await sse(hub, `channel=chat:a&token=${await sign({ sub: 'q' })}`);
    const byHeader = await sse(hub, `channel=chat:a&token=${await sign({ sub: 'q' })}`, {
      authorization: `Bearer ${await sign({ sub: 'h' })}`,
    });
    await eventually(
      () => connected(byQuery) !== undefined && connected(byHeader) !== undefined,
      'connected',
    );
    expect(connected(byQuery)?.user).toBe('q');
    expect(connected(byHeader)?.user).toBe('h');
    const answer = await poll(hub, `channel=chat:a&timeout=0`, {
      authorization: `Bearer ${await sign({ sub: 'p' })}`,
    });
    expect(answer.subscribed).toMatchObject([{ channel: 'chat:a' }]);
    await byQuery.close();
    await byHeader.close();
  });

  it.each([
    ['a forged signature', () => sign({ sub: '42' }, { key: 'x'.repeat(40) }), 401, 'unauthorized'],
    ['alg: none', async () => unsignedToken({ sub: '42' }), 401, 'unauthorized'],
    ['an expired token', () => sign({ sub: '42', exp: inSeconds(-5) }), 401, 'token_expired'],
  ])('refuse %s on both, opening nothing', async (_name, make, status, code) => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const token = await make();
    expect(await refused(hub, `sse?channel=chat:a&token=${token}`)).toMatchObject({ status, code });
    expect(await refused(hub, `poll?channel=chat:a&timeout=0&token=${token}`)).toMatchObject({
      status,
      code,
    });
    expect(await refused(hub, 'sse?channel=chat:a', { authorization: `Bearer ${token}` })).toMatchObject({
      status,
      code,
    });
    expect(hub.server.hub.sessions.size).toBe(0);
  });

  it('refuse a valid token in the query string when the page is from another origin', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, allowedOrigins: ['https://app.example.com'] });
    const token = await sign({ sub: '42' });
    for (const path of [
      `sse?channel=notifications:%2342&token=${token}`,
      `poll?channel=notifications:%2342&timeout=0&token=${token}`,
    ]) {
      const refusal = await refused(hub, path, { origin: 'https://evil.example' });
      expect(refusal).toMatchObject({ status: 403, code: 'origin_not_allowed' });
      expect(refusal.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(hub.server.hub.sessions.size).toBe(0);
    // The app's own origin may, and gets CORS headers with credentials.
    const ok = await sse(hub, `channel=notifications:%2342&token=${token}`, {
      origin: 'https://app.example.com',
    });
    expect(ok.response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.response.headers.get('access-control-allow-credentials')).toBe('true');
    await ok.close();
  });
});

describe('SSE and long-polling: channel permissions', () => {
  it("refuse another user's private channel, and deliver it to nobody else", async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const intruder = await sign({ sub: '7' });
    const owner = await sse(hub, `channel=notifications:%2342&token=${await sign({ sub: '42' })}`);
    expect(
      await refused(hub, `sse?channel=notifications:%2342&channel=chat:a&token=${intruder}`),
    ).toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    expect(await refused(hub, `poll?channel=notifications:%2342&timeout=0&token=${intruder}`)).toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    expect(await refused(hub, 'sse?channel=notifications:%2342')).toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    // A stream of the intruder's own, trying to add the channel by action.
    const own = await sse(hub, `channel=chat:a&token=${intruder}`);
    await eventually(() => connected(own) !== undefined, 'intruder connected');
    const sneak = await action(
      hub,
      'subscribe',
      { session: connected(own)?.session, channel: 'notifications:#42' },
      { authorization: `Bearer ${intruder}` },
    );
    expect(sneak).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    await hub.publish('notifications:#42', 'secret');
    await eventually(() => owner.publications.length === 1, 'owner receives');
    await new Promise((r) => setTimeout(r, 100));
    expect(own.publications).toEqual([]);
    await owner.close();
    await own.close();
  });

  it('admit a subscription token only for its channel and user', async () => {
    const hub = await hubs.start({
      tokenSecret: SECRET,
      namespaces: { secret: { subscribe: 'token' }, '*': {} },
    });
    const auth = { authorization: `Bearer ${await sign({ sub: 'u1' })}` };
    const stream = await sse(hub, 'channel=chat:a', auth);
    await eventually(() => connected(stream) !== undefined, 'connected');
    const session = connected(stream)?.session;
    const attempts: Array<[string | undefined, number, string]> = [
      [undefined, 403, 'forbidden'],
      [await sign({ sub: 'u1', channel: 'secret:other' }), 403, 'forbidden'],
      [await sign({ sub: 'u2', channel: 'secret:plans' }), 403, 'forbidden'],
    ];
    for (const [token, status, code] of attempts) {
      const answer = await action(
        hub,
        'subscribe',
        { session, channel: 'secret:plans', ...(token ? { token } : {}) },
        auth,
      );
      expect(answer).toMatchObject({ status, body: { error: { code } } });
    }
    const ok = await action(
      hub,
      'subscribe',
      { session, channel: 'secret:plans', token: await sign({ sub: 'u1', channel: 'secret:plans' }) },
      auth,
    );
    expect(ok.status).toBe(200);
    await hub.publish('secret:plans', 'for u1');
    await eventually(
      () => stream.publications.some((p) => p.channel === 'secret:plans'),
      'token holder receives',
    );
    await stream.close();
  });
});

describe('SSE and long-polling: limits', () => {
  it('count SSE streams toward connectionsPerUser', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, limits: { connectionsPerUser: 1 } });
    const token = await sign({ sub: 'greedy' });
    const first = await sse(hub, `channel=chat:a&token=${token}`);
    expect(await refused(hub, `sse?channel=chat:a&token=${token}`)).toMatchObject({
      status: 429,
      code: 'too_many_connections',
    });
    await first.close();
    await eventually(() => hub.server.hub.sessions.size === 0, 'first stream released');
    const again = await sse(hub, `channel=chat:a&token=${token}`);
    await again.close();
  });

  it('rate-limit stateless client publishes per client, not per request', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, limits: { publishRate: 1, publishBurst: 3 } });
    const auth = { authorization: `Bearer ${await sign({ sub: 'chatty' })}` };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await action(hub, 'publish', { channel: 'chat:a', data: i }, auth);
      statuses.push(answer.status);
      if (answer.status !== 200) expect(answer.body).toMatchObject({ error: { code: 'rate_limited' } });
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    // Another user has a bucket of its own.
    const other = await action(
      hub,
      'publish',
      { channel: 'chat:a', data: 'x' },
      {
        authorization: `Bearer ${await sign({ sub: 'quiet' })}`,
      },
    );
    expect(other.status).toBe(200);
  });
});

describe('SSE and long-polling: presence and expiry', () => {
  const members = async (hub: TestHub, channel: string) =>
    Object.values((await hub.server.hub.presence(channel)) as PresenceMember[]);
  const pushes = (c: WsTestClient, type: string) =>
    c.frames.filter((f) => f.type === type).map((f) => (f as unknown as { member: PresenceMember }).member);

  it('lists an SSE subscriber with join and leave pushes', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, namespaces: { room: { joinLeave: true } } });
    const w = await watcher(hub, 'room:1');
    const stream = await sse(hub, `channel=room:1&token=${await sign({ sub: 'sse-user', info: { n: 1 } })}`);
    await eventually(() => pushes(w, 'join').some((m) => m.user === 'sse-user'), 'join pushed');
    expect((await members(hub, 'room:1')).map((m) => m.user).sort()).toEqual(['sse-user', 'watcher']);
    await stream.close();
    await eventually(() => pushes(w, 'leave').some((m) => m.user === 'sse-user'), 'leave pushed');
    w.close();
  });

  it('keeps a long-poll client present across polls, and lets it expire when it stops polling', async () => {
    const broker = new MemoryBroker({ sweepInterval: 50 });
    const hub = await hubs.start(
      { tokenSecret: SECRET, presenceTtl: 1, namespaces: { room: { joinLeave: true } } },
      { broker },
    );
    const w = await watcher(hub, 'room:1');
    const auth = { authorization: `Bearer ${await sign({ sub: 'poller' })}` };
    let cursor = '';
    for (let i = 0; i < 4; i++) {
      const answer = await poll(
        hub,
        `channel=room:1&timeout=0&client=tab1${cursor ? `&cursor=${cursor}` : ''}`,
        auth,
      );
      cursor = answer.cursor;
      // Between polls the client is still a member: no leave, no second join.
      expect((await members(hub, 'room:1')).map((m) => m.user).sort()).toEqual(['poller', 'watcher']);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(pushes(w, 'join').filter((m) => m.user === 'poller')).toHaveLength(1);
    expect(pushes(w, 'leave')).toEqual([]);
    // Another tab of the same user is another member.
    await poll(hub, 'channel=room:1&timeout=0&client=tab2', auth);
    expect((await members(hub, 'room:1')).filter((m) => m.user === 'poller')).toHaveLength(2);
    // It stops polling: gone within the TTL, with a leave push.
    await eventually(
      () => pushes(w, 'leave').filter((m) => m.user === 'poller').length === 2,
      'leases expire',
    );
    expect((await members(hub, 'room:1')).map((m) => m.user)).toEqual(['watcher']);
    w.close();
  });

  it('asks an expiring SSE stream to refresh, keeps it after POST /connection/refresh, ends the other with 4004', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, pingInterval: 0.1, tokenExpiryGrace: 1 });
    const exp = inSeconds(2);
    const refresher = await sse(hub, `channel=chat:a&token=${await sign({ sub: 'r', exp })}`);
    const idle = await sse(hub, `channel=chat:a&token=${await sign({ sub: 'i', exp })}`);
    await eventually(
      () => refresher.controls.some((c) => (c.type as string) === 'refresh'),
      'refresh pushed',
      10_000,
    );
    const session = connected(refresher)?.session;
    const newExp = inSeconds(3600);
    const answer = await action(hub, 'refresh', { session, token: await sign({ sub: 'r', exp: newExp }) });
    expect(answer).toEqual({ status: 200, body: { expires: newExp } });
    await idle.ends();
    expect(idle.controls.find((c) => c.type === 'disconnect')).toMatchObject({ code: 4004, reconnect: true });
    await new Promise((r) => setTimeout(r, 1200));
    expect(refresher.ended).toBe(false);
    await hub.publish('chat:a', 'after');
    await eventually(() => refresher.publications.length === 1, 'refreshed stream receives');
    await refresher.close();
  });
});
