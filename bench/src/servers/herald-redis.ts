/**
 * Herald on the Redis broker: the hub of herald.ts with `broker: redis://…`, against a private
 * redis-server (no persistence) started here. Redis is this process's child, so it runs on the server
 * core too and its CPU and memory count as the server's: one core for the whole of Herald + Redis.
 */
import { join } from 'node:path';
import { RedisServer } from '../../../packages/server/test/support/redis-server.ts';
import { announce, BENCH_API_KEY, BENCH_LIMITS, portArgument } from './control.ts';

// `--server-from DIR`: the server of another checkout (the baseline of a before/after comparison).
const from = process.argv.indexOf('--server-from');
const { HeraldServer } = (await import(
  from >= 0 ? join(process.argv[from + 1], 'packages/server/src/index.ts') : '@herald/server'
)) as typeof import('@herald/server');

const redis = await RedisServer.start();
// announce() turns SIGTERM into exit(0); Redis must not outlive the step.
process.on('exit', () => process.kill(redis.pid, 'SIGKILL'));
const server = await HeraldServer.create({
  config: {
    host: '127.0.0.1',
    port: portArgument(),
    broker: redis.url,
    limits: BENCH_LIMITS,
    apiKey: BENCH_API_KEY,
  },
});
const address = await server.listen();
announce(address.port);
