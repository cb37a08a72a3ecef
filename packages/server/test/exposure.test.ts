import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/config-sources.ts';
import { HeraldServer } from '../src/server.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { freePort, type HeraldProcess, runHerald, waitListening } from './support/process.ts';

const CHROMIUM = '/usr/bin/chromium';
const hubs = hubPerTest();
const JSON_TYPE = { 'content-type': 'application/json' };

/** A request with headers fetch will not let a caller set (Host), as a browser on another name sends them. */
function send(
  hub: TestHub,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: hub.port, path, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const code = (body: string) => (JSON.parse(body) as { error?: { code: string } }).error?.code;

describe('herald serve on a non-loopback interface', () => {
  const running: HeraldProcess[] = [];
  afterEach(() => {
    for (const p of running.splice(0)) p.child.kill('SIGKILL');
  });

  it('refuses to start without HERALD_API_KEY, in one line that names the ways out', async () => {
    const p = runHerald(['serve', '--host', '0.0.0.0', '--port', String(await freePort())]);
    running.push(p);
    expect(await p.exited).toBe(1);
    const lines = p.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^herald: refusing to listen on 0\.0\.0\.0 without HERALD_API_KEY/);
    expect(lines[0]).toContain('--insecure');
  });

  it('starts with --insecure', async () => {
    const port = await freePort();
    const p = runHerald(['serve', '--host', '0.0.0.0', '--port', String(port), '--insecure']);
    running.push(p);
    await waitListening(p);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });

  it.each([
    ['an API key', { apiKey: 'k' }],
    ['allowUnauthenticatedApi', { allowUnauthenticatedApi: true }],
  ])('starts with %s in its config', async (_name, config) => {
    const server = await HeraldServer.create({ config: { host: '0.0.0.0', port: 0, ...config } });
    hubs.onCleanup(() => server.close());
    const { address } = await server.listen();
    expect(address).toBe('0.0.0.0');
  });

  it('reads HERALD_INSECURE=1 and HERALD_METRICS_KEY from the environment, and refuses other values', () => {
    expect(configFromEnv({ HERALD_INSECURE: '1', HERALD_METRICS_KEY: 'm' })).toEqual({
      allowUnauthenticatedApi: true,
      metricsKey: 'm',
    });
    expect(configFromEnv({ HERALD_INSECURE: '0' })).toEqual({ allowUnauthenticatedApi: false });
    expect(() => configFromEnv({ HERALD_INSECURE: 'yes' })).toThrow(/HERALD_INSECURE="yes" must be 1 or 0/);
  });

  it('without either, HeraldServer.listen refuses too', async () => {
    const server = await HeraldServer.create({ config: { host: '0.0.0.0', port: 0 } });
    hubs.onCleanup(() => server.close());
    await expect(server.listen()).rejects.toThrow(/without HERALD_API_KEY/);
  });
});

describe('operator endpoints behind the key', () => {
  it('/metrics and /admin want the API key when one is set; /health stays open', async () => {
    const hub = await hubs.start({ apiKey: 'api-secret' });
    expect((await send(hub, '/health')).status).toBe(200);

    const metrics = await send(hub, '/metrics');
    expect([metrics.status, code(metrics.body)]).toEqual([401, 'unauthorized']);
    expect((await send(hub, '/metrics', { headers: { authorization: 'apikey wrong' } })).status).toBe(401);
    expect((await send(hub, '/metrics', { headers: { authorization: 'apikey api-secret' } })).status).toBe(
      200,
    );
    // What Prometheus sends with `authorization: { credentials: … }`.
    const scraped = await send(hub, '/metrics', { headers: { authorization: 'Bearer api-secret' } });
    expect(scraped.status).toBe(200);
    expect(scraped.body).toContain('herald_sessions');

    const admin = await send(hub, '/admin');
    expect([admin.status, code(admin.body)]).toEqual([401, 'unauthorized']);
    // A browser opening the page is asked for the key (any user name).
    expect(admin.headers['www-authenticate']).toMatch(/^Basic realm=/);
    const basic = `Basic ${Buffer.from('operator:api-secret').toString('base64')}`;
    const page = await send(hub, '/admin', { headers: { authorization: basic } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Herald admin');
    const wrongBasic = `Basic ${Buffer.from('operator:nope').toString('base64')}`;
    expect((await send(hub, '/admin', { headers: { authorization: wrongBasic } })).status).toBe(401);
  });

  it('a separate metricsKey opens /metrics only', async () => {
    const hub = await hubs.start({ apiKey: 'api-secret', metricsKey: 'scrape-secret' });
    const scrape = { authorization: 'Bearer scrape-secret' };
    expect((await send(hub, '/metrics', { headers: scrape })).status).toBe(200);
    expect((await send(hub, '/metrics', { headers: { authorization: 'Bearer api-secret' } })).status).toBe(
      200,
    );
    expect((await send(hub, '/admin', { headers: { authorization: 'apikey scrape-secret' } })).status).toBe(
      401,
    );
    const api = await send(hub, '/api/channels', {
      method: 'POST',
      headers: { ...JSON_TYPE, authorization: 'apikey scrape-secret' },
      body: '{}',
    });
    expect(api.status).toBe(401);
  });

  it('with no key set, metricsKey alone guards /metrics', async () => {
    const hub = await hubs.start({ metricsKey: 'scrape-secret' });
    expect((await send(hub, '/metrics')).status).toBe(401);
    expect((await send(hub, '/metrics', { headers: { authorization: 'Bearer scrape-secret' } })).status).toBe(
      200,
    );
    expect((await send(hub, '/admin')).status).toBe(200);
  });
});

describe('the server API from browsers', () => {
  const publish = (hub: TestHub, headers: Record<string, string>) =>
    send(hub, '/api/publish', {
      method: 'POST',
      headers,
      body: JSON.stringify({ channel: 'chat:lobby', data: 'from a page' }),
    });
  const published = async (hub: TestHub) =>
    (await hub.server.hub.history('chat:lobby', {})).publications.length;

  it('takes only application/json: a form or text/plain POST gets 415 and publishes nothing', async () => {
    const hub = await hubs.start();
    for (const type of [
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
    ]) {
      const res = await publish(hub, { 'content-type': type });
      expect([type, res.status, code(res.body)]).toEqual([type, 415, 'unsupported_media_type']);
    }
    expect((await publish(hub, {})).status).toBe(415);
    expect(await published(hub)).toBe(0);
    expect((await publish(hub, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
  });

  it('is not callable from other origins by default, even with allowedOrigins "*"', async () => {
    const hub = await hubs.start();
    const evil = { origin: 'https://evil.example' };
    const preflight = await send(hub, '/api/publish', {
      method: 'OPTIONS',
      headers: {
        ...evil,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect([preflight.status, code(preflight.body)]).toEqual([403, 'origin_not_allowed']);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const res = await publish(hub, { ...evil, ...JSON_TYPE });
    expect([res.status, code(res.body)]).toEqual([403, 'origin_not_allowed']);
    expect(await published(hub)).toBe(0);
    const metrics = await send(hub, '/metrics', { headers: evil });
    expect(metrics.status).toBe(403);
    // The client endpoints keep allowedOrigins ("*" by default).
    const health = await send(hub, '/health', { headers: evil });
    expect([health.status, health.headers['access-control-allow-origin']]).toEqual([200, '*']);
  });

  it('is callable from the origins apiAllowedOrigins lists, with CORS', async () => {
    const hub = await hubs.start({ apiAllowedOrigins: ['https://ops.example.com'] });
    const ops = { origin: 'https://ops.example.com' };
    const preflight = await send(hub, '/api/publish', {
      method: 'OPTIONS',
      headers: {
        ...ops,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://ops.example.com');
    const res = await publish(hub, { ...ops, ...JSON_TYPE });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('https://ops.example.com');
  });

  it("is callable from the hub's own page reached on a loopback name", async () => {
    const hub = await hubs.start();
    for (const host of [`127.0.0.1:${hub.port}`, `localhost:${hub.port}`]) {
      const res = await publish(hub, { host, origin: `http://${host}`, ...JSON_TYPE });
      expect([host, res.status]).toEqual([host, 200]);
    }
  });
});

describe('DNS rebinding: a page on evil.example whose name now resolves to the hub on loopback', () => {
  // Same-origin to that page: Origin and Host both say evil.example, which an Origin check alone allows.
  const host = (hub: TestHub) => `evil.example:${hub.port}`;
  const rebound = (hub: TestHub) => ({ host: host(hub), origin: `http://${host(hub)}` });

  it('cannot publish, read, subscribe or open a WebSocket', async () => {
    const hub = await hubs.start();
    const res = await send(hub, '/api/publish', {
      method: 'POST',
      headers: { ...rebound(hub), ...JSON_TYPE },
      body: JSON.stringify({ channel: 'chat:lobby', data: 'rebound' }),
    });
    expect([res.status, code(res.body)]).toEqual([403, 'origin_not_allowed']);
    expect((await hub.server.hub.history('chat:lobby', {})).publications).toEqual([]);
    // A same-origin GET carries no Origin at all: the Host alone gives it away.
    for (const path of [
      '/health',
      '/connection/sse?channel=chat:lobby',
      '/connection/poll?channel=chat:lobby',
    ]) {
      const get = await send(hub, path, { headers: { host: host(hub) } });
      expect([path, get.status, code(get.body)]).toEqual([path, 403, 'origin_not_allowed']);
    }
    const upgrade = await send(hub, '/connection/websocket', {
      headers: {
        ...rebound(hub),
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
      },
    });
    expect([upgrade.status, code(upgrade.body)]).toEqual([403, 'origin_not_allowed']);
  });

  it('a host the config lists is the hub (a proxy passing the public Host)', async () => {
    const hub = await hubs.start({ allowedOrigins: ['https://realtime.example.com'] });
    const res = await send(hub, '/health', { headers: { host: 'realtime.example.com' } });
    expect(res.status).toBe(200);
    expect((await send(hub, '/health', { headers: { host: host(hub) } })).status).toBe(403);
  });

  it('does not apply to a hub listening on every interface, which any name may reach', async () => {
    const server = await HeraldServer.create({ config: { host: '0.0.0.0', port: 0, apiKey: 'k' } });
    hubs.onCleanup(() => server.close());
    const { port } = await server.listen();
    const res = await send({ port } as TestHub, '/health', { headers: { host: `evil.example:${port}` } });
    expect(res.status).toBe(200);
  });
});

describe('in a real browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // evil.test resolves to the hub's loopback address, as a rebinding DNS server would answer.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--host-resolver-rules=MAP evil.test 127.0.0.1, MAP attacker.test 127.0.0.1',
        // Chromium's Private Network Access checks would stop these pages before the hub sees them;
        // other browsers have none, so the hub must refuse them itself.
        '--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('the admin page opens with the key as Basic credentials, then lists channels through the API', async () => {
    const hub = await hubs.start({ apiKey: 'api-secret' });
    await hub.publish('chat:admin-visible', 'x');
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: 'api-secret' },
    });
    const page = await context.newPage();
    expect((await page.goto(`${hub.url}/admin`))?.status()).toBe(200);
    await page.getByLabel('API key').fill('api-secret');
    await page.getByLabel('API key').dispatchEvent('change');
    await expect
      .poll(() => page.locator('#channels').textContent(), { timeout: 10_000 })
      .toContain('chat:admin-visible');
    await context.close();
  });

  it('a page on evil.test, rebound to the hub, cannot publish or subscribe', async () => {
    const hub = await hubs.start();
    const page = await browser.newPage();
    // The attacker's own server answered the first lookup with this page; its requests now reach the hub.
    await page.route(`http://evil.test:${hub.port}/`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>evil</title>' }),
    );
    await page.goto(`http://evil.test:${hub.port}/`);
    const outcome = await page.evaluate(async () => {
      const publish = await fetch('/api/publish', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:lobby', data: 'rebound' }),
      });
      const sse = await fetch('/connection/sse?channel=chat:lobby');
      return { publish: publish.status, sse: sse.status, code: (await publish.json()).error?.code };
    });
    expect(outcome).toEqual({ publish: 403, sse: 403, code: 'origin_not_allowed' });
    expect((await hub.server.hub.history('chat:lobby', {})).publications).toEqual([]);
    await page.close();
  });

  it('a page on another origin cannot publish with a simple text/plain POST', async () => {
    const hub = await hubs.start();
    const page = await browser.newPage();
    await page.route('http://attacker.test/', (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>attacker</title>' }),
    );
    await page.goto('http://attacker.test/');
    await page.evaluate(async (url) => {
      await fetch(`${url}/api/publish`, {
        method: 'POST',
        mode: 'no-cors',
        body: JSON.stringify({ channel: 'chat:lobby', data: 'csrf' }),
      });
    }, hub.url);
    expect((await hub.server.hub.history('chat:lobby', {})).publications).toEqual([]);
    await page.close();
  });
});
