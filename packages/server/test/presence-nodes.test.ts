import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PresenceMember } from '@herald/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../src/brokers/redis-broker.ts';
import { hubPerTest } from './support/hub.ts';
import { freePort, runHerald, waitListening } from './support/process.ts';
import { RedisServer } from './support/redis-server.ts';
import { SECRET, sign } from './support/tokens.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();
let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

const config = { tokenSecret: SECRET, presenceTtl: 2, namespaces: { room: { joinLeave: true } } };

describe('presence across nodes', () => {
  it('shows a member of another node, and its leave when that node crashes without a word', async () => {
    const broker = new RedisBroker({ url: redis.url, sweepInterval: 200 });
    const local = await hubs.start(config, { broker });
    const watcher = await WsTestClient.open(local.wsUrl);
    await watcher.call('connect', { token: await sign({ sub: 'watcher' }) });
    await watcher.call('subscribe', { channel: 'room:1' });

    // Another node: a real `herald serve` process on the same Redis.
    const file = join(mkdtempSync(join(tmpdir(), 'herald-presence-')), 'herald.json');
    writeFileSync(file, JSON.stringify(config));
    const port = await freePort();
    const other = runHerald(['serve', '--port', String(port), '--broker', redis.url, '--config', file]);
    hubs.onCleanup(() => other.child.kill('SIGKILL'));
    await waitListening(other);
    const remote = await WsTestClient.open(`ws://127.0.0.1:${port}/connection/websocket`);
    await remote.call('connect', { token: await sign({ sub: 'remote', info: { node: 'b' } }) });
    await remote.call('subscribe', { channel: 'room:1' });

    const joins = () =>
      watcher.frames.filter((f) => f.type === 'join').map((f) => f.member as PresenceMember);
    const leaves = () =>
      watcher.frames.filter((f) => f.type === 'leave').map((f) => f.member as PresenceMember);
    await eventually(() => joins().some((m) => m.user === 'remote'), 'join from the other node');
    expect(joins().find((m) => m.user === 'remote')).toMatchObject({ info: { node: 'b' } });
    expect((await local.server.hub.presence('room:1')).map((m) => m.user).sort()).toEqual([
      'remote',
      'watcher',
    ]);

    other.child.kill('SIGKILL'); // no close frames, no leave, no cleanup: the TTL must do it
    await eventually(() => leaves().some((m) => m.user === 'remote'), 'leave once the TTL passes', 20_000);
    expect((await local.server.hub.presence('room:1')).map((m) => m.user)).toEqual(['watcher']);
    // The live node's own member was refreshed all along.
    expect(leaves().some((m) => m.user === 'watcher')).toBe(false);
    watcher.close();
  });
});
