import { HeraldError } from './errors.ts';
import type { Command, StreamPosition } from './types.ts';

/** A Map, not an object: a `type` such as `constructor` must not find Object.prototype's. */
const COMMAND_FIELDS = new Map<string, readonly string[]>([
  ['connect', ['token', 'subs']],
  ['subscribe', ['channel', 'since', 'token']],
  ['unsubscribe', ['channel']],
  ['publish', ['channel', 'data', 'event', 'idempotencyKey']],
  ['history', ['channel', 'since', 'limit', 'reverse']],
  ['presence', ['channel']],
  ['refresh', ['token']],
  ['ping', []],
  ['pong', []],
]);

/** Limits the hub applies while decoding, before any per-entry work. */
export interface DecodeLimits {
  /** Most channels `connect`'s `subs` may name; more: `too_many_subscriptions`. 0: unlimited. */
  maxSubs?: number;
}

type Json = Record<string, unknown>;

function fail(message: string): never {
  throw new HeraldError('bad_request', message);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(o: Json, key: string, maxLength = 1024): void {
  const v = o[key];
  if (v === undefined) return;
  if (typeof v !== 'string') fail(`"${key}" must be a string`);
  if (v.length > maxLength) fail(`"${key}" is longer than ${maxLength} characters`);
}

function requiredString(o: Json, key: string): void {
  if (typeof o[key] !== 'string' || o[key] === '') fail(`"${key}" must be a non-empty string`);
}

export function parsePosition(v: unknown, field = 'since'): StreamPosition {
  if (!isObject(v)) fail(`"${field}" must be an object {epoch, offset}`);
  const { epoch, offset } = v;
  if (typeof epoch !== 'string' || epoch.length > 64) fail(`"${field}.epoch" must be a string`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    fail(`"${field}.offset" must be a non-negative integer`);
  }
  return { epoch, offset };
}

/** The SSE `event:` name Herald's own control events use; publications may not take it. */
export const CONTROL_EVENT = 'herald';

/**
 * Event names a publication may not take, because an SSE client would read them as something else:
 * `herald` is Herald's control event; a browser `EventSource` dispatches `error` and `open` events to
 * its own `onerror` and `onopen`, so a publication named so would pass for a broken or reopened stream.
 * (`message` is what a publication without a name is sent as, so it stays allowed.)
 */
const RESERVED_EVENTS = new Set([CONTROL_EVENT, 'error', 'open']);

/**
 * A publication's event name travels as the SSE `event:` field, so it is 1-64 characters without
 * control characters (a line break would forge SSE fields), and not a reserved name. Throws `invalid_event`.
 */
export function checkEventName(v: unknown): string {
  if (typeof v !== 'string' || !/^\P{Cc}{1,64}$/u.test(v)) {
    throw new HeraldError('invalid_event', '"event" must be 1-64 characters without control characters');
  }
  if (RESERVED_EVENTS.has(v)) {
    throw new HeraldError(
      'invalid_event',
      `"event" may not be "${v}": SSE clients reserve it (reserved: ${[...RESERVED_EVENTS].join(', ')})`,
    );
  }
  return v;
}

function checkSubscribeOptions(o: Json, where: string): void {
  if (o.since !== undefined) parsePosition(o.since, `${where}since`);
  optionalString(o, 'token', 8192);
}

/**
 * Validates one decoded command. Throws HeraldError('bad_request' | 'unknown_command') naming the problem;
 * the caller answers with the command's `id` when it has one.
 */
export function validateCommand(value: unknown, limits: DecodeLimits = {}): Command {
  if (!isObject(value)) fail('a command must be a JSON object');
  const type = value.type;
  if (typeof type !== 'string') fail('"type" must be a string');
  const fields = COMMAND_FIELDS.get(type);
  if (!fields) throw new HeraldError('unknown_command', `unknown command type "${type.slice(0, 40)}"`);
  if (type !== 'pong' && (typeof value.id !== 'number' || !Number.isSafeInteger(value.id))) {
    fail('"id" must be an integer');
  }
  for (const key of Object.keys(value)) {
    if (key !== 'id' && key !== 'type' && !fields.includes(key))
      fail(`unexpected field "${key.slice(0, 40)}" in ${type}`);
  }
  if (fields.includes('channel')) requiredString(value, 'channel');
  switch (type) {
    case 'connect':
      optionalString(value, 'token', 8192);
      if (value.subs !== undefined) {
        if (!isObject(value.subs)) fail('"subs" must be an object of channel -> {since?, token?}');
        checkSubsCount(value.subs, limits.maxSubs ?? 0);
        for (const [channel, opts] of Object.entries(value.subs)) {
          if (!isObject(opts)) fail(`"subs.${channel.slice(0, 40)}" must be an object`);
          checkSubscribeOptions(opts, `subs.${channel.slice(0, 40)}.`);
        }
      }
      break;
    case 'subscribe':
      checkSubscribeOptions(value, '');
      break;
    case 'publish':
      if (!Object.hasOwn(value, 'data')) fail('"data" is required');
      if (value.event !== undefined) checkEventName(value.event);
      optionalString(value, 'idempotencyKey', 256);
      break;
    case 'history':
      if (value.since !== undefined) parsePosition(value.since);
      if (value.limit !== undefined && (!Number.isSafeInteger(value.limit) || (value.limit as number) < 0)) {
        fail('"limit" must be a non-negative integer');
      }
      if (value.reverse !== undefined && typeof value.reverse !== 'boolean')
        fail('"reverse" must be a boolean');
      break;
    case 'refresh':
      requiredString(value, 'token');
      break;
  }
  return value as unknown as Command;
}

/** Refuses `subs` naming more than `max` channels, counting no further than that. */
function checkSubsCount(subs: Json, max: number): void {
  if (max <= 0) return;
  let count = 0;
  for (const _ in subs) {
    if (++count > max) {
      throw new HeraldError('too_many_subscriptions', `"subs" may name at most ${max} channels`);
    }
  }
}

/**
 * One text frame, decoded: its command, or why it was refused. Either way `id` is the frame's integer
 * `id` when it has one, so a refusal can still be matched to its command.
 */
export type DecodedFrame = { command: Command; id?: number } | { error: HeraldError; id?: number };

/** Decodes one text frame, parsing it once; never throws. */
export function decodeFrame(text: string, limits: DecodeLimits = {}): DecodedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: new HeraldError('bad_json', 'frame is not valid JSON') };
  }
  const id =
    isObject(value) && typeof value.id === 'number' && Number.isSafeInteger(value.id) ? value.id : undefined;
  try {
    return { command: validateCommand(value, limits), id };
  } catch (err) {
    return { error: err as HeraldError, id };
  }
}

/** Decodes one text frame. Throws HeraldError('bad_json') when it is not JSON, or the refusal. */
export function decodeCommand(text: string, limits: DecodeLimits = {}): Command {
  const decoded = decodeFrame(text, limits);
  if ('error' in decoded) throw decoded.error;
  return decoded.command;
}
