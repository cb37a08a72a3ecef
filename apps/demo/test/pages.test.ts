import { expect, it } from 'vitest';
import { browserPerFile, newContext, screenshot, unique } from './support/browser.ts';

const chrome = browserPerFile();

it('signs in through the form, then finds a chat room by name', async () => {
  const name = unique('ada');
  const context = await chrome.signedIn(name);
  const page = await context.newPage();
  await page.goto('/signin');
  await expect.poll(() => page.getByTestId('signed-in-user').textContent()).toBe(name);
  await screenshot(page, 'signin');
  await page.goto('/chat');
  await page.getByLabel('room').fill('from-the-form');
  await page.getByRole('button', { name: 'Open' }).click();
  await page.waitForURL((url) => url.pathname === '/chat/from-the-form');
  await page.goBack();
  await screenshot(page, 'chat-index');
});

it('renders the home page with a link to every demo', async () => {
  const context = await newContext(chrome.browser);
  chrome.onCleanup(() => context.close());
  const page = await context.newPage();
  await page.goto('/');
  for (const title of [
    'Chat rooms',
    'Notifications',
    'Background job',
    'Live dashboard',
    'Streamed answer',
    'Live Server Component',
    'Plain EventSource',
  ]) {
    await expect
      .poll(() => page.locator('main').getByRole('link', { name: title, exact: true }).count())
      .toBe(1);
  }
  await screenshot(page, 'home');
});
