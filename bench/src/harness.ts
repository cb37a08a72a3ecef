import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import {
  benchFile,
  CpuMeter,
  GENERATOR_CORE,
  processTree,
  rssBytes,
  SERVER_CORE,
  sleep,
  spawnPinned,
  stopChild,
} from './proc.ts';
import { RpcClient } from './rpc.ts';
import { BASELINE_DIR, TARGETS, type TargetName } from './targets.ts';

/** Connections per generator process: the per-process limit is 20,000 open files; keep a wide margin. */
export const CONNECTIONS_PER_PROCESS = 9_500;

/** Reports what the harness is doing; the CLI draws it as a progress bar. */
export interface Progress {
  phase(label: string, total: number): void;
  tick(value: number): void;
}

export const silentProgress: Progress = { phase() {}, tick() {} };

/** How a step's processes run. */
export interface RigOptions {
  /** Directory for a V8 CPU profile of the server (`node --cpu-prof`). */
  cpuProfDir?: string;
  /** Niceness of the server and generator processes (negative: ahead of other jobs on their cores). */
  nice?: number;
}

/** The server of one target, alone on the server core. */
export class ServerUnderTest {
  private constructor(
    readonly target: TargetName,
    private readonly child: ChildProcess,
    private readonly rpc: RpcClient,
    readonly port: number,
    /** Where publishes go, when not to `port` (Pushpin's publish endpoint). */
    private readonly publishPort: number | undefined,
  ) {}

  /** `script` (under servers/) and `args` replace the target's own server, for the multi-node rig. */
  static async start(
    target: TargetName,
    options: RigOptions = {},
    script: string = TARGETS[target].server,
    extraArgs: string[] = [],
  ): Promise<ServerUnderTest> {
    const flags = ['--expose-gc'];
    if (options.cpuProfDir) {
      mkdirSync(options.cpuProfDir, { recursive: true });
      // Node names each thread's profile itself (the server's main thread is the largest file).
      flags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
    }
    const args = ['--port', '0', ...extraArgs];
    if (target === 'herald-redis-baseline' && BASELINE_DIR) args.push('--server-from', BASELINE_DIR);
    const child = spawnPinned(benchFile(`./servers/${script}.ts`), args, {
      core: SERVER_CORE,
      nice: options.nice,
      nodeFlags: flags,
    });
    const rpc = new RpcClient(child, `${target} ${script}`);
    const { port, publishPort } = await rpc.whenReady<{ port: number; publishPort?: number }>();
    return new ServerUnderTest(target, child, rpc, port, publishPort);
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get publishBase(): string {
    return `http://127.0.0.1:${this.publishPort ?? this.port}`;
  }

  pids(): number[] {
    return this.child.pid === undefined ? [] : processTree(this.child.pid);
  }

  /** Resident memory after a full GC, and the V8 heap in use. */
  async memory(): Promise<{ rss: number; heapUsed: number }> {
    const usage = await this.rpc.call<NodeJS.MemoryUsage>('memory', {}, 30_000);
    // Let the collector's freed pages settle before reading RSS from the kernel's view.
    await sleep(200);
    return { rss: rssBytes(this.pids()), heapUsed: usage.heapUsed };
  }

  /** SIGTERM (the process writes its CPU profile on the way out), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    await stopChild(this.child, 5_000);
  }
}

/**
 * Several Herald nodes on one Redis, all on the server core with their redis-server: the multi-node
 * workload's server side. Its first node stands in for a single server where one is expected.
 */
export class NodeGroup {
  private constructor(
    readonly redis: ServerUnderTest,
    readonly nodes: ServerUnderTest[],
  ) {}

  static async start(count: number, options: RigOptions = {}): Promise<NodeGroup> {
    const redis = await ServerUnderTest.start('herald-redis', { nice: options.nice }, 'redis');
    const nodes: ServerUnderTest[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const rig = options.cpuProfDir
          ? { ...options, cpuProfDir: `${options.cpuProfDir}/node-${i + 1}` }
          : options;
        nodes.push(
          await ServerUnderTest.start('herald-redis', rig, 'herald-node', [
            '--broker',
            `redis://127.0.0.1:${redis.port}`,
          ]),
        );
      }
    } catch (err) {
      for (const node of nodes) await node.stop();
      await redis.stop();
      throw err;
    }
    return new NodeGroup(redis, nodes);
  }

  pids(): number[] {
    return [...this.redis.pids(), ...this.nodes.flatMap((n) => n.pids())];
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.stop();
    await this.redis.stop();
  }
}

/** Counting subscribers spread over processes, and one sampler process (latency clients + publisher). */
export class Generator {
  readonly counters: RpcClient[] = [];
  private readonly children: ChildProcess[] = [];
  sampler!: RpcClient;
  /** Counting connections opened so far, per counter process. */
  private readonly load: number[] = [];

  private constructor(private readonly nice: number | undefined) {}

  static async start(nice?: number): Promise<Generator> {
    const generator = new Generator(nice);
    generator.sampler = await generator.spawn('sampler');
    return generator;
  }

  private async spawn(name: string): Promise<RpcClient> {
    const child = spawnPinned(benchFile('./generator/worker.ts'), [], {
      core: GENERATOR_CORE,
      nice: this.nice,
    });
    this.children.push(child);
    const rpc = new RpcClient(child, `generator ${name}`);
    await rpc.whenReady();
    return rpc;
  }

  pids(): number[] {
    return this.children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  /**
   * Opens counting subscribers for `channels` (one per entry), filling processes up to
   * CONNECTIONS_PER_PROCESS and starting new ones as needed; the chunk is split evenly over the
   * processes that have room, which connect in parallel.
   */
  async connect(target: TargetName, port: number, channels: string[]): Promise<void> {
    const needed = Math.ceil(
      (this.load.reduce((a, b) => a + b, 0) + channels.length) / CONNECTIONS_PER_PROCESS,
    );
    while (this.counters.length < needed) {
      this.counters.push(await this.spawn(`counter ${this.counters.length + 1}`));
      this.load.push(0);
    }
    const parts: Array<{ worker: number; channels: string[] }> = [];
    let at = 0;
    // Least-loaded first, so processes fill evenly.
    const order = this.load.map((n, i) => ({ n, i })).sort((a, b) => a.n - b.n);
    const share = Math.ceil(channels.length / order.length);
    for (const { i } of order) {
      const room = CONNECTIONS_PER_PROCESS - this.load[i];
      const take = Math.min(room, share, channels.length - at);
      if (take <= 0) continue;
      parts.push({ worker: i, channels: channels.slice(at, at + take) });
      this.load[i] += take;
      at += take;
    }
    for (const { i } of order) {
      // Whatever the even split left over goes wherever there is room.
      const take = Math.min(CONNECTIONS_PER_PROCESS - this.load[i], channels.length - at);
      if (take <= 0) continue;
      parts.push({ worker: i, channels: channels.slice(at, at + take) });
      this.load[i] += take;
      at += take;
    }
    const results = await Promise.all(
      parts.map((p) =>
        this.counters[p.worker].call<{ failed: number; reasons: string[] }>(
          'connect',
          { target, port, channels: p.channels },
          180_000,
        ),
      ),
    );
    const failed = results.reduce((n, r) => n + r.failed, 0);
    if (failed > 0) {
      throw new Error(
        `${failed} ${target} subscribers could not connect: ${results.flatMap((r) => r.reasons)}`,
      );
    }
  }

  /** Messages counted by all counting subscribers, and how many are live. */
  async counts(): Promise<{ total: number; live: number; lost: number }> {
    const all = await Promise.all(
      this.counters.map((c) => c.call<{ total: number; live: number; lost: number }>('counts')),
    );
    return {
      total: all.reduce((n, c) => n + c.total, 0),
      live: all.reduce((n, c) => n + c.live, 0),
      lost: all.reduce((n, c) => n + c.lost, 0),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => stopChild(c)));
  }
}

export { CpuMeter };
