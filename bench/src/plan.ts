import { parseArgs } from 'node:util';
import { TARGET_NAMES, type TargetName } from './targets.ts';

export const WORKLOADS = ['fanout', 'channels', 'memory', 'storm', 'api', 'nodes'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** Everything a run does; the profiles below, then any flag on top. */
export interface Plan {
  profile: 'full' | 'quick';
  targets: TargetName[];
  workloads: WorkloadName[];
  /** (a) one channel: subscriber counts, fixed rates (msg/s) and saturation at each. */
  fanoutSubscribers: number[];
  rates: number[];
  /** (b) many channels. */
  channelSubscribers: number;
  channels: number;
  channelRate: number;
  /** (c) idle connections, in steps; the last is the largest count. */
  memoryLevels: number[];
  /** (d) reconnect storm. */
  stormClients: number;
  stormRate: number;
  /** (e) server API publishing: channels, one subscriber each (Herald targets only). */
  apiChannels: number;
  /** (f) Herald nodes on one Redis: node counts, subscribers spread over them, channels. */
  nodeCounts: number[];
  nodeSubscribers: number;
  nodeChannels: number;
  /** Saturation: messages in flight per subscriber. */
  window: number;
  /** Latency clients per run (at most one per 20 subscribers). */
  samples: number;
  warmupS: number;
  durationS: number;
  /** Runs of each measurement, targets interleaved; the report takes the median. */
  repeat: number;
  cpuProf: boolean;
  /** Niceness of server and generator processes; 0 leaves them equal to other jobs. */
  nice: number;
}

const PROFILES: Record<'full' | 'quick', Omit<Plan, 'targets' | 'workloads' | 'cpuProf' | 'nice'>> = {
  full: {
    profile: 'full',
    fanoutSubscribers: [2_000, 5_000, 10_000],
    rates: [10, 100],
    channelSubscribers: 10_000,
    channels: 1_000,
    channelRate: 1_000,
    memoryLevels: [1_000, 2_000, 5_000, 10_000, 15_000, 19_000],
    stormClients: 10_000,
    stormRate: 5,
    apiChannels: 10_000,
    nodeCounts: [1, 2, 4],
    nodeSubscribers: 10_000,
    nodeChannels: 100,
    window: 64,
    samples: 100,
    warmupS: 2,
    durationS: 10,
    repeat: 1,
  },
  quick: {
    profile: 'quick',
    fanoutSubscribers: [500, 2_000],
    rates: [10],
    channelSubscribers: 2_000,
    channels: 200,
    channelRate: 200,
    memoryLevels: [1_000, 2_000, 5_000],
    stormClients: 2_000,
    stormRate: 5,
    apiChannels: 2_000,
    nodeCounts: [1, 2, 4],
    nodeSubscribers: 2_000,
    nodeChannels: 20,
    window: 64,
    samples: 20,
    warmupS: 1,
    durationS: 2,
    repeat: 1,
  },
};

export const USAGE = `npm run bench -- [flags]

  --quick                  small counts and short windows (a few minutes)
  --targets a,b            ${TARGET_NAMES.join(', ')} (default: all available)
  --workloads a,b          ${WORKLOADS.join(', ')} (default: all)
  --subscribers 2000,10000 fan-out subscriber counts (one channel)
  --rates 10,100           fixed publish rates, msg/s (saturation always runs too)
  --channel-subscribers N  subscribers for the many-channels workload
  --channels N             channels for the many-channels workload
  --channel-rate N         total msg/s for the many-channels fixed-rate run
  --memory-levels 1000,..  idle connection counts; the last is the largest
  --storm-clients N        subscribers in the reconnect storm
  --storm-rate N           msg/s published during the storm
  --api-channels N         channels (one subscriber each) for the server API workload
  --nodes 1,2,4            Herald nodes on one Redis for the multi-node workload
  --node-subscribers N     subscribers spread over those nodes
  --node-channels N        channels of the multi-node workload
  --window N               saturation: messages in flight per subscriber (default 64)
  --samples N              latency clients per run
  --warmup S --duration S  seconds before and of each measurement
  --repeat N               measure each point N times, targets interleaved; median reported
  --nice=N                 run servers and generators at niceness N (e.g. --nice=-10 on a shared machine; root)
  --cpu-prof               write a V8 CPU profile of every server to bench/results/profiles/
  --report FILE.json       only regenerate BENCHMARKS.md and charts from a results file
  --help`;

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const numbers = (v: string | undefined) => list(v)?.map(positive);

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got "${v}"`);
  return n;
}

export function parsePlan(
  argv: string[],
  available: TargetName[],
): { plan: Plan; report?: string; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      targets: { type: 'string' },
      workloads: { type: 'string' },
      subscribers: { type: 'string' },
      rates: { type: 'string' },
      'channel-subscribers': { type: 'string' },
      channels: { type: 'string' },
      'channel-rate': { type: 'string' },
      'memory-levels': { type: 'string' },
      'storm-clients': { type: 'string' },
      'storm-rate': { type: 'string' },
      'api-channels': { type: 'string' },
      nodes: { type: 'string' },
      'node-subscribers': { type: 'string' },
      'node-channels': { type: 'string' },
      window: { type: 'string' },
      samples: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      repeat: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      nice: { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const base = PROFILES[values.quick ? 'quick' : 'full'];
  const targets = (list(values.targets) ?? available) as TargetName[];
  for (const t of targets) if (!TARGET_NAMES.includes(t)) throw new Error(`unknown target ${t}`);
  const workloads = (list(values.workloads) ?? [...WORKLOADS]) as WorkloadName[];
  for (const w of workloads) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}`);
  const one = (v: string | undefined, fallback: number) => (v === undefined ? fallback : positive(v));
  const plan: Plan = {
    ...base,
    targets,
    workloads,
    fanoutSubscribers: numbers(values.subscribers) ?? base.fanoutSubscribers,
    rates: numbers(values.rates) ?? base.rates,
    channelSubscribers: one(values['channel-subscribers'], base.channelSubscribers),
    channels: one(values.channels, base.channels),
    channelRate: one(values['channel-rate'], base.channelRate),
    memoryLevels: (numbers(values['memory-levels']) ?? base.memoryLevels).sort((a, b) => a - b),
    stormClients: one(values['storm-clients'], base.stormClients),
    stormRate: one(values['storm-rate'], base.stormRate),
    apiChannels: one(values['api-channels'], base.apiChannels),
    nodeCounts: numbers(values.nodes) ?? base.nodeCounts,
    nodeSubscribers: one(values['node-subscribers'], base.nodeSubscribers),
    nodeChannels: one(values['node-channels'], base.nodeChannels),
    window: one(values.window, base.window),
    samples: one(values.samples, base.samples),
    warmupS: one(values.warmup, base.warmupS),
    durationS: one(values.duration, base.durationS),
    repeat: one(values.repeat, base.repeat),
    cpuProf: values['cpu-prof'] ?? false,
    nice: values.nice === undefined ? 0 : Number.parseInt(values.nice, 10),
  };
  if (!Number.isInteger(plan.nice) || plan.nice < -20 || plan.nice > 19) {
    throw new Error('--nice takes an integer from -20 to 19');
  }
  if (plan.memoryLevels[plan.memoryLevels.length - 1] > 19_500) {
    throw new Error('at most 19,500 connections: the server process may hold 20,000 open files');
  }
  return { plan, report: values.report, help: values.help ?? false };
}
