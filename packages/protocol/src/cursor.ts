import { HeraldError } from './errors.ts';
import type { StreamPosition } from './types.ts';

/**
 * A cursor: the position of every channel of one SSE stream or long-poll client, as one opaque string
 * (the SSE `id:` field, so the browser's own `Last-Event-ID` resumes every channel at once).
 *
 * Layout, then base64url without padding:
 *
 *     version u8 (1) | count varint | count × (key u32 | epoch length u8 | epoch UTF-8 | offset varint) | check u32
 *
 * `key` is a 32-bit FNV-1a hash of the channel name: the reader knows its channels (from the URL), so
 * names need not travel in every event. `check` is FNV-1a over everything before it: a cursor that was
 * truncated, mangled or edited by hand is refused as `bad_cursor` instead of resuming at a wrong place.
 * Cursors are not secret and not signed: a position grants nothing (every subscribe is authorised anew,
 * and a position the stream never had is answered with `recovered: false`).
 */

const VERSION = 1;
/** Longer cursors are refused unread; a request header is limited to 16 KiB anyway. */
export const MAX_CURSOR_LENGTH = 16_384;
const MAX_EPOCH_BYTES = 255;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function fnv1a(bytes: Uint8Array, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < end; i++) hash = Math.imul(hash ^ bytes[i], FNV_PRIME);
  return hash >>> 0;
}

/** The 32-bit key that stands for `channel` in a cursor. */
export function channelKey(channel: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < channel.length; i++) hash = Math.imul(hash ^ channel.charCodeAt(i), FNV_PRIME);
  return hash >>> 0;
}

function bad(message: string): never {
  throw new HeraldError('bad_cursor', message);
}

// ---- bytes

class Writer {
  bytes = new Uint8Array(64);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  u8(value: number): void {
    this.room(1);
    this.bytes[this.length++] = value;
  }

  u32(value: number): void {
    this.room(4);
    const b = this.bytes;
    b[this.length++] = value >>> 24;
    b[this.length++] = (value >>> 16) & 0xff;
    b[this.length++] = (value >>> 8) & 0xff;
    b[this.length++] = value & 0xff;
  }

  /** LEB128, for any safe integer (offsets stay below 2^53). */
  varint(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.u8((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.u8(rest);
  }

  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Length byte and UTF-8 bytes of `text` (epochs are ASCII in practice: no encoder needed then). */
  shortString(text: string): void {
    const n = text.length;
    if (n <= MAX_EPOCH_BYTES) {
      this.room(n + 1);
      const b = this.bytes;
      const start = this.length;
      b[start] = n;
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) break;
        b[start + 1 + i] = c;
      }
      if (i === n) {
        this.length = start + 1 + n;
        return;
      }
    }
    const bytes = utf8.encode(text);
    if (bytes.length > MAX_EPOCH_BYTES) throw new RangeError('epoch longer than 255 bytes');
    this.u8(bytes.length);
    this.raw(bytes);
  }
}

class Reader {
  at = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly end: number,
  ) {}

  u8(): number {
    if (this.at >= this.end) bad('the cursor is truncated');
    return this.bytes[this.at++];
  }

  u32(): number {
    return ((this.u8() << 24) | (this.u8() << 16) | (this.u8() << 8) | this.u8()) >>> 0;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) bad('the cursor holds a non-canonical number');
        if (!Number.isSafeInteger(value)) bad('the cursor holds an offset beyond 2^53');
        return value;
      }
      scale *= 0x80;
    }
    return bad('the cursor holds an overlong number');
  }

  raw(n: number): Uint8Array {
    if (this.at + n > this.end) bad('the cursor is truncated');
    this.at += n;
    return this.bytes.subarray(this.at - n, this.at);
  }
}

// ---- base64url (btoa/atob exist in browsers and Node, so the codec has no dependency)

const ALPHABET = new Uint8Array(64);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) {
  ALPHABET[i] = c.charCodeAt(0);
}

/** base64url of `bytes[0, length)` as ASCII into `out`, which it grows if needed; returns `out`. */
function toBase64urlAscii(bytes: Uint8Array, length: number, out: Uint8Array): Uint8Array {
  const size = Math.ceil((length * 4) / 3);
  const ascii = out.length >= size ? out : new Uint8Array(size * 2);
  let o = 0;
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    ascii[o++] = ALPHABET[n >>> 18];
    ascii[o++] = ALPHABET[(n >>> 12) & 63];
    ascii[o++] = ALPHABET[(n >>> 6) & 63];
    ascii[o++] = ALPHABET[n & 63];
  }
  if (i < length) {
    const n = (bytes[i] << 16) | (i + 1 < length ? bytes[i + 1] << 8 : 0);
    ascii[o++] = ALPHABET[n >>> 18];
    ascii[o++] = ALPHABET[(n >>> 12) & 63];
    if (i + 1 < length) ascii[o++] = ALPHABET[(n >>> 6) & 63];
  }
  return ascii;
}

function fromBase64url(text: string): Uint8Array {
  // atob forgives whitespace and padding; a cursor has neither, so anything else is refused up front.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) bad('the cursor is not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- cursor

export type CursorPositions =
  | Iterable<readonly [channel: string, position: StreamPosition]>
  | Record<string, StreamPosition>;

/** A channel's position with its cursor key worked out once: what servers keep per stream. */
export interface CursorEntry extends StreamPosition {
  readonly key: number;
}

/** Reused by every encode (encoding is synchronous), so the hot path allocates nothing but its result. */
const scratch = new Writer();
let scratchAscii: Uint8Array = new Uint8Array(64);

/**
 * The cursor of `entries` as base64url ASCII bytes, for servers that write it straight into a message.
 * The bytes are a view of a shared buffer: use them before the next encode.
 */
export function encodeCursorAscii(entries: readonly CursorEntry[]): Uint8Array {
  const w = scratch;
  w.length = 0;
  w.u8(VERSION);
  w.varint(entries.length);
  for (const { key, epoch, offset } of entries) {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('offset must be a safe integer');
    w.u32(key);
    w.shortString(epoch);
    w.varint(offset);
  }
  w.u32(fnv1a(w.bytes, w.length));
  scratchAscii = toBase64urlAscii(w.bytes, w.length, scratchAscii);
  return scratchAscii.subarray(0, Math.ceil((w.length * 4) / 3));
}

const ascii = new TextDecoder();

/** Encodes the position of each channel. */
export function encodeCursor(positions: CursorPositions): string {
  const pairs =
    Symbol.iterator in positions
      ? [...(positions as Iterable<readonly [string, StreamPosition]>)]
      : Object.entries(positions);
  return ascii.decode(
    encodeCursorAscii(
      pairs.map(([channel, { epoch, offset }]) => ({ key: channelKey(channel), epoch, offset })),
    ),
  );
}

/** A decoded cursor: channel positions looked up by name. */
export class Cursor {
  constructor(
    private readonly positions: ReadonlyMap<number, StreamPosition>,
    /** Keys held by two entries: neither position can be told apart, so neither is used. */
    private readonly ambiguous: ReadonlySet<number> = new Set(),
  ) {}

  get size(): number {
    return this.positions.size;
  }

  /** The position the cursor holds for `channel`, if any. */
  position(channel: string): StreamPosition | undefined {
    const key = channelKey(channel);
    if (this.ambiguous.has(key)) return undefined;
    const position = this.positions.get(key);
    return position && { epoch: position.epoch, offset: position.offset };
  }
}

/** Decodes and checks `text`; throws HeraldError('bad_cursor') naming what is wrong. */
export function decodeCursor(text: string): Cursor {
  if (text.length > MAX_CURSOR_LENGTH) bad(`the cursor is longer than ${MAX_CURSOR_LENGTH} characters`);
  const bytes = fromBase64url(text);
  if (bytes.length < 6) bad('the cursor is truncated');
  const end = bytes.length - 4;
  const check = new Reader(bytes, bytes.length);
  check.at = end;
  if (check.u32() !== fnv1a(bytes, end)) bad('the cursor failed its integrity check');
  const r = new Reader(bytes, end);
  if (r.u8() !== VERSION) bad('unknown cursor version');
  const count = r.varint();
  const positions = new Map<number, StreamPosition>();
  const ambiguous = new Set<number>();
  for (let i = 0; i < count; i++) {
    const key = r.u32();
    const epochBytes = r.raw(r.u8());
    let epoch: string;
    try {
      epoch = strictUtf8.decode(epochBytes);
    } catch {
      return bad('the cursor holds an epoch that is not UTF-8');
    }
    const offset = r.varint();
    if (positions.has(key)) ambiguous.add(key);
    positions.set(key, { epoch, offset });
  }
  if (r.at !== end) bad('the cursor has trailing bytes');
  return new Cursor(positions, ambiguous);
}
