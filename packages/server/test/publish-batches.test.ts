import { describe, expect, it } from 'vitest';
import { type BatchedPublish, type BatchOutcome, PublishBatches } from '../src/brokers/publish-batches.ts';

function publication(n: number): BatchedPublish {
  return { keys: ['meta', 'stream', ''], args: [String(n), '', 10, 1000, 0, 'events'] };
}

/** A runner whose calls stay under way until answered, each publication's outcome its data as offset. */
function pausedRunner() {
  const calls: Array<{ data: number[]; answer: () => void }> = [];
  const run = (_keys: string[], args: Array<string | number>) =>
    new Promise<BatchOutcome[]>((resolve) => {
      const data = args.filter((_, i) => i % 6 === 0).map(Number);
      calls.push({ data, answer: () => resolve(data.map((n) => [0, 'e', n])) });
    });
  return { calls, run };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('publish batches', () => {
  it('keeps one call per slot under way; a backlog waits in order and goes in calls of at most 500', async () => {
    const { calls, run } = pausedRunner();
    const batches = new PublishBatches(run, false);
    const outcomes = Array.from({ length: 1200 }, (_, n) => batches.add(publication(n)));
    await turn();
    expect(calls.map((c) => c.data.length)).toEqual([500]);
    const late = batches.add(publication(1200));
    for (const expected of [
      [500, 500],
      [500, 500, 201],
    ]) {
      calls.at(-1)?.answer();
      await turn();
      await turn();
      expect(calls.map((c) => c.data.length)).toEqual(expected);
    }
    calls.at(-1)?.answer();
    const all = await Promise.all([...outcomes, late]);
    expect(all.map((o) => o[2])).toEqual(Array.from({ length: 1201 }, (_, n) => n));
    expect(calls.flatMap((c) => c.data)).toEqual(Array.from({ length: 1201 }, (_, n) => n));
  });

  it('fails the backlog of a slot with its call, at once, not a command timeout per call', async () => {
    const calls: Array<(err: Error) => void> = [];
    const batches = new PublishBatches(
      () => new Promise<BatchOutcome[]>((_, reject) => calls.push(reject)),
      false,
    );
    const outcomes = Array.from({ length: 1200 }, (_, n) =>
      batches.add(publication(n)).then(
        () => 'ok',
        (err: Error) => err.message,
      ),
    );
    await turn();
    calls[0](new Error('Command timed out'));
    expect(new Set(await Promise.all(outcomes))).toEqual(new Set(['Command timed out']));
    expect(calls).toHaveLength(1);
  });
});
