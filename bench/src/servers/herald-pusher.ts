/**
 * The herald target's hub with one Pusher app: pusher-js subscribers on `/app/{key}`, the same publisher
 * over Herald's WebSocket protocol, so the two protocols are measured on the same hub and workload.
 */
import { HeraldServer } from '@herald/server';
import { PUSHER_KEY } from '../generator/raw-protocols.ts';
import { announce, BENCH_LIMITS, portArgument } from './control.ts';

const server = await HeraldServer.create({
  config: {
    host: '127.0.0.1',
    port: portArgument(),
    limits: BENCH_LIMITS,
    pusher: { apps: [{ id: 'bench', key: PUSHER_KEY, secret: 'bench-secret' }] },
  },
});
const address = await server.listen();
announce(address.port);
