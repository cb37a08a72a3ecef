import { expect, it } from 'vitest';
import { browserPerFile, screenshot, unique } from './support/browser.ts';

// "Online now" is the app's own store, fed by the hub's signed presence webhooks to /api/herald-events.

const chrome = browserPerFile();

it('shows who is online from the webhooks, and drops a user who leaves once the grace is over', async () => {
  const alice = unique('alice');
  const bob = unique('bob');
  const aliceContext = await chrome.signedIn(alice);
  const bobContext = await chrome.signedIn(bob);
  const alicePage = await aliceContext.newPage();
  await alicePage.goto('/online');
  const bobPage = await bobContext.newPage();
  await bobPage.goto('/online');
  const users = (page: typeof alicePage) => page.getByTestId('online-now').getAttribute('data-users');
  for (const page of [alicePage, bobPage]) {
    await expect
      .poll(async () => (await users(page))?.split(','))
      .toEqual(expect.arrayContaining([alice, bob]));
  }
  await screenshot(alicePage, 'online');
  await bobPage.close();
  // presence.left comes after the grace (5 s): the roster then loses bob and keeps alice.
  await expect.poll(async () => (await users(alicePage))?.split(','), { timeout: 60_000 }).not.toContain(bob);
  expect((await users(alicePage))?.split(',')).toContain(alice);
});
