import type { PublishVia } from './generator/publishers.ts';
import {
  CpuMeter,
  Generator,
  NodeGroup,
  type Progress,
  type RigOptions,
  ServerUnderTest,
} from './harness.ts';
import type { LatencySummary } from './latency.ts';
import { CoreMeter, rssBytes, sleep } from './proc.ts';
import { TARGETS, type TargetName } from './targets.ts';

export interface Verification {
  subscribers: number;
  /** Subscribers that got exactly what was published to their channel. */
  exact: number;
  /** Messages published but never counted. */
  missing: number;
  /** Messages counted more often than published. */
  extra: number;
}

export interface FanoutResult {
  workload: 'fanout' | 'channels' | 'api' | 'nodes';
  /** Multi-node workload: hub processes on one Redis, each one's CPU (fraction of a core), and Redis's. */
  nodes?: number;
  nodeCpu?: number[];
  redisCpu?: number;
  target: TargetName;
  subscribers: number;
  channels: number;
  mode: 'rate' | 'saturation';
  /** Messages per second offered (rate mode). */
  rate?: number;
  window?: number;
  durationS: number;
  deliveriesPerSec: number;
  messagesPerSec: number;
  latency: LatencySummary;
  /** Fraction of one core, over the measured window. */
  serverCpu: number;
  generatorCpu: number;
  /** Server CPU microseconds per delivery. */
  cpuMicrosPerDelivery: number;
  serverRss: number;
  /**
   * CPU used on the server and generator cores by anything but the server and the generator (other
   * jobs, hypervisor steal), as a fraction of each core: high values make the run noisy.
   */
  foreignLoad: [number, number];
  published: number;
  /** Fixed-rate messages not sent because the backlog bound was hit: the rate was not sustained. */
  throttled: number;
  publishErrors: number;
  verify: Verification;
  connectionsLost: number;
}

export interface FanoutSpec {
  target: TargetName;
  subscribers: number;
  channels: number;
  mode: 'rate' | 'saturation';
  rate: number;
  window: number;
  samples: number;
  warmupS: number;
  durationS: number;
  /** How the publisher publishes: the system's own protocol, or (Herald) `POST /api/publish`. */
  via?: PublishVia;
  /** Herald nodes on one Redis (NodeGroup), subscribers and publishers spread over them. */
  nodes?: number;
  rig?: RigOptions;
}

function channelNames(count: number): string[] {
  return count === 1 ? ['bench'] : Array.from({ length: count }, (_, i) => `bench-${i}`);
}

function combine(a: Verification, b: Verification): Verification {
  return {
    subscribers: a.subscribers + b.subscribers,
    exact: a.exact + b.exact,
    missing: a.missing + b.missing,
    extra: a.extra + b.extra,
  };
}

/**
 * Subscribers in connection order, channel by channel (blocks), with the latency samples spread evenly
 * through that order: fan-out loops go in subscription order, so samples see the first, middle and last.
 */
async function connectLayout(
  generator: Generator,
  target: TargetName,
  nodes: ServerUnderTest[],
  subscribers: number,
  channels: string[],
  samples: number,
  progress: Progress,
): Promise<void> {
  progress.phase(`connecting ${subscribers} subscribers`, subscribers);
  const channelOf = (i: number) => channels[Math.floor((i * channels.length) / subscribers)];
  // With several nodes, subscriber i goes to node i mod n: every node holds every channel's subscribers.
  const nodeOf = (i: number) => nodes[i % nodes.length];
  const rounds = Math.max(1, samples);
  const perRound = Math.ceil(subscribers / rounds);
  for (let r = 0, i = 0; r < rounds && i < subscribers; r++) {
    const end = Math.min(subscribers, i + perRound);
    const counted = nodes.map((): string[] => []);
    for (; i < end - (samples > 0 ? 1 : 0); i++) counted[i % nodes.length].push(channelOf(i));
    for (const [n, list] of counted.entries()) {
      if (list.length > 0) await generator.connect(target, nodes[n].port, list);
    }
    if (samples > 0) {
      await generator.sampler.call(
        'samples',
        { target, base: nodeOf(r).base, channels: [channelOf(i)] },
        60_000,
      );
      i++;
    }
    progress.tick(i);
  }
}

/** Waits until counts stop moving (or match what was sent); bounded. */
async function drain(generator: Generator, expectedTotal: number, maxMs = 60_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const [{ total }, samples] = await Promise.all([
      generator.counts(),
      generator.sampler.call<{ total: number }>('sampleCounts'),
    ]);
    const now = total + samples.total;
    if (now >= expectedTotal) return;
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 3_000) {
      return;
    }
    await sleep(100);
  }
}

async function withRig<T>(
  target: TargetName,
  rig: RigOptions | undefined,
  run: (server: ServerUnderTest, generator: Generator) => Promise<T>,
): Promise<T> {
  return withServers(() => ServerUnderTest.start(target, rig), rig, run);
}

async function withServers<S extends { stop(): Promise<void> }, T>(
  start: () => Promise<S>,
  rig: RigOptions | undefined,
  run: (servers: S, generator: Generator) => Promise<T>,
): Promise<T> {
  const servers = await start();
  let generator: Generator | undefined;
  try {
    generator = await Generator.start(rig?.nice);
    return await run(servers, generator);
  } finally {
    // The servers go first, so their side of every connection closes before the clients'.
    await servers.stop();
    await generator?.stop();
  }
}

async function timed(seconds: number, progress: Progress): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(250, end - performance.now()));
    progress.tick(Math.min(seconds, seconds - (end - performance.now()) / 1000));
  }
}

/** Workloads (a), (b) and (e): publish to `channels` channels with `subscribers` spread over them. */
export function runFanout(spec: FanoutSpec, progress: Progress): Promise<FanoutResult> {
  const start = async () =>
    spec.nodes === undefined
      ? { group: undefined, nodes: [await ServerUnderTest.start(spec.target, spec.rig)] }
      : await NodeGroup.start(spec.nodes, spec.rig).then((group) => ({ group, nodes: group.nodes }));
  type Servers = Awaited<ReturnType<typeof start>>;
  const stop = async ({ group, nodes }: Servers) => (group ? group.stop() : nodes[0].stop());
  return withServers(
    async () => {
      const servers = await start();
      return { ...servers, stop: () => stop(servers) };
    },
    spec.rig,
    async ({ group, nodes }, generator) => {
      const server = nodes[0];
      const channels = channelNames(spec.channels);
      const samples = Math.min(spec.samples, spec.subscribers);
      await connectLayout(generator, spec.target, nodes, spec.subscribers, channels, samples, progress);
      // One publisher per node, taking turns: with several nodes, publications enter Redis from all of them.
      await generator.sampler.call('openPublisher', {
        target: spec.target,
        bases: nodes.map((n) => n.publishBase),
        via: spec.via,
      });
      await generator.sampler.call('startPublishing', {
        channels,
        mode: spec.mode,
        rate: spec.rate,
        window: spec.window,
      });
      progress.phase('warming up', spec.warmupS);
      await timed(spec.warmupS, progress);

      const serverCpu = new CpuMeter(() => (group ? group.pids() : server.pids()));
      const generatorCpu = new CpuMeter(() => generator.pids());
      const nodeCpu = group ? nodes.map((n) => new CpuMeter(() => n.pids())) : [];
      const redisCpu = group ? new CpuMeter(() => group.redis.pids()) : undefined;
      for (const meter of [...nodeCpu, redisCpu]) meter?.start();
      const snapshot = async () => {
        const [counted, sampled] = await Promise.all([
          generator.counts(),
          generator.sampler.call<{ total: number }>('sampleCounts'),
        ]);
        return { deliveries: counted.total + sampled.total, at: performance.now() };
      };
      await generator.sampler.call('record', { on: true });
      const cores = new CoreMeter();
      serverCpu.start();
      generatorCpu.start();
      const before = await snapshot();
      progress.phase(
        `measuring ${spec.mode === 'rate' ? `${spec.rate} msg/s` : 'saturation'}`,
        spec.durationS,
      );
      await timed(spec.durationS, progress);
      const after = await snapshot();
      const cpu = serverCpu.read();
      const genCpu = generatorCpu.read();
      const perNodeCpu = nodeCpu.map((m) => m.read());
      const redisShare = redisCpu?.read();
      const [core0, core1] = cores.read();
      await generator.sampler.call('record', { on: false });
      const latency = await generator.sampler.call<LatencySummary>('latency');
      const seconds = (after.at - before.at) / 1000;
      const deliveries = after.deliveries - before.deliveries;

      const published = await generator.sampler.call<{
        published: number;
        perChannel: Record<string, number>;
        throttled: number;
        errors: number;
      }>('stopPublishing');
      const perChannelSubs = new Map<string, number>();
      for (let i = 0; i < spec.subscribers; i++) {
        const c = channels[Math.floor((i * channels.length) / spec.subscribers)];
        perChannelSubs.set(c, (perChannelSubs.get(c) ?? 0) + 1);
      }
      let expectedTotal = 0;
      for (const [c, n] of perChannelSubs) expectedTotal += n * (published.perChannel[c] ?? 0);
      progress.phase('draining', 1);
      await drain(generator, expectedTotal);
      const verifyCounters = await Promise.all(
        generator.counters.map((c) => c.call<Verification>('verify', { expected: published.perChannel })),
      );
      const verifySamples = await generator.sampler.call<Verification>('verifySamples', {
        expected: published.perChannel,
      });
      const verify = [...verifyCounters, verifySamples].reduce(combine);
      const { lost } = await generator.counts();
      const memory = group ? { rss: rssBytes(group.pids()) } : await server.memory();
      return {
        workload: group ? 'nodes' : spec.via === 'api' ? 'api' : spec.channels === 1 ? 'fanout' : 'channels',
        ...(group ? { nodes: nodes.length, nodeCpu: perNodeCpu, redisCpu: redisShare } : {}),
        target: spec.target,
        subscribers: spec.subscribers,
        channels: spec.channels,
        mode: spec.mode,
        ...(spec.mode === 'rate' ? { rate: spec.rate } : { window: spec.window }),
        durationS: seconds,
        deliveriesPerSec: deliveries / seconds,
        messagesPerSec: deliveries / seconds / (spec.subscribers / spec.channels),
        latency,
        serverCpu: cpu,
        generatorCpu: genCpu,
        cpuMicrosPerDelivery: deliveries > 0 ? (cpu * seconds * 1e6) / deliveries : 0,
        serverRss: memory.rss,
        foreignLoad: [Math.max(0, core0 - cpu), Math.max(0, core1 - genCpu)],
        published: published.published,
        throttled: published.throttled,
        publishErrors: published.errors,
        verify,
        connectionsLost: lost,
      };
    },
  );
}

export interface MemoryPoint {
  connections: number;
  rss: number;
  heapUsed: number;
}

export interface MemoryResult {
  workload: 'memory';
  target: TargetName;
  points: MemoryPoint[];
  /** Bytes of server RSS per idle connection, over the empty server, at each point. */
  perConnection: Array<{ connections: number; bytes: number }>;
}

/** Workload (c): server memory with idle connections (each subscribed to one channel), in steps. */
export function runMemory(
  target: TargetName,
  levels: number[],
  progress: Progress,
  rig?: RigOptions,
): Promise<MemoryResult> {
  return withRig(target, rig, async (sut, generator) => {
    const base = await sut.memory();
    const points: MemoryPoint[] = [{ connections: 0, ...base }];
    let open = 0;
    const max = levels[levels.length - 1];
    progress.phase(`idle connections up to ${max}`, max);
    for (const level of levels) {
      // In chunks, so the bar moves and no process gets a huge burst of connects at once.
      while (open < level) {
        const chunk = Math.min(2_000, level - open);
        await generator.connect(
          target,
          sut.port,
          Array.from({ length: chunk }, () => 'bench'),
        );
        open += chunk;
        progress.tick(open);
      }
      await sleep(1_000);
      points.push({ connections: level, ...(await sut.memory()) });
    }
    return {
      workload: 'memory',
      target,
      points,
      perConnection: points
        .slice(1)
        .map((p) => ({ connections: p.connections, bytes: (p.rss - base.rss) / p.connections })),
    };
  });
}

export interface StormResult {
  workload: 'storm';
  target: TargetName;
  clients: number;
  rate: number;
  /** From the drop to the last subscriber live again. */
  resumeMs: number;
  /** Subscribers that could not reconnect within the bound. */
  failed: number;
  published: number;
  /** Messages published while subscribers were away and never delivered to them. */
  lost: number;
  duplicates: number;
  /** Resumes the server refused (Herald: `recovered: false`). */
  notRecovered: number;
  canResume: boolean;
  /** Why the last attempts of those that gave up failed (a few, as the generators saw them). */
  gaveUpBecause?: string[];
}

/**
 * Workload (d): every subscriber drops at once (TCP reset) while messages keep flowing, then all
 * reconnect at once; Herald's resume from `since`, others just resubscribe and report what they lost.
 */
export function runStorm(
  target: TargetName,
  clients: number,
  rate: number,
  progress: Progress,
  rig?: RigOptions,
): Promise<StormResult> {
  return withRig(target, rig, async (sut, generator) => {
    progress.phase(`connecting ${clients} subscribers`, clients);
    for (let open = 0; open < clients; ) {
      const chunk = Math.min(2_000, clients - open);
      await generator.connect(
        target,
        sut.port,
        Array.from({ length: chunk }, () => 'bench'),
      );
      open += chunk;
      progress.tick(open);
    }
    await generator.sampler.call('openPublisher', { target, bases: [sut.publishBase] });
    await generator.sampler.call('startPublishing', {
      channels: ['bench'],
      mode: 'rate',
      rate,
      window: 64,
    });
    progress.phase('storm: drop all, reconnect all', 3);
    await timed(1, progress);
    const storms = await Promise.all(
      generator.counters.map((c) =>
        c.call<{ t0: number; lastReady: number; failed: number; notRecovered: number; reasons: string[] }>(
          'storm',
          {},
          180_000,
        ),
      ),
    );
    await timed(2, progress);
    const published = await generator.sampler.call<{ published: number }>('stopPublishing');
    await drain(generator, clients * published.published);
    const verify = (
      await Promise.all(
        generator.counters.map((c) =>
          c.call<Verification>('verify', { expected: { bench: published.published } }),
        ),
      )
    ).reduce(combine);
    const t0 = Math.min(...storms.map((s) => s.t0));
    const lastReady = Math.max(...storms.map((s) => s.lastReady));
    return {
      workload: 'storm',
      target,
      clients,
      rate,
      resumeMs: (lastReady - t0) / 1000,
      failed: storms.reduce((n, s) => n + s.failed, 0),
      published: published.published,
      lost: verify.missing,
      duplicates: verify.extra,
      notRecovered: storms.reduce((n, s) => n + s.notRecovered, 0),
      canResume: TARGETS[target].resumes,
      gaveUpBecause: [...new Set(storms.flatMap((s) => s.reasons))].slice(0, 5),
    };
  });
}
