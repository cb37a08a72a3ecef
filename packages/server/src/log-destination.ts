import type { Writable } from 'node:stream';

/**
 * Where `herald serve` writes its log lines: stdout, but never at the hub's expense. pino's own
 * destination retries a write that failed with EPIPE forever when it flushes at exit, so a hub whose log
 * reader had gone (a crashed log shipper, `herald serve | tee` cut short) could not exit on SIGTERM. Here a
 * failed stream stops taking lines, a reader that falls `maxBacklog` bytes behind loses lines instead of
 * growing the hub's memory, and nothing is flushed at exit.
 */
export function logDestination(
  stream: Writable = process.stdout,
  maxBacklog = 8 * 1024 * 1024,
): { write(line: string): void } {
  let failed = false;
  stream.on('error', () => {
    failed = true;
  });
  return {
    write(line) {
      if (!failed && !stream.destroyed && stream.writableLength < maxBacklog) stream.write(line);
    },
  };
}
