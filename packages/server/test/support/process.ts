import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const HERALD_BIN = fileURLToPath(new URL('../../bin/herald.js', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface HeraldProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs `herald <args>` as a real process, collecting stdout and stderr. */
export function runHerald(args: string[], env: Record<string, string> = {}): HeraldProcess {
  return watchProcess(
    spawn(process.execPath, [HERALD_BIN, ...args], {
      env: { ...process.env, HERALD_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** Collects a child's stdout and stderr, and its exit code when it exits. */
export function watchProcess(child: ChildProcess): HeraldProcess {
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Waits until the process logs that it listens, or fails with what it printed. */
export async function waitListening(proc: HeraldProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output().includes('herald is listening')) {
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`herald did not start:\n${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
