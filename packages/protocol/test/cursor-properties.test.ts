import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzParameters, fuzzRuns } from '../../../test/support/fuzz.ts';
import { type Cursor, channelKey, decodeCursor, encodeCursor } from '../src/cursor.ts';
import { HeraldError } from '../src/errors.ts';

function decodeOrRefusal(text: string): Cursor | HeraldError {
  try {
    return decodeCursor(text);
  } catch (err) {
    if (!(err instanceof HeraldError)) throw err;
    expect(err.code).toBe('bad_cursor');
    return err;
  }
}

function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Bytes with the check a cursor ends with (FNV-1a, as cursor.ts documents), so they get past it. */
function sealed(body: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of body) hash = Math.imul(hash ^ byte, 0x01000193);
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, hash >>> 0);
  return toBase64url(out);
}

const epoch = fc.string({ unit: 'grapheme', maxLength: 60 });
const positions = fc.dictionary(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.record({ epoch, offset: fc.maxSafeNat() }),
  { maxKeys: 20 },
);

/** A valid cursor with one character replaced, some cut off or some added. */
const mangled = fc
  .tuple(positions, fc.nat(), fc.string({ maxLength: 4 }), fc.constantFrom('replace', 'cut', 'append'))
  .map(([p, at, extra, how]) => {
    const text = encodeCursor(p);
    const i = at % (text.length + 1);
    if (how === 'cut') return { positions: p, text: text.slice(0, i) };
    if (how === 'append') return { positions: p, text: text + extra };
    return { positions: p, text: text.slice(0, i) + extra + text.slice(i + 1) };
  });

describe('cursor codec, for any string', () => {
  it('decodes or refuses with bad_cursor, never another exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.stringMatching(/^[A-Za-z0-9_-]{0,200}$/),
          fc.uint8Array({ maxLength: 200 }).map(toBase64url),
          // Past the integrity check: the layout itself must be read defensively.
          fc.uint8Array({ maxLength: 200 }).map(sealed),
          fc.uint8Array({ maxLength: 100 }).map((rest) => sealed(Uint8Array.of(1, ...rest))),
          mangled.map((m) => m.text),
        ),
        (text) => {
          decodeOrRefusal(text);
        },
      ),
      fuzzParameters(fuzzRuns(3_000, 200_000)),
    );
  });

  it('refuses a cursor with a character changed, cut or added, unless its positions stay the same', () => {
    fc.assert(
      fc.property(mangled, ({ positions: p, text }) => {
        const decoded = decodeOrRefusal(text);
        // Replacing a character by itself, cutting nothing, or a change in the spare bits of the last
        // base64url character leave the bytes as they were: those decode, to the same positions.
        if (decoded instanceof HeraldError) return;
        const original = decodeCursor(encodeCursor(p));
        expect(decoded.size).toBe(original.size);
        for (const channel of Object.keys(p))
          expect(decoded.position(channel)).toEqual(original.position(channel));
      }),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });
});

describe('cursor codec, for valid positions', () => {
  it('round-trips the position of every channel', () => {
    fc.assert(
      fc.property(positions, (p) => {
        const cursor = decodeCursor(encodeCursor(p));
        const channels = Object.keys(p);
        expect(cursor.size).toBe(new Set(channels.map(channelKey)).size);
        for (const channel of channels) {
          const sharesKey = channels.some((c) => c !== channel && channelKey(c) === channelKey(channel));
          // Two channels with one key cannot be told apart: neither position is used.
          expect(cursor.position(channel)).toEqual(sharesKey ? undefined : p[channel]);
        }
      }),
      fuzzParameters(fuzzRuns(2_000, 100_000)),
    );
  });
});
