import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

export const NEXT_BIN = createRequire(import.meta.url).resolve('next/dist/bin/next');

/** Runs `next build` on an app directory; rejects with the build output when it fails. */
export function nextBuild(dir: string, timeoutMs = 240_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NEXT_BIN, 'build', dir], {
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`next build ${dir} failed (${signal ?? code}):\n${output}`));
    });
  });
}
