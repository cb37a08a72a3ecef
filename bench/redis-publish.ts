/**
 * What one publication costs through the Redis broker, without any transport: the node's CPU and Redis's.
 *
 *   npx tsx --conditions=@herald/source bench/redis-publish.ts [--channels 10000] [--publications 100000]
 *     [--in-flight 256] [--server-from DIR]
 *
 * One RedisBroker (a private `redis-server`, no persistence) subscribes to every channel, then publishes
 * round-robin over them with `--in-flight` publishes outstanding, until every publication has come back
 * to it through pub/sub. Reports publications/s, node CPU µs per publication (this process), Redis CPU µs
 * per publication (`INFO cpu`), and Redis's script calls (`INFO commandstats`). `--server-from DIR` runs
 * the broker of another checkout (its node_modules installed), for before/after comparisons.
 * Bounded: the run fails after two minutes.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisServer } from '../packages/server/test/support/redis-server.ts';

const { values: flags } = parseArgs({
  options: {
    channels: { type: 'string', default: '10000' },
    publications: { type: 'string', default: '100000' },
    'in-flight': { type: 'string', default: '256' },
    'server-from': { type: 'string' },
  },
});
const CHANNELS = Number(flags.channels);
const PUBLICATIONS = Number(flags.publications);
const IN_FLIGHT = Number(flags['in-flight']);
const DEADLINE_MS = 120_000;

const source = flags['server-from']
  ? join(flags['server-from'], 'packages/server/src/brokers/redis-broker.ts')
  : '../packages/server/src/brokers/redis-broker.ts';
const { RedisBroker } = (await import(
  source
)) as typeof import('../packages/server/src/brokers/redis-broker.ts');

const redis = await RedisServer.start();
const admin = new Redis(redis.url);
const broker = new RedisBroker({ url: redis.url });
let received = 0;
let finish: () => void = () => undefined;
await broker.start({
  publication: () => {
    if (++received === PUBLICATIONS) finish();
  },
  presence: () => undefined,
});
const names = Array.from({ length: CHANNELS }, (_, i) => `bench:c${i}`);
for (let i = 0; i < names.length; i += 500) {
  await Promise.all(names.slice(i, i + 500).map((c) => broker.subscribe(c)));
}
const rules = { historySize: 100, historyTtl: 300_000, idempotencyWindow: 0 };
const data = { p: 'x'.repeat(80) };

async function redisCpuMicros(): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1e6;
}
async function scriptCalls(): Promise<number> {
  const stats = await admin.info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

const done = new Promise<void>((resolve, reject) => {
  finish = resolve;
  setTimeout(() => reject(new Error(`only ${received} of ${PUBLICATIONS} came back`)), DEADLINE_MS).unref();
});
const [redisBefore, callsBefore] = [await redisCpuMicros(), await scriptCalls()];
const cpuBefore = process.cpuUsage();
const started = performance.now();
let sent = 0;
let failed = 0;
const next = (): void => {
  if (sent >= PUBLICATIONS) return;
  const channel = names[sent++ % CHANNELS];
  broker.publish(channel, data, undefined, rules).then(next, () => {
    failed++;
    next();
  });
};
for (let i = 0; i < IN_FLIGHT; i++) next();
await done;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const [redisAfter, callsAfter] = [await redisCpuMicros(), await scriptCalls()];
console.log(
  JSON.stringify({
    broker: flags['server-from'] ?? 'this checkout',
    channels: CHANNELS,
    publications: PUBLICATIONS,
    inFlight: IN_FLIGHT,
    failed,
    publicationsPerSec: Math.round(PUBLICATIONS / seconds),
    nodeMicrosPerPublication: +((cpu.user + cpu.system) / PUBLICATIONS).toFixed(1),
    redisMicrosPerPublication: +((redisAfter - redisBefore) / PUBLICATIONS).toFixed(1),
    publicationsPerScriptCall: +(PUBLICATIONS / Math.max(1, callsAfter - callsBefore)).toFixed(1),
  }),
);
await broker.close();
admin.disconnect();
await redis.stop();
