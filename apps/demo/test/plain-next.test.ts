import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../../packages/server/test/support/process.ts';
import { DEMO_DIR } from '../scripts/build.ts';
import { browserPerFile, signedIn, unique } from './support/browser.ts';
import { E2E_API_KEY, E2E_TOKEN_SECRET } from './support/constants.ts';

// The same build deployed without the custom server: `next start`, route handlers alone, no WebSocket.
// The pages say so (offeredTransports), so the browser goes straight to SSE and logs no failed WebSocket.

const chrome = browserPerFile();
let child: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  const port = await freePort();
  const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
  child = spawn(process.execPath, [nextBin, 'start', DEMO_DIR, '-p', String(port), '-H', '127.0.0.1'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      HERALD_API_KEY: E2E_API_KEY,
      HERALD_TOKEN_SECRET: E2E_TOKEN_SECRET,
    },
    stdio: 'ignore',
  });
  url = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      () =>
        fetch(`${url}/realtime/health`).then(
          (r) => r.status,
          () => 0,
        ),
      { timeout: 60_000 },
    )
    .toBe(200);
}, 90_000);

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child?.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});

it('under plain `next start` the pages connect over SSE without trying a WebSocket', async () => {
  const context = await signedIn(chrome.browser, unique('plain'), url);
  chrome.onCleanup(() => context.close());
  const sockets: string[] = [];
  const page = await context.newPage();
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const room = unique('plain');
  await page.goto(`/chat/${room}`);
  await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('connected · sse');
  await page.getByLabel('message').fill('over sse from the start');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect
    .poll(() => page.getByTestId('message').getByTestId('message-state').textContent())
    .toBe('sent ✓');
  for (const path of ['/notifications', '/dashboard', '/jobs']) {
    await page.goto(path);
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('connected · sse');
  }
  // Not one attempt: the console (checked after every test) stays clean too.
  expect(sockets).toEqual([]);
});
