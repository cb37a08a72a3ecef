import { serveRpc } from '../rpc.ts';

/**
 * Every Node server under test announces its port and answers `memory` the same way: a full GC first
 * (the server runs with --expose-gc), so memory per connection is live data, not garbage not yet collected.
 */
export function announce(port: number, extra: { publishPort?: number } = {}): void {
  // Exit normally on SIGTERM, so `--cpu-prof` gets to write its profile.
  process.on('SIGTERM', () => process.exit(0));
  serveRpc(
    {
      memory: () => {
        globalThis.gc?.();
        return process.memoryUsage();
      },
    },
    { port, ...extra },
  );
}

/** The `--port N` argument (0: any free port). */
export function portArgument(): number {
  const i = process.argv.indexOf('--port');
  return i >= 0 ? Number(process.argv[i + 1]) : 0;
}

/**
 * Herald's limits a benchmark exceeds by design, off (0) in the Herald targets: one WebSocket publishes
 * as fast as it likes (`publishRate`, and `commandRate`, which counts publishes too), and every client is
 * anonymous from 127.0.0.1 (`channelsPerIp`). Everything else stays at its default.
 */
export const BENCH_LIMITS = { publishRate: 0, commandRate: 0, channelsPerIp: 0 };

/** The API key of the Herald servers: the server API workload publishes through `/api/publish` with it. */
export const BENCH_API_KEY = 'bench-api-key';
