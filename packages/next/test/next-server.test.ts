import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CloseCodes } from '@herald/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RawSseStream } from '../../server/test/support/sse-client.ts';
import { eventually, WsTestClient } from '../../server/test/support/ws-client.ts';
import { type NextServer, startNextServer } from '../src/custom-server.ts';
import { createPublisher } from '../src/publisher.ts';
import { nextBuild } from './support/next-build.ts';
import { nextStart } from './support/next-start.ts';

const FIXTURE = fileURLToPath(new URL('./fixture', import.meta.url));

// One production build and one server for the file: Next.js pages, the `[...herald]` route handlers and
// the hub's WebSocket all on one real port.
let app: NextServer;

beforeAll(async () => {
  process.env.NEXT_TELEMETRY_DISABLED = '1';
  await nextBuild(FIXTURE);
  app = await startNextServer({ dir: FIXTURE, dev: false, port: 0, quiet: true });
}, 300_000);

afterAll(async () => {
  await app?.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('startNextServer + heraldRoutes in a production Next.js app', () => {
  it('serves Next.js pages and the hub endpoints under the catch-all mount', async () => {
    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('fixture page');

    const health = await fetch(`${app.url}/realtime/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    const missing = await fetch(`${app.url}/realtime/no/such/endpoint`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('route handlers and the WebSocket on the same port share one hub', async () => {
    // An HTTP request first: it is what makes Next.js add its own upgrade listener.
    await fetch(`${app.url}/`);
    const ws = await WsTestClient.open(`${app.url.replace('http', 'ws')}/realtime/connection/websocket`);
    try {
      await ws.call('subscribe', { channel: 'next:shared' });
      const published = await post('/realtime/api/publish', { channel: 'next:shared', data: { n: 1 } });
      expect(published.status).toBe(200);
      const frame = await ws.waitFor((f) => f.type === 'pub' && f.channel === 'next:shared');
      expect(frame).toMatchObject({ offset: 1, data: { n: 1 } });
      expect((await app.hub.history('next:shared', {})).offset).toBe(1);
    } finally {
      ws.ws.close();
    }
  });

  it('offers browsers the WebSocket it serves, rendered per request', async () => {
    const page = await fetch(`${app.url}/transports`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<main id="transports">websocket,sse,poll</main>');
  });

  it('errors thrown by the hub keep their code across module copies', async () => {
    // The hub was loaded by this process; the route handler is Next.js's bundled copy of @herald/server.
    const tooLarge = await post('/realtime/api/publish', { channel: 'next:big', data: 'x'.repeat(70_000) });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('answers what Node refuses, and upgrades to //, in the error shape', async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(app.port, '127.0.0.1', () => socket.write(text));
        let received = '';
        socket.on('data', (chunk) => (received += chunk));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
    const headers = await raw(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(100 * 1024)}\r\n\r\n`,
    );
    expect(headers).toMatch(/^HTTP\/1\.1 431 /);
    expect(headers).toContain('"code":"headers_too_large"');
    const upgrade = await raw(
      'GET // HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(upgrade).toMatch(/^HTTP\/1\.1 404 /);
    expect(upgrade).toContain('"code":"not_found"');
    expect((await fetch(`${app.url}/realtime/health`)).status).toBe(200);
  });

  it('refuses upgrades to paths that are neither the hub nor Next.js', async () => {
    const other = new WebSocket(`${app.url.replace('http', 'ws')}/somewhere-else`);
    const status = await new Promise<number | undefined>((resolve) => {
      other.once('open', () => resolve(101));
      other.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      other.once('error', () => resolve(undefined));
    });
    expect(status).toBe(404);
  });

  it('a publisher pointed at the mount publishes over the HTTP API', async () => {
    const publisher = createPublisher({ url: `${app.url}/realtime` });
    const first = await publisher.publish('next:remote', 'hello', { idempotencyKey: 'k1' });
    const again = await publisher.publish('next:remote', 'hello', { idempotencyKey: 'k1' });
    expect(again).toEqual({ ...first, duplicate: true });
    const history = await publisher.history('next:remote');
    expect(history.publications.map((p) => p.data)).toEqual(['hello']);
  });
});

describe('SSE, long-polling and client actions through the route handlers', () => {
  it('streams SSE unbuffered and uncompressed, live before the headers', async () => {
    // Next.js compresses responses by default (the fixture keeps it on): the stream must be exempt.
    const stream = await RawSseStream.open(`${app.url}/realtime/connection/sse?channel=next:sse`, {
      'accept-encoding': 'gzip, deflate, br',
    });
    try {
      expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.response.headers.get('cache-control')).toContain('no-transform');
      expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
      expect(stream.response.headers.get('content-encoding')).toBeNull();
      // Subscribed before the headers: a publication made now arrives while the stream stays open.
      await post('/realtime/api/publish', { channel: 'next:sse', data: 'one' });
      await eventually(() => stream.publications.length === 1, 'first publication streamed');
      await post('/realtime/api/publish', { channel: 'next:sse', data: 'two' });
      await eventually(() => stream.publications.length === 2, 'second publication streamed');
      expect(stream.publications.map((p) => p.data)).toEqual(['one', 'two']);
      expect(stream.ended).toBe(false);
    } finally {
      await stream.close();
    }
  });

  it('releases the session when the browser goes away (request.signal)', async () => {
    const members = async () => (await app.hub.presence('next:gone')).length;
    const stream = await RawSseStream.open(`${app.url}/realtime/connection/sse?channel=next:gone`);
    await expect.poll(members, { timeout: 15_000 }).toBe(1);
    await stream.close();
    await expect.poll(members, { timeout: 15_000 }).toBe(0);
  });

  it('answers CORS preflights with the hub, not Next.js', async () => {
    const preflight = await fetch(`${app.url}/realtime/connection/publish`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://elsewhere.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(preflight.status).toBe(204);
    // The hub's own answer (allowedOrigins defaults to any); Next.js's would carry no CORS headers.
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
  });

  it('answers a long poll when a publication arrives, and takes client actions', async () => {
    const first = await fetch(`${app.url}/realtime/connection/poll?channel=next:poll&timeout=0`);
    const { cursor } = (await first.json()) as { cursor: string };
    const held = fetch(`${app.url}/realtime/connection/poll?channel=next:poll&timeout=20&cursor=${cursor}`);
    const action = await post('/realtime/connection/publish', { channel: 'next:poll', data: 'polled' });
    expect(action.status).toBe(200);
    const answer = (await (await held).json()) as { publications: Array<{ data: unknown }> };
    expect(answer.publications.map((p) => p.data)).toEqual(['polled']);
  });
});

describe('route handlers alone, under plain `next start`', () => {
  it('serve SSE and the API from the same build, refuse WebSocket upgrades and offer none', async () => {
    const { url, port, close } = await nextStart(FIXTURE);
    try {
      const stream = await RawSseStream.open(`${url}/realtime/connection/sse?channel=plain:sse`);
      try {
        const published = await fetch(`${url}/realtime/api/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel: 'plain:sse', data: 'via next start' }),
        });
        expect(published.status).toBe(200);
        await eventually(() => stream.publications.length === 1, 'publication streamed');
        expect(stream.publications[0].data).toBe('via next start');
      } finally {
        await stream.close();
      }
      // No upgrades without the custom server, and pages say so: browsers go straight to SSE.
      const transports = await fetch(`${url}/transports`);
      expect(await transports.text()).toContain('<main id="transports">sse,poll</main>');
      const ws = new WebSocket(`ws://127.0.0.1:${port}/realtime/connection/websocket`);
      const opened = await new Promise<boolean>((resolve) => {
        ws.once('open', () => resolve(true));
        ws.once('error', () => resolve(false));
        ws.once('close', () => resolve(false));
      });
      expect(opened).toBe(false);
    } finally {
      await close();
    }
  });
});

describe('closing the Next.js server', () => {
  it('tells WebSocket clients to reconnect elsewhere', async () => {
    const ws = await WsTestClient.open(`${app.url.replace('http', 'ws')}/realtime/connection/websocket`);
    await ws.call('ping');
    await app.close();
    expect(await ws.closed).toBe(CloseCodes.shutdown);
  });
});
