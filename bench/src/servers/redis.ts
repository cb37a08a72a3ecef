/**
 * A private redis-server (no persistence) for the multi-node workload, as this process's child: pinned
 * with it to the server core, so its CPU is measured apart from the hub nodes'. Announces Redis's port.
 */
import { RedisServer } from '../../../packages/server/test/support/redis-server.ts';
import { announce } from './control.ts';

const redis = await RedisServer.start();
// announce() turns SIGTERM into exit(0); Redis must not outlive the step.
process.on('exit', () => process.kill(redis.pid, 'SIGKILL'));
announce(redis.port);
