import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { composeAnswer } from '../lib/answer.ts';
import { allowConsole, browserPerFile, newContext, screenshot, unique } from './support/browser.ts';

// The streamed-answer page: useChat with heraldChatTransport, the AI SDK's mock model on the server.

const chrome = browserPerFile();

const answerText = async (page: Page) =>
  (await page.getByTestId('answer').last().getByTestId('message-text').textContent()) ?? '';
const status = (page: Page) => page.getByTestId('answer-status').getAttribute('data-status');

async function ask(page: Page, question: string): Promise<void> {
  await page.getByLabel('question').fill(question);
  await page.getByRole('button', { name: 'Ask' }).click();
}

async function openChat(chat: string, context?: Awaited<ReturnType<typeof newContext>>) {
  const ctx = context ?? (await newContext(chrome.browser));
  if (!context) chrome.onCleanup(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`/answer?chat=${chat}`);
  return page;
}

it('a reload mid-answer shows the answer once: what came before it, then the rest live', async () => {
  const question = 'What happens on a reload?';
  const expected = composeAnswer(question).join('');
  const page = await openChat(unique('reload'));
  await ask(page, question);
  await expect.poll(async () => (await answerText(page)).length).toBeGreaterThan(0);
  expect(await status(page)).toBe('streaming');
  const before = await answerText(page);
  expect(expected.startsWith(before)).toBe(true);
  expect(before.length).toBeLessThan(expected.length);

  await page.getByRole('button', { name: 'Reload mid-answer' }).click();
  await page.waitForLoadState('load');
  // Every state the page shows on the way is a prefix of the answer: nothing doubled, nothing skipped.
  const shown: string[] = [];
  await expect
    .poll(async () => {
      const text = (await page.getByTestId('answer').count()) > 0 ? await answerText(page) : '';
      shown.push(text);
      return text;
    })
    .toBe(expected);
  expect(shown.filter((text) => !expected.startsWith(text))).toEqual([]);
  await expect.poll(() => status(page)).toBe('ready');
  expect(await page.getByTestId('answer').count()).toBe(1);
  await screenshot(page, 'answer');
});

it('a second browser opened mid-answer sees the whole answer live, and its Stop ends it for both', async () => {
  const chat = unique('second');
  const question = 'What does a second device see?';
  const expected = composeAnswer(question).join('');
  const first = await openChat(chat);
  await ask(first, question);
  await expect.poll(async () => (await answerText(first)).length).toBeGreaterThan(0);

  const second = await openChat(chat);
  await expect.poll(() => status(second)).toBe('streaming');
  const seen = await answerText(second);
  expect(expected.startsWith(seen)).toBe(true);
  await second.getByRole('button', { name: 'Stop' }).click();

  await expect.poll(() => status(first)).toBe('ready');
  const stopped = await answerText(first);
  expect(expected.startsWith(stopped)).toBe(true);
  expect(stopped.length).toBeLessThan(expected.length);
  // The tab that stopped shows what it had when it stopped; the other tab, up to where the model stopped.
  expect(stopped.startsWith(await answerText(second))).toBe(true);
});

it('the answer goes on when the asking browser closes: a browser opened later gets all of it', async () => {
  const chat = unique('closed');
  const question = 'Does it go on without me?';
  const expected = composeAnswer(question).join('');
  const asker = await newContext(chrome.browser);
  const page = await openChat(chat, asker);
  await ask(page, question);
  await expect.poll(async () => (await answerText(page)).length).toBeGreaterThan(0);
  await asker.close();

  const later = await openChat(chat);
  await expect.poll(() => answerText(later)).toBe(expected);
  await expect.poll(() => status(later)).toBe('ready');
});

it('an answer over the per-user limit shows the hub’s refusal', async () => {
  const context = await chrome.signedIn(unique('limit'));
  // The refused request is what this test is about; the browser logs its status.
  allowConsole(context, /the server responded with a status of 429/);
  const pages: Page[] = [];
  for (let i = 0; i < 3; i++) pages.push(await openChat(unique(`limit${i}`), context));
  await ask(pages[0], 'one');
  await expect.poll(() => status(pages[0])).toBe('streaming');
  await ask(pages[1], 'two');
  await expect.poll(() => status(pages[1])).toBe('streaming');
  await ask(pages[2], 'three');
  await expect
    .poll(() => pages[2].locator('p[role=alert]').textContent())
    .toMatch(/already generating for this user \(limit 2\)/);
});
