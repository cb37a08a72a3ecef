import { randomFillSync } from 'node:crypto';

/** Random bytes drawn in bulk: the Redis broker proposes a fresh epoch with every publish. */
const EPOCH_BYTES = 6;
const pool = Buffer.alloc(EPOCH_BYTES * 512);
let poolUsed = pool.length;

export function newEpoch(): string {
  if (poolUsed === pool.length) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  poolUsed += EPOCH_BYTES;
  return pool.toString('base64url', poolUsed - EPOCH_BYTES, poolUsed);
}
