import type { Locator, Page, ViewportSize } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { composeAnswer } from '../lib/answer.ts';
import { browserPerFile, demoUrl, screenshot, unique } from './support/browser.ts';

// Every page as people see it, on a phone and on a desktop: screenshots of each in
// test-artifacts/demo/screenshots/, boxes measured where a layout has failed before, and (as in every
// browser test) a console without errors or warnings.

const chrome = browserPerFile();

const PHONE: ViewportSize = { width: 390, height: 844 };
const DESKTOP: ViewportSize = { width: 1280, height: 800 };

async function box(locator: Locator) {
  const found = await locator.boundingBox();
  if (!found) throw new Error(`${locator} is not visible`);
  return found;
}

/** The page is as wide as the window: nothing makes the reader scroll sideways. */
async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    window: document.documentElement.clientWidth,
  }));
  expect(widths.page, 'the page scrolls sideways').toBeLessThanOrEqual(widths.window);
}

/** A browser profile at `viewport`, signed in. (A page's HTTP errors show in its console, which fails a test.) */
async function visitor(viewport: ViewportSize) {
  const context = await chrome.signedIn(unique('reader'), demoUrl, viewport);
  return context;
}

for (const [device, viewport] of [
  ['phone', PHONE],
  ['desktop', DESKTOP],
] as const) {
  const shot = (page: Page, name: string) => screenshot(page, `screenshots/${name}-${viewport.width}`);

  describe(`on a ${device} (${viewport.width} px)`, () => {
    it('the pages without a live connection fit the window', async () => {
      const context = await visitor(viewport);
      const page = await context.newPage();
      for (const [path, name] of [
        ['/', 'home'],
        ['/signin', 'signin'],
        ['/chat', 'chat-index'],
      ] as const) {
        await page.goto(path);
        await page.locator('h1').waitFor();
        await expectNoSidewaysScroll(page);
        await shot(page, name);
      }
      await page.goto('/eventsource');
      await expect.poll(() => page.getByTestId('es-status').textContent()).toBe('open');
      await expect
        .poll(async () => Number(await page.getByTestId('es-received').textContent()))
        .toBeGreaterThan(2);
      await expectNoSidewaysScroll(page);
      await shot(page, 'eventsource');
    });

    it('the chat gives the messages the width and keeps the composer in view', async () => {
      const context = await visitor(viewport);
      const page = await context.newPage();
      await page.goto(`/chat/${unique('layout')}`);
      await expect
        .poll(() => page.getByTestId('connection-state').getAttribute('data-status'))
        .toBe('connected');
      const text = 'a sentence long enough to wrap on a phone, which should still read as a sentence';
      for (const line of ['hello', text]) {
        await page.getByLabel('message').fill(line);
        await page.getByRole('button', { name: 'Send' }).click();
      }
      const last = page.getByTestId('message').filter({ hasText: text });
      await expect.poll(() => last.getByTestId('message-state').textContent()).toBe('sent ✓');
      await expectNoSidewaysScroll(page);

      const messages = await box(page.getByTestId('messages'));
      const presence = await box(page.getByTestId('presence'));
      const line = await box(last.locator('.text'));
      const input = await box(page.getByLabel('message'));
      const send = await box(page.getByRole('button', { name: 'Send' }));
      // On a phone the column is the window's width; on a desktop, most of the page's (capped) width.
      if (device === 'phone') expect(messages.width / viewport.width).toBeGreaterThanOrEqual(0.9);
      else expect(messages.width / (await box(page.locator('main'))).width).toBeGreaterThanOrEqual(0.7);
      // A line of text takes (nearly) the column's width, not a sliver beside the name.
      expect(line.width / messages.width).toBeGreaterThan(0.8);
      if (device === 'phone') {
        // Presence is a strip above the messages, not a column beside them.
        expect(presence.y + presence.height).toBeLessThanOrEqual(messages.y);
        expect(presence.height).toBeLessThan(viewport.height * 0.1);
      } else {
        expect(presence.x).toBeGreaterThanOrEqual(messages.x + messages.width);
        expect(presence.width / viewport.width).toBeLessThan(0.25);
      }
      // The composer is on screen without scrolling, and the input takes most of the row.
      expect(send.y + send.height).toBeLessThanOrEqual(viewport.height);
      expect(input.width / viewport.width).toBeGreaterThan(0.6);
      expect(await page.evaluate(() => window.scrollY)).toBe(0);
      await shot(page, 'chat-room');
    });

    it('the notifications form keeps its size when a status appears', async () => {
      const context = await visitor(viewport);
      const page = await context.newPage();
      const user = await page.goto('/notifications').then(() => page.getByTestId('nav-user').textContent());
      await expect
        .poll(() => page.getByTestId('connection-state').getAttribute('data-status'))
        .toBe('connected');
      const input = page.getByLabel('message', { exact: true });
      const before = await box(input);
      const status = await box(page.getByTestId('notify-status'));
      await input.fill('your build finished');
      await page.getByRole('button', { name: 'Notify' }).click();
      await expect.poll(() => page.getByTestId('notify-status').textContent()).toBe(`sent to ${user}`);
      await expect.poll(() => page.getByTestId('notifications').getAttribute('data-count')).toBe('1');
      expect(await box(input)).toEqual(before);
      expect((await box(page.getByTestId('notify-status'))).y).toBe(status.y);
      expect(before.width / viewport.width).toBeGreaterThan(device === 'phone' ? 0.5 : 0.3);
      await expectNoSidewaysScroll(page);
      await shot(page, 'notifications');
    });

    it('the dashboard chart has labelled axes, one time axis and one scale per unit', async () => {
      const context = await visitor(viewport);
      const page = await context.newPage();
      await page.goto('/dashboard');
      const samples = async () => Number(await page.getByTestId('dashboard-samples').textContent());
      await expect.poll(samples).toBeGreaterThan(1);
      const chart = page.getByTestId('chart');
      const panels = chart.getByTestId('chart-panel');
      expect(await panels.evaluateAll((all) => all.map((p) => p.getAttribute('data-title')))).toEqual([
        'messages per second',
        'open sessions',
      ]);
      // Rates share the first panel's scale; the session count has its own, labelled from 0 up.
      expect(
        await panels
          .nth(0)
          .locator('polyline')
          .evaluateAll((all) => all.map((p) => p.dataset.series)),
      ).toEqual(['deliveries', 'publications']);
      for (let i = 0; i < 2; i++) {
        const ticks = await panels.nth(i).locator('.tick-y').allTextContents();
        expect(ticks[0]).toBe('0');
        expect(ticks.length).toBeGreaterThanOrEqual(2);
        expect(ticks.at(-1)).toBe(await panels.nth(i).getAttribute('data-ymax'));
      }
      // One time axis: clock labels, and the newest sample of every series at the same x.
      const times = await chart.locator('.tick-x').allTextContents();
      expect(times.length).toBeGreaterThanOrEqual(2);
      for (const time of times) expect(time).toMatch(/^\d\d:\d\d:\d\d$/);
      const newestX = await chart
        .locator('polyline')
        .evaluateAll((all) => all.map((p) => p.getAttribute('points')?.split(' ').at(-1)?.split(',')[0]));
      expect(newestX).toHaveLength(3);
      expect(new Set(newestX).size).toBe(1);
      // Drawn at the page's width, so its text stays readable on a phone.
      const svg = await box(chart);
      const main = await box(page.locator('main'));
      expect(svg.width / main.width).toBeGreaterThan(0.9);
      const label = await box(chart.locator('.tick-x').first());
      expect(label.height).toBeGreaterThanOrEqual(10);
      await expectNoSidewaysScroll(page);
      await shot(page, 'dashboard');
    });

    it('jobs and the streamed answer fit the window', async () => {
      const context = await visitor(viewport);
      const page = await context.newPage();
      await page.goto('/jobs');
      await page.getByRole('button', { name: 'Start a job' }).click();
      await expect.poll(() => page.getByTestId('job').first().getAttribute('data-progress')).toBe('100');
      const bar = await box(page.getByRole('progressbar').first());
      const main = await box(page.locator('main'));
      expect(bar.width / main.width).toBeGreaterThan(0.8);
      await expectNoSidewaysScroll(page);
      await shot(page, 'jobs');

      await page.goto(`/answer?chat=${unique('layout')}`);
      // Asked at once, as a reader would: while the page still checks for an answer to resume.
      await page.getByRole('button', { name: 'Ask' }).click();
      const answer = composeAnswer(await page.getByLabel('question').inputValue()).join('');
      await expect.poll(() => page.getByTestId('message-text').last().textContent()).toBe(answer);
      await expect.poll(() => page.getByTestId('answer-status').getAttribute('data-status')).toBe('ready');
      expect(await page.getByTestId('answer').count()).toBe(1);
      const question = await box(page.getByLabel('question'));
      expect(question.width / viewport.width).toBeGreaterThan(0.5);
      await expectNoSidewaysScroll(page);
      await shot(page, 'answer');
    });

    it('the live Server Component list fits the window, its order field the widest part of its row', async () => {
      const context = await visitor(viewport);
      const page = await context.newPage();
      await page.goto('/orders');
      await page.getByLabel('item').fill(unique('layout order'));
      await page.getByRole('button', { name: 'Order', exact: true }).click();
      await expect
        .poll(async () => Number(await page.getByTestId('orders').getAttribute('data-total')))
        .toBeGreaterThan(0);
      const field = await box(page.getByLabel('item'));
      const main = await box(page.locator('main'));
      expect(field.width / main.width).toBeGreaterThan(0.5);
      await expectNoSidewaysScroll(page);
      await shot(page, 'orders');
    });
  });
}

it('serves the icon at /favicon.ico and names it in every page', async () => {
  const res = await fetch(`${demoUrl}/favicon.ico`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/x-icon');
  const home = await (await fetch(demoUrl)).text();
  expect(home).toMatch(/<link rel="icon" href="\/favicon\.ico/);
});
