import type { PublishVia } from './generator/publishers.ts';
import type { Progress } from './harness.ts';
import type { Plan } from './plan.ts';
import { benchFile } from './proc.ts';
import type { Results } from './results.ts';
import { TARGETS, type TargetName } from './targets.ts';
import { runFanout, runMemory, runStorm } from './workloads.ts';

export interface Step {
  label: string;
  run(progress: Progress): Promise<void>;
}

/**
 * The run as a list of steps, each one server process and its load. Within every measurement point the
 * targets follow one another (and repeats alternate), so they meet the same machine conditions.
 */
export function buildSteps(plan: Plan, results: Results): Step[] {
  const steps: Step[] = [];
  const rig = (label: string) => ({
    nice: plan.nice,
    cpuProfDir: plan.cpuProf
      ? benchFile(`../results/profiles/${label.replace(/[^a-z0-9]+/gi, '-')}`)
      : undefined,
  });
  // A baseline checkout answers before/after questions about the Redis broker, so it runs only in the
  // workloads that ask them (many channels, the server API), not through the hour of peer comparisons.
  const withoutBaseline: TargetName[] = plan.targets.filter((t) => t !== 'herald-redis-baseline');
  const each = (
    label: string,
    run: (target: TargetName, progress: Progress) => Promise<void>,
    targets = withoutBaseline,
  ) => {
    for (let rep = 1; rep <= plan.repeat; rep++) {
      for (const target of targets) {
        const full = `${label} | ${TARGETS[target].label}${plan.repeat > 1 ? ` #${rep}` : ''}`;
        steps.push({ label: full, run: (progress) => run(target, progress) });
      }
    }
  };
  const fanout = (
    subscribers: number,
    channels: number,
    mode: 'rate' | 'saturation',
    rate: number,
    via: PublishVia = 'protocol',
    nodes?: number,
  ) => {
    const what = mode === 'rate' ? `${rate} msg/s` : 'saturation';
    const shape = channels === 1 ? 'fan-out' : `${channels} channels`;
    const where = nodes === undefined ? '' : `${nodes} nodes on one Redis, `;
    const label = `${where}${via === 'api' ? 'server API, ' : ''}${shape} ${subscribers} subs ${what}`;
    // The server API workload is Herald's alone: the peers have no publish API (Pushpin's is its own
    // shape); the multi-node one is the Redis broker's.
    const targets =
      nodes !== undefined
        ? plan.targets.filter((t) => t === 'herald-redis')
        : via === 'api'
          ? plan.targets.filter((t) => TARGETS[t].api)
          : channels > 1
            ? plan.targets
            : withoutBaseline;
    each(
      label,
      async (target, progress) => {
        results.fanout.push(
          await runFanout(
            {
              target,
              subscribers,
              channels,
              mode,
              rate,
              window: plan.window,
              samples: Math.max(1, Math.min(plan.samples, Math.floor(subscribers / 20))),
              warmupS: plan.warmupS,
              durationS: plan.durationS,
              via,
              nodes,
              rig: rig(`${label} ${target}`),
            },
            progress,
          ),
        );
      },
      targets,
    );
  };
  if (plan.workloads.includes('fanout')) {
    for (const subscribers of plan.fanoutSubscribers) {
      for (const rate of plan.rates) fanout(subscribers, 1, 'rate', rate);
      fanout(subscribers, 1, 'saturation', 0);
    }
  }
  if (plan.workloads.includes('channels')) {
    fanout(plan.channelSubscribers, plan.channels, 'rate', plan.channelRate);
    fanout(plan.channelSubscribers, plan.channels, 'saturation', 0);
  }
  if (plan.workloads.includes('api')) {
    fanout(plan.apiChannels, plan.apiChannels, 'saturation', 0, 'api');
  }
  if (plan.workloads.includes('nodes')) {
    for (const nodes of plan.nodeCounts) {
      fanout(plan.nodeSubscribers, plan.nodeChannels, 'saturation', 0, 'protocol', nodes);
    }
  }
  if (plan.workloads.includes('memory')) {
    each(`memory up to ${plan.memoryLevels.at(-1)} idle`, async (target, progress) => {
      results.memory.push(await runMemory(target, plan.memoryLevels, progress, rig(`memory ${target}`)));
    });
  }
  if (plan.workloads.includes('storm')) {
    each(`storm ${plan.stormClients} clients`, async (target, progress) => {
      results.storm.push(
        await runStorm(target, plan.stormClients, plan.stormRate, progress, rig(`storm ${target}`)),
      );
    });
  }
  return steps;
}
