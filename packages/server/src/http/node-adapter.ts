import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { HeraldError } from '@herald/protocol';
import type { ApiRequest } from './api-request.ts';
import { bodyCutShort, bodyTooLarge } from './json.ts';
import type { Reply } from './reply.ts';

/** The peer address of requests built by `toWebRequest`: a web `Request` has no field for it. */
const addresses = new WeakMap<Request, string>();

/** The client's IP for a request that came through Node's HTTP server; undefined elsewhere. */
export function clientAddress(request: Request): string | undefined {
  return addresses.get(request);
}

// A Host header is a host name, IPv4 or bracketed IPv6 address, and an optional port (RFC 9110 7.2).
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(:\d{0,5})?$/;

/** Refuses (400 `bad_request`) a Host header that is not a host and port. */
export function checkHost(host: string | undefined): void {
  if (host === undefined) return;
  const match = HOST.exec(host);
  if (!match || Number(match[2]?.slice(1) || 0) > 65_535) {
    throw new HeraldError('bad_request', 'the Host header is not a valid host');
  }
}

/**
 * The URL a Node request names, from its Host header and request target. Clients choose both, so a
 * malformed one is a 400 `bad_request`, never an exception out of the server's listener.
 */
export function requestUrl(req: IncomingMessage): URL {
  checkHost(req.headers.host);
  const host = req.headers.host ?? 'localhost';
  let target = req.url ?? '/';
  try {
    // Absolute form (`GET http://host/path`), which HTTP/1.1 servers must accept: its path counts.
    if (/^https?:\/\//i.test(target)) {
      const absolute = new URL(target);
      target = absolute.pathname + absolute.search;
    }
    // Concatenated, not resolved against a base: a target like `//x` is a path, not another host.
    if (target.startsWith('/')) return new URL(`http://${host}${target}`);
  } catch {
    // The port is out of range, an IPv6 address is malformed, or the target is not a URL.
  }
  throw new HeraldError('bad_request', 'the Host header or request target is not a valid URL');
}

/**
 * Builds a web `Request` for a Node request; its signal aborts when the client goes away. Throws a
 * `HeraldError` for what a web `Request` cannot carry: a malformed URL, or a method like TRACE.
 */
export function toWebRequest(req: IncomingMessage, res: ServerResponse): Request {
  const url = requestUrl(req);
  const method = req.method ?? 'GET';
  // A web `Request` refuses TRACE (a forbidden method); Node's parser passes no other (TRACK is unknown
  // to it, CONNECT goes to the server's 'connect' event).
  if (method === 'TRACE') {
    throw new HeraldError('method_not_allowed', `method ${method} is not supported`);
  }
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const request = new Request(url, {
    method,
    headers,
    signal: controller.signal,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    // @ts-expect-error Node's fetch needs duplex for streamed request bodies; lib.dom does not know it.
    duplex: hasBody ? 'half' : undefined,
  });
  if (req.socket.remoteAddress !== undefined) addresses.set(request, req.socket.remoteAddress);
  return request;
}

/** Writes a web `Response` to Node, streaming the body chunk by chunk with no buffering. */
export async function sendWebResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  res.flushHeaders();
  const reader = response.body.getReader();
  res.on('close', () => {
    reader.cancel().catch(() => undefined);
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value))
        await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
    }
  } catch {
    // The body was cancelled because the client left; nothing more to write.
  }
  res.end();
}

/** A header of a Node request by its lower-case name; repeated ones joined as a web `Headers` would. */
export function nodeHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The server API's view of a Node request: headers and body read straight from it, with none of a
 * web `Request`'s streams, signal or header copies (a few hundred µs of an API call otherwise).
 */
export class NodeApiRequest implements ApiRequest {
  constructor(private readonly req: IncomingMessage) {}

  get method(): string {
    return this.req.method ?? 'GET';
  }

  header(name: string): string | undefined {
    return nodeHeader(this.req, name);
  }

  text(limit: number): Promise<string> {
    return readNodeBody(this.req, limit);
  }
}

/** A body being read by `readNodeBody`. */
interface BodyRead {
  readonly limit: number;
  size: number;
  readonly chunks: Buffer[];
  resolve(text: string): void;
  reject(err: HeraldError): void;
}

/**
 * The body reads under way. Their listeners are shared functions that find their read here (a
 * listener's `this` is the request), so an API call makes no closures to read its body.
 */
const bodyReads = new WeakMap<IncomingMessage, BodyRead>();

/** Reads a Node request's body as text, with `readBodyText`'s limit and refusals. */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<string> {
  if (Number(req.headers['content-length'] ?? '0') > limit) return Promise.reject(bodyTooLarge(limit));
  return new Promise((resolve, reject) => {
    bodyReads.set(req, { limit, size: 0, chunks: [], resolve, reject });
    req.on('data', onBodyData).on('end', onBodyEnd).on('error', onBodyCut).on('close', onBodyCut);
  });
}

/** The read of `req`, ended: later events of the request find none and do nothing. */
function endRead(req: IncomingMessage): BodyRead | undefined {
  const read = bodyReads.get(req);
  bodyReads.delete(req);
  return read;
}

// Past the limit the rest is not kept: Node reads and drops it once the answer is sent.
function onBodyData(this: IncomingMessage, chunk: Buffer): void {
  const read = bodyReads.get(this);
  if (!read) return;
  read.size += chunk.length;
  if (read.size <= read.limit) read.chunks.push(chunk);
  else endRead(this)?.reject(bodyTooLarge(read.limit));
}

function onBodyEnd(this: IncomingMessage): void {
  const read = endRead(this);
  if (!read) return;
  const { chunks, size } = read;
  read.resolve(
    chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, size).toString('utf8'),
  );
}

function onBodyCut(this: IncomingMessage): void {
  endRead(this)?.reject(bodyCutShort());
}

/**
 * Writes a `Reply` to Node in one piece, its length declared. The body goes as a string: Node then
 * sends it with the head in one write, where a `Buffer` takes a second.
 */
export function sendReply(reply: Reply, res: ServerResponse): void {
  const { status, headers, body } = reply;
  if (body === null) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) }).end(body);
}
