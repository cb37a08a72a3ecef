import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { access, constants, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { DEMO_DIR, ensureBuild } from '../../scripts/build.ts';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, E2E_API_KEY, E2E_TOKEN_SECRET } from './constants.ts';

const TSX = createRequire(import.meta.url).resolve('tsx/cli');

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:PORT` of the demo server every browser test shares. */
    demoUrl: string;
    /** Playwright endpoint of the one Chromium the browser tests share. */
    browserEndpoint: string;
  }
}

/**
 * Starts `server.ts` as `npm start` does, on a free port; resolves with its URL once it is ready. Its
 * output goes to test-artifacts/demo/server.log.
 */
let stopping = false;

function startDemo(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [TSX, '--conditions=@herald/source', 'server.ts'], {
    cwd: DEMO_DIR,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      PORT: '0',
      HOST: '127.0.0.1',
      HERALD_API_KEY: E2E_API_KEY,
      HERALD_TOKEN_SECRET: E2E_TOKEN_SECRET,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(join(ARTIFACTS, 'server.log'));
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('the demo server did not start within 120 s')), 120_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${output}`));
    };
    const onData = (chunk: Buffer) => {
      output += chunk;
      const ready = /ready on (http:\/\/\S+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve({ url: ready[1], child });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.once('exit', (code) => fail(new Error(`the demo server exited (${code})`)));
    child.once('exit', (code, signal) => {
      if (!stopping) console.error(`the demo server exited early (${signal ?? code}): see ${log.path}`);
    });
  });
}

/**
 * Once per test run: a production build of the demo (skipped when `.next` is a build of these exact
 * sources), one demo server and one Chromium, shared by every browser test file. A missing Chromium fails
 * the run: browser tests are never skipped.
 */
export default async function setup(project: TestProject) {
  await access(CHROMIUM, constants.X_OK).catch(() => {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  });
  await mkdir(ARTIFACTS, { recursive: true });
  await ensureBuild({ output: 'pipe' });
  const demo = await startDemo();
  const browser = await chromium.launchServer({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
  });
  project.provide('demoUrl', demo.url);
  project.provide('browserEndpoint', browser.wsEndpoint());
  return async () => {
    await browser.close();
    stopping = true;
    const exited = new Promise((resolve) => demo.child.once('exit', resolve));
    demo.child.kill('SIGTERM');
    const timer = setTimeout(() => demo.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}
