import type { Plan } from './plan.ts';
import type { TargetName } from './targets.ts';
import type { FanoutResult, MemoryResult, StormResult } from './workloads.ts';

/** What a run writes to bench/results/<date>.json; the report is made from it alone. */
export interface Results {
  version: 1;
  /** ISO time the run started. */
  date: string;
  plan: Plan;
  machine: { cpu: string; cores: number; node: string; kernel: string; loadAverageAtStart: number[] };
  /** Workloads (a) and (b); with --repeat, several entries per point. */
  fanout: FanoutResult[];
  memory: MemoryResult[];
  storm: StormResult[];
  skipped: Array<{ target: TargetName | string; reason: string }>;
  errors: Array<{ step: string; message: string }>;
}
