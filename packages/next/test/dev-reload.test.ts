import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, WsTestClient } from '../../server/test/support/ws-client.ts';
import { type NextServer, startNextServer } from '../src/custom-server.ts';
import { getHub } from '../src/hub.ts';

// Dev mode recompiles and re-evaluates the route module when its file changes, so the fixture runs from a
// scratch copy (gitignored) that the test may edit.
const FIXTURE = fileURLToPath(new URL('./fixture', import.meta.url));
const SCRATCH = fileURLToPath(new URL('./.tmp', import.meta.url));
const COPY = `${SCRATCH}/dev-${process.pid}`;
const ROUTE = `${COPY}/app/realtime/[...herald]/route.js`;

const evaluations = () => (globalThis as { heraldFixtureEvaluations?: number }).heraldFixtureEvaluations ?? 0;

let app: NextServer;

beforeAll(async () => {
  process.env.NEXT_TELEMETRY_DISABLED = '1';
  // Copies of earlier runs are removed here, not after this run: Next's dev bundler keeps working in the
  // directory for a while after close, and exits the process if it disappears under it.
  await rm(SCRATCH, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  await cp(FIXTURE, COPY, { recursive: true, filter: (src) => !src.includes('/.next') });
  app = await startNextServer({ dir: COPY, dev: true, port: 0, quiet: true });
}, 120_000);

afterAll(async () => {
  await app?.close();
});

const publish = async (data: unknown) => {
  const res = await fetch(`${app.url}/realtime/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'dev:reload', data }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { epoch: string; offset: number };
};

it('keeps one hub across a dev-mode reload of the route module', async () => {
  const hub = await getHub();
  expect(app.hub).toBe(hub);
  const ws = await WsTestClient.open(`${app.url.replace('http', 'ws')}/realtime/connection/websocket`);
  try {
    await ws.call('subscribe', { channel: 'dev:reload' });
    const first = await publish('before');
    const before = evaluations();
    expect(before).toBeGreaterThan(0);

    const source = await readFile(ROUTE, 'utf8');
    await writeFile(ROUTE, `${source}\n// edited by dev-reload.test.ts\n`);
    // Next.js recompiles on the next request to the route.
    const deadline = Date.now() + 60_000;
    while (evaluations() === before && Date.now() < deadline) {
      await fetch(`${app.url}/realtime/health`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(evaluations()).toBeGreaterThan(before);

    const second = await publish('after');
    // Same stream: a doubled hub would start a new epoch at offset 1.
    expect(second).toEqual({ epoch: first.epoch, offset: first.offset + 1 });
    expect(await getHub()).toBe(hub);
    // The WebSocket subscriber of the one hub got both.
    await eventually(() => ws.publications.length === 2, 'both publications delivered');
    expect(ws.publications.map((p) => p.data)).toEqual(['before', 'after']);
  } finally {
    ws.ws.close();
  }
}, 120_000);

it('relays dev-mode hot-reload upgrades to Next.js on the same port', async () => {
  const hmr = await WsTestClient.open(`${app.url.replace('http', 'ws')}/_next/hmr`);
  expect(hmr.ws.readyState).toBe(hmr.ws.OPEN);
  hmr.ws.close();
});
