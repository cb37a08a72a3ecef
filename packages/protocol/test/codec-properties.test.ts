import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMAND_FIELDS, commandArbitraries } from '../../../test/support/commands.ts';
import { fuzzParameters, fuzzRuns } from '../../../test/support/fuzz.ts';
import { type DecodedFrame, decodeCommand, decodeFrame, validateCommand } from '../src/codec.ts';
import { HeraldError } from '../src/errors.ts';

/** The codes a frame that is not a valid command may get from the codec, and nothing else. */
const DECODE_CODES = new Set([
  'bad_json',
  'bad_request',
  'unknown_command',
  'invalid_event',
  'too_many_subscriptions',
]);

/** Decodes `text` (decodeFrame never throws: a throw fails the property) and checks a refusal's code. */
function decode(text: string, maxSubs?: number): DecodedFrame {
  const decoded = decodeFrame(text, { maxSubs });
  if ('error' in decoded) {
    expect(decoded.error).toBeInstanceOf(HeraldError);
    expect(DECODE_CODES).toContain(decoded.error.code);
    expect(decoded.error.message).not.toBe('');
  }
  return decoded;
}

/** The frame's `id` as a reply must echo it: a safe integer at the top of a JSON object, else none. */
function idOf(text: string): number | undefined {
  try {
    const value = JSON.parse(text);
    if (typeof value === 'object' && value !== null && Number.isSafeInteger(value.id)) return value.id;
  } catch {
    // not JSON: no id
  }
  return undefined;
}

const { valid: validCommand, frames } = commandArbitraries();

describe('command codec, for any input', () => {
  it('decodes or refuses with a decoding code, never throwing', () => {
    fc.assert(
      fc.property(frames, fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), (frame, maxSubs) => {
        decode(frame, maxSubs);
      }),
      fuzzParameters(fuzzRuns(3_000, 200_000)),
    );
  });

  it('validates any JS value without throwing anything but a HeraldError', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 3 }), (value) => {
        try {
          validateCommand(value);
        } catch (err) {
          expect(err).toBeInstanceOf(HeraldError);
          expect(DECODE_CODES).toContain((err as HeraldError).code);
        }
      }),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });

  it('finds the id of any frame that has a safe-integer one, so a refusal can still be matched', () => {
    fc.assert(
      fc.property(frames, (frame) => {
        const decoded = decode(frame);
        expect(decoded.id).toBe(idOf(frame));
        // A pong's id is never read, so it may be anything; every other command's is a safe integer.
        if ('command' in decoded && decoded.command.type !== 'pong')
          expect(decoded.id).toBe(decoded.command.id);
      }),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });
});

describe('command codec, for valid commands', () => {
  it('round-trips every command through JSON unchanged', () => {
    fc.assert(
      fc.property(validCommand, (command) => {
        const text = JSON.stringify(command);
        // What JSON itself changes (-0 becomes 0) is not the codec's doing.
        expect(decodeCommand(text)).toEqual(JSON.parse(text));
      }),
      fuzzParameters(fuzzRuns(2_000, 100_000)),
    );
  });

  it('refuses a valid command with an unexpected field, naming the field', () => {
    fc.assert(
      fc.property(
        validCommand,
        fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !COMMAND_FIELDS.includes(k)),
        (command, key) => {
          const decoded = decode(JSON.stringify({ ...command, [key]: 1 }));
          expect('error' in decoded && decoded.error.code).toBe('bad_request');
          expect('error' in decoded && decoded.error.message).toContain('unexpected field');
        },
      ),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });

  it('refuses a connect whose subs name more channels than the limit, and only that', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.constant({}), { maxKeys: 8 }),
        fc.integer({ min: 1, max: 6 }),
        (subs, maxSubs) => {
          const decoded = decode(JSON.stringify({ id: 1, type: 'connect', subs }), maxSubs);
          const over = Object.keys(subs).length > maxSubs;
          expect('error' in decoded ? decoded.error.code : 'accepted').toBe(
            over ? 'too_many_subscriptions' : 'accepted',
          );
        },
      ),
      fuzzParameters(fuzzRuns(500, 20_000)),
    );
  });
});
