import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { browserPerFile, newContext, screenshot, unique } from './support/browser.ts';
import { ARTIFACTS } from './support/constants.ts';
import { Network } from './support/network.ts';

// /orders: a Server Component list kept live by <LiveRefresh>. One browser context places orders through
// the page's Server Actions; another, which only watches, must show them without a reload.

const chrome = browserPerFile();

async function openOrders(page: Page): Promise<void> {
  await page.goto('/orders');
  await expect.poll(() => page.getByTestId('connection-state').getAttribute('data-status')).toBe('connected');
  // Gone if the page were reloaded rather than refreshed.
  await page.evaluate(() => Object.assign(window, { sameDocument: true }));
}

const total = async (page: Page) => Number(await page.getByTestId('orders').getAttribute('data-total'));
const sameDocument = (page: Page) => page.evaluate(() => 'sameDocument' in window);

/** Counts the page's `router.refresh()` requests (RSC fetches of the page itself). */
function countRefreshes(page: Page): { readonly count: number } {
  const counter = { count: 0 };
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/orders' && request.method() === 'GET' && request.headers().rsc === '1')
      counter.count++;
  });
  return counter;
}

async function placeOrder(page: Page, item: string): Promise<void> {
  await page.getByLabel('item').fill(item);
  await page.getByRole('button', { name: 'Order', exact: true }).click();
}

/** Two browsers on /orders: one that watches (through `watcherUrl`, e.g. a `Network`), one that buys. */
async function watcherAndBuyer(watcherUrl?: string): Promise<{ watcher: Page; buyer: Page }> {
  const watcherContext = await newContext(chrome.browser, watcherUrl);
  const buyerContext = await newContext(chrome.browser);
  chrome.onCleanup(
    () => watcherContext.close(),
    () => buyerContext.close(),
  );
  const watcher = await watcherContext.newPage();
  await openOrders(watcher);
  const buyer = await buyerContext.newPage();
  await openOrders(buyer);
  return { watcher, buyer };
}

it('a Server Action in another browser refreshes the server-rendered list, without a reload', async () => {
  const { watcher, buyer } = await watcherAndBuyer();
  const refreshes = countRefreshes(watcher);
  const renderBefore = Number(await watcher.getByTestId('orders-render').getAttribute('data-render'));
  const item = unique('teapot');
  await placeOrder(buyer, item);

  await expect.poll(() => watcher.getByTestId('orders').textContent()).toContain(item);
  expect(await sameDocument(watcher)).toBe(true);
  expect(refreshes.count).toBeGreaterThanOrEqual(1);
  expect(Number(await watcher.getByTestId('orders-render').getAttribute('data-render'))).toBeGreaterThan(
    renderBefore,
  );
  await screenshot(watcher, 'orders');
});

it('a burst of 50 publications gives a bounded number of refreshes, ending on the fresh list', async () => {
  const { watcher, buyer } = await watcherAndBuyer();
  const before = await total(watcher);
  const refreshes = countRefreshes(watcher);

  await buyer.getByRole('button', { name: 'Order 50 at once' }).click();
  await expect.poll(() => total(watcher)).toBe(before + 50);
  // A refresh still queued when the list got there may follow: let it land before counting.
  await watcher.waitForTimeout(1000);
  const count = refreshes.count;
  await writeFile(
    join(ARTIFACTS, 'orders-burst.json'),
    JSON.stringify({ publications: 50, refreshes: count }),
  );
  console.log(`orders: 50 publications, ${count} refreshes`);
  // One in flight and one queued at most: a burst arriving within a refresh or two costs a handful.
  expect(count).toBeGreaterThanOrEqual(1);
  expect(count).toBeLessThanOrEqual(10);
  expect(await sameDocument(watcher)).toBe(true);
});

it('catches up after a network cut: orders placed while it was offline show once it is back', async () => {
  const network = await Network.start();
  chrome.onCleanup(() => network.close());
  const { watcher, buyer } = await watcherAndBuyer(network.url);

  expect(await network.cut(watcher.context())).toBeGreaterThan(0);
  await expect
    .poll(() => watcher.getByTestId('connection-state').getAttribute('data-status'))
    .not.toBe('connected');
  const item = unique('while-offline');
  await placeOrder(buyer, item);
  await expect.poll(() => buyer.getByTestId('orders').textContent()).toContain(item);
  expect(await watcher.getByTestId('orders').textContent()).not.toContain(item);

  await network.restore(watcher.context());
  await expect.poll(() => watcher.getByTestId('orders').textContent()).toContain(item);
  expect(await sameDocument(watcher)).toBe(true);
});
