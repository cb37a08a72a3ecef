import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * Compiles every published package into its dist/ (`tsc -b`: only what changed since the last build, a
 * second or two when nothing did). Tests import the packages from source, but the `herald` CLI and
 * Next.js builds use dist/ as an installed package would, so they must never see a stale one.
 */
export function buildPackages(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSC, '-b', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`building the packages (tsc -b) failed:\n${output}`)),
    );
  });
}

/** Vitest's global setup: build before any test runs. */
export default buildPackages;
