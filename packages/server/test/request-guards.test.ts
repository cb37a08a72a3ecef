import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeraldServer } from '../src/server.ts';
import { freePort, type HeraldProcess, runHerald, waitListening } from './support/process.ts';

/** Sends `text` as is on a fresh TCP connection and returns everything the server wrote before closing. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      received += chunk;
      // Keep-alive answers stay open: a complete chunked or sized body is the end of the answer.
      if (/\r\n\r\n[\s\S]*(\r\n0\r\n\r\n|\}\}$)/.test(received)) socket.end();
    });
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

/** The status and JSON error of a raw HTTP answer (chunked or not). */
function parseAnswer(raw: string): { status: number; error: { code: string; message: string } } {
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(raw)?.[1]);
  const json = /\{"error":\{.*\}\}/.exec(raw)?.[0];
  if (!json) throw new Error(`no JSON error body in: ${JSON.stringify(raw.slice(0, 300))}`);
  return { status, ...JSON.parse(json) };
}

const UPGRADE =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

describe('requests that used to kill herald serve', () => {
  let hub: HeraldProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    hub = runHerald(['serve', '--port', String(port)]);
    await waitListening(hub);
  });
  afterAll(() => {
    hub.child.kill('SIGKILL');
  });

  const cases: Array<[string, () => string, number, string]> = [
    ['TRACE', () => 'TRACE /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 405, 'method_not_allowed'],
    [
      'CONNECT',
      () => 'CONNECT 127.0.0.1:6379 HTTP/1.1\r\nHost: 127.0.0.1:6379\r\n\r\n',
      405,
      'method_not_allowed',
    ],
    [
      'a method Node does not know',
      () => 'BREW /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      400,
      'bad_request',
    ],
    [
      'Host with a port out of range',
      () => 'GET /health HTTP/1.1\r\nHost: x:99999\r\n\r\n',
      400,
      'bad_request',
    ],
    ['Host with a space', () => 'GET /health HTTP/1.1\r\nHost: a b\r\n\r\n', 400, 'bad_request'],
    [
      'Host with a broken IPv6 address',
      () => 'GET /health HTTP/1.1\r\nHost: [::bad\r\n\r\n',
      400,
      'bad_request',
    ],
    [
      'a bad Host on the SSE endpoint',
      () => 'GET /connection/sse?channel=a:b HTTP/1.1\r\nHost: [::bad\r\n\r\n',
      400,
      'bad_request',
    ],
    [
      'a bad Host on the API',
      () =>
        'POST /api/publish HTTP/1.1\r\nHost: x:99999\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      400,
      'bad_request',
    ],
    ['the path //', () => 'GET // HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 404, 'not_found'],
    ['the target *', () => 'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400, 'bad_request'],
    [
      'a WebSocket upgrade to //',
      () => `GET // HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`,
      404,
      'not_found',
    ],
    [
      'a WebSocket upgrade with a bad Host',
      () => `GET /connection/websocket HTTP/1.1\r\nHost: [::bad\r\n${UPGRADE}\r\n`,
      400,
      'bad_request',
    ],
    [
      'a 16 KB URL',
      () => `GET /${'a'.repeat(16 * 1024)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
      431,
      'headers_too_large',
    ],
    [
      '100 KB of headers',
      () => `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'a'.repeat(100 * 1024)}\r\n\r\n`,
      431,
      'headers_too_large',
    ],
    ['a request line that is not HTTP', () => 'hello there\r\n\r\n', 400, 'bad_request'],
    ['an HTTP/1.1 request without Host', () => 'GET /health HTTP/1.1\r\n\r\n', 400, 'bad_request'],
    [
      'a WebSocket handshake with a malformed key',
      () =>
        `GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE.replace('dGhlIHNhbXBsZSBub25jZQ==', 'short')}\r\n`,
      400,
      'bad_request',
    ],
    [
      'a WebSocket handshake with an unknown version',
      () =>
        `GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE.replace('Version: 13', 'Version: 99')}\r\n`,
      400,
      'bad_request',
    ],
    [
      'a WebSocket handshake by POST',
      () => `POST /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`,
      405,
      'method_not_allowed',
    ],
  ];

  it.each(cases)('%s: answered in the error shape', async (_name, request, status, code) => {
    const answer = parseAnswer(await rawRequest(port, request()));
    expect(answer).toMatchObject({ status, error: { code } });
    expect(answer.error.message).not.toBe('');
  });

  it('is still running and serving after all of them', async () => {
    for (const [, request] of cases) await rawRequest(port, request());
    expect(hub.child.exitCode).toBeNull();
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(hub.output()).not.toMatch(/"level":50/);
  });

  it('a request in absolute form is served like its path', async () => {
    const raw = await rawRequest(
      port,
      `GET http://127.0.0.1:${port}/nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    expect(parseAnswer(raw)).toMatchObject({ status: 404, error: { code: 'not_found' } });
  });
});

describe("errors from Node's HTTP layer", () => {
  it('a request whose headers never finish gets 408 request_timeout in the error shape', async () => {
    const server = await HeraldServer.create({
      config: { host: '127.0.0.1', port: 0 },
      http: { headersTimeout: 300, requestTimeout: 300, connectionsCheckingInterval: 50 },
    });
    try {
      const { port } = await server.listen(0, '127.0.0.1');
      const answer = parseAnswer(await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
      expect(answer).toMatchObject({ status: 408, error: { code: 'request_timeout' } });
    } finally {
      await server.close();
    }
  });
});

describe('a client that goes away mid-body', () => {
  it('is logged at debug, not as an error', async () => {
    const entries: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
    const record = (level: string) => (obj: object, msg?: string) =>
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    const logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const server = await HeraldServer.create({ config: { host: '127.0.0.1', port: 0 }, logger });
    try {
      const { port } = await server.listen(0, '127.0.0.1');
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          'POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"channel":"a:b",',
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
      await expect
        .poll(() => entries.find((e) => e.level === 'debug' && e.obj.code === 'bad_request'))
        .toBeDefined();
      expect(entries.filter((e) => e.level === 'error')).toEqual([]);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('the last resort of herald serve', () => {
  // Faults no request can cause any more, injected so the process-level guard itself is exercised.
  const faults =
    "--import=data:text/javascript,process.on('SIGUSR2',()=>{throw(Error('injected_fault'))});process.on('SIGHUP',()=>Promise.reject(Error('injected_rejection')))";

  it('logs an uncaught exception or rejection at error and keeps serving', async () => {
    const port = await freePort();
    const hub = runHerald(['serve', '--port', String(port)], { NODE_OPTIONS: faults });
    try {
      await waitListening(hub);
      hub.child.kill('SIGUSR2');
      hub.child.kill('SIGHUP');
      await expect
        .poll(() => hub.output())
        .toMatch(/"level":50.*injected_fault.*uncaught exception; still serving/);
      await expect
        .poll(() => hub.output())
        .toMatch(/"level":50.*injected_rejection.*unhandled rejection; still serving/);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
    } finally {
      hub.child.kill('SIGKILL');
    }
  });
});

describe('garbage sent after a request whose answer is streaming', () => {
  it('ends the connection without writing an error into the SSE stream', async () => {
    const server = await HeraldServer.create({ config: { host: '127.0.0.1', port: 0 } });
    try {
      const { port } = await server.listen(0, '127.0.0.1');
      const received = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write('GET /connection/sse?channel=a:b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
        );
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk) => {
          const first = text === '';
          text += chunk;
          if (first) socket.write('not http at all\r\n\r\n');
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
      expect(received).toContain('text/event-stream');
      expect(received.match(/HTTP\/1\.1/g)).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});
