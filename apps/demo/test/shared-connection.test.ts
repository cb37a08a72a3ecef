import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connectBrowser, hubApi, signedIn, unique } from './support/browser.ts';

let browser: Browser;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  browser = await connectBrowser();
});

afterEach(async () => {
  for (const close of cleanups.splice(0).reverse()) await close();
});

afterAll(async () => {
  await browser?.close();
});

const connected = (page: Page) =>
  expect.poll(() => page.getByTestId('connection-state').getAttribute('data-status')).toBe('connected');

const transcript = (page: Page) => page.getByTestId('message').locator('.text').allTextContents();

/** Connections subscribed to the room, as the hub counts them (presence is per connection). */
async function connections(room: string): Promise<number> {
  const { members } = await hubApi<{ members: Record<string, unknown> }>('presence', {
    channel: `chat:${room}`,
  });
  return Object.keys(members).length;
}

it('tabs of one browser share one connection, and the last tab keeps it when the first closes', async () => {
  const room = unique('tabs');
  const ada = unique('ada');
  const context = await signedIn(browser, ada);
  cleanups.push(() => context.close());
  const first = await context.newPage();
  await first.goto(`/chat/${room}`);
  await connected(first);
  await expect.poll(() => first.getByTestId('present-user').allTextContents()).toEqual([ada]);

  const second = await context.newPage();
  await second.goto(`/chat/${room}`);
  await connected(second);
  // Once the second tab shows presence, its subscription is in place: on the first tab's connection.
  await expect.poll(() => second.getByTestId('present-user').allTextContents()).toEqual([ada]);
  expect(await connections(room)).toBe(1);

  // A message sent from the tab that does not hold the connection reaches both tabs once.
  await second.getByLabel('message').fill('from the second tab');
  await second.getByRole('button', { name: 'Send' }).click();
  await expect.poll(() => transcript(first)).toEqual(['from the second tab']);
  await expect.poll(() => transcript(second)).toEqual(['from the second tab']);

  // The tab holding the connection closes: the other takes it over and misses nothing.
  await first.close();
  await hubApi('publish', {
    channel: `chat:${room}`,
    data: { id: 'server-1', user: 'server', text: 'after the hand-over', at: Date.now() },
  });
  await connected(second);
  await expect.poll(() => transcript(second)).toEqual(['from the second tab', 'after the hand-over']);
  await expect.poll(() => connections(room)).toBe(1);
});
