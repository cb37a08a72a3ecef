import { expect, it } from 'vitest';
import { browserPerFile, newContext, screenshot, unique } from './support/browser.ts';

// The pages that follow a server-side producer: each subscribes first, then a Server Action (or an
// always-on feed) publishes, and the page renders what arrives.

const chrome = browserPerFile();

it('a job started by a Server Action drives its progress bar to 100%', async () => {
  const context = await newContext(chrome.browser);
  chrome.onCleanup(() => context.close());
  const page = await context.newPage();
  await page.goto('/jobs');
  await page.getByRole('button', { name: 'Start a job' }).click();
  const job = page.getByTestId('job').first();
  await expect.poll(() => job.getAttribute('data-progress')).not.toBe('0');
  await expect.poll(() => job.getAttribute('data-progress')).toBe('100');
  await expect.poll(() => job.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
  await screenshot(page, 'jobs');
});

it('the dashboard starts from history and keeps charting live samples', async () => {
  const context = await newContext(chrome.browser);
  chrome.onCleanup(() => context.close());
  const page = await context.newPage();
  await page.goto('/dashboard');
  const samples = async () => Number(await page.getByTestId('dashboard-samples').textContent());
  await expect.poll(samples).toBeGreaterThan(0);
  // Live: newer samples keep coming (the count stops at the two minutes shown).
  const newest = async () => Number(await page.getByTestId('dashboard').getAttribute('data-latest'));
  const first = await newest();
  await expect.poll(newest).toBeGreaterThan(first);
  expect(await page.locator('svg.chart polyline').count()).toBe(3);
  await screenshot(page, 'dashboard');
});

it('a notification reaches only its recipient, live', async () => {
  const alice = unique('alice');
  const bob = unique('bob');
  const aliceContext = await chrome.signedIn(alice);
  const bobContext = await chrome.signedIn(bob);
  const bobPage = await bobContext.newPage();
  await bobPage.goto('/notifications');
  await expect
    .poll(() => bobPage.getByTestId('connection-state').getAttribute('data-status'))
    .toBe('connected');
  const alicePage = await aliceContext.newPage();
  await alicePage.goto('/notifications');
  await alicePage.getByLabel('to').fill(bob);
  await alicePage.getByLabel('message').fill('your build finished');
  await alicePage.getByRole('button', { name: 'Notify' }).click();
  await expect.poll(() => alicePage.getByTestId('notify-status').textContent()).toBe(`sent to ${bob}`);
  await expect
    .poll(() => bobPage.getByTestId('notifications').textContent())
    .toContain(`${alice} your build finished`);
  expect(await alicePage.getByTestId('notifications').getAttribute('data-count')).toBe('0');
  await screenshot(bobPage, 'notifications');
});
