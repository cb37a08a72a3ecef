import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { TcpProxy } from './support/tcp-proxy.ts';

const CHROMIUM = '/usr/bin/chromium';
const hubs = hubPerTest();
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
});

/**
 * Opens a page on `origin` whose only script is the browser's own EventSource on `path`: it records the
 * offset of every publication, per channel, and counts the times the stream opened.
 */
async function pageWithEventSource(origin: string, path: string) {
  const page = await browser.newPage();
  await page.goto(`${origin}/health`);
  await page.evaluate((url) => {
    const w = window as unknown as { got: Record<string, number[]>; opens: number; recovered: unknown[] };
    w.got = {};
    w.opens = 0;
    w.recovered = [];
    const source = new EventSource(url);
    source.onopen = () => w.opens++;
    source.onmessage = (e) => {
      const pub = JSON.parse(e.data);
      w.got[pub.channel] ??= [];
      w.got[pub.channel].push(pub.offset);
    };
    source.addEventListener('herald', (e) => {
      const control = JSON.parse((e as MessageEvent).data);
      if (control.type === 'subscribed') w.recovered.push(control.recovered);
    });
  }, path);
  const read = () =>
    page.evaluate(() => {
      const w = window as unknown as { got: Record<string, number[]>; opens: number; recovered: unknown[] };
      return { got: w.got, opens: w.opens, recovered: w.recovered };
    });
  return { page, read };
}

describe("the browser's own EventSource", () => {
  it('resumes losslessly with Last-Event-ID across TCP cuts and maxStreamDuration, with no Herald code', async () => {
    const hub = await hubs.start({ sse: { retry: 0.05, maxStreamDuration: 1 } });
    const proxy = await TcpProxy.start(hub.port);
    hubs.onCleanup(() => proxy.close());
    const channels = ['browser:a', 'browser:b'];
    const { page, read } = await pageWithEventSource(
      `http://127.0.0.1:${proxy.port}`,
      `/connection/sse?channel=${channels[0]}&channel=${channels[1]}`,
    );
    await expect.poll(async () => (await read()).opens, { timeout: 15_000 }).toBe(1);
    const total = 600;
    for (let sent = 0; sent < total; ) {
      const burst = 1 + Math.floor(Math.random() * 60);
      if (Math.random() < 0.3) setTimeout(() => proxy.cutAll(), Math.random() * 10);
      const publishes = [];
      for (let i = 0; i < burst && sent < total; i++, sent++)
        publishes.push(hub.publish(channels[sent % 2], sent));
      await Promise.all(publishes);
      await new Promise((r) => setTimeout(r, 20));
    }
    const expected = Array.from({ length: total / 2 }, (_, i) => i + 1);
    await expect
      .poll(async () => (await read()).got, { timeout: 30_000, interval: 100 })
      .toEqual({ [channels[0]]: expected, [channels[1]]: expected });
    const { opens, recovered } = await read();
    expect(opens).toBeGreaterThan(1);
    expect(recovered.filter((r) => r === false)).toEqual([]);
    await page.close();
  });

  it('works from a page on another origin (CORS)', async () => {
    const hub = await hubs.start();
    const other = await hubs.start();
    const { page, read } = await pageWithEventSource(other.url, `${hub.url}/connection/sse?channel=cors:x`);
    await expect.poll(async () => (await read()).opens, { timeout: 15_000 }).toBe(1);
    await hub.publish('cors:x', 'hello');
    await expect.poll(async () => (await read()).got, { timeout: 15_000 }).toEqual({ 'cors:x': [1] });
    await page.close();
  });
});
