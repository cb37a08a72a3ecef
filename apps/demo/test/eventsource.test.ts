import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { browserPerFile, hubApi, newContext, screenshot } from './support/browser.ts';
import { Network } from './support/network.ts';

// The page holds nothing but the browser's own EventSource; these tests check that its automatic
// reconnect (with Last-Event-ID) resumes the stream with nothing lost or doubled.

const chrome = browserPerFile();

const number = async (page: Page, testId: string) => Number(await page.getByTestId(testId).textContent());

it('resumes losslessly when the hub ends the stream and when the network drops it', async () => {
  const network = await Network.start();
  chrome.onCleanup(() => network.close());
  const context = await newContext(chrome.browser, network.url);
  chrome.onCleanup(() => context.close());
  const page = await context.newPage();
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto('/eventsource');
  await expect.poll(() => page.getByTestId('es-status').textContent()).toBe('open');
  await expect.poll(() => number(page, 'es-received')).toBeGreaterThan(2);

  // The hub ends every stream after sse.maxStreamDuration (herald.json), as it would before a
  // platform's time limit; the browser reconnects by itself.
  await expect.poll(() => number(page, 'es-opens')).toBeGreaterThanOrEqual(2);
  const afterHubEnded = await number(page, 'es-received');

  // Now the network: cut the connection, let a few log lines go by unseen, then come back.
  expect(await network.cut(context)).toBeGreaterThan(0);
  const offlineFrom = await number(page, 'es-last-offset');
  await expect.poll(() => page.getByTestId('es-status').textContent()).not.toBe('open');
  // The feed goes on (twice a second): wait until the page has missed a few lines.
  const streamEnd = async () =>
    (await hubApi<{ offset: number }>('history', { channel: 'feed:log', limit: 0 })).offset;
  await expect.poll(streamEnd).toBeGreaterThan(offlineFrom + 3);
  await network.restore(context);
  await expect
    .poll(() => number(page, 'es-last-offset'), { timeout: 20_000 })
    .toBeGreaterThan(offlineFrom + 4);

  expect(await number(page, 'es-received')).toBeGreaterThan(afterHubEnded);
  expect(await number(page, 'es-gaps')).toBe(0);
  expect(await number(page, 'es-duplicates')).toBe(0);
  // Every offset from the first one seen to the last arrived exactly once. The feed goes on meanwhile,
  // so the three numbers are read in one snapshot of the page.
  const tally = await page.evaluate(() => {
    const read = (id: string) => Number(document.querySelector(`[data-testid="${id}"]`)?.textContent);
    return { received: read('es-received'), first: read('es-first-offset'), last: read('es-last-offset') };
  });
  expect(tally.received).toBe(tally.last - tally.first + 1);
  expect(sockets, 'the page opens no WebSocket: EventSource only').toEqual([]);
  await screenshot(page, 'eventsource');
});
