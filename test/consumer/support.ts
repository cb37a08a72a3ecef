import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The environment for the commands a user would type: none of the `npm_*` variables of the `npm test`
 * running this (a nested npm would read them as its own config), and no NODE_ENV from vitest.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('npm_') && name !== 'NODE_ENV' && name !== 'NODE_OPTIONS') env[name] = value;
  }
  return { ...env, NEXT_TELEMETRY_DISABLED: '1', ...extra };
}

export interface Outcome {
  code: number | null;
  output: string;
}

/** Runs a command to completion within `timeoutMs` (killed after it): its exit code and output. */
export async function exec(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<Outcome> {
  const started = startService(command, args, options);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    killGroup(started.child, 'SIGKILL');
  }, options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => started.child.once('close', resolve));
  clearTimeout(timer);
  return { code, output: started.output() + (killed ? `\n(killed after ${options.timeoutMs} ms)` : '') };
}

/** Like `exec`, but rejects with the output unless the command succeeds. */
export async function run(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<string> {
  const { code, output } = await exec(command, args, options);
  if (code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${code}) in ${options.cwd}:\n${output}`);
  return output;
}

/** A long-running command (a server), its output collected. */
export interface Service {
  child: ChildProcess;
  output(): string;
  /** SIGTERM to its process group, SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

export function startService(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Service {
  // Its own process group, so stopping it also stops whatever it started.
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? userEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Polls `url` until it answers 200, within `timeoutMs`; fails early if the service exits. */
export async function waitForOk(url: string, service: Service, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null)
      throw new Error(`exited before ${url} answered:\n${service.output()}`);
    const status = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${service.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
