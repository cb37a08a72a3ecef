import { describe, expect, it } from 'vitest';
import { handleRequest } from '../src/http/routes.ts';
import { RawHttpConnection, type RawResponse } from './support/http-responses.ts';
import { hubPerTest } from './support/hub.ts';

const hubs = hubPerTest();

const KEY = 'secret';
// maxPayloadBytes 1024: the API refuses bodies over 1024 * 2 + 16 KB = 18,432 bytes.
const OVER_LIMIT = 20_000;

interface Call {
  name: string;
  method?: string;
  path?: string;
  headers: Record<string, string>;
  body: string;
  /** Send the body as one chunk of `Transfer-Encoding: chunked`, its length not declared. */
  chunked?: boolean;
  status: number;
  code?: string;
}

const json = { 'content-type': 'application/json', authorization: `apikey ${KEY}` };
const publication = (n: number) => JSON.stringify({ channel: 'chat:pipe', data: { n } });

const calls: Call[] = [
  { name: 'good', headers: json, body: publication(1), status: 200 },
  {
    name: 'bad key',
    headers: { ...json, authorization: 'apikey wrong' },
    body: publication(0),
    status: 401,
    code: 'unauthorized',
  },
  { name: 'bad JSON', headers: json, body: '{"channel":', status: 400, code: 'bad_json' },
  { name: 'not an object', headers: json, body: '[1]', status: 400, code: 'bad_request' },
  {
    name: 'too large, declared',
    headers: json,
    body: 'x'.repeat(OVER_LIMIT),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'too large, chunked',
    headers: json,
    body: 'x'.repeat(OVER_LIMIT),
    chunked: true,
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'wrong content type',
    headers: { ...json, 'content-type': 'text/plain' },
    body: publication(0),
    status: 415,
    code: 'unsupported_media_type',
  },
  { name: 'no channel', headers: json, body: '{"data":1}', status: 400, code: 'bad_request' },
  { name: 'unknown method', path: '/api/nope', headers: json, body: '{}', status: 404, code: 'not_found' },
  { name: 'GET', method: 'GET', headers: json, body: '', status: 405, code: 'method_not_allowed' },
  {
    name: 'origin not allowed',
    headers: { ...json, origin: 'https://elsewhere.example' },
    body: publication(0),
    status: 403,
    code: 'origin_not_allowed',
  },
  { name: 'good again', headers: json, body: publication(2), status: 200 },
];

function rawRequest(call: Call): string {
  const head = [`${call.method ?? 'POST'} ${call.path ?? '/api/publish'} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(call.headers)) head.push(`${name}: ${value}`);
  if (call.method === 'GET') return `${head.join('\r\n')}\r\n\r\n`;
  if (call.chunked) {
    head.push('Transfer-Encoding: chunked');
    const size = Buffer.byteLength(call.body).toString(16);
    return `${head.join('\r\n')}\r\n\r\n${size}\r\n${call.body}\r\n0\r\n\r\n`;
  }
  head.push(`Content-Length: ${Buffer.byteLength(call.body)}`);
  return `${head.join('\r\n')}\r\n\r\n${call.body}`;
}

function expectAnswer(call: Call, status: number, body: string): void {
  expect({ call: call.name, status }).toEqual({ call: call.name, status: call.status });
  const parsed = JSON.parse(body);
  if (call.code === undefined) {
    expect(parsed).toMatchObject({ epoch: expect.any(String), offset: expect.any(Number) });
  } else {
    expect(parsed).toEqual({ error: { code: call.code, message: expect.any(String) } });
  }
}

describe('POST /api/publish, pipelined on one keep-alive connection', () => {
  it('answers every request in order, with its status and error shape, and keeps the connection', async () => {
    const hub = await hubs.start({ apiKey: KEY, maxPayloadBytes: 1024 });
    const connection = new RawHttpConnection(hub.port, calls.map(rawRequest).join(''));
    let responses: RawResponse[] = [];
    await expect
      .poll(() => {
        responses = connection.responses();
        return responses.length;
      })
      .toBe(calls.length);
    connection.close();
    calls.forEach((call, i) => {
      expectAnswer(call, responses[i].status, responses[i].body.toString('utf8'));
      expect(responses[i].headers['content-type']).toBe('application/json; charset=utf-8');
    });
    expect(responses[0].framing).toBe('length');
    expect(responses[9].headers.allow).toBe('POST');
    expect(responses[10].headers.vary).toBe('Origin');
    const offsets = [responses[0], responses[11]].map((r) => JSON.parse(r.body.toString()).offset);
    expect(offsets).toEqual([1, 2]);
    const history = await hub.server.hub.history('chat:pipe', {});
    expect(history.publications.map((p) => p.data)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('the web-standard handler (route handlers, Next.js) answers the same', async () => {
    const hub = await hubs.start({ apiKey: KEY, maxPayloadBytes: 1024 });
    for (const call of calls) {
      const method = call.method ?? 'POST';
      const request = new Request(`http://127.0.0.1${call.path ?? '/api/publish'}`, {
        method,
        headers: { host: '127.0.0.1', ...call.headers },
        body: method === 'GET' ? undefined : call.body,
      });
      const response = await handleRequest(request, hub.server.hub);
      expectAnswer(call, response.status, await response.text());
    }
  });
});
