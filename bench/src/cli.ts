/**
 * `npm run bench`: runs every workload against every target, each server alone on core 0 and the load
 * generator on core 1, then writes bench/results/<date>.json, BENCHMARKS.md and the SVG charts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import cliProgress from 'cli-progress';
import { type Progress, silentProgress } from './harness.ts';
import { parsePlan, USAGE } from './plan.ts';
import { benchFile, GENERATOR_CORE, pinSelf } from './proc.ts';
import { writeReport } from './report.ts';
import type { Results } from './results.ts';
import { buildSteps } from './steps.ts';
import { BASELINE_DIR, installed, TARGET_NAMES } from './targets.ts';

/** Two bars on a terminal: steps overall, and the current step's phase (connecting, measuring...). */
function progressBars(steps: number) {
  const bars = new cliProgress.MultiBar(
    {
      format: '{bar} {value}/{total} {label}',
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const overall = bars.create(steps, 0, { label: 'steps' });
  const phase = bars.create(1, 0, { label: '' });
  let current = '';
  const progress: Progress = {
    phase(label, total) {
      phase.setTotal(Math.max(1, Math.round(total)));
      phase.update(0, { label: `${current}: ${label}` });
    },
    tick(value) {
      phase.update(Math.round(value));
    },
  };
  return {
    progress,
    step(i: number, label: string) {
      current = label;
      overall.update(i, { label: `steps | ${label}` });
    },
    done() {
      overall.update(steps, { label: 'steps | done' });
      bars.stop();
    },
  };
}

async function main(): Promise<void> {
  // The baseline target runs only when asked for by pointing HERALD_BENCH_BASELINE at a checkout.
  const available = TARGET_NAMES.filter((t) => t !== 'herald-redis-baseline' || BASELINE_DIR);
  const { plan, report, help } = parsePlan(process.argv.slice(2), available);
  if (help) {
    console.log(USAGE);
    return;
  }
  if (report) {
    const results = JSON.parse(readFileSync(report, 'utf8')) as Results;
    console.log(writeReport(results));
    return;
  }
  const missing = plan.targets.filter((t) => !installed(t));
  plan.targets = plan.targets.filter(installed);
  // The orchestrator only waits on IPC, but it must never take time from the server's core.
  pinSelf(GENERATOR_CORE);
  const results: Results = {
    version: 1,
    date: new Date().toISOString(),
    plan,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      kernel: release(),
      loadAverageAtStart: loadavg(),
    },
    fanout: [],
    memory: [],
    storm: [],
    skipped: missing.map((target) => ({
      target,
      reason: 'not installed (apt-get install pushpin redis-server)',
    })),
    errors: [],
  };
  const steps = buildSteps(plan, results);
  const bars = process.stderr.isTTY ? progressBars(steps.length) : undefined;
  for (const [i, step] of steps.entries()) {
    if (bars) bars.step(i, step.label);
    else console.error(`[${i + 1}/${steps.length}] ${step.label}`);
    try {
      await step.run(bars?.progress ?? silentProgress);
    } catch (err) {
      results.errors.push({ step: step.label, message: (err as Error).message });
    }
  }
  bars?.done();

  const day = results.date.slice(0, 10);
  const dir = benchFile('../results');
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${day}${plan.profile === 'quick' ? '-quick' : ''}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(writeReport(results));
  console.log(`results: ${file}`);
  for (const e of results.errors) console.error(`error in ${e.step}: ${e.message}`);
  if (results.errors.length > 0) process.exitCode = 1;
}

await main();
