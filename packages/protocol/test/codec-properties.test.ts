import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzParameters, fuzzRuns, generates, PROTOTYPE_NAMES } from '../../../test/support/fuzz.ts';
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

const TYPES = [
  'connect',
  'subscribe',
  'unsubscribe',
  'publish',
  'history',
  'presence',
  'refresh',
  'ping',
  'pong',
];
const FIELDS = [
  'id',
  'type',
  'token',
  'subs',
  'channel',
  'since',
  'data',
  'event',
  'idempotencyKey',
  'limit',
  'reverse',
];

const id = fc.maxSafeNat();
const text = fc.string({ unit: 'binary', maxLength: 80 });
const channel = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 });
const position = fc.record({ epoch: fc.string({ maxLength: 64 }), offset: fc.maxSafeNat() });
const subscribeOptions = fc.record(
  { since: position, token: fc.string({ maxLength: 200 }) },
  { requiredKeys: [] },
);
const eventName = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 64 })
  .filter((e) => e !== 'herald' && /^\P{Cc}{1,64}$/u.test(e));

/** Every command the protocol accepts, with each optional field present or not. */
const validCommand = fc.oneof(
  fc.record(
    {
      id,
      type: fc.constant('connect'),
      token: fc.string({ maxLength: 200 }),
      subs: fc.dictionary(channel, subscribeOptions, { maxKeys: 5 }),
    },
    { requiredKeys: ['id', 'type'] },
  ),
  fc.record(
    { id, type: fc.constant('subscribe'), channel, since: position, token: fc.string({ maxLength: 200 }) },
    { requiredKeys: ['id', 'type', 'channel'] },
  ),
  fc.record({ id, type: fc.constant('unsubscribe'), channel }),
  fc.record(
    {
      id,
      type: fc.constant('publish'),
      channel,
      data: fc.jsonValue({ maxDepth: 4 }),
      event: eventName,
      idempotencyKey: fc.string({ maxLength: 256 }),
    },
    { requiredKeys: ['id', 'type', 'channel', 'data'] },
  ),
  fc.record(
    {
      id,
      type: fc.constant('history'),
      channel,
      since: position,
      limit: fc.maxSafeNat(),
      reverse: fc.boolean(),
    },
    { requiredKeys: ['id', 'type', 'channel'] },
  ),
  fc.record({ id, type: fc.constant('presence'), channel }),
  fc.record({ id, type: fc.constant('refresh'), token: fc.string({ minLength: 1, maxLength: 200 }) }),
  fc.record({ id, type: fc.constant('ping') }),
  fc.record({ type: fc.constant('pong') }),
);

/** Any JSON value, biased towards what breaks validators: huge and fractional numbers, deep nesting. */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(1e308, -1, 2 ** 53, 0.5, -0, null, '', [], {}, 'herald', '\n', '\u0000'),
  fc
    .integer({ min: 1, max: 200 })
    .map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown),
  fc.constantFrom(...PROTOTYPE_NAMES),
);

/** A valid command with one field added, removed or given a hostile value. */
const mutatedCommand = fc
  .tuple(validCommand, fc.constantFrom(...FIELDS), hostileValue, fc.boolean())
  .map(([command, field, value, remove]) => {
    const copy: Record<string, unknown> = { ...command };
    if (remove) delete copy[field];
    else copy[field] = value;
    return copy;
  })
  .filter((c) => generates('prototype-command-type') || !PROTOTYPE_NAMES.includes(c.type as string));

/** Command types and channel or subs names that name something every object inherits. */
const prototypeCommand = fc
  .tuple(validCommand, fc.constantFrom(...PROTOTYPE_NAMES))
  .map(([command, name]) => ({ ...command, type: name }));

const frames = fc.oneof(
  text,
  fc.json({ maxDepth: 4 }),
  validCommand.map((c) => JSON.stringify(c)),
  mutatedCommand.map((c) => JSON.stringify(c)),
  // A known type with any of the protocol's fields, each of any type.
  fc
    .tuple(fc.constantFrom(...TYPES), fc.dictionary(fc.constantFrom(...FIELDS), hostileValue))
    .map(([type, fields]) => JSON.stringify({ ...fields, type })),
  // Field names JSON.parse makes own properties, which a spread or `in` check may treat differently.
  fc
    .tuple(validCommand, fc.constantFrom(...PROTOTYPE_NAMES), hostileValue)
    .map(
      ([c, key, value]) =>
        `${JSON.stringify(c).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`,
    ),
  ...(generates('prototype-command-type') ? [prototypeCommand.map((c) => JSON.stringify(c))] : []),
);

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
        if (!(decoded instanceof HeraldError) && 'id' in decoded) expect(found).toBe(decoded.id);
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
        fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !FIELDS.includes(k)),
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
