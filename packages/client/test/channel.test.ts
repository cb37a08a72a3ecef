import type { HistoryResult, Publication, StreamPosition } from '@herald/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel } from '../src/channel.ts';

const pub = (offset: number, epoch = 'e1'): Publication => ({ channel: 'log', epoch, offset, data: offset });

/** What a channel's listener hears, in order. */
type Heard = { pub: number; epoch: string } | { reset: string; offset: number; epoch: string };

/**
 * A channel over a stream of `epoch` whose history holds offsets `retained..end` (the hub's `history`
 * answer, as the client reads it: everything after `since`).
 */
function channelOver(stream: { epoch: string; end: number; retained: number }, since?: StreamPosition) {
  const heard: Heard[] = [];
  const history = async (from: StreamPosition): Promise<HistoryResult> => {
    const first = Math.max(from.offset + 1, stream.retained);
    const publications: Publication[] = [];
    for (let offset = first; offset <= stream.end; offset++) publications.push(pub(offset, stream.epoch));
    return { epoch: stream.epoch, offset: stream.end, publications };
  };
  const channel = new Channel('log', history, since);
  channel.listeners.add({
    onPublication: (p) => heard.push({ pub: p.offset, epoch: p.epoch }),
    onReset: (r) => heard.push({ reset: r.reason, offset: r.offset, epoch: r.epoch }),
  });
  return { channel, heard };
}

/** Lets the channel's history reads (promises) run to the end; bounded, so a heal that never ends fails. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Offsets 1..n each once plus some again, in an order fast-check picks. */
const arrivals = (n: number) =>
  fc
    .tuple(
      fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i + 1),
        { minLength: n },
      ),
      fc.array(fc.integer({ min: 1, max: n }), { maxLength: 10 }),
    )
    .map(([all, again]) => [...all, ...again]);

/** Replays what was heard: every publication must follow the position that the resets and publications before it left. */
function continuityOf(heard: Heard[], start: StreamPosition): StreamPosition {
  const position = { ...start };
  for (const event of heard) {
    if ('reset' in event) {
      position.epoch = event.epoch;
      position.offset = event.offset;
      continue;
    }
    expect(event).toEqual({ pub: position.offset + 1, epoch: position.epoch });
    position.offset = event.pub;
  }
  return position;
}

describe('a channel', () => {
  it('delivers each publication once, in order, whatever arrives early, late, twice or not at all', async () => {
    await fc.assert(
      // The last offset is never the one lost: nothing would tell the channel that it exists.
      fc.asyncProperty(arrivals(20), fc.nat(25), fc.nat(19), async (order, early, dropped) => {
        const { channel, heard } = channelOver({ epoch: 'e1', end: 20, retained: 1 });
        const live = order.filter((offset) => offset !== dropped); // lost on the way: history has it
        for (const offset of live.slice(0, early)) channel.onPublication(pub(offset));
        channel.onResult({ channel: 'log', epoch: 'e1', offset: 0, publications: [] });
        for (const offset of live.slice(early)) channel.onPublication(pub(offset));
        await settle();
        expect(heard).toEqual(Array.from({ length: 20 }, (_, i) => ({ pub: i + 1, epoch: 'e1' })));
        expect(channel.position).toEqual({ epoch: 'e1', offset: 20 });
      }),
    );
  });

  it('passes over a gap only with a not_recovered reset, and only when history lost it', async () => {
    await fc.assert(
      fc.asyncProperty(
        arrivals(20),
        fc.integer({ min: 1, max: 21 }),
        fc.nat(20),
        async (order, retained, cut) => {
          const { channel, heard } = channelOver({ epoch: 'e1', end: 20, retained });
          channel.onResult({ channel: 'log', epoch: 'e1', offset: 0, publications: [] });
          const live = order.slice(0, cut);
          for (const offset of live) channel.onPublication(pub(offset));
          await settle();
          const end = continuityOf(heard, { epoch: 'e1', offset: 0 });
          for (const event of heard) if ('reset' in event) expect(event.reset).toBe('not_recovered');
          // It reaches the furthest offset seen; with nothing lost from history, without any reset.
          expect(end.offset).toBeGreaterThanOrEqual(Math.max(0, ...live));
          if (retained === 1) expect(heard.filter((e) => 'reset' in e)).toEqual([]);
        },
      ),
    );
  });

  it('resets on a publication of a new epoch and follows the new incarnation from there', async () => {
    const { channel, heard } = channelOver({ epoch: 'e2', end: 3, retained: 1 }, { epoch: 'e1', offset: 4 });
    channel.onResult({
      channel: 'log',
      epoch: 'e1',
      offset: 6,
      publications: [pub(5), pub(6)],
      recovered: true,
    });
    channel.onPublication(pub(1, 'e2'));
    channel.onPublication(pub(7)); // late, from the old incarnation
    channel.onPublication(pub(3, 'e2'));
    await settle();
    channel.onPublication(pub(2, 'e2'));
    await settle();
    expect(heard.slice(0, 3)).toEqual([
      { pub: 5, epoch: 'e1' },
      { pub: 6, epoch: 'e1' },
      { reset: 'epoch_changed', epoch: 'e2', offset: 0 },
    ]);
    expect(channel.position).toEqual({ epoch: 'e2', offset: 3 });
    const newEpoch = heard.slice(3).filter((e) => 'pub' in e && e.epoch === 'e2');
    expect(newEpoch).toEqual([
      { pub: 1, epoch: 'e2' },
      { pub: 2, epoch: 'e2' },
      { pub: 3, epoch: 'e2' },
    ]);
  });
});
