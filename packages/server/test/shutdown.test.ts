import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort, HERALD_BIN } from './support/process.ts';

/**
 * A parent that starts `herald serve` with its stdout and stderr piped to itself, waits until it
 * listens, prints its pid and exits: the pipes' reader is gone, as when a log shipper crashes or
 * `herald serve | tee` is cut short. The hub is detached, so it outlives the parent.
 */
const ABANDONING_PARENT = `
const { spawn } = require('node:child_process');
const [bin, port] = process.argv.slice(1);
const hub = spawn(process.execPath, [bin, 'serve', '--port', port], {
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
  env: { ...process.env, HERALD_LOG_LEVEL: 'info' },
});
let out = '';
hub.stdout.on('data', (d) => {
  out += d;
  if (out.includes('herald is listening')) {
    process.stdout.write(String(hub.pid));
    process.exit(0);
  }
});
hub.on('exit', (code) => {
  process.stderr.write('hub exited early: ' + code + '\\n' + out);
  process.exit(1);
});
`;

/** Whether the process runs; an exited one nobody has reaped yet (a zombie, state Z) does not. */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('a hub whose log reader has gone', () => {
  it('keeps serving, and exits on SIGTERM', async () => {
    const port = await freePort();
    const { stdout } = await promisify(execFile)(process.execPath, [
      '-e',
      ABANDONING_PARENT,
      HERALD_BIN,
      String(port),
    ]);
    const pid = Number(stdout);
    expect(pid).toBeGreaterThan(0);
    try {
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      // Its first lines to the pipes nobody reads are the drain's own, written just before it exits.
      process.kill(pid, 'SIGTERM');
      // Bounded: the drain has nothing to wait for, and its own limit is 10 s.
      await expect.poll(() => alive(pid), { timeout: 15_000, interval: 100 }).toBe(false);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
