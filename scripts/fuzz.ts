/**
 * The fuzzers of `npm test` (command and cursor codecs, config schema, and a real hub under fuzzed
 * WebSocket frames and HTTP requests) run for much longer, with a fresh seed; for releases.
 *
 *   npm run fuzz [-- --runs 150000 --minutes 10 --seed N]
 *
 * `--runs` is the number of cases per property (each hub case is a burst of 1-6 frames or one request),
 * `--minutes` bounds each property's time. Prints the seed first and the counts last; a failure prints
 * its counterexample, and `--seed` replays the run.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { FuzzCounts } from '../test/support/fuzz.ts';

const FILES = [
  'packages/protocol/test/codec-properties.test.ts',
  'packages/protocol/test/cursor-properties.test.ts',
  'packages/server/test/config-properties.test.ts',
  'packages/server/test/fuzz.test.ts',
];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.HERALD_FUZZ_RUNS },
    minutes: { type: 'string', default: process.env.HERALD_FUZZ_MINUTES ?? '10' },
    seed: { type: 'string', default: process.env.HERALD_FUZZ_SEED },
  },
});
const seed = values.seed ?? String(randomInt(2 ** 31));
const minutes = Number(values.minutes);
console.log(
  `herald fuzz: seed ${seed}, ${values.runs ?? 'default'} runs per property, at most ${minutes} min each`,
);

const env: NodeJS.ProcessEnv = {
  ...process.env,
  HERALD_FUZZ_LONG: '1',
  HERALD_FUZZ_SEED: seed,
  HERALD_FUZZ_MINUTES: String(minutes),
};
if (values.runs) env.HERALD_FUZZ_RUNS = values.runs;

// One file at a time: the hub fuzzer gets the machine to itself. A test may run past its property's time
// limit by its setup and the bystanders' final check, hence the margin.
const vitest = spawn(
  process.execPath,
  [
    'node_modules/vitest/vitest.mjs',
    'run',
    '--project',
    'node',
    '--no-file-parallelism',
    `--testTimeout=${(minutes * 2 + 2) * 60_000}`,
    ...FILES,
  ],
  { env, stdio: ['ignore', 'pipe', 'inherit'] },
);

const total: FuzzCounts = { frames: 0, requests: 0, cases: 0, crashes: 0, publications: 0 };
for await (const line of createInterface({ input: vitest.stdout })) {
  const at = line.indexOf('HERALD_FUZZ ');
  if (at === -1) {
    console.log(line);
    continue;
  }
  const counts = JSON.parse(line.slice(at + 'HERALD_FUZZ '.length)) as Partial<FuzzCounts>;
  for (const key of Object.keys(total) as Array<keyof FuzzCounts>) total[key] += counts[key] ?? 0;
}
const code = await new Promise<number>((resolve) => vitest.on('close', (c) => resolve(c ?? 1)));
console.log(
  `herald fuzz (seed ${seed}): ${total.frames} WebSocket frames, ${total.requests} HTTP requests, ` +
    `${total.cases} cases, ${total.crashes} crashes, ${total.publications} bystander publications checked` +
    (code === 0 ? '' : ' — FAILED'),
);
process.exit(code);
