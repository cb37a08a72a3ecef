import { HeraldError } from '@herald/protocol';

// Symbol.for, as for the hub: Next.js loads this module once per route bundle, and the count is per process.
const SLOT = Symbol.for('herald.next.ai.generations');
type Slot = { [SLOT]?: Map<string, number> };

function running(): Map<string, number> {
  const slot = globalThis as Slot;
  slot[SLOT] ??= new Map();
  return slot[SLOT];
}

/**
 * Counts one more generation for `user` (none counted without a user) and returns its release; over
 * `max` it throws `limit_exceeded`, so a user cannot start paid generations without bound.
 */
export function claimGeneration(user: string | undefined, max: number): () => void {
  if (user === undefined) return () => {};
  const counts = running();
  const current = counts.get(user) ?? 0;
  if (current >= max) {
    throw new HeraldError(
      'limit_exceeded',
      `${current} answer${current === 1 ? ' is' : 's are'} already generating for this user (limit ${max}); wait for one to finish`,
    );
  }
  counts.set(user, current + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (counts.get(user) ?? 1) - 1;
    if (left > 0) counts.set(user, left);
    else counts.delete(user);
  };
}
