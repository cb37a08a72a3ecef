/** Minimal RFC 6455 pieces for the counting subscribers: client frames out, a header-only parser in. */

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/**
 * A masked client frame (clients must mask). The key is zero, which leaves the payload as is: the
 * servers unmask by XOR like any other key, and the generator spends nothing on masking.
 */
export function clientFrame(payload: Buffer | string, opcode: number = Opcode.text): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const length = body.length;
  const headerLength = (length < 126 ? 2 : length < 65_536 ? 4 : 10) + 4;
  const frame = Buffer.alloc(headerLength + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65_536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  body.copy(frame, headerLength);
  return frame;
}

export interface FrameSink {
  /**
   * A frame header was read. Return true to get its payload in `onPayload` (handshake replies,
   * control frames); false skips the payload bytes without looking at them.
   */
  onHeader(opcode: number, length: number): boolean;
  onPayload(opcode: number, payload: Buffer): void;
}

/**
 * Reads server frames (unmasked) from a byte stream that arrives in arbitrary pieces. For counted
 * frames it only reads the 2-10 header bytes and skips the payload by its length.
 */
export class FrameParser {
  private readonly header = Buffer.alloc(10);
  private headerHave = 0;
  private remaining = 0;
  private opcode = 0;
  private collecting = false;
  private chunks: Buffer[] = [];

  constructor(private readonly sink: FrameSink) {}

  reset(): void {
    this.headerHave = 0;
    this.remaining = 0;
    this.collecting = false;
    this.chunks = [];
  }

  /** Consumes `buf[start, end)`; `buf` may be reused by the caller afterwards. */
  feed(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, end - i);
        // The read buffer is shared and reused: keep a copy of what we collect.
        if (this.collecting) this.chunks.push(Buffer.from(buf.subarray(i, i + n)));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0 && this.collecting) this.finishPayload();
        continue;
      }
      if (this.headerHave === 0 && end - i >= 2) {
        const len7 = buf[i + 1] & 0x7f;
        const headerLength = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
        if (end - i >= headerLength) {
          this.startFrame(buf, i, headerLength);
          i += headerLength;
          continue;
        }
      }
      // A header split across reads: gather it byte by byte (rare).
      this.header[this.headerHave++] = buf[i++];
      if (this.headerHave >= 2) {
        const len7 = this.header[1] & 0x7f;
        const headerLength = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
        if (this.headerHave === headerLength) {
          this.headerHave = 0;
          this.startFrame(this.header, 0, headerLength);
        }
      }
    }
  }

  private startFrame(buf: Buffer, at: number, headerLength: number): void {
    const opcode = buf[at] & 0x0f;
    const len7 = buf[at + 1] & 0x7f;
    const length =
      headerLength === 2 ? len7 : headerLength === 4 ? buf.readUInt16BE(at + 2) : buf.readUInt32BE(at + 6);
    this.opcode = opcode;
    this.collecting = this.sink.onHeader(opcode, length);
    this.remaining = length;
    if (length === 0 && this.collecting) this.finishPayload();
  }

  private finishPayload(): void {
    const payload = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [];
    this.collecting = false;
    this.sink.onPayload(this.opcode, payload);
  }
}
