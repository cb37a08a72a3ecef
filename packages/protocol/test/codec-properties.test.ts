import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMAND_FIELDS, commandArbitraries } from '../../../test/support/commands.ts';
import { fuzzParameters, fuzzRuns } from '../../../test/support/fuzz.ts';
import { commandIdOf, decodeCommand, validateCommand } from '../src/codec.ts';
import { HeraldError } from '../src/errors.ts';

/** The codes a frame that is not a valid command may get from the codec, and nothing else. */
const DECODE_CODES = new Set(['bad_json', 'bad_request', 'unknown_command']);

/** Decodes `text`: the command, or the HeraldError it was refused with; any other throw fails the property. */
function decodeOrRefusal(text: string): ReturnType<typeof decodeCommand> | HeraldError {
  try {
    return decodeCommand(text);
  } catch (err) {
    if (!(err instanceof HeraldError)) throw err;
    expect(DECODE_CODES).toContain(err.code);
    expect(err.message).not.toBe('');
    return err;
  }
}

const { valid: validCommand, frames } = commandArbitraries();

describe('command codec, for any input', () => {
  it('decodes or refuses with bad_json, bad_request or unknown_command, never another exception', () => {
    fc.assert(
      fc.property(frames, (frame) => {
        decodeOrRefusal(frame);
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
        const found = commandIdOf(frame);
        const decoded = decodeOrRefusal(frame);
        // A pong's id is never read, so it may be anything; every other command's is a safe integer.
        if (!(decoded instanceof HeraldError) && decoded.type !== 'pong') expect(found).toBe(decoded.id);
        if (found !== undefined) expect(Number.isSafeInteger(found)).toBe(true);
      }),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });
});

describe('command codec, for valid commands', () => {
  it('round-trips every command through JSON unchanged', () => {
    fc.assert(
      fc.property(validCommand, (command) => {
        expect(decodeCommand(JSON.stringify(command))).toEqual(command);
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
          const refusal = decodeOrRefusal(JSON.stringify({ ...command, [key]: 1 }));
          expect(refusal).toBeInstanceOf(HeraldError);
          expect((refusal as HeraldError).code).toBe('bad_request');
        },
      ),
      fuzzParameters(fuzzRuns(1_000, 50_000)),
    );
  });
});
