import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigSchema,
  LimitsSchema,
  NamespaceSchema,
  PollSchema,
  PresenceSchema,
  parseConfig,
  SseSchema,
} from '../src/config.ts';
import { freePort, type HeraldProcess, runHerald, waitListening } from './support/process.ts';
import { WsTestClient } from './support/ws-client.ts';

const running: HeraldProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.child.kill('SIGKILL');
});

function herald(args: string[], env: Record<string, string> = {}): HeraldProcess {
  const p = runHerald(args, env);
  running.push(p);
  return p;
}

function configFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'herald-cli-')), 'herald.json');
  writeFileSync(path, content);
  return path;
}

describe('herald serve', () => {
  it('serves on the port from the flag, and drains on SIGTERM with reconnect advice', async () => {
    const port = await freePort();
    const p = herald(['serve', '--port', String(port)]);
    await waitListening(p);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const client = await WsTestClient.open(`ws://127.0.0.1:${port}/connection/websocket`);
    await client.call('subscribe', { channel: 'chat:1' });
    p.child.kill('SIGTERM');
    expect(await client.closed).toBe(4000);
    expect(client.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 4000, reconnect: true });
    expect(await p.exited).toBe(0);
  });

  it('takes the port and API key from the environment', async () => {
    const port = await freePort();
    const p = herald(['serve'], { HERALD_PORT: String(port), HERALD_API_KEY: 'k1' });
    await waitListening(p);
    const json = { 'content-type': 'application/json' };
    const denied = await fetch(`http://127.0.0.1:${port}/api/channels`, {
      method: 'POST',
      body: '{}',
      headers: json,
    });
    expect(denied.status).toBe(401);
    const allowed = await fetch(`http://127.0.0.1:${port}/api/channels`, {
      method: 'POST',
      body: '{}',
      headers: { ...json, authorization: 'apikey k1' },
    });
    expect(allowed.status).toBe(200);
  });

  it('exits non-zero naming a bad flag value', async () => {
    const p = herald(['serve', '--port', 'eighty']);
    expect(await p.exited).not.toBe(0);
    expect(p.output()).toMatch(/port/i);
  });

  it('exits non-zero on an unknown flag', async () => {
    const p = herald(['serve', '--colour', 'blue']);
    expect(await p.exited).not.toBe(0);
    expect(p.output()).toMatch(/unknown option.*colour/i);
  });

  it('exits non-zero when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const p = herald(['serve', '--port', String(port)]);
      expect(await p.exited).toBe(1);
      expect(p.output()).toContain(`port ${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it.each([
    ['not JSON', '{ port: 1', /not valid JSON/],
    ['a field of the wrong type', '{"maxQueueBytes": "lots"}', /maxQueueBytes/],
    ['an unknown field', '{"colour": "blue"}', /colour/],
    [
      'a bad namespace option',
      '{"namespaces": {"chat": {"historySize": -1}}}',
      /namespaces\.chat\.historySize/,
    ],
    [
      'an event schema Ajv cannot compile',
      '{"namespaces": {"chat": {"events": {"message": {"type": "strnig"}}}}}',
      /namespaces\.chat\.events\.message: /,
    ],
  ])('exits non-zero on a config file with %s, naming the problem', async (_name, content, message) => {
    const p = herald(['serve', '--port', String(await freePort()), '--config', configFile(content)]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(message);
  });

  it('exits non-zero when the config file is missing', async () => {
    const p = herald(['serve', '--config', '/nonexistent/herald.json']);
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('cannot read config file /nonexistent/herald.json');
  });

  it('exits non-zero on an unknown broker', async () => {
    const p = herald(['serve', '--port', String(await freePort()), '--broker', 'carrier-pigeon']);
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('unknown broker');
  });

  it('exits non-zero on a HERALD_PORT that is not a port, naming the rule', async () => {
    const p = herald(['serve'], { HERALD_PORT: '70000' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('HERALD_PORT="70000" must be an integer from 0 to 65535');
  });

  it('exits non-zero on an unknown HERALD_LOG_LEVEL, listing the levels', async () => {
    const p = herald(['serve', '--port', String(await freePort())], { HERALD_LOG_LEVEL: 'loud' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain(
      'HERALD_LOG_LEVEL="loud" must be one of trace, debug, info, warn, error, fatal, silent',
    );
  });
});

describe('herald --version and --help', () => {
  const packageJson = new URL('../package.json', import.meta.url);

  it('prints the version of the package', async () => {
    const p = herald(['--version']);
    expect(await p.exited).toBe(0);
    expect(p.output()).toBe(`${JSON.parse(readFileSync(packageJson, 'utf8')).version}\n`);
  });

  /** The `HERALD_*` names the server's sources mention, so a variable added later must also be in the help. */
  function variablesRead(): Set<string> {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const text = files.map((f) => readFileSync(join(src, f), 'utf8')).join('\n');
    return new Set([...text.matchAll(/\bHERALD_[A-Z][A-Z_]*/g)].map((m) => m[0]));
  }

  it('lists every serve flag and every HERALD_* variable the server knows', async () => {
    const read = variablesRead();
    // The ones the design names, so a broken scan cannot pass as "nothing to list".
    expect([...read]).toEqual(expect.arrayContaining(['HERALD_PORT', 'HERALD_API_KEY', 'HERALD_LOG_LEVEL']));

    const p = herald(['serve', '--help']);
    expect(await p.exited).toBe(0);
    const help = p.output();
    for (const flag of ['--port <port>', '--host <host>', '--broker <broker>', '--config <file>', '--help'])
      expect(help).toContain(flag);
    for (const name of read) expect(help).toMatch(new RegExp(`^  ${name} `, 'm'));
  });
});

describe('herald.example.json', () => {
  const path = fileURLToPath(new URL('../herald.example.json', import.meta.url));
  const example = JSON.parse(readFileSync(path, 'utf8'));

  it('is a valid config that sets every option but the secrets and the alternative token keys', () => {
    parseConfig(example, path);
    // `webhooks` holds signing secrets: HERALD_WEBHOOK_URL and HERALD_WEBHOOK_SECRET set one endpoint.
    const leftOut = ['apiKey', 'metricsKey', 'tokenSecret', 'tokenPublicKey', 'webhooks'];
    expect(Object.keys(example).sort()).toEqual(
      Object.keys(ConfigSchema.shape)
        .filter((k) => !leftOut.includes(k))
        .sort(),
    );
    expect(Object.keys(example.limits).sort()).toEqual(Object.keys(LimitsSchema.shape).sort());
    expect(Object.keys(example.sse).sort()).toEqual(Object.keys(SseSchema.shape).sort());
    expect(Object.keys(example.poll).sort()).toEqual(Object.keys(PollSchema.shape).sort());
    expect(Object.keys(example.presence).sort()).toEqual(Object.keys(PresenceSchema.shape).sort());
    const namespaceOptions = new Set(
      Object.values(example.namespaces).flatMap((ns) => Object.keys(ns as object)),
    );
    expect([...namespaceOptions].sort()).toEqual(Object.keys(NamespaceSchema.shape).sort());
  });

  it('runs, its namespaces applied, with flags overriding its port, host and broker', async () => {
    const port = await freePort();
    const p = herald([
      'serve',
      '--config',
      path,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--broker',
      'memory',
    ]);
    await waitListening(p);
    const history = (channel: string) =>
      fetch(`http://127.0.0.1:${port}/api/history`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel }),
      });
    expect((await history('public:news')).status).toBe(200);
    const unlisted = await history('other:1');
    expect(unlisted.status).toBe(404);
    expect(await unlisted.json()).toMatchObject({ error: { code: 'unknown_namespace' } });
    // The chat namespace's event schemas (JSON Schema) check what the server API publishes.
    const publish = (data: unknown) =>
      fetch(`http://127.0.0.1:${port}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:1', event: 'message', data }),
      });
    const refused = await publish({ text: 7 });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: { code: 'invalid_data', message: 'data of message on chat:1 at text: must be string' },
    });
    expect((await publish({ text: 'hi' })).status).toBe(200);
  });
});
