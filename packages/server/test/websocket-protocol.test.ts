import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { hubPerTest } from './support/hub.ts';
import { eventually, WsTestClient } from './support/ws-client.ts';

const hubs = hubPerTest();

/** A client frame, masked with a random key as RFC 6455 requires. */
function clientFrame(
  opcode: number,
  payload: Buffer | string,
  options: { fin?: boolean; mask?: boolean } = {},
) {
  const body = Buffer.from(payload);
  const mask = options.mask ?? true;
  const length = body.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.alloc(header + (mask ? 4 : 0) + length);
  frame[0] = (options.fin === false ? 0 : 0x80) | opcode;
  frame[1] = (mask ? 0x80 : 0) | (length < 126 ? length : length < 65_536 ? 126 : 127);
  if (length >= 126 && length < 65_536) frame.writeUInt16BE(length, 2);
  if (length >= 65_536) frame.writeUInt32BE(length, 6);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  if (mask) key.copy(frame, header);
  const start = header + (mask ? 4 : 0);
  for (let i = 0; i < length; i++) frame[start + i] = mask ? body[i] ^ key[i & 3] : body[i];
  return frame;
}

interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** A hand-driven WebSocket client: raw bytes out, parsed server frames in. */
class RawClient {
  readonly frames: ServerFrame[] = [];
  head = '';
  ended = false;
  private buffer = Buffer.alloc(0);
  private upgraded = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => this.read(chunk));
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, headers: Record<string, string> = {}): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const client = new RawClient(socket);
    const all = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version': '13',
      ...headers,
    };
    const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`GET /connection/websocket HTTP/1.1\r\n${lines.join('')}\r\n`);
    await eventually(() => client.head.includes('\r\n\r\n') || client.ended, 'the handshake answer');
    return client;
  }

  private read(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.buffer.subarray(0, end + 4).toString();
      this.buffer = this.buffer.subarray(end + 4);
      this.upgraded = true;
    }
    while (this.buffer.length >= 2) {
      let length = this.buffer[1] & 0x7f;
      let header = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        header = 4;
      }
      if (this.buffer.length < header + length) return;
      this.frames.push({
        opcode: this.buffer[0] & 0x0f,
        payload: Buffer.from(this.buffer.subarray(header, header + length)),
      });
      this.buffer = this.buffer.subarray(header + length);
    }
  }

  /** Sends bytes one at a time: every frame then arrives split at every possible point. */
  async trickle(bytes: Buffer): Promise<void> {
    for (const byte of bytes) {
      this.socket.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
  }

  texts(): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString()));
  }

  closeCode(): number | undefined {
    const close = this.frames.find((f) => f.opcode === 8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
  }
}

describe('WebSocket protocol (RFC 6455)', () => {
  it('completes the handshake with the right accept key and echoes the first subprotocol offered', async () => {
    const hub = await hubs.start();
    const c = await RawClient.open(hub.port, { 'Sec-WebSocket-Protocol': 'herald, other' });
    expect(c.head).toMatch(/^HTTP\/1\.1 101 /);
    // The example key and accept value of RFC 6455 section 1.3.
    expect(c.head).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(c.head).toContain('Sec-WebSocket-Protocol: herald');
    c.socket.destroy();
  });

  it('refuses a bad key and an unsupported version with 400', async () => {
    const hub = await hubs.start();
    const badKey = await RawClient.open(hub.port, { 'Sec-WebSocket-Key': 'short' });
    expect(badKey.head).toMatch(/^HTTP\/1\.1 400 /);
    const oldVersion = await RawClient.open(hub.port, { 'Sec-WebSocket-Version': '7' });
    expect(oldVersion.head).toMatch(/^HTTP\/1\.1 400 /);
    await eventually(() => badKey.ended && oldVersion.ended, 'both refused connections closed');
  });

  it('reads frames split at every byte, fragmented messages, and answers pings with pongs', async () => {
    const hub = await hubs.start();
    const c = await RawClient.open(hub.port);
    await c.trickle(clientFrame(1, JSON.stringify({ id: 1, type: 'ping' })));
    const text = JSON.stringify({ id: 2, type: 'subscribe', channel: 'a:b' });
    await c.trickle(
      Buffer.concat([
        clientFrame(1, text.slice(0, 10), { fin: false }),
        clientFrame(9, 'hello'), // a control frame between fragments is allowed
        clientFrame(0, text.slice(10, 20), { fin: false }),
        clientFrame(0, text.slice(20)),
      ]),
    );
    await eventually(() => c.texts().length === 2, 'both replies');
    expect(c.texts()).toEqual([
      { id: 1, result: {} },
      expect.objectContaining({ id: 2, result: expect.objectContaining({ channel: 'a:b' }) }),
    ]);
    expect(c.frames.find((f) => f.opcode === 10)?.payload.toString()).toBe('hello');
    await hub.publish('a:b', 'hi');
    await eventually(() => c.texts().some((f) => f.type === 'pub'), 'the publication');
    c.socket.destroy();
  });

  it('echoes a client close and ends the connection', async () => {
    const hub = await hubs.start();
    const c = await RawClient.open(hub.port);
    const close = Buffer.alloc(2);
    close.writeUInt16BE(1000);
    c.socket.write(clientFrame(8, close));
    await eventually(() => c.ended, 'the socket closes');
    expect(c.closeCode()).toBe(1000);
    await eventually(() => hub.server.websocket.connections === 0, 'the connection is released');
  });

  it.each([
    ['an unmasked frame', 1002, clientFrame(1, '{"id":1,"type":"ping"}', { mask: false })],
    ['a text frame that is not UTF-8', 1007, clientFrame(1, Buffer.from([0xc3, 0x28]))],
    ['an unknown opcode', 1002, clientFrame(3, 'x')],
    ['a fragmented control frame', 1002, clientFrame(9, 'x', { fin: false })],
    ['a continuation of nothing', 1002, clientFrame(0, 'x')],
    ['a close code that may not be sent', 1002, clientFrame(8, Buffer.from([0x03, 0xed]))],
  ])('closes on %s with %i and leaves other connections alone', async (_name, code, frame) => {
    const hub = await hubs.start();
    const bystander = await WsTestClient.open(hub.wsUrl);
    await bystander.call('subscribe', { channel: 'a:b' });
    const c = await RawClient.open(hub.port);
    c.socket.write(frame);
    await eventually(() => c.ended, 'the offending socket closes');
    expect(c.closeCode()).toBe(code);
    await hub.publish('a:b', 'still here');
    await eventually(() => bystander.publications.length === 1, 'the bystander still receives');
    bystander.close();
  });
});
