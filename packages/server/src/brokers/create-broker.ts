import { ConfigError } from '../config.ts';
import type { Broker } from '../core/broker.ts';
import type { Logger } from '../core/logger.ts';
import { MemoryBroker } from './memory-broker.ts';
import { RedisBroker } from './redis-broker.ts';

/**
 * `memory`, or a `redis://` / `rediss://` URL. Herald's own query parameters are taken off the URL:
 * `cluster=true` (Redis Cluster; the URL names any one node) and `prefix=…` (key prefix, default `herald:`).
 */
export async function createBroker(spec: string, logger?: Logger): Promise<Broker> {
  if (spec === 'memory') return new MemoryBroker();
  if (/^rediss?:\/\//i.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw new ConfigError(`broker URL "${spec}" is not a valid URL`);
    }
    const cluster = url.searchParams.get('cluster');
    const prefix = url.searchParams.get('prefix') ?? undefined;
    url.searchParams.delete('cluster');
    url.searchParams.delete('prefix');
    if (cluster !== null && cluster !== 'true' && cluster !== 'false') {
      throw new ConfigError(`broker URL: cluster must be true or false, not "${cluster}"`);
    }
    return new RedisBroker({ url: url.toString(), cluster: cluster === 'true', prefix, logger });
  }
  throw new ConfigError(`unknown broker "${spec}": use "memory" or a redis:// URL`);
}
