import type { StandardSchemaV1 } from '@standard-schema/spec';
import { HeraldError } from './errors.ts';
import type { Publication } from './types.ts';

/** The events of one channel entry, each with the schema of its `data`. */
export type EventSchemas = { readonly [event: string]: StandardSchemaV1 };

/**
 * Channel entries by name or pattern: `chat:lobby` names one channel; `*` stands for one or more
 * characters other than `#`, so `chat:*` is every public channel of `chat` and `notifications:#*` every
 * private one (docs/auth.md).
 */
export type ChannelSchemas = { readonly [pattern: string]: EventSchemas };

/** A publication's data once checked: the schema's output, which is what gets published. */
export type Checked = { value: unknown };

/** What `defineChannels` returns: shared by the server (validation) and the client (types). */
export interface ChannelDefinitions<S extends ChannelSchemas = ChannelSchemas> {
  readonly schemas: S;
  /** The entry `channel` falls under (an exact name first, then the first pattern), or undefined. */
  entry(channel: string): EventSchemas | undefined;
  /**
   * Checks `data` of `event` on `channel` against its schema: undefined when no entry describes the
   * channel; otherwise the schema's output, or throws `invalid_event` (an event the entry has not) or
   * `invalid_data` naming the path of the first issue.
   */
  check(channel: string, event: string | undefined, data: unknown): Checked | undefined | Promise<Checked>;
}

/**
 * One schema of channels and their events, for server and client alike:
 *
 * ```ts
 * export const channels = defineChannels({
 *   'chat:*': { message: z.object({ text: z.string() }), typing: z.object({ user: z.string() }) },
 *   'notifications:#*': { notification: z.object({ text: z.string() }) },
 * });
 * ```
 *
 * Any Standard Schema validator works (zod, valibot, arktype). Pass it to `getHub({ channels })` and the
 * hub refuses a publication whose data does not match; to `createPublisher({ channels })` and
 * `createClient({ channels })` and their `publish` and `subscribe` are typed.
 */
export function defineChannels<const S extends ChannelSchemas>(schemas: S): ChannelDefinitions<S> {
  const exact = new Map<string, EventSchemas>();
  const patterns: Array<[RegExp, EventSchemas]> = [];
  for (const [key, events] of Object.entries(schemas)) {
    if (!key.includes('*')) exact.set(key, events);
    else patterns.push([patternRegExp(key), events]);
  }
  const entry = (channel: string) =>
    exact.get(channel) ?? patterns.find(([pattern]) => pattern.test(channel))?.[1];
  return {
    schemas,
    entry,
    check(channel, event, data) {
      const events = entry(channel);
      if (!events) return undefined;
      const schema = event !== undefined && Object.hasOwn(events, event) ? events[event] : undefined;
      if (!schema) throw unknownEvent(channel, event, Object.keys(events));
      const outcome = (result: StandardSchemaV1.Result<unknown>): Checked => {
        if (result.issues) throw invalidData(channel, event as string, result.issues[0]);
        return { value: result.value };
      };
      // Synchronous schemas (most) answer at once, so publications keep the order they were made in.
      const result = schema['~standard'].validate(data);
      return result instanceof Promise ? result.then(outcome) : outcome(result);
    },
  };
}

function patternRegExp(pattern: string): RegExp {
  const parts = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[^#]+')}$`);
}

/** `invalid_event` for an event a described channel has not. */
export function unknownEvent(channel: string, event: string | undefined, events: string[]): HeraldError {
  const named = event === undefined ? 'a publication without an event' : `event "${event}"`;
  return new HeraldError('invalid_event', `${channel} takes events ${events.join(', ')}, not ${named}`);
}

/** `invalid_data` naming the path of a schema's first issue (`items[2].name`, `(root)`). */
export function invalidData(
  channel: string,
  event: string,
  issue: { message: string; path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> },
): HeraldError {
  return new HeraldError(
    'invalid_data',
    `data of ${event} on ${channel} at ${issuePath(issue.path)}: ${issue.message}`,
  );
}

export function issuePath(path: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined): string {
  let text = '';
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' ? segment.key : segment;
    text += typeof key === 'number' ? `[${key}]` : `${text ? '.' : ''}${String(key)}`;
  }
  return text || '(root)';
}

// ---- types: what a channel name falls under, its events and their data

type Glob<K extends string> = K extends `${infer A}*${infer B}` ? `${A}${string}${Glob<B>}` : K;
type Private<N extends string> = N extends `${string}#${string}` ? true : false;

/** The entry key channel `N` falls under: its exact name, else the patterns it matches (`#` for `#`). */
export type ChannelKey<S extends ChannelSchemas, N extends string> = N extends keyof S
  ? N
  : {
      [K in keyof S & string]: N extends Glob<K> ? (Private<N> extends Private<K> ? K : never) : never;
    }[keyof S & string];

/** Every channel name `S` describes, as template literal types (`chat:${string}`). */
export type ChannelName<S extends ChannelSchemas> = { [K in keyof S & string]: Glob<K> }[keyof S & string];

/** The event names of channel `N`. */
export type EventName<S extends ChannelSchemas, N extends string> = keyof S[ChannelKey<S, N>] & string;

/** What a publisher passes as `data` of event `E` on channel `N` (the schema's input). */
export type EventInput<
  S extends ChannelSchemas,
  N extends string,
  E extends string,
> = StandardSchemaV1.InferInput<S[ChannelKey<S, N>][E]>;

/** What a subscriber receives as `data` of event `E` on channel `N` (the schema's output). */
export type EventOutput<
  S extends ChannelSchemas,
  N extends string,
  E extends string,
> = StandardSchemaV1.InferOutput<S[ChannelKey<S, N>][E]>;

/** A publication of channel `N`: the union of its events, narrowed by `event`. */
export type TypedPublication<S extends ChannelSchemas, N extends string> = {
  [E in EventName<S, N>]: Omit<Publication, 'event' | 'data'> & { event: E; data: EventOutput<S, N, E> };
}[EventName<S, N>];

/** The schemas of a `defineChannels` result. */
export type SchemasOf<C> = C extends ChannelDefinitions<infer S> ? S : never;
