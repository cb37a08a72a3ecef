/**
 * How long `herald serve` takes from spawn to its first 200 on /health, for one or more ways of running
 * it, in turn (alternating, so each sees the same machine load); prints each one's median.
 *
 *   npx tsx scripts/time-to-health.ts RUNS 'node packages/server/bin/herald.js' ['./herald' …]
 *
 * Each command gets `serve --port <free port>` appended; loopback only, 30 s at most per start.
 */
import { spawn } from 'node:child_process';
import { freePort } from '../packages/server/test/support/process.ts';

const [runs, ...commands] = process.argv.slice(2);
if (!Number(runs) || commands.length === 0) {
  console.error("usage: tsx scripts/time-to-health.ts RUNS 'command' ['command' …]");
  process.exit(2);
}

async function startOnce(command: string): Promise<number> {
  const [file, ...args] = command.split(' ');
  const port = await freePort();
  const start = performance.now();
  const child = spawn(file, [...args, 'serve', '--port', String(port)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return performance.now() - start;
      if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}`);
      if (performance.now() - start > 30_000) throw new Error(`${command}: no 200 on /health in 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const times = commands.map((): number[] => []);
for (let i = 0; i < Number(runs); i++) {
  for (const [n, command] of commands.entries()) times[n].push(await startOnce(command));
}
for (const [n, command] of commands.entries()) {
  const sorted = times[n].sort((a, b) => a - b);
  const ms = (t: number) => t.toFixed(0);
  console.log(
    `${command}: median ${ms(sorted[Math.floor(sorted.length / 2)])} ms ` +
      `(min ${ms(sorted[0])}, max ${ms(sorted.at(-1) ?? 0)}, ${sorted.length} runs)`,
  );
}
