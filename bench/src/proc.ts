import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux for decades). */
const TICKS = 100;

export const SERVER_CORE = 0;
export const GENERATOR_CORE = 1;

/** A file under bench/src, as a path. */
export function benchFile(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url));
}

export interface ChildOptions {
  core: number;
  /** Scheduling niceness (negative: ahead of other jobs on the core). */
  nice?: number;
  /** Extra node flags (`--expose-gc`, `--cpu-prof`). */
  nodeFlags?: string[];
  env?: Record<string, string>;
}

/**
 * Runs a TypeScript module (and the workspace packages, from source) in a Node child pinned to one core (`taskset -c`), with an IPC channel.
 * nice and taskset exec in place, so the child's pid is node's and the IPC descriptor is inherited.
 */
export function spawnPinned(script: string, args: string[], options: ChildOptions): ChildProcess {
  const nice = options.nice ? ['nice', '-n', String(options.nice)] : [];
  const [command, ...rest] = [
    ...nice,
    'taskset',
    '-c',
    String(options.core),
    process.execPath,
    '--import',
    'tsx',
    '--conditions=@herald/source',
    ...(options.nodeFlags ?? []),
    script,
    ...args,
  ];
  return spawn(command, rest, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...options.env },
  });
}

/** Pins this process (the orchestrator) to a core, so it never competes with the server under test. */
export function pinSelf(core: number): void {
  spawn('taskset', ['-pc', String(core), String(process.pid)], { stdio: 'ignore' });
}

/** The pid and every descendant (Pushpin runs several processes; Node servers are one). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(name));
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

interface Stat {
  ppid: number;
  cpuSeconds: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may hold spaces: fields are counted after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
}

/** User + system CPU seconds of these processes so far. */
export function cpuSeconds(pids: number[]): number {
  let total = 0;
  for (const pid of pids) total += readStat(pid)?.cpuSeconds ?? 0;
  return total;
}

/** Resident set size of these processes, in bytes. */
export function rssBytes(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** CPU use of a set of processes over an interval, as a fraction of one core. */
export class CpuMeter {
  private startCpu = 0;
  private startTime = 0;

  constructor(private readonly pids: () => number[]) {}

  start(): void {
    this.startCpu = cpuSeconds(this.pids());
    this.startTime = performance.now();
  }

  /** Cores used since `start` (1 = one core fully busy). */
  read(): number {
    const seconds = (performance.now() - this.startTime) / 1000;
    return seconds > 0 ? (cpuSeconds(this.pids()) - this.startCpu) / seconds : 0;
  }
}

/** Monotonic microseconds, comparable between processes on this machine (CLOCK_MONOTONIC). */
export function nowMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Ends a child and waits for it to be gone (SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function coreTimes(): number[][] {
  const lines = readFileSync('/proc/stat', 'latin1').split('\n');
  const cores: number[][] = [];
  for (const line of lines) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (m) cores[Number(m[1])] = m[2].trim().split(/\s+/).map(Number);
  }
  return cores;
}

/**
 * Busy fraction of each core over an interval, from /proc/stat: with the CPU of our own processes
 * subtracted it tells how much else ran on the cores meanwhile (other jobs, steal), which makes a
 * run less trustworthy.
 */
export class CoreMeter {
  private start = coreTimes();

  reset(): void {
    this.start = coreTimes();
  }

  /** Per core, busy fraction (0-1) since `reset`. */
  read(): number[] {
    const end = coreTimes();
    return end.map((now, i) => {
      const before = this.start[i] ?? now;
      const delta = now.map((v, j) => v - (before[j] ?? 0));
      const total = delta.reduce((a, b) => a + b, 0);
      // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
      const idle = (delta[3] ?? 0) + (delta[4] ?? 0);
      return total > 0 ? (total - idle) / total : 0;
    });
  }
}
