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
