// What a user does with Herald's packages, outside this repository: `npm pack` every package, install the
// tarballs (no workspace links) into a fresh Next.js App Router app and into an empty folder, then build,
// start and use them as the quickstart (docs/quickstart.md) and the README say.
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../../apps/demo/test/support/constants.ts';
import { freePort } from '../../packages/server/test/support/process.ts';
import { exec, type Outcome, run, type Service, startService, userEnv, waitForOk } from './support.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixture', import.meta.url));
const PACKAGES = ['protocol', 'server', 'client', 'react', 'next'];
const ROUTE = 'app/realtime/[...herald]/route.ts';

/** The app installs what this repository develops against, from the npm cache where it can. */
const repoVersion = (name: string) =>
  (createRequire(join(REPO, 'package.json'))(`${name}/package.json`) as { version: string }).version;
const APP_DEPENDENCIES = ['next', 'react', 'react-dom'];
const APP_DEV_DEPENDENCIES = ['typescript', '@types/react', '@types/react-dom', '@types/node'];

const NPM_INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

let root: string;
let tarballs: Record<string, string>;
const services: Service[] = [];

/**
 * A package.json depending on the tarballs of `herald` and on `registry` (name → version). `overrides`
 * pins Herald's packages everywhere in the tree to the tarballs, so no `@herald/*` dependency of a tarball
 * is ever looked up in a registry.
 */
function manifest(
  name: string,
  herald: string[],
  registry: { dependencies?: string[]; devDependencies?: string[] } = {},
): string {
  const tarball = (pkg: string) => [`@herald/${pkg}`, `file:${tarballs[pkg]}`];
  const versions = (names: string[] = []) => names.map((dep) => [dep, repoVersion(dep)]);
  return JSON.stringify(
    {
      name,
      private: true,
      dependencies: Object.fromEntries([...herald.map(tarball), ...versions(registry.dependencies)]),
      devDependencies: Object.fromEntries(versions(registry.devDependencies)),
      overrides: Object.fromEntries(PACKAGES.map(tarball)),
    },
    null,
    2,
  );
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'herald-consumer-'));
  const packed = join(root, 'tarballs');
  await mkdir(packed);
  await run(
    'npm',
    ['pack', '--pack-destination', packed, ...PACKAGES.flatMap((p) => ['-w', `@herald/${p}`])],
    {
      cwd: REPO,
      timeoutMs: 120_000,
    },
  );
  const files = await readdir(packed);
  tarballs = Object.fromEntries(
    PACKAGES.map((pkg) => {
      const file = files.find((f) => f.startsWith(`herald-${pkg}-`) && f.endsWith('.tgz'));
      if (!file) throw new Error(`npm pack made no tarball for @herald/${pkg}: ${files.join(', ')}`);
      return [pkg, join(packed, file)];
    }),
  );
}, 180_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

describe('a Next.js App Router app with the packed packages installed', () => {
  let app: string;
  let url: string;
  let browser: Browser | undefined;
  const init: { refused?: Outcome; written?: Outcome } = {};

  beforeAll(async () => {
    app = join(root, 'app');
    await cp(FIXTURE, app, { recursive: true });
    await writeFile(
      join(app, 'package.json'),
      manifest('herald-consumer-app', PACKAGES, {
        dependencies: APP_DEPENDENCIES,
        devDependencies: APP_DEV_DEPENDENCIES,
      }),
    );
    await run('npm', NPM_INSTALL, { cwd: app, timeoutMs: 300_000 });
    // The generator, as the quickstart's alternative: it refuses while the app has its own route, and
    // writes the same route (plus a provider and a token route, built and type-checked below) once it is gone.
    const npxInit = () => exec('npx', ['@herald/next', 'init'], { cwd: app, timeoutMs: 60_000 });
    init.refused = await npxInit();
    await rm(join(app, ROUTE));
    init.written = await npxInit();
    // `next build` type-checks the app too: every import resolves to the packages' own `.d.ts`.
    await run('npx', ['next', 'build'], {
      cwd: app,
      timeoutMs: 300_000,
      env: userEnv({ NODE_ENV: 'production' }),
    });
    const port = await freePort();
    const server = startService('npx', ['next', 'start', '-p', String(port), '-H', '127.0.0.1'], {
      cwd: app,
      env: userEnv({ NODE_ENV: 'production' }),
    });
    services.push(server);
    url = `http://127.0.0.1:${port}`;
    await waitForOk(`${url}/realtime/health`, server, 60_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("shows a Server Action's publication live in a client component, once, without a reload", async () => {
    if (!browser) throw new Error('the browser starts in beforeAll');
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    try {
      await page.goto(url);
      // Subscribed: the page is a member of the channel. From here a publication can only arrive live
      // (the component reads history before it subscribes).
      await expect.poll(() => presence(url, 'notifications'), { timeout: 30_000 }).toBe(1);
      const document = await page.evaluate(() => {
        (window as { heraldTestDocument?: string }).heraldTestDocument = crypto.randomUUID();
        return (window as { heraldTestDocument?: string }).heraldTestDocument;
      });
      const notifications = page.locator('p', { hasText: 'Hello from Herald' });

      await page.getByRole('button', { name: 'Notify' }).click();
      await expect.poll(() => notifications.count(), { timeout: 30_000 }).toBe(1);
      await page.getByRole('button', { name: 'Notify' }).click();
      await expect.poll(() => notifications.count(), { timeout: 30_000 }).toBe(2);

      // Two publications, each shown once, on the same document (no reload, no navigation).
      const history = await api<{ publications: unknown[] }>(url, '/realtime/api/history', {
        channel: 'notifications',
      });
      expect(history.publications).toHaveLength(2);
      expect(await notifications.count()).toBe(2);
      expect(await page.evaluate(() => (window as { heraldTestDocument?: string }).heraldTestDocument)).toBe(
        document,
      );
    } finally {
      await page.close();
    }
  });

  it('`npx @herald/next init` overwrites nothing, then writes routes that build and answer', async () => {
    expect(init.refused).toMatchObject({ code: 1 });
    expect(init.refused?.output).toContain(`herald-next: not overwriting ${ROUTE}: move or delete it first`);
    expect(init.written).toMatchObject({ code: 0 });
    expect(await readFile(join(app, ROUTE), 'utf8')).toBe(await readFile(join(FIXTURE, ROUTE), 'utf8'));
    // The generated token route, before the app says who is signed in: nobody is.
    const token = await fetch(`${url}/realtime-token`);
    expect(token.status).toBe(401);
    expect(await token.text()).toBe('not signed in');
  });

  it('imports every package entry in plain node, without a TypeScript loader', async () => {
    expect(existsSync(join(app, 'node_modules/tsx')), 'no package brings a TypeScript loader').toBe(false);
    const entries: Record<string, string> = {
      '@herald/protocol': 'HeraldError',
      '@herald/server': 'createHub',
      '@herald/client': 'createClient',
      '@herald/react': 'HeraldProvider',
      '@herald/next': 'heraldRoutes',
      '@herald/next/server': 'startNextServer',
      '@herald/next/client': 'LiveRefresh',
    };
    for (const [specifier, name] of Object.entries(entries)) {
      const script = `const m = await import(${JSON.stringify(specifier)}); console.log(typeof m[${JSON.stringify(name)}]);`;
      const output = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: app,
        timeoutMs: 30_000,
      });
      expect(output.trim(), specifier).toBe('function');
    }
  });

  it('resolves the types of every package entry under NodeNext resolution', async () => {
    // A Node ESM module of the app's: each import must find the package's own declarations (strict mode
    // turns a missing one into an error), and a wrong use of one must fail.
    const check = join(app, 'node-check');
    await mkdir(check, { recursive: true });
    await writeFile(
      join(check, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        files: ['uses.mts'],
      }),
    );
    const uses = `import { HeraldError } from '@herald/protocol';
import { createHub } from '@herald/server';
import { createClient } from '@herald/client';
import { HeraldProvider, useStream } from '@herald/react';
import { connectionToken, createPublisher, defineChannels, heraldRoutes } from '@herald/next';
import { startNextServer } from '@herald/next/server';
import { LiveRefresh, useLiveRefresh } from '@herald/next/client';

export const error: string = new HeraldError('bad_request', 'no').code;
export const hub = createHub({ config: { port: 0 } });
export const client = createClient({ url: 'http://127.0.0.1:1', autoConnect: false });
export const react = [HeraldProvider, useStream] as const;
export const next = [connectionToken, createPublisher().publish, heraldRoutes().GET, startNextServer] as const;
export const live = [LiveRefresh, useLiveRefresh] as const;
const types = undefined as unknown as { input: string; output: string };
const text = { '~standard': { version: 1 as const, vendor: 'test', validate: (value: unknown) => ({ value: String(value) }), types } };
const typed = createPublisher({ channels: defineChannels({ 'news:*': { headline: text } }) });
export const published = () => typed.publish('news:1', 'hello', { event: 'headline' });
`;
    await writeFile(join(check, 'uses.mts'), uses);
    await run('npx', ['tsc', '-p', 'node-check'], { cwd: app, timeoutMs: 120_000 });
    await writeFile(join(check, 'uses.mts'), `${uses}export const wrong: number = createClient;\n`);
    const wrong = await exec('npx', ['tsc', '-p', 'node-check'], { cwd: app, timeoutMs: 120_000 });
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toMatch(/uses\.mts\(\d+,\d+\): error TS2322/);
  });
});

describe('`npx herald serve` from the packed packages in an empty folder', () => {
  let url: string;

  beforeAll(async () => {
    const folder = join(root, 'ops');
    await mkdir(folder);
    await writeFile(join(folder, 'package.json'), manifest('herald-consumer-ops', ['server']));
    await run('npm', NPM_INSTALL, { cwd: folder, timeoutMs: 180_000 });
    const port = await freePort();
    const hub = startService('npx', ['herald', 'serve', '--port', String(port), '--host', '127.0.0.1'], {
      cwd: folder,
    });
    services.push(hub);
    url = `http://127.0.0.1:${port}`;
    await waitForOk(`${url}/health`, hub, 30_000);
  }, 300_000);

  it('runs without a TypeScript loader installed', () => {
    expect(existsSync(join(root, 'ops/node_modules/@herald/server/dist/cli.js'))).toBe(true);
    expect(existsSync(join(root, 'ops/node_modules/tsx'))).toBe(false);
  });

  it('publishes and reads history over the HTTP API', async () => {
    const first = await api<{ epoch: string; offset: number }>(url, '/api/publish', {
      channel: 'orders:1',
      data: { status: 'paid' },
    });
    expect(first.offset).toBe(1);
    const second = await api<{ epoch: string; offset: number }>(url, '/api/publish', {
      channel: 'orders:1',
      data: { status: 'shipped' },
      event: 'status',
    });
    expect(second).toEqual({ epoch: first.epoch, offset: 2 });

    const history = await api<{ epoch: string; offset: number; publications: unknown[] }>(
      url,
      '/api/history',
      {
        channel: 'orders:1',
      },
    );
    expect(history).toMatchObject({ epoch: first.epoch, offset: 2 });
    expect(history.publications).toMatchObject([
      { offset: 1, data: { status: 'paid' } },
      { offset: 2, event: 'status', data: { status: 'shipped' } },
    ]);
    const since = await api<{ publications: unknown[] }>(url, '/api/history', {
      channel: 'orders:1',
      since: { epoch: first.epoch, offset: 1 },
    });
    expect(since.publications).toMatchObject([{ offset: 2 }]);
  });

  it('answers a GET of an API method and a bad channel with their error codes', async () => {
    const get = await fetch(`${url}/api/history?channel=orders:1`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(await get.json()).toMatchObject({ error: { code: 'method_not_allowed' } });

    const bad = await fetch(`${url}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'no spaces allowed', data: 1 }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_channel' } });
  });
});

async function api<T>(base: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json as T;
}

async function presence(base: string, channel: string): Promise<number> {
  const { members } = await api<{ members: Record<string, unknown> }>(base, '/realtime/api/presence', {
    channel,
  });
  return Object.keys(members).length;
}
