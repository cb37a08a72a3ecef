import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  continuity,
  follows,
  isDuplicate,
  isGap,
  OrderedFollower,
  recovers,
  resumeOutcome,
} from '../src/position.ts';
import type { StreamPosition } from '../src/types.ts';

const at = (offset: number, epoch = 'e1'): StreamPosition => ({ epoch, offset });

/** Offsets `from..to`, each once, some of them again, in an order fast-check picks. */
const arrivals = (from: number, to: number) =>
  fc
    .tuple(
      fc.shuffledSubarray(
        Array.from({ length: to - from + 1 }, (_, i) => from + i),
        { minLength: to - from + 1 },
      ),
      fc.array(fc.integer({ min: from, max: to }), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 20 }),
    )
    .map(([all, again, places]) => {
      const order = [...all];
      again.forEach((offset, i) => {
        order.splice((places[i] ?? 0) % (order.length + 1), 0, offset);
      });
      return order;
    });

/**
 * Heals every gap the follower reports from a complete history, as a caller does. Each round must move
 * the position, so a follower that reports a gap it cannot heal fails instead of looping.
 */
function heal(follower: OrderedFollower, epoch = 'e1'): void {
  for (let gap = follower.missing; gap; gap = follower.missing) {
    const before = follower.position.offset;
    for (let offset = gap.from; offset <= gap.to; offset++) follower.offer(at(offset, epoch));
    expect(follower.position.offset).toBeGreaterThan(before);
  }
}

/** Feeds `order`, then heals. */
function follow(order: number[], start: number, limit?: number): number[] {
  const emitted: number[] = [];
  const follower = new OrderedFollower(at(start), (pub) => emitted.push(pub.offset), limit);
  for (const offset of order) follower.offer(at(offset));
  heal(follower);
  return emitted;
}

describe('the position rule', () => {
  it('names where a publication stands relative to a position', () => {
    expect(continuity(at(5), at(6))).toBe('next');
    expect(continuity(at(5), at(5))).toBe('duplicate');
    expect(continuity(at(5), at(2))).toBe('duplicate');
    expect(continuity(at(5), at(7))).toBe('gap');
    expect(continuity(at(5), at(6, 'e2'))).toBe('epoch');
    expect(continuity(at(5), at(1, 'e2'))).toBe('epoch');
  });

  it('agrees with follows, isDuplicate and isGap for any pair', () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(50), fc.constantFrom('a', 'b'), (position, offset, epoch) => {
        const kind = continuity(at(position, 'a'), at(offset, epoch));
        expect(follows(at(position, 'a'), at(offset, epoch))).toBe(kind === 'next');
        expect(isDuplicate(at(position, 'a'), at(offset, epoch))).toBe(kind === 'duplicate');
        expect(isGap(at(position, 'a'), at(offset, epoch))).toBe(kind === 'gap');
      }),
    );
  });

  it('recovers a resume only when the stream read starts right after it, in its epoch', () => {
    const pubs = (...offsets: number[]) => offsets.map((offset) => at(offset));
    expect(recovers(at(3), { ...at(5), publications: pubs(4, 5) })).toBe(true);
    expect(recovers(at(5), { ...at(5), publications: [] })).toBe(true);
    expect(recovers(at(3), { ...at(5), publications: pubs(5) })).toBe(false); // offset 4 was trimmed
    expect(recovers(at(3), { ...at(5), publications: [] })).toBe(false); // all of it trimmed
    expect(recovers(at(7), { ...at(5), publications: [] })).toBe(false); // beyond the end
    expect(recovers(at(3, 'old'), { ...at(5), publications: pubs(4, 5) })).toBe(false);
  });

  it('tells a reader what a subscribe result means for it', () => {
    expect(resumeOutcome(undefined, { epoch: 'e1', recovered: false })).toBe('start');
    expect(resumeOutcome(at(3), { epoch: 'e1', recovered: true })).toBe('continue');
    expect(resumeOutcome(at(3), { epoch: 'e1' })).toBe('continue');
    expect(resumeOutcome(at(3), { epoch: 'e1', recovered: false })).toBe('not_recovered');
    expect(resumeOutcome(at(3), { epoch: 'e2' })).toBe('epoch_changed');
  });
});

describe('OrderedFollower', () => {
  it('emits every publication once, in offset order, whatever the arrival order and duplicates', () => {
    fc.assert(
      fc.property(
        fc.nat(30).chain((start) => fc.tuple(fc.constant(start), arrivals(start + 1, start + 40))),
        ([start, order]) => {
          const emitted: number[] = [];
          const follower = new OrderedFollower(at(start), (pub) => emitted.push(pub.offset));
          for (const offset of order) follower.offer(at(offset));
          expect(emitted).toEqual(Array.from({ length: 40 }, (_, i) => start + 1 + i));
          expect(follower.position).toEqual(at(start + 40));
          expect(follower.missing).toBeUndefined();
          expect(follower.held).toBe(0);
        },
      ),
    );
  });

  it('holds at most its bound ahead of a gap, and healing what it reports missing loses nothing', () => {
    fc.assert(
      fc.property(
        arrivals(1, 40),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 40 }),
        (order, limit, cut) => {
          // Only some arrive live: the rest is for the caller to read from history.
          const live = order.slice(0, cut);
          const emitted: number[] = [];
          const follower = new OrderedFollower(at(0), (pub) => emitted.push(pub.offset), limit);
          for (const offset of live) {
            follower.offer(at(offset));
            expect(follower.held).toBeLessThanOrEqual(limit);
          }
          const healed = follow(live, 0, limit);
          const last = Math.max(0, ...live);
          expect(healed).toEqual(Array.from({ length: last }, (_, i) => i + 1));
          // Whatever was emitted before healing is a strictly increasing run of distinct offsets.
          for (let i = 1; i < emitted.length; i++) expect(emitted[i]).toBe(emitted[i - 1] + 1);
        },
      ),
    );
  });

  it('reports the missing offsets up to the first held publication, or to the known end', () => {
    const follower = new OrderedFollower(at(2), () => {});
    expect(follower.offer(at(6))).toBe('ahead');
    expect(follower.offer(at(6))).toBe('duplicate');
    expect(follower.missing).toEqual({ epoch: 'e1', from: 3, to: 5 });
    follower.reset(at(6));
    expect(follower.missing).toBeUndefined();
    follower.know(9);
    expect(follower.missing).toEqual({ epoch: 'e1', from: 7, to: 9 });
  });

  it('does not take a publication of another epoch; after a reset it follows the new one', () => {
    fc.assert(
      fc.property(arrivals(1, 10), fc.nat(5), (order, start) => {
        const emitted: StreamPosition[] = [];
        const follower = new OrderedFollower(at(start, 'old'), (pub) => emitted.push({ ...pub }));
        follower.offer(at(start + 3, 'old')); // held ahead of a gap in the old epoch
        for (const offset of order) {
          if (follower.position.epoch === 'new') follower.offer(at(offset, 'new'));
          else if (follower.offer(at(offset, 'new')) === 'epoch') {
            follower.reset(at(offset - 1, 'new'));
            expect(follower.held).toBe(0); // what was held of the old epoch is moot
            follower.offer(at(offset, 'new'));
          }
        }
        heal(follower, 'new');
        const offsets = emitted.map((p) => p.offset);
        expect(emitted.every((p) => p.epoch === 'new')).toBe(true);
        expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));
        expect(offsets.at(-1)).toBe(10);
        expect(offsets).toEqual(Array.from({ length: 11 - offsets[0] }, (_, i) => offsets[0] + i));
      }),
    );
  });

  it('emits what a reset leaves following the position only when flushed', () => {
    const emitted: number[] = [];
    const follower = new OrderedFollower(at(0), (pub) => emitted.push(pub.offset));
    follower.offer(at(4));
    follower.offer(at(5));
    follower.reset(at(3)); // offsets 1..3 are gone from history: passed over
    expect(emitted).toEqual([]);
    follower.flush();
    expect(emitted).toEqual([4, 5]);
    expect(follower.position).toEqual(at(5));
  });
});
