import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from '../../../server/test/support/process.ts';
import { NEXT_BIN } from './next-build.ts';

export interface NextStart {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * `next start` on a built app (its route handlers alone: no custom server, no WebSocket) on a free port,
 * resolved once the hub mounted at `/realtime` answers its health check.
 */
export async function nextStart(dir: string, env: Record<string, string> = {}): Promise<NextStart> {
  const port = await freePort();
  const child = spawn(process.execPath, [NEXT_BIN, 'start', dir, '-p', String(port), '-H', '127.0.0.1'], {
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', ...env },
    stdio: 'ignore',
  });
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  const health = () =>
    fetch(`${url}/realtime/health`).then(
      (r) => r.status,
      () => 0,
    );
  // A loop, not expect.poll: this also runs in beforeAll hooks, where expect.poll may not.
  const deadline = Date.now() + 60_000;
  while ((await health()) !== 200) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await close();
      throw new Error(`next start ${dir} did not answer ${url}/realtime/health within 60 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, port, close };
}
