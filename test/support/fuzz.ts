/**
 * Settings shared by every fuzzer and property test: the seed, how many cases, and the inputs still
 * held back because they hit a known, unfixed bug.
 *
 * `npm test` runs a short, fixed-seed pass, so CI is reproducible; `npm run fuzz` (scripts/fuzz.ts)
 * sets HERALD_FUZZ_LONG and a fresh seed. Any failure prints its seed; HERALD_FUZZ_SEED replays it.
 */
import fc from 'fast-check';

/** The seed `npm test` uses unless HERALD_FUZZ_SEED says otherwise. */
const CI_SEED = 13_2026;

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name}="${text}" must be an integer`);
  return value;
}

export const fuzzLong = process.env.HERALD_FUZZ_LONG === '1';
export const fuzzSeed = envNumber('HERALD_FUZZ_SEED') ?? CI_SEED;

/** Cases for one property: `short` in `npm test`; in a long run HERALD_FUZZ_RUNS, or `long`. */
export function fuzzRuns(short: number, long: number): number {
  return fuzzLong ? (envNumber('HERALD_FUZZ_RUNS') ?? long) : short;
}

/** Milliseconds a long run may take at most (HERALD_FUZZ_MINUTES, default 10); a short run: `short`. */
export function fuzzTimeLimit(short: number): number {
  return fuzzLong ? (envNumber('HERALD_FUZZ_MINUTES') ?? 10) * 60_000 : short;
}

/** What a fuzz run did; `npm run fuzz` adds up every `HERALD_FUZZ` line the tests print. */
export interface FuzzCounts {
  frames: number;
  requests: number;
  cases: number;
  crashes: number;
  publications: number;
}

export function reportFuzzCounts(counts: Partial<FuzzCounts>): void {
  console.log(`HERALD_FUZZ ${JSON.stringify(counts)}`);
}

/** fast-check parameters for one property: the shared seed, `numRuns` cases, counted in a long run. */
export function fuzzParameters<T>(numRuns: number): fc.Parameters<T> {
  return {
    seed: fuzzSeed,
    numRuns,
    interruptAfterTimeLimit: fuzzLong ? fuzzTimeLimit(0) : undefined,
    reporter: (details) => {
      if (fuzzLong) reportFuzzCounts({ cases: details.numRuns });
      if (details.failed) throw new Error(fc.defaultReportMessage(details));
    },
  };
}

/** Names every object inherits: a lookup by a user-supplied name that walks the prototype finds them. */
export const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
  'toLocaleString',
];
