import { configFromEnv, createHub, type HeraldServerOptions, type Hub } from '@herald/server';

/** A hub, a promise of one, or a function returning either: what the Next.js helpers accept. */
export type HubSource = Hub | Promise<Hub> | (() => Hub | Promise<Hub>);

// Symbol.for, not a module-level variable: Next.js evaluates a module once per route bundle and again on
// every dev-mode reload, and a custom server loads its own copy; all of them must find the same hub.
const SLOT = Symbol.for('herald.next.hub');
type Slot = { [SLOT]?: Promise<Hub> };

/**
 * The process-wide hub, created on first use from `options` and the `HERALD_*` environment variables
 * (options win). Later calls return the same hub and ignore their options, so call it with options once,
 * early (a custom server, or `instrumentation.ts`), and without them everywhere else. `channels` is the
 * exception: a call that passes them makes the hub check publications against them from then on, so
 * whichever of the app's modules reaches the hub first, and a dev-mode reload with edited schemas, the
 * hub checks the app's current ones.
 */
export function getHub(options: HeraldServerOptions = {}): Promise<Hub> {
  const slot = globalThis as Slot;
  const { channels } = options;
  if (slot[SLOT] && channels) {
    return slot[SLOT].then((hub) => {
      hub.useChannels(channels);
      return hub;
    });
  }
  if (!slot[SLOT]) {
    const created = createHub({ ...options, config: { ...configFromEnv(), ...options.config } });
    // A hub that failed to start must not be cached: the next call tries again.
    created.catch(() => {
      if (slot[SLOT] === created) delete slot[SLOT];
    });
    slot[SLOT] = created;
  }
  return slot[SLOT];
}

/** Closes the process-wide hub (if any) and forgets it: the next `getHub()` creates a new one. */
export async function closeHub(): Promise<void> {
  const slot = globalThis as Slot;
  const current = slot[SLOT];
  delete slot[SLOT];
  if (current) await (await current).close();
}

export async function resolveHub(source: HubSource): Promise<Hub> {
  return typeof source === 'function' ? source() : source;
}
