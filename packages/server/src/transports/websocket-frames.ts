import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';

/**
 * The WebSocket wire (RFC 6455) as the hub needs it: server frames built once and written as they are,
 * and a reader for client frames. No library object per connection: the reader's state lives in the
 * connection itself (it extends FrameReader), which keeps an idle connection small.
 */

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** Close codes of RFC 6455 7.4.1 the hub sends for protocol faults. */
export const WsClose = {
  normal: 1000,
  protocolError: 1002,
  invalidData: 1007,
  tooBig: 1009,
} as const;

/** A complete unmasked frame, so fan-out writes prebuilt bytes straight to the socket. */
export function serverFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}

export function textFrame(payload: Buffer): Buffer {
  return serverFrame(Opcode.text, payload);
}

/** A close frame; the reason is cut to the 123 bytes a control frame can carry, whole characters only. */
export function closeFrame(code?: number, reason = ''): Buffer {
  if (code === undefined) return serverFrame(Opcode.close, Buffer.alloc(0));
  let text = reason;
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1);
  const payload = Buffer.allocUnsafe(2 + Buffer.byteLength(text));
  payload.writeUInt16BE(code, 0);
  payload.write(text, 2);
  return serverFrame(Opcode.close, payload);
}

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + HANDSHAKE_GUID)
    .digest('base64');
}

/** A `Sec-WebSocket-Key`: 16 random bytes in base64. */
export const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;

/** Codes a peer may send in a close frame (RFC 6455 7.4). */
function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * Reads client frames from a socket's chunks: checks masking, opcodes, control-frame rules and the size
 * limit, unmasks in place, joins fragmented messages, and hands whole messages and control frames to the
 * subclass. An incomplete frame waits (copied, so a socket's read buffer is never held) until the bytes
 * it needs have arrived, then is read with a single concatenation.
 */
export abstract class FrameReader {
  private chunks: Buffer[] | null = null;
  private buffered = 0;
  private needed = 0;
  private fragments: Buffer[] | null = null;
  private fragmentOpcode = 0;
  private fragmentBytes = 0;

  /** Largest message accepted; bigger ones are refused with 1009 before they are read. */
  protected abstract get maxPayload(): number;
  /** False once the connection is closed: the rest is ignored. */
  protected abstract get reading(): boolean;
  /** Any frame from the peer (it is alive). */
  protected abstract onFrame(): void;
  protected abstract onMessage(text: boolean, payload: Buffer): void;
  protected abstract onPing(payload: Buffer): void;
  protected abstract onClose(code: number | undefined, reason: string): void;
  /** The peer broke the protocol: close with `code`. */
  protected abstract onProtocolError(code: number, reason: string): void;

  receive(chunk: Buffer): void {
    let data = chunk;
    if (this.chunks !== null) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.needed) return;
      data = Buffer.concat(this.chunks, this.buffered);
      this.chunks = null;
    }
    let at = 0;
    while (at < data.length && this.reading) {
      const used = this.readFrame(data, at);
      if (used === 0) return;
      if (used < 0) {
        this.chunks = [Buffer.from(data.subarray(at))];
        this.buffered = data.length - at;
        this.needed = -used;
        return;
      }
      at += used;
    }
  }

  /** Bytes the frame at `at` took; minus the bytes it needs when incomplete; 0 after a protocol error. */
  private readFrame(data: Buffer, at: number): number {
    const left = data.length - at;
    if (left < 2) return -2;
    const b0 = data[at];
    const b1 = data[at + 1];
    if (b0 & 0x70) return this.fail(WsClose.protocolError, 'reserved bits are set');
    if (!(b1 & 0x80)) return this.fail(WsClose.protocolError, 'client frames must be masked');
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (left < 4) return -4;
      length = data.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (left < 10) return -10;
      if (data.readUInt32BE(at + 2) !== 0) return this.fail(WsClose.tooBig, 'message too big');
      length = data.readUInt32BE(at + 6);
      header = 10;
    }
    if (opcode >= 8) {
      if (opcode > Opcode.pong) return this.fail(WsClose.protocolError, `unknown opcode ${opcode}`);
      if (!fin || length > 125) return this.fail(WsClose.protocolError, 'invalid control frame');
    } else if (opcode > Opcode.binary) {
      return this.fail(WsClose.protocolError, `unknown opcode ${opcode}`);
    } else if (length + this.fragmentBytes > this.maxPayload) {
      return this.fail(WsClose.tooBig, 'message too big');
    }
    const total = header + 4 + length;
    if (left < total) return -total;
    const mask = at + header;
    const start = mask + 4;
    const payload = data.subarray(start, start + length);
    for (let i = 0; i < length; i++) payload[i] ^= data[mask + (i & 3)];
    return this.frame(fin, opcode, payload) ? total : 0;
  }

  /** Handles one unmasked frame; false after a protocol error. */
  private frame(fin: boolean, opcode: number, payload: Buffer): boolean {
    this.onFrame();
    switch (opcode) {
      case Opcode.continuation: {
        if (this.fragments === null) return !!this.fail(WsClose.protocolError, 'continuation of nothing');
        this.fragments.push(Buffer.from(payload));
        this.fragmentBytes += payload.length;
        if (!fin) return true;
        const message = Buffer.concat(this.fragments, this.fragmentBytes);
        const text = this.fragmentOpcode === Opcode.text;
        this.fragments = null;
        this.fragmentBytes = 0;
        return this.message(text, message);
      }
      case Opcode.text:
      case Opcode.binary:
        if (this.fragments !== null) {
          return !!this.fail(WsClose.protocolError, 'a new message inside a fragmented one');
        }
        if (fin) return this.message(opcode === Opcode.text, payload);
        this.fragments = [Buffer.from(payload)];
        this.fragmentOpcode = opcode;
        this.fragmentBytes = payload.length;
        return true;
      case Opcode.close: {
        if (payload.length === 1) return !!this.fail(WsClose.protocolError, 'invalid close frame');
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
        if (code !== undefined && !isValidCloseCode(code)) {
          return !!this.fail(WsClose.protocolError, `invalid close code ${code}`);
        }
        const reason = payload.subarray(2);
        if (!isUtf8(reason)) return !!this.fail(WsClose.invalidData, 'close reason is not UTF-8');
        this.onClose(code, reason.toString());
        return true;
      }
      case Opcode.ping:
        this.onPing(payload);
        return true;
      default:
        return true;
    }
  }

  private message(text: boolean, payload: Buffer): boolean {
    if (text && !isUtf8(payload)) return !!this.fail(WsClose.invalidData, 'text frame is not UTF-8');
    this.onMessage(text, payload);
    return true;
  }

  private fail(code: number, reason: string): 0 {
    this.chunks = null;
    this.fragments = null;
    this.onProtocolError(code, reason);
    return 0;
  }
}
