import type { Hub } from '../core/hub.ts';

/**
 * A per-hub singleton made on first use, so the route table (web-standard handlers, Next.js) and the
 * Node server reach the same transport state for a hub without wiring it through.
 */
export function perHub<T>(create: (hub: Hub) => T): (hub: Hub) => T {
  const instances = new WeakMap<Hub, T>();
  return (hub) => {
    let instance = instances.get(hub);
    if (instance === undefined) {
      instance = create(hub);
      instances.set(hub, instance);
    }
    return instance;
  };
}
