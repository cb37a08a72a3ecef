/**
 * fast-check generators for Herald's WebSocket commands: valid ones, and valid ones made wrong in every
 * way a client could. Shared by the codec's properties and the hub fuzzer, which passes the channel
 * names and tokens that mean something to its hub.
 */
import fc from 'fast-check';
import { PROTOTYPE_NAMES } from './fuzz.ts';

/** Event names an SSE client reads as its own (protocol.md, Messages): publications may not take them. */
const RESERVED_EVENTS = ['herald', 'error', 'open'];

export const COMMAND_TYPES = [
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
export const COMMAND_FIELDS = [
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

/** Any JSON value, biased towards what breaks validators: huge and fractional numbers, deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    1e308,
    -1,
    2 ** 53,
    0.5,
    -0,
    null,
    '',
    [],
    {},
    'herald',
    'error',
    'open',
    'message',
    '\n',
    '\u0000',
  ),
  fc.integer({ min: 1, max: 200 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth))),
  fc.constantFrom(...PROTOTYPE_NAMES),
);

export interface CommandVocabulary {
  /** Channel names: any string for the codec, names that mean something for a hub. */
  channel?: fc.Arbitrary<string>;
  /** Tokens: any string for the codec, real ones (valid, expired, for other channels) for a hub. */
  token?: fc.Arbitrary<string>;
  /** Stream positions in `since`. */
  epoch?: fc.Arbitrary<string>;
}

export interface CommandArbitraries {
  /** Every command the protocol accepts, with each optional field present or not. */
  valid: fc.Arbitrary<Record<string, unknown>>;
  /** A valid command with one field added, removed or given a hostile value. */
  mutated: fc.Arbitrary<Record<string, unknown>>;
  /** Text frames: valid, mutated, or not commands at all. */
  frames: fc.Arbitrary<string>;
}

export function commandArbitraries(vocabulary: CommandVocabulary = {}): CommandArbitraries {
  const id = fc.maxSafeNat();
  const channel = vocabulary.channel ?? fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 });
  const token = vocabulary.token ?? fc.string({ maxLength: 200 });
  const position = fc.record({
    epoch: vocabulary.epoch ?? fc.string({ maxLength: 64 }),
    offset: fc.oneof(fc.nat(100), fc.maxSafeNat()),
  });
  const subscribeOptions = fc.record({ since: position, token }, { requiredKeys: [] });
  const eventName = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 64 })
    .filter((e) => !RESERVED_EVENTS.includes(e) && /^\P{Cc}{1,64}$/u.test(e));

  const valid: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
    fc.record(
      {
        id,
        type: fc.constant('connect'),
        token,
        subs: fc.dictionary(channel, subscribeOptions, { maxKeys: 5 }),
      },
      { requiredKeys: ['id', 'type'] },
    ),
    fc.record(
      { id, type: fc.constant('subscribe'), channel, since: position, token },
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
        limit: fc.oneof(fc.nat(100), fc.maxSafeNat()),
        reverse: fc.boolean(),
      },
      { requiredKeys: ['id', 'type', 'channel'] },
    ),
    fc.record({ id, type: fc.constant('presence'), channel }),
    fc.record({ id, type: fc.constant('refresh'), token: token.filter((t) => t !== '') }),
    fc.record({ id, type: fc.constant('ping') }),
    fc.record({ type: fc.constant('pong') }),
  );

  const mutated = fc
    .tuple(valid, fc.constantFrom(...COMMAND_FIELDS), hostileValue, fc.boolean())
    .map(([command, field, value, remove]) => {
      const copy: Record<string, unknown> = { ...command };
      if (remove) delete copy[field];
      else copy[field] = value;
      return copy;
    });

  const frames = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.json({ maxDepth: 4 }),
    valid.map((c) => JSON.stringify(c)),
    mutated.map((c) => JSON.stringify(c)),
    // A known type with any of the protocol's fields, each of any type.
    fc
      .tuple(
        fc.constantFrom(...COMMAND_TYPES),
        fc.dictionary(fc.constantFrom(...COMMAND_FIELDS), hostileValue),
      )
      .map(([type, fields]) => JSON.stringify({ ...fields, type })),
    // Field names JSON.parse makes own properties, which a spread or `in` check may treat differently.
    fc
      .tuple(valid, fc.constantFrom(...PROTOTYPE_NAMES), hostileValue)
      .map(
        ([c, key, value]) =>
          `${JSON.stringify(c).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`,
      ),
    // Command types every object inherits: a lookup that walks the prototype finds them.
    fc.tuple(valid, fc.constantFrom(...PROTOTYPE_NAMES)).map(([c, type]) => JSON.stringify({ ...c, type })),
  );

  return { valid, mutated, frames };
}
