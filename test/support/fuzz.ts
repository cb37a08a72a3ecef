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

/**
 * Inputs, and checks, that still find a known bug: an issue 13 item not fixed on main, or a finding of
 * the fuzzer reported for a fix. Each stays out of the default run until the fix is on main (then its
 * entry goes and it is on for good); HERALD_FUZZ_PENDING=1 turns them all on to check fixes,
 * HERALD_FUZZ_PENDING=a,b the ones named.
 */
export const PENDING: Readonly<Record<string, string>> = {
  'no-host-header': "issue 13 item 7: a request without Host gets Node's bare 400, no JSON error body",
  'json-upgrade-refusal':
    'found by the fuzzer: a WebSocket handshake that ws refuses (POST, bad key or version) answers text/html',
};

const turnedOn = new Set((process.env.HERALD_FUZZ_PENDING ?? '').split(','));

/** Whether the input or check `name` is on: always, unless it is still pending and not turned on. */
export function generates(name: string): boolean {
  return !Object.hasOwn(PENDING, name) || turnedOn.has('1') || turnedOn.has(name);
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
