import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { RedisServer } from './support/redis-server.ts';
import { WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/** Names of Object.prototype's members, which a lookup on a plain object would find. */
const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
];

async function api(hub: TestHub, method: string, body: unknown) {
  const res = await fetch(`${hub.url}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const codeOf = (frame: object) => (frame as { error?: { code: string } }).error?.code ?? 'ok';

describe('names of Object.prototype members', () => {
  it('are unknown namespaces unless configured', async () => {
    const hub = await hubs.start({ namespaces: { chat: {} } });
    const c = await WsTestClient.open(hub.wsUrl);
    for (const name of PROTOTYPE_NAMES) {
      const channel = `${name}:x`;
      for (const type of ['publish', 'subscribe', 'history', 'presence']) {
        const reply = await c.command(type, type === 'publish' ? { channel, data: 1 } : { channel });
        expect([channel, type, codeOf(reply)]).toEqual([channel, type, 'unknown_namespace']);
      }
      expect(await api(hub, 'publish', { channel, data: 1 })).toMatchObject({
        status: 404,
        body: { error: { code: 'unknown_namespace' } },
      });
      expect(await api(hub, 'history', { channel })).toMatchObject({
        status: 404,
        body: { error: { code: 'unknown_namespace' } },
      });
    }
    expect((await api(hub, 'channels', {})).body).toEqual({ channels: [] });
    c.close();
  });

  it('follow the "*" rules like any other namespace', async () => {
    const hub = await hubs.start({ namespaces: { '*': { publish: 'nobody' } } });
    const c = await WsTestClient.open(hub.wsUrl);
    for (const name of PROTOTYPE_NAMES) {
      const channel = `${name}:x`;
      expect(codeOf(await c.command('publish', { channel, data: 1 }))).toBe('forbidden');
      await c.call('subscribe', { channel });
      expect(await api(hub, 'publish', { channel, data: name })).toMatchObject({ status: 200 });
      await c.waitFor((f) => f.type === 'pub' && f.channel === channel);
      const history = await c.call<{ publications: Array<{ data: unknown }> }>('history', { channel });
      expect(history.publications.map((p) => p.data)).toEqual([name]);
      expect(await c.call('presence', { channel })).toMatchObject({ members: {} });
    }
    // A channel named after a member, without a namespace, is reported under its own name in connect.
    const other = await WsTestClient.open(hub.wsUrl);
    const connected = await other.call<{ subs: Record<string, unknown> }>('connect', {
      subs: Object.fromEntries(PROTOTYPE_NAMES.map((name) => [name, {}])),
    });
    expect(Object.keys(connected.subs).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    expect(Object.values(connected.subs).every((s) => (s as { offset?: number }).offset === 0)).toBe(true);
    for (const client of [c, other]) client.close();
  });

  it('are unknown command types', async () => {
    const hub = await hubs.start();
    const c = await WsTestClient.open(hub.wsUrl);
    for (const [i, type] of PROTOTYPE_NAMES.entries()) {
      c.sendRaw(JSON.stringify({ id: 100 + i, type, channel: 'chat:a' }));
      const reply = await c.waitFor((f) => 'id' in f && f.id === 100 + i);
      expect([type, codeOf(reply)]).toEqual([type, 'unknown_command']);
    }
    c.close();
  });

  it('cannot name a namespace in the config', () => {
    expect(() => parseConfig(JSON.parse('{"namespaces":{"__proto__":{"publish":"nobody"}}}'))).toThrow(
      ConfigError,
    );
    // Other members' names are plain names, found only when configured.
    const config = parseConfig({ namespaces: { constructor: { publish: 'nobody' } } });
    expect(Object.keys(config.namespaces)).toEqual(['constructor']);
    expect(() => parseConfig(JSON.parse('{"limits":{"__proto__":{"publishRate":1}}}'))).toThrow(ConfigError);
  });
});

describe('on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('publish, history and presence of such channels answer like any other', async () => {
    const hub = await hubs.start({ broker: redis.url, namespaces: { '*': { publish: 'nobody' } } });
    const c = await WsTestClient.open(hub.wsUrl);
    for (const name of PROTOTYPE_NAMES) {
      const channel = `${name}:x`;
      expect(codeOf(await c.command('publish', { channel, data: 1 }))).toBe('forbidden');
      await c.call('subscribe', { channel });
      expect(await api(hub, 'publish', { channel, data: name })).toMatchObject({ status: 200 });
      await c.waitFor((f) => f.type === 'pub' && f.channel === channel);
      expect(await api(hub, 'history', { channel })).toMatchObject({
        status: 200,
        body: { publications: [{ data: name }] },
      });
      expect(await api(hub, 'presence', { channel })).toMatchObject({ status: 200 });
    }
    c.close();
    const unconfigured = await hubs.start({ broker: redis.url, namespaces: { chat: {} } });
    expect(await api(unconfigured, 'history', { channel: 'constructor:x' })).toMatchObject({
      status: 404,
      body: { error: { code: 'unknown_namespace' } },
    });
  });
});
