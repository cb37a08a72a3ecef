import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackages } from '../../../scripts/build-packages.ts';

export const DEMO_DIR = fileURLToPath(new URL('..', import.meta.url));
const ROOT = join(DEMO_DIR, '../..');
const STAMP = join(DEMO_DIR, '.next/herald-build.json');
const LOCK = join(DEMO_DIR, '.next-build.lock');
const NEXT_BIN = createRequire(import.meta.url).resolve('next/dist/bin/next');
const SKIP = new Set([
  'node_modules',
  '.next',
  'test',
  'test-artifacts',
  'next-env.d.ts',
  '.next-build.lock',
]);

async function* files(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || /\.(tsbuildinfo|md)$/.test(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

/** A hash of everything the build reads: the demo's sources, every package's sources, the lockfile. */
async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const roots = [DEMO_DIR, join(ROOT, 'package-lock.json')];
  for (const pkg of await readdir(join(ROOT, 'packages'))) {
    roots.push(join(ROOT, 'packages', pkg, 'src'), join(ROOT, 'packages', pkg, 'package.json'));
  }
  for (const root of roots) {
    const isDir = await stat(root).then(
      (s) => s.isDirectory(),
      () => null,
    );
    if (isDir === null) continue;
    const paths: string[] = [];
    if (isDir) for await (const path of files(root)) paths.push(path);
    else paths.push(root);
    for (const path of paths.sort())
      hash
        .update(relative(ROOT, path))
        .update('\0')
        .update(await readFile(path));
  }
  return hash.digest('hex');
}

function run(output: 'inherit' | 'pipe'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NEXT_BIN, 'build', DEMO_DIR], {
      env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
      stdio: ['ignore', output, output],
    });
    let log = '';
    child.stdout?.on('data', (chunk) => {
      log += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      log += chunk;
    });
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`next build failed (${code})\n${log}`)),
    );
  });
}

/** One build at a time per checkout (`npm start` and `npm test` may race); a dead holder's lock is taken over. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch {
      const holder = Number(await readFile(join(LOCK, 'pid'), 'utf8').catch(() => '0'));
      if (holder > 0 && !isAlive(holder)) await rm(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${LOCK} held by pid ${holder} for 10 minutes`);
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds the packages' dist/ (what Next.js bundles, as in any app that installs them), then the demo for
 * production unless `.next` already holds a build of exactly these sources. Returns whether it built.
 */
export async function ensureBuild(
  options: { force?: boolean; output?: 'inherit' | 'pipe' } = {},
): Promise<boolean> {
  await buildPackages();
  return withLock(async () => {
    const hash = await sourceHash();
    const built = await readFile(STAMP, 'utf8').then(
      (text) => (JSON.parse(text) as { hash: string }).hash,
      () => '',
    );
    if (!options.force && built === hash) return false;
    await run(options.output ?? 'inherit');
    await writeFile(STAMP, JSON.stringify({ hash }));
    return true;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await ensureBuild({ force: process.argv.includes('--force') });
}
