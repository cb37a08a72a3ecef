import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page, type ViewportSize } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { ARTIFACTS, E2E_API_KEY } from './constants.ts';

export const demoUrl = inject('demoUrl');

/** Every Playwright action or wait in a browser test is bounded by this. */
export const WAIT_MS = 30_000;

/** The run's one Chromium (started by the global setup). */
export function connectBrowser(): Promise<Browser> {
  return chromium.connect(inject('browserEndpoint'));
}

/** What each browser profile of the running test logged as an error or warning, and what it may log. */
const consoles = new Map<BrowserContext, { problems: string[]; allowed: RegExp[] }>();

/** Every console error or warning, and every uncaught page error, of `context` fails the running test. */
function watchConsole(context: BrowserContext): void {
  const entry = { problems: [] as string[], allowed: [] as RegExp[] };
  consoles.set(context, entry);
  context.on('console', (message) => {
    const type = message.type();
    if (type !== 'error' && type !== 'warning') return;
    if (entry.allowed.some((pattern) => pattern.test(message.text()))) return;
    entry.problems.push(`${type}: ${message.text()} (${message.location().url})`);
  });
  context.on('weberror', (error) => entry.problems.push(`uncaught: ${error.error().message}`));
}

/**
 * Console messages `context` may log from now on, for a test that breaks something on purpose (a cut
 * network, a blocked transport, a refusal it expects): each is matched by one of `patterns`.
 */
export function allowConsole(context: BrowserContext, ...patterns: RegExp[]): void {
  consoles.get(context)?.allowed.push(...patterns);
}

/**
 * For a test file: the run's one Chromium (started by the global setup), connected before the file's tests
 * and let go after them, and whatever a test registers with `onCleanup` closed after that test. A test
 * fails if any page it opened logged an error or a warning it did not allow (`allowConsole`).
 */
export function browserPerFile(): {
  readonly browser: Browser;
  onCleanup(...close: Array<() => Promise<unknown>>): void;
  /** `signedIn` on this browser, the profile closed after the test. */
  signedIn(...args: SignedInArgs): Promise<BrowserContext>;
} {
  let browser: Browser | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    browser = await connectBrowser();
  });
  afterEach(async () => {
    // What the pages logged while the test ran, not what closing them may (a request cut short).
    const problems = [...consoles.values()].flatMap((entry) => entry.problems);
    consoles.clear();
    for (const close of cleanups.splice(0).reverse()) await close();
    expect(problems, 'console errors and warnings').toEqual([]);
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
    async signedIn(...args) {
      if (!browser) throw new Error('the browser connects in beforeAll');
      const context = await signedIn(browser, ...args);
      cleanups.push(() => context.close());
      return context;
    },
  };
}

type SignedInArgs = [name: string, baseURL?: string, viewport?: ViewportSize];

/** The viewport of browser profiles unless a test asks for another (a phone's, say). */
const DESKTOP: ViewportSize = { width: 1100, height: 800 };

/**
 * A fresh browser profile whose console is watched; `baseURL` defaults to the demo server (a `Network`
 * URL routes through it).
 */
export async function newContext(
  browser: Browser,
  baseURL = demoUrl,
  viewport = DESKTOP,
): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL, viewport });
  context.setDefaultTimeout(WAIT_MS);
  watchConsole(context);
  return context;
}

/** A browser profile signed in as `name` through the sign-in form. */
export async function signedIn(
  browser: Browser,
  name: string,
  baseURL = demoUrl,
  viewport = DESKTOP,
): Promise<BrowserContext> {
  const context = await newContext(browser, baseURL, viewport);
  const page = await context.newPage();
  await page.goto('/signin');
  await page.getByLabel('name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/');
  await page.close();
  return context;
}

/** Keeps a full-page screenshot in test-artifacts/demo/ (`name` may name a folder below it). */
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
