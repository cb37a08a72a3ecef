import { connect } from 'node:net';
import { ErrorCodes } from '@herald/protocol';
import fc from 'fast-check';
import {
  type CommandVocabulary,
  commandArbitraries,
  hostileValue,
} from '../../../../test/support/commands.ts';

/** One HTTP/1.1 request, as bytes on a raw socket, so nothing between the fuzzer and the hub tidies it. */
export interface RawRequest {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** Send the body with `Transfer-Encoding: chunked` instead of `Content-Length`. */
  chunked: boolean;
  /** The client sends only the head and part of the body, then goes away: nobody waits for an answer. */
  abandoned: boolean;
}

export interface HttpVocabulary extends CommandVocabulary {
  channel: fc.Arbitrary<string>;
  /** Strings for `Last-Event-ID`, `?lastEventId=` and `?cursor=`: real cursors, mangled ones, junk. */
  cursor: fc.Arbitrary<string>;
  token: fc.Arbitrary<string>;
  apiKey: string;
  /** `host:port` of the hub. */
  host: string;
}

const PATHS = [
  '/',
  '/health',
  '/metrics',
  '/admin',
  '/api/publish',
  '/api/broadcast',
  '/api/history',
  '/api/presence',
  '/api/channels',
  '/api/disconnect',
  '/api/',
  '/api/constructor',
  '/api/__proto__',
  '/connection/websocket',
  '/connection/sse',
  '/connection/poll',
  '/connection/publish',
  '/connection/subscribe',
  '/connection/unsubscribe',
  '/connection/refresh',
  '/connection/history',
  '/connection/presence',
  '/health/',
  '/HEALTH',
  '/%2e%2e/health',
  '/api/%70ublish',
  '/connection/sse%00',
  '/a/../health',
];

/** The parts a request is put together from. */
interface RequestParts {
  method: string;
  path: string;
  query: string;
  host: string | undefined;
  apiKey: boolean;
  json: boolean;
  headers: Array<[string, string]>;
  upgrade: Array<[string, string]> | undefined;
  body: Buffer | undefined;
  chunked: boolean;
}

/**
 * Requests for every endpoint: most are what a client or the app would send, with something wrong, so
 * they reach the handlers; the rest are any method, path, header and body at all.
 */
export function rawRequests(v: HttpVocabulary): fc.Arbitrary<RawRequest> {
  const { valid, mutated } = commandArbitraries(v);
  const query = (param: fc.Arbitrary<[string, string]>) =>
    fc
      .array(param, { maxLength: 4 })
      .map((params) =>
        params.length === 0
          ? ''
          : `?${params.map(([k, val]) => `${encodeURIComponent(k)}=${encodeURIComponent(val)}`).join('&')}`,
      );
  const anyParam = fc.oneof(
    v.channel.map((c): [string, string] => ['channel', c]),
    v.channel.map((c): [string, string] => ['channel', c]),
    v.cursor.map((c): [string, string] => ['lastEventId', c]),
    v.cursor.map((c): [string, string] => ['cursor', c]),
    v.token.map((t): [string, string] => ['token', t]),
    fc.oneof(fc.nat(3), fc.string({ maxLength: 6 })).map((t): [string, string] => ['timeout', String(t)]),
    fc.string({ maxLength: 40 }).map((c): [string, string] => ['client', c]),
    fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })),
  );
  const host = fc.oneof(
    { weight: 10, arbitrary: fc.constant(v.host) },
    { weight: 1, arbitrary: fc.constantFrom('localhost', 'evil.example', '127.0.0.1', 'evil.example:80') },
    { weight: 2, arbitrary: fc.constantFrom('x:99999', 'a b', '[::bad', '%', 'a@b', ':', '[::1]:1') },
  );
  const optionalHeader = fc.oneof(
    fc.constantFrom<[string, string]>(
      ['Origin', 'https://evil.example'],
      ['Origin', 'null'],
      ['Origin', `http://${v.host}`],
      ['Content-Type', 'text/plain'],
      ['Content-Type', 'application/json; charset=utf-16'],
      ['Content-Type', 'multipart/form-data; boundary=x'],
      ['Accept', 'text/event-stream'],
      ['Authorization', 'apikey wrong'],
      ['Authorization', 'apikey'],
      ['Cookie', 'herald=x; a=b'],
      ['X-Forwarded-For', '10.0.0.1, 10.0.0.2'],
      ['Expect', '100-continue'],
      ['Upgrade', 'h2c'],
    ),
    v.cursor.map((c): [string, string] => ['Last-Event-ID', c]),
    v.token.map((t): [string, string] => ['Authorization', `Bearer ${t}`]),
  );
  const headers = fc.array(optionalHeader, { maxLength: 3 });
  /** A WebSocket handshake, valid or with a field wrong. */
  const upgrade = fc.constantFrom<Array<[string, string]>>(
    [
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ['Sec-WebSocket-Version', '13'],
    ],
    [
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', 'short'],
      ['Sec-WebSocket-Version', '13'],
    ],
    [
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ['Sec-WebSocket-Version', '8'],
    ],
  );
  /** Bodies of the server API and client actions: the right fields, some with hostile values. */
  const apiBody = fc.oneof(
    fc.record(
      {
        channel: v.channel,
        channels: fc.array(v.channel, { maxLength: 3 }),
        data: fc.jsonValue({ maxDepth: 3 }),
        event: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('message', 'error', 'herald')),
        idempotencyKey: fc.string({ maxLength: 10 }),
        since: fc.record({ epoch: v.epoch ?? fc.string(), offset: fc.nat(100) }),
        limit: fc.nat(100),
        user: fc.constantFrom('fuzz-user', 'fuzz-other', ''),
        session: fc.string({ maxLength: 40 }),
        token: v.token,
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(
      fc.constantFrom(
        'channel',
        'channels',
        'data',
        'event',
        'since',
        'limit',
        'reverse',
        'session',
        'user',
        '__proto__',
      ),
      hostileValue,
    ),
    fc.oneof(valid, mutated),
  );
  const body = fc.oneof(
    { weight: 6, arbitrary: apiBody.map((b) => Buffer.from(JSON.stringify(b))) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  );
  const usually = (freq: number) => fc.nat(freq).map((n) => n > 0);

  const coherent: fc.Arbitrary<RequestParts> = fc.oneof(
    // The app calling the server API.
    fc.record({
      method: fc.constant('POST'),
      path: fc.constantFrom(
        '/api/publish',
        '/api/broadcast',
        '/api/history',
        '/api/presence',
        '/api/channels',
        '/api/disconnect',
      ),
      query: fc.constant(''),
      host: fc.constant(v.host),
      apiKey: usually(6),
      json: usually(6),
      headers,
      upgrade: fc.constant(undefined),
      body: fc.option(body, { freq: 10, nil: undefined }),
      chunked: fc.boolean(),
    }),
    // A browser or EventSource opening a stream, or polling.
    fc.record({
      method: fc.constant('GET'),
      path: fc.constantFrom('/connection/sse', '/connection/poll'),
      query: query(anyParam),
      host: fc.constant(v.host),
      apiKey: fc.constant(false),
      json: fc.constant(false),
      headers,
      upgrade: fc.constant(undefined),
      body: fc.constant(undefined),
      chunked: fc.constant(false),
    }),
    // A client action on its stream, or on its own.
    fc.record({
      method: fc.constant('POST'),
      path: fc.constantFrom(
        '/connection/publish',
        '/connection/subscribe',
        '/connection/unsubscribe',
        '/connection/refresh',
        '/connection/history',
        '/connection/presence',
      ),
      query: query(anyParam),
      host: fc.constant(v.host),
      apiKey: fc.constant(false),
      json: usually(6),
      headers,
      upgrade: fc.constant(undefined),
      body: fc.option(body, { freq: 10, nil: undefined }),
      chunked: fc.boolean(),
    }),
    // Operators and monitors.
    fc.record({
      method: fc.constantFrom('GET', 'HEAD'),
      path: fc.constantFrom('/health', '/metrics', '/admin'),
      query: fc.constant(''),
      host: fc.constant(v.host),
      apiKey: fc.boolean(),
      json: fc.constant(false),
      headers,
      upgrade: fc.constant(undefined),
      body: fc.constant(undefined),
      chunked: fc.constant(false),
    }),
    // WebSocket handshakes.
    fc.record({
      method: fc.constantFrom('GET', 'GET', 'POST'),
      path: fc.constantFrom(
        '/connection/websocket',
        '/connection/websocket',
        '/health',
        '//',
        '//connection/websocket',
        '/%',
      ),
      query: query(anyParam),
      host: fc.option(host, { nil: undefined, freq: 20 }),
      apiKey: fc.constant(false),
      json: fc.constant(false),
      headers,
      upgrade: upgrade.map((u) => u as Array<[string, string]> | undefined),
      body: fc.constant(undefined),
      chunked: fc.constant(false),
    }),
  );

  const anything: fc.Arbitrary<RequestParts> = fc.record({
    method: fc.constantFrom(
      ...['GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'TRACK', 'CONNECT'],
      ...['get', 'FOO', 'G ET', ''],
    ),
    path: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...PATHS) },
      { weight: 1, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
      { weight: 1, arbitrary: fc.constantFrom(...PATHS).map((p) => `${p}/${'x'.repeat(300)}`) },
      { weight: 1, arbitrary: fc.constantFrom('//', '//connection/websocket', '/%') },
    ),
    query: query(anyParam),
    host: fc.option(host, { nil: undefined, freq: 20 }),
    apiKey: fc.boolean(),
    json: fc.boolean(),
    headers,
    upgrade: fc.option(upgrade, { freq: 6, nil: undefined }),
    body: fc.option(body, { freq: 4, nil: undefined }),
    chunked: fc.boolean(),
  });

  const parts = fc.tuple(
    fc.oneof({ weight: 3, arbitrary: coherent }, { weight: 2, arbitrary: anything }),
    fc.nat(19).map((n) => n === 0),
  );
  return parts.map(([r, abandoned]) => {
    const headers: Array<[string, string]> = [];
    // One in twenty leaves Host out: HTTP/1.1 requires it, so the hub must refuse in the error shape.
    if (r.host !== undefined) headers.push(['Host', r.host]);
    if (r.apiKey) headers.push(['Authorization', `apikey ${v.apiKey}`]);
    if (r.json) headers.push(['Content-Type', 'application/json']);
    headers.push(...r.headers, ...(r.upgrade ?? [['Connection', 'close']]));
    const request: RawRequest = {
      method: r.method,
      target: r.path + r.query,
      headers,
      body: r.body ?? Buffer.alloc(0),
      chunked: r.chunked && r.body !== undefined,
      abandoned: abandoned && r.body !== undefined,
    };
    // fast-check prints a counterexample with this: the request as it went over the wire.
    return Object.assign(request, { [fc.toStringMethod]: () => describeRequest(request) });
  });
}

function encodeRequest(r: RawRequest): Buffer {
  const lines = [`${r.method} ${r.target} HTTP/1.1`, ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  if (r.chunked) {
    lines.push('Transfer-Encoding: chunked');
    const chunks = r.body.length === 0 ? '' : `${r.body.length.toString(16)}\r\n`;
    return Buffer.concat([
      Buffer.from(`${lines.join('\r\n')}\r\n\r\n${chunks}`),
      r.body,
      Buffer.from(r.body.length === 0 ? '0\r\n\r\n' : '\r\n0\r\n\r\n'),
    ]);
  }
  if (r.body.length > 0 || r.method === 'POST') lines.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), r.body]);
}

export function describeRequest(r: RawRequest): string {
  const text =
    (r.abandoned ? '(abandoned halfway through the body)\n' : '') + encodeRequest(r).toString('latin1');
  return text.length > 800 ? `${text.slice(0, 800)}... (${text.length} bytes)` : text;
}

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** The final response in `bytes` (after any 100 Continue), or undefined while it is incomplete. */
function parseResponse(bytes: Buffer, ended: boolean, head: boolean): RawResponse | undefined {
  let start = 0;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', start);
    if (end === -1) return undefined;
    const [statusLine, ...lines] = bytes.subarray(start, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.1 (\d{3})(?: |$)/.exec(statusLine);
    if (!match) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine)}`);
    const status = Number(match[1]);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const rest = bytes.subarray(end + 4);
    if (status === 100) {
      start = end + 4;
      continue;
    }
    // A stream (SSE, a WebSocket) counts as answered once its head is complete.
    if (
      status === 101 ||
      headers.get('content-type')?.startsWith('text/event-stream') ||
      head ||
      status === 204 ||
      status === 304
    )
      return { status, headers, body: Buffer.alloc(0) };
    if (headers.get('transfer-encoding') === 'chunked') {
      const parts: Buffer[] = [];
      let at = 0;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', at);
        if (lineEnd === -1) return undefined;
        const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) throw new Error('a malformed chunk size');
        if (size === 0) return { status, headers, body: Buffer.concat(parts) };
        if (rest.length < lineEnd + 2 + size + 2) return undefined;
        parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
    }
    const length = headers.get('content-length');
    if (length !== undefined) {
      if (rest.length < Number(length)) return undefined;
      return { status, headers, body: rest.subarray(0, Number(length)) };
    }
    return ended ? { status, headers, body: rest } : undefined;
  }
}

/** Sends one request over a raw socket and resolves with its complete response; rejects if none comes. */
function exchange(port: number, request: RawRequest, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ended: boolean) => {
      if (done) return;
      let response: RawResponse | undefined;
      try {
        response = parseResponse(Buffer.concat(chunks), ended, request.method === 'HEAD');
      } catch (err) {
        done = true;
        socket.destroy();
        reject(err);
        return;
      }
      if (response) {
        done = true;
        socket.destroy();
        resolve(response);
      } else if (ended) {
        done = true;
        reject(
          new Error(
            `the connection ended without a complete response: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`,
          ),
        );
      }
    };
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      socket.destroy();
      reject(
        new Error(
          `no complete response within ${timeoutMs} ms: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`,
        ),
      );
    }, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      finish(false);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      finish(true);
    });
    socket.on('error', () => undefined);
    socket.write(encodeRequest(request));
  });
}

/** Sends the head and half the body of `request`, then resets the connection. */
async function abandon(port: number, request: RawRequest): Promise<void> {
  const bytes = encodeRequest(request);
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(bytes.subarray(0, bytes.length - Math.ceil(request.body.length / 2)));
  await new Promise((r) => setTimeout(r, 20));
  socket.resetAndDestroy();
}

/** Sends fuzzed requests and checks each gets a complete response, errors in the JSON error shape. */
export class HttpFuzzer {
  requests = 0;

  constructor(private readonly port: number) {}

  async run(request: RawRequest, timeoutMs = 15_000): Promise<void> {
    this.requests++;
    if (request.abandoned) {
      await abandon(this.port, request);
      return;
    }
    const response = await exchange(this.port, request, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message} to\n${describeRequest(request)}`);
    });
    if (response.status < 400 || request.method === 'HEAD') return;
    let body: { error?: { code?: unknown; message?: unknown } } | undefined;
    try {
      body = JSON.parse(response.body.toString('utf8'));
    } catch {
      // checked below
    }
    const code = body?.error?.code;
    if (
      !response.headers.get('content-type')?.startsWith('application/json') ||
      typeof code !== 'string' ||
      !Object.hasOwn(ErrorCodes, code) ||
      code === 'internal' ||
      ErrorCodes[code as keyof typeof ErrorCodes] !== response.status ||
      typeof body?.error?.message !== 'string'
    ) {
      throw new Error(
        `answered ${response.status} ${JSON.stringify(response.body.toString('utf8').slice(0, 300))} to\n${describeRequest(request)}`,
      );
    }
  }
}
