import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { inSeconds, SECRET, sign, unsignedToken } from './support/tokens.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/** A subscriber that must keep receiving while others try to get in. */
async function bystander(hub: TestHub, channel = 'chat:lobby'): Promise<WsTestClient> {
  const c = await WsTestClient.open(hub.wsUrl);
  await c.call('subscribe', { channel });
  return c;
}

async function stillReceives(hub: TestHub, c: WsTestClient, channel = 'chat:lobby'): Promise<void> {
  const before = c.publications.length;
  await hub.publish(channel, 'still here');
  await eventually(() => c.publications.length === before + 1, 'bystander still receives');
}

/** Connects with `token` and returns the connect reply and, if the hub closes the socket, its close code. */
async function connectWith(hub: TestHub, token: string, subs: Record<string, object> = {}) {
  const c = await WsTestClient.open(hub.wsUrl);
  const reply = await c.command('connect', { token, subs });
  return { client: c, reply, error: reply.error as { code: string; message: string } | undefined };
}

describe('connection tokens (HS256)', () => {
  it('admits a valid token: sub is the user, exp is reported, info reaches presence', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const exp = inSeconds(3600);
    const token = await sign({ sub: '42', exp, info: { name: 'Ada' } });
    const { client, reply } = await connectWith(hub, token, { 'chat:lobby': {} });
    expect(reply.result).toMatchObject({ user: '42', expires: exp, subs: { 'chat:lobby': { offset: 0 } } });
    const members = await client.call<{ members: Record<string, unknown> }>('presence', {
      channel: 'chat:lobby',
    });
    expect(Object.values(members.members)).toEqual([
      { client: (reply.result as { client: string }).client, user: '42', info: { name: 'Ada' } },
    ]);
    client.close();
  });

  it('still lets clients without a token connect anonymously', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const c = await WsTestClient.open(hub.wsUrl);
    expect(await c.call('connect')).toMatchObject({ user: null });
    c.close();
  });

  it.each([
    [
      'a forged signature',
      () => sign({ sub: '42' }, { key: 'another-secret-that-is-at-least-32-chars!!' }),
      'unauthorized',
      4501,
    ],
    ['alg: none', async () => unsignedToken({ sub: '42' }), 'unauthorized', 4501],
    ['an expired token', () => sign({ sub: '42', exp: inSeconds(-10) }), 'token_expired', 4004],
    ['a token that is not yet valid', () => sign({ sub: '42', nbf: inSeconds(600) }), 'unauthorized', 4501],
    ['a token without sub', () => sign({ name: 'nobody' }), 'unauthorized', 4501],
    ['a subscription token', () => sign({ sub: '42', channel: 'chat:lobby' }), 'unauthorized', 4501],
    ['garbage', async () => 'not.a.jwt', 'unauthorized', 4501],
  ])('refuses %s with %s and closes %i; others are not disturbed', async (_name, make, code, closeCode) => {
    const hub = await hubs.start({ tokenSecret: SECRET });
    const watcher = await bystander(hub);
    const { client, error } = await connectWith(hub, await make(), { 'chat:lobby': {} });
    expect(error?.code).toBe(code);
    expect(await client.closed).toBe(closeCode);
    expect(client.publications).toEqual([]);
    await stillReceives(hub, watcher);
    watcher.close();
  });

  it('refuses any token when the hub verifies none', async () => {
    const hub = await hubs.start();
    const { client, error } = await connectWith(hub, await sign({ sub: '42' }));
    expect(error?.code).toBe('unauthorized');
    expect(await client.closed).toBe(4501);
  });

  it('enforces iss and aud when configured', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, tokenIssuer: 'app', tokenAudience: 'herald' });
    const wrongIssuer = await connectWith(hub, await sign({ sub: '1', iss: 'evil', aud: 'herald' }));
    expect(wrongIssuer.error?.code).toBe('unauthorized');
    const right = await connectWith(hub, await sign({ sub: '1', iss: 'app', aud: 'herald' }));
    expect(right.reply.result).toMatchObject({ user: '1' });
    right.client.close();
  });
});

describe('connection tokens (RS256, ES256, JWKS)', () => {
  it.each(['RS256', 'ES256'])(
    'verifies %s with a PEM public key, and refuses HS256 signed with that key',
    async (alg) => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const pem = await exportSPKI(publicKey);
      const hub = await hubs.start({ tokenPublicKey: pem });
      const ok = await connectWith(hub, await sign({ sub: 'u1' }, { key: privateKey, alg }));
      expect(ok.reply.result).toMatchObject({ user: 'u1' });
      // Algorithm confusion: the public key (which anyone may know) used as an HMAC secret.
      const confused = await connectWith(hub, await sign({ sub: 'u1' }, { key: pem }));
      expect(confused.error?.code).toBe('unauthorized');
      expect(await confused.client.closed).toBe(4501);
      const other = await generateKeyPair(alg);
      const forged = await connectWith(hub, await sign({ sub: 'u1' }, { key: other.privateKey, alg }));
      expect(forged.error?.code).toBe('unauthorized');
      ok.client.close();
    },
  );

  async function jwksServer(keys: object[]): Promise<{ url: string; fetches: () => number; server: Server }> {
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/jwks.json`, fetches: () => fetches, server };
  }

  it('verifies against a JWKS URL, fetching the key set once for many connections', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    const jwks = await jwksServer([
      { ...(await exportJWK(rsa.publicKey)), kid: 'r1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'e1', alg: 'ES256', use: 'sig' },
    ]);
    hubs.onCleanup(() => new Promise((r) => jwks.server.close(r)));
    const hub = await hubs.start({ tokenJwksUrl: jwks.url });
    const clients: WsTestClient[] = [];
    for (let i = 0; i < 5; i++) {
      const ok = await connectWith(
        hub,
        await sign({ sub: `u${i}` }, { key: rsa.privateKey, alg: 'RS256', kid: 'r1' }),
      );
      expect(ok.reply.result).toMatchObject({ user: `u${i}` });
      clients.push(ok.client);
    }
    const viaEc = await connectWith(
      hub,
      await sign({ sub: 'e' }, { key: ec.privateKey, alg: 'ES256', kid: 'e1' }),
    );
    expect(viaEc.reply.result).toMatchObject({ user: 'e' });
    expect(jwks.fetches()).toBe(1);
    const unknownKey = await generateKeyPair('RS256');
    const forged = await connectWith(
      hub,
      await sign({ sub: 'x' }, { key: unknownKey.privateKey, alg: 'RS256', kid: 'r1' }),
    );
    expect(forged.error?.code).toBe('unauthorized');
    const hs = await connectWith(hub, await sign({ sub: 'x' }));
    expect(hs.error?.code).toBe('unauthorized');
    for (const c of [...clients, viaEc.client]) c.close();
  });

  it('answers unavailable (close 4003, reconnect) when the JWKS cannot be fetched', async () => {
    const jwks = await jwksServer([]);
    await new Promise((r) => jwks.server.close(r)); // nothing listens there any more
    const hub = await hubs.start({ tokenJwksUrl: jwks.url });
    const { privateKey } = await generateKeyPair('RS256');
    const { client, error } = await connectWith(
      hub,
      await sign({ sub: 'u' }, { key: privateKey, alg: 'RS256', kid: 'k' }),
    );
    expect(error?.code).toBe('unavailable');
    expect(await client.closed).toBe(4003);
  });
});

describe('token expiry and refresh', () => {
  it('asks an expired connection to refresh, keeps it when it does, closes it with 4004 when it does not', async () => {
    const hub = await hubs.start({ tokenSecret: SECRET, pingInterval: 0.1, tokenExpiryGrace: 1 });
    const exp = inSeconds(2);
    const refresher = (await connectWith(hub, await sign({ sub: 'r', exp }), { 'chat:lobby': {} })).client;
    const idle = (await connectWith(hub, await sign({ sub: 'i', exp }), { 'chat:lobby': {} })).client;
    const forever = (await connectWith(hub, await sign({ sub: 'f' }), { 'chat:lobby': {} })).client;

    const push = await refresher.waitFor((f) => f.type === 'refresh');
    expect(push).toMatchObject({ type: 'refresh', code: 'token_expired' });
    // Past exp, nothing but refresh is served.
    expect((await refresher.command('history', { channel: 'chat:lobby' })).error).toMatchObject({
      code: 'token_expired',
    });
    const wrongUser = await refresher.command('refresh', {
      token: await sign({ sub: 'someone-else', exp: inSeconds(60) }),
    });
    expect(wrongUser.error).toMatchObject({ code: 'forbidden' });
    const stale = await refresher.command('refresh', { token: await sign({ sub: 'r', exp: inSeconds(-1) }) });
    expect(stale.error).toMatchObject({ code: 'token_expired' });
    const newExp = inSeconds(3600);
    expect(await refresher.call('refresh', { token: await sign({ sub: 'r', exp: newExp }) })).toEqual({
      expires: newExp,
    });

    expect(await idle.closed).toBe(4004);
    expect(idle.frames.find((f) => f.type === 'refresh')).toBeDefined();
    expect(idle.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 4004, reconnect: true });

    // The refreshed and the non-expiring connections live on and receive.
    await new Promise((r) => setTimeout(r, 1200));
    expect(refresher.closeCode).toBeUndefined();
    await hub.publish('chat:lobby', 'after');
    await eventually(
      () => refresher.publications.length === 1 && forever.publications.length === 1,
      'both receive',
    );
    expect(idle.publications).toEqual([]);
    refresher.close();
    forever.close();
  });
});

describe('HERALD_TOKEN_SECRET', () => {
  it('is read by herald serve', async () => {
    const { freePort, runHerald, waitListening } = await import('./support/process.ts');
    const port = await freePort();
    const p = runHerald(['serve', '--port', String(port)], { HERALD_TOKEN_SECRET: SECRET });
    hubs.onCleanup(() => p.child.kill('SIGKILL'));
    await waitListening(p);
    const c = await WsTestClient.open(`ws://127.0.0.1:${port}/connection/websocket`);
    expect(await c.call('connect', { token: await sign({ sub: 'cli-user' }) })).toMatchObject({
      user: 'cli-user',
    });
    const forged = await WsTestClient.open(`ws://127.0.0.1:${port}/connection/websocket`);
    const reply = await forged.command('connect', {
      token: await sign({ sub: 'x' }, { key: 'x'.repeat(40) }),
    });
    expect(reply.error).toMatchObject({ code: 'unauthorized' });
    c.close();
  });
});
