import { afterAll, beforeAll, expect, it } from 'vitest';
import { type NextStart, nextStart } from '../../../packages/next/test/support/next-start.ts';
import { DEMO_DIR } from '../scripts/build.ts';
import { browserPerFile, unique } from './support/browser.ts';
import { E2E_API_KEY, E2E_TOKEN_SECRET } from './support/constants.ts';

// The same build deployed without the custom server: `next start`, route handlers alone, no WebSocket.
// The pages say so (offeredTransports), so the browser goes straight to SSE and logs no failed WebSocket.

const chrome = browserPerFile();
let server: NextStart | undefined;

beforeAll(async () => {
  server = await nextStart(DEMO_DIR, { HERALD_API_KEY: E2E_API_KEY, HERALD_TOKEN_SECRET: E2E_TOKEN_SECRET });
}, 90_000);

afterAll(() => server?.close());

it('under plain `next start` the pages connect over SSE without trying a WebSocket', async () => {
  if (!server) throw new Error('next start runs in beforeAll');
  const context = await chrome.signedIn(unique('plain'), server.url);
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
