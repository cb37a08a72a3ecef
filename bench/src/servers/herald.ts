/**
 * Herald as `herald serve` runs it (HeraldServer, memory broker, default config), except that the
 * benchmark's publisher may publish as fast as it likes over its WebSocket (limits.publishRate 0).
 */
import { HeraldServer } from '@herald/server';
import { announce, portArgument } from './control.ts';

const server = await HeraldServer.create({
  config: { host: '127.0.0.1', port: portArgument(), limits: { publishRate: 0 } },
});
const address = await server.listen();
announce(address.port);
