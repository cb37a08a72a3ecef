import { describe, expect, it } from 'vitest';
import { HeraldServer } from '../src/server.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { freePort, runHerald } from './support/process.ts';
import { inSeconds, SECRET, sign } from './support/tokens.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/** A connected client: `user` null connects anonymously. */
async function as(hub: TestHub, user: string | null): Promise<WsTestClient> {
  const c = await WsTestClient.open(hub.wsUrl);
  await c.call('connect', user === null ? {} : { token: await sign({ sub: user }) });
  return c;
}

function errorCode(reply: Record<string, unknown>): string | undefined {
  return (reply.error as { code?: string } | undefined)?.code;
}

describe('private user channels', () => {
  it('lets only the user after # read notifications:#42, by any command', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const owner = await as(hub, '42');
    const other = await as(hub, '7');
    const lookalike = await as(hub, '4'); // a prefix of 42
    const anonymous = await as(hub, null);
    await owner.call('subscribe', { channel: 'notifications:#42' });
    for (const c of [other, lookalike, anonymous]) {
      expect(errorCode(await c.command('subscribe', { channel: 'notifications:#42' }))).toBe('forbidden');
      expect(errorCode(await c.command('history', { channel: 'notifications:#42' }))).toBe('forbidden');
      expect(errorCode(await c.command('presence', { channel: 'notifications:#42' }))).toBe('forbidden');
      expect(errorCode(await c.command('publish', { channel: 'notifications:#42', data: 'spoof' }))).toBe(
        'forbidden',
      );
    }
    // Initial subscriptions in connect are held to the same rule.
    const late = await WsTestClient.open(hub.wsUrl);
    const connected = await late.call<{ subs: Record<string, unknown> }>('connect', {
      token: await sign({ sub: '7' }),
      subs: { 'notifications:#42': {}, 'chat:lobby': {} },
    });
    expect(connected.subs['notifications:#42']).toMatchObject({ error: { code: 'forbidden' } });
    expect(connected.subs['chat:lobby']).toMatchObject({ offset: 0 });

    await hub.publish('notifications:#42', { text: 'for 42 only' });
    await owner.call('publish', { channel: 'notifications:#42', data: 'note to self' });
    await eventually(() => owner.publications.length === 2, 'owner receives');
    expect(await owner.call('history', { channel: 'notifications:#42' })).toMatchObject({ offset: 2 });
    for (const c of [other, lookalike, anonymous, late]) expect(c.publications).toEqual([]);
    for (const c of [owner, other, lookalike, anonymous, late]) c.close();
  });

  it('lets every listed user of dm:#alice,bob in, and nobody else', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const alice = await as(hub, 'alice');
    const bob = await as(hub, 'bob');
    const carol = await as(hub, 'carol');
    await alice.call('subscribe', { channel: 'dm:#alice,bob' });
    await bob.call('subscribe', { channel: 'dm:#alice,bob' });
    expect(errorCode(await carol.command('subscribe', { channel: 'dm:#alice,bob' }))).toBe('forbidden');
    await alice.call('publish', { channel: 'dm:#alice,bob', data: 'hi bob' });
    await eventually(() => bob.publications.length === 1 && alice.publications.length === 1, 'both receive');
    expect(carol.publications).toEqual([]);
    for (const c of [alice, bob, carol]) c.close();
  });
});

describe('namespace rules', () => {
  const config = {
    tokenSecret: SECRET,
    namespaces: {
      public: { subscribe: 'anyone', publish: 'anyone' },
      members: { subscribe: 'authenticated', publish: 'authenticated' },
      feed: { subscribe: 'anyone', publish: 'nobody' },
      secret: { subscribe: 'token', publish: 'nobody' },
    },
  } as const;

  it('applies subscribe: anyone | authenticated, and publish: anyone | authenticated | nobody', async () => {
    const hub = await hubs.start(config);
    const anonymous = await as(hub, null);
    const user = await as(hub, 'u1');
    await anonymous.call('subscribe', { channel: 'public:a' });
    expect(errorCode(await anonymous.command('subscribe', { channel: 'members:a' }))).toBe('forbidden');
    expect(errorCode(await anonymous.command('history', { channel: 'members:a' }))).toBe('forbidden');
    await user.call('subscribe', { channel: 'members:a' });

    await anonymous.call('publish', { channel: 'public:a', data: 1 });
    expect(errorCode(await anonymous.command('publish', { channel: 'members:a', data: 1 }))).toBe(
      'forbidden',
    );
    await user.call('publish', { channel: 'members:a', data: 2 });
    expect(errorCode(await user.command('publish', { channel: 'feed:a', data: 3 }))).toBe('forbidden');
    // The server API is not bound by client rules.
    await hub.publish('feed:a', 'from the server');
    expect(errorCode(await user.command('subscribe', { channel: 'unlisted:a' }))).toBe('unknown_namespace');
    await eventually(() => user.publications.length === 1, 'member publication');
    expect(anonymous.publications.map((p) => p.data)).toEqual([1]);
    anonymous.close();
    user.close();
  });

  it('subscribe: token needs a subscription token for that channel and that user', async () => {
    const hub = await hubs.start(config);
    const user = await as(hub, 'u1');
    const attempts: Array<[string, string | undefined, string]> = [
      ['no token', undefined, 'forbidden'],
      ['for another channel', await sign({ sub: 'u1', channel: 'secret:other' }), 'forbidden'],
      ['for another user', await sign({ sub: 'u2', channel: 'secret:plans' }), 'forbidden'],
      ['forged', await sign({ sub: 'u1', channel: 'secret:plans' }, { key: 'f'.repeat(40) }), 'unauthorized'],
      ['expired', await sign({ sub: 'u1', channel: 'secret:plans', exp: inSeconds(-5) }), 'token_expired'],
      ['a connection token', await sign({ sub: 'u1' }), 'unauthorized'],
    ];
    for (const [name, token, code] of attempts) {
      const reply = await user.command('subscribe', { channel: 'secret:plans', ...(token ? { token } : {}) });
      expect([name, errorCode(reply)]).toEqual([name, code]);
    }
    expect(errorCode(await user.command('history', { channel: 'secret:plans' }))).toBe('forbidden');
    await hub.publish('secret:plans', 'before');
    expect(user.publications).toEqual([]);

    const holder = await as(hub, 'u1');
    await holder.call('subscribe', {
      channel: 'secret:plans',
      token: await sign({ sub: 'u1', channel: 'secret:plans', exp: inSeconds(60) }),
    });
    // The same token works among connect's initial subscriptions.
    const early = await WsTestClient.open(hub.wsUrl);
    const connected = await early.call<{ subs: Record<string, unknown> }>('connect', {
      token: await sign({ sub: 'u1' }),
      subs: {
        'secret:plans': { token: await sign({ sub: 'u1', channel: 'secret:plans' }) },
        'secret:other': { token: await sign({ sub: 'u1', channel: 'secret:plans' }) },
      },
    });
    expect(connected.subs['secret:plans']).toMatchObject({ offset: 1 });
    expect(connected.subs['secret:other']).toMatchObject({ error: { code: 'forbidden' } });
    early.close();
    // Subscribed, it may read history and presence without presenting the token again.
    expect(await holder.call('history', { channel: 'secret:plans' })).toMatchObject({ offset: 1 });
    await hub.publish('secret:plans', 'after');
    await eventually(() => holder.publications.length === 1, 'token holder receives');
    expect(user.publications).toEqual([]);
    user.close();
    holder.close();
  });

  it('keeps the defaults of a fresh hub: anonymous subscribe and publish on any namespace', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    await c.call('subscribe', { channel: 'anything:here' });
    await c.call('publish', { channel: 'anything:here', data: 'ok' });
    await eventually(() => c.publications.length === 1, 'own publication');
    c.close();
  });
});

describe('namespace config validation', () => {
  it.each([
    [{ namespaces: { chat: { subscribe: 'everyone' } } }, /namespaces\.chat\.subscribe/],
    [{ namespaces: { chat: { publish: true } } }, /namespaces\.chat\.publish/],
    [{ namespaces: { chat: { joinLeave: true, presence: false } } }, /namespaces\.chat\.joinLeave/],
    [
      { namespaces: { chat: { subscribe: 'token' } } },
      /namespaces\.chat\.subscribe: "token" needs tokenSecret/,
    ],
    [
      { namespaces: { chat: { subscribe: 'proxy' } } },
      /namespaces\.chat\.subscribe: "proxy" needs authProxy/,
    ],
    [{ tokenSecret: 'short' }, /tokenSecret: must be at least 32/],
    [{ tokenPublicKey: 'not a key' }, /tokenPublicKey/],
    [{ allowedOrigins: ['https://app.example.com/'] }, /allowedOrigins\.0/],
    [{ limits: { publishRate: 'fast' } }, /limits\.publishRate/],
  ])('refuses %j naming the field', async (config, message) => {
    await expect(HeraldServer.create({ config: config as never })).rejects.toThrow(message);
  });

  it('herald serve exits with the error naming the field', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'herald-auth-')), 'herald.json');
    writeFileSync(file, JSON.stringify({ namespaces: { secret: { subscribe: 'token' } } }));
    const p = runHerald(['serve', '--port', String(await freePort()), '--config', file]);
    hubs.onCleanup(() => p.child.kill('SIGKILL'));
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/herald: namespaces\.secret\.subscribe: "token" needs tokenSecret/);
  });
});
