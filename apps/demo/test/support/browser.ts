import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { ARTIFACTS, E2E_API_KEY } from './constants.ts';

export const demoUrl = inject('demoUrl');

/** Every Playwright action or wait in a browser test is bounded by this. */
export const WAIT_MS = 30_000;

/** The run's one Chromium (started by the global setup). */
export function connectBrowser(): Promise<Browser> {
  return chromium.connect(inject('browserEndpoint'));
}

/**
 * For a test file: the run's one Chromium (started by the global setup), connected before the file's tests
 * and let go after them, and whatever a test registers with `onCleanup` closed after that test.
 */
export function browserPerFile(): {
  readonly browser: Browser;
  onCleanup(...close: Array<() => Promise<unknown>>): void;
} {
  let browser: Browser | undefined;
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
  return {
    get browser() {
      if (!browser) throw new Error('the browser connects in beforeAll');
      return browser;
    },
    onCleanup: (...close) => cleanups.push(...close),
  };
}

/** A fresh browser profile; `baseURL` defaults to the demo server (a `Network` URL routes through it). */
export async function newContext(browser: Browser, baseURL = demoUrl): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1100, height: 800 } });
  context.setDefaultTimeout(WAIT_MS);
  return context;
}

/** A browser profile signed in as `name` through the sign-in form. */
export async function signedIn(browser: Browser, name: string, baseURL = demoUrl): Promise<BrowserContext> {
  const context = await newContext(browser, baseURL);
  const page = await context.newPage();
  await page.goto('/signin');
  await page.getByLabel('name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/');
  await page.close();
  return context;
}

/** Keeps a full-page screenshot in test-artifacts/demo/. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Calls the hub's server API through the demo's route handlers. */
export async function hubApi<T = Record<string, unknown>>(method: string, body: unknown): Promise<T> {
  const res = await fetch(`${demoUrl}/realtime/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `apikey ${E2E_API_KEY}` },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json as T;
}

/** A name no other test (or earlier run against the same server) uses. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
