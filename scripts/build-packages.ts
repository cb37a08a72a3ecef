import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * Compiles every published package into its dist/ (`tsc -b`: only what changed since the last build, a
 * second or two when nothing did). Tests import the packages from source, but the `herald` CLI and
 * Next.js builds use dist/ as an installed package would, so they must never see a stale one.
 */
export async function buildPackages(): Promise<void> {
  await promisify(execFile)(process.execPath, [TSC, '-b', 'tsconfig.build.json'], { cwd: ROOT }).catch(
    (err: { stdout?: string; stderr?: string }) => {
      throw new Error(`building the packages (tsc -b) failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    },
  );
}

/** Vitest's global setup: build before any test runs. */
export default buildPackages;
