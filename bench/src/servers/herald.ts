/**
 * Herald as `herald serve` runs it (HeraldServer, memory broker, default config), except for the limits
 * a benchmark is bound to exceed (BENCH_LIMITS): its publisher publishes as fast as it likes over one
 * WebSocket, and all its anonymous clients come from one IP.
 */
import { HeraldServer } from '@herald/server';
import { announce, BENCH_API_KEY, BENCH_LIMITS, portArgument } from './control.ts';

const server = await HeraldServer.create({
  config: { host: '127.0.0.1', port: portArgument(), limits: BENCH_LIMITS, apiKey: BENCH_API_KEY },
});
const address = await server.listen();
announce(address.port);
