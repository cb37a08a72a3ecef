import type { Publication } from '@herald/protocol';

/**
 * How many of `items`, from the first, fit in `budget` bytes, and their size. `min` of them are taken
 * whatever their size (1 where a page must make progress), so one publication larger than the budget
 * still goes out alone instead of blocking everything behind it.
 */
export function fitting<T>(
  items: readonly T[],
  budget: number,
  sizeOf: (item: T) => number,
  min: 0 | 1,
): { count: number; bytes: number } {
  let bytes = 0;
  let count = 0;
  for (; count < items.length; count++) {
    const size = sizeOf(items[count]);
    if (count >= min && bytes + size > budget) break;
    bytes += size;
  }
  return { count, bytes };
}

/** A publication's size as it goes out in a reply (its JSON). */
export function publicationBytes(pub: Publication): number {
  return Buffer.byteLength(JSON.stringify(pub));
}
