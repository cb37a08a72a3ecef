/**
 * One hub node of several on one Redis (the multi-node workload): herald.ts with `--broker redis://…`.
 */
import { HeraldServer } from '@herald/server';
import { announce, BENCH_API_KEY, BENCH_LIMITS, portArgument } from './control.ts';

const broker = process.argv[process.argv.indexOf('--broker') + 1];
const server = await HeraldServer.create({
  config: { host: '127.0.0.1', port: portArgument(), broker, limits: BENCH_LIMITS, apiKey: BENCH_API_KEY },
});
const address = await server.listen();
announce(address.port);
