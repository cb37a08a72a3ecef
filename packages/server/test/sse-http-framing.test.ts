import { Agent, type ClientRequest, get, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { decodeCursor, encodeCursor, type StreamPosition } from '@herald/protocol';
import { describe, expect, it, vi } from 'vitest';
import { decodeResponses, RawHttpConnection } from './support/http-responses.ts';
import { hubPerTest, type TestHub } from './support/hub.ts';
import { parseEventStream } from './support/sse-client.ts';
import { eventually } from './support/ws-client.ts';

const hubs = hubPerTest();
/** Streams end on their own soon after the test has published, so every response completes. */
const SHORT_STREAMS = { sse: { maxStreamDuration: 1 } };

/** Payloads whose UTF-8 length differs from their string length, and a few past one socket write. */
function payload(n: number): unknown {
  if (n % 7 === 3) return { n, text: 'é€😀'.repeat(n) };
  if (n % 29 === 5) return { n, text: 'x'.repeat(40_000 + n) };
  return n;
}

/**
 * Publishes `count` publications round-robin over `channels` in bursts, each made in one event-loop
 * turn, so a stream gets several messages per write, and several writes.
 */
async function publishBursts(hub: TestHub, channels: string[], count: number): Promise<void> {
  for (let sent = 0; sent < count; ) {
    const burst = [];
    for (let i = 0; i < 1 + (sent % 23) && sent < count; i++, sent++) {
      burst.push(hub.server.hub.publish(channels[sent % channels.length], { data: payload(sent) }));
    }
    await Promise.all(burst);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The publications a stream's body holds, as `channel/data`, after checking its control events. */
function publicationsIn(body: string): string[] {
  const { messages, rest } = parseEventStream(body);
  expect(rest).toBe('');
  const controls = messages.filter((m) => m.event === 'herald').map((m) => JSON.parse(m.data));
  expect(controls[0]).toMatchObject({ type: 'connected' });
  expect(controls.at(-1)).toMatchObject({ type: 'disconnect', code: 4005 });
  return messages
    .filter((m) => m.event === 'message')
    .map((m) => {
      const pub = JSON.parse(m.data);
      return `${pub.channel}/${JSON.stringify(pub.data)}`;
    });
}

function expected(channels: string[], count: number, only: string[] = channels): string[] {
  return Array.from(
    { length: count },
    (_, n) => `${channels[n % channels.length]}/${JSON.stringify(payload(n))}`,
  ).filter((line) => only.some((channel) => line.startsWith(`${channel}/`)));
}

/** A GET with Node's HTTP client; `body` resolves when the response has ended. */
function get1(
  url: string,
  agent: Agent,
): Promise<{ req: ClientRequest; res: IncomingMessage; body: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      const body = new Promise<string>((done, fail) => {
        res.on('end', () => done(Buffer.concat(parts).toString('utf8')));
        res.on('error', fail);
      });
      // Awaited by the test that reads it; a cleanup's cut must not surface as unhandled.
      body.catch(() => {});
      resolve({ req, res, body });
    });
    req.on('error', reject);
  });
}

function request(hub: TestHub, path: string, version = '1.1'): string {
  return `GET ${path} HTTP/${version}\r\nHost: 127.0.0.1:${hub.port}\r\nAccept: text/event-stream\r\n\r\n`;
}

describe('SSE over HTTP/1.x: the stream is framed as Node frames a response', () => {
  it('ends with a valid last chunk, and the keep-alive connection serves the next request (Node client)', async () => {
    const hub = await hubs.start(SHORT_STREAMS);
    const channels = ['frame:a', 'frame:b'];
    const agents = [
      new Agent({ keepAlive: true, maxSockets: 1 }),
      new Agent({ keepAlive: true, maxSockets: 1 }),
    ];
    hubs.onCleanup(() => {
      for (const agent of agents) agent.destroy();
    });
    // One stream on a channel alone (its messages shared with every such stream), one on both.
    const solo = await get1(`${hub.url}/connection/sse?channel=frame:a`, agents[0]);
    expect(solo.res.headers['transfer-encoding']).toBe('chunked');
    const both = await get1(`${hub.url}/connection/sse?channel=frame:a&channel=frame:b`, agents[1]);
    await eventually(() => hub.server.sse.connections === 2, 'both streams open');
    await publishBursts(hub, channels, 200);

    expect(publicationsIn(await solo.body)).toEqual(expected(channels, 200, ['frame:a']));
    expect(publicationsIn(await both.body)).toEqual(expected(channels, 200));
    // The same connection takes the next request: the stream ended exactly where its framing said.
    const next = await get1(`${hub.url}/health`, agents[0]);
    expect(next.res.statusCode).toBe(200);
    expect(next.req.reusedSocket).toBe(true);
    await next.body;
  });

  it('answers a request pipelined behind a stream once the stream ends, on the same connection', async () => {
    const hub = await hubs.start(SHORT_STREAMS);
    const channels = ['pipe:a'];
    // The second stream waits behind the first, its response not yet owning the socket.
    const connection = new RawHttpConnection(
      hub.port,
      request(hub, '/connection/sse?channel=pipe:a') +
        request(hub, '/connection/sse?channel=pipe:a') +
        request(hub, '/health'),
    );
    hubs.onCleanup(() => connection.close());
    await eventually(() => hub.server.sse.connections === 2, 'both streams open');
    await publishBursts(hub, channels, 120);
    await eventually(() => connection.responses().length === 3, 'three responses', 10_000);
    const [first, second, health] = connection.responses();
    expect(first.framing).toBe('chunked');
    expect(second.framing).toBe('chunked');
    expect(publicationsIn(first.body.toString('utf8'))).toEqual(expected(channels, 120));
    expect(publicationsIn(second.body.toString('utf8'))).toEqual(expected(channels, 120));
    expect(health.status).toBe(200);
    expect(decodeResponses(connection.bytes, false).rest).toBe(0);
  });

  it('sends an HTTP/1.0 client the stream unframed, ended by closing the connection', async () => {
    const hub = await hubs.start(SHORT_STREAMS);
    const channels = ['old:a'];
    const connection = new RawHttpConnection(hub.port, request(hub, '/connection/sse?channel=old:a', '1.0'));
    hubs.onCleanup(() => connection.close());
    await eventually(() => hub.server.sse.connections === 1, 'stream open');
    await publishBursts(hub, channels, 120);
    await connection.closed;
    const [response] = connection.responses();
    expect(response.framing).toBe('close');
    expect(response.headers['transfer-encoding']).toBeUndefined();
    expect(publicationsIn(response.body.toString('utf8'))).toEqual(expected(channels, 120));
  });

  it('writes a turn as one chunk shared by streams on a channel alone, each with its own cursor id', async () => {
    const hub = await hubs.start(SHORT_STREAMS);
    const channels = ['turn:a', 'turn:b'];
    const paths = [
      '/connection/sse?channel=turn:a',
      '/connection/sse?channel=turn:a',
      '/connection/sse?channel=turn:a',
      '/connection/sse?channel=turn:a&channel=turn:b',
    ];
    // What the hub (in this process) writes to its sockets: a turn shared by streams is one buffer.
    const write = vi.spyOn(Socket.prototype, 'write');
    hubs.onCleanup(() => write.mockRestore());
    const connections = paths.map((path) => new RawHttpConnection(hub.port, request(hub, path)));
    hubs.onCleanup(() => {
      for (const connection of connections) connection.close();
    });
    await eventually(() => hub.server.sse.connections === paths.length, 'streams open');
    await publishBursts(hub, channels, 150);
    await eventually(
      () => connections.every((c) => c.responses().length === 1),
      'every stream ended',
      10_000,
    );
    const [solo1, solo2, solo3, both] = connections.map((c) => c.responses()[0]);
    for (const response of [solo1, solo2, solo3, both]) expect(response.framing).toBe('chunked');

    // Every publication is exactly `id:`, `event:`, `data:`, its id the cursor of everything the
    // stream has been sent up to it: a solo stream's of its channel, the other's of both.
    const soloIds = checkedIds(solo1.body.toString('utf8'), ['turn:a']);
    expect(checkedIds(solo2.body.toString('utf8'), ['turn:a'])).toEqual(soloIds);
    expect(checkedIds(solo3.body.toString('utf8'), ['turn:a'])).toEqual(soloIds);
    expect(soloIds).toHaveLength(75);
    expect(checkedIds(both.body.toString('utf8'), channels)).toHaveLength(150);

    // The streams on the channel alone got each turn as the same chunk, most holding several messages.
    const publicationChunks = (chunks: Buffer[]) =>
      chunks.map((c) => c.toString('utf8')).filter((c) => c.includes('event: message\n'));
    const turns = publicationChunks(solo1.chunks);
    expect(publicationChunks(solo2.chunks)).toEqual(turns);
    expect(publicationChunks(solo3.chunks)).toEqual(turns);
    expect(turns.filter((turn) => turn.split('event: message\n').length > 2).length).toBeGreaterThan(1);
    const writes = new Map<unknown, number>();
    for (const [chunk] of write.mock.calls) {
      if (Buffer.isBuffer(chunk) && chunk.includes('event: message\n'))
        writes.set(chunk, (writes.get(chunk) ?? 0) + 1);
    }
    const sharedTurns = [...writes.values()].filter((count) => count === 3);
    expect(sharedTurns).toHaveLength(turns.length);
  });
});

/**
 * Reads an event stream strictly: every block a whole message, each publication exactly its three
 * lines, its `id:` the cursor of the stream's positions on `channels` (from the `subscribed` events on,
 * advanced by each publication). Returns the publications' ids.
 */
function checkedIds(body: string, channels: string[]): string[] {
  expect(body.endsWith('\n\n')).toBe(true);
  const positions = new Map<string, StreamPosition>();
  const ids: string[] = [];
  for (const block of body.slice(0, -2).split('\n\n')) {
    const lines = block.split('\n');
    if (lines[0] === 'event: herald') {
      const control = JSON.parse(lines.at(-1)?.slice('data: '.length) ?? '');
      if (control.type === 'subscribed') {
        positions.set(control.channel, { epoch: control.epoch, offset: control.offset });
      }
      continue;
    }
    if (lines[0].startsWith('retry: ') || lines[0] === ':') continue;
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('event: message');
    expect(lines[2].startsWith('data: {"type":"pub",')).toBe(true);
    const pub = JSON.parse(lines[2].slice('data: '.length));
    const previous = positions.get(pub.channel);
    expect(previous).toBeDefined();
    expect(pub.offset).toBe((previous?.offset ?? 0) + 1);
    positions.set(pub.channel, { epoch: pub.epoch, offset: pub.offset });
    expect(lines[0].startsWith('id: ')).toBe(true);
    const id = lines[0].slice('id: '.length);
    if (channels.length === 1) {
      expect(id).toBe(encodeCursor(positions));
    } else {
      // The entries' order is the order the channels were subscribed in: check them by channel.
      const cursor = decodeCursor(id);
      expect(cursor.size).toBe(channels.length);
      for (const channel of channels) expect(cursor.position(channel)).toEqual(positions.get(channel));
    }
    ids.push(id);
  }
  expect([...positions.keys()].sort()).toEqual([...channels].sort());
  return ids;
}
