import type {
  ChannelDefinitions,
  ChannelName,
  ChannelSchemas,
  EventInput,
  EventName,
  Publication,
  TypedPublication,
} from '@herald/protocol';

/**
 * Types every hook by the app's channels once, where they are defined:
 *
 * ```ts
 * declare module '@herald/react' {
 *   interface Register { channels: typeof channels }
 * }
 * ```
 *
 * Then `useChannel`, `useStream` and `usePublish` take only the channels described, hand out their
 * publications narrowed by `event`, and publish only data of each event's shape. Without it they take any
 * channel and any data (`unknown`).
 */
// biome-ignore lint/suspicious/noEmptyInterface: apps add `channels` to it (declaration merging).
export interface Register {}

type Registered = Register extends { channels: ChannelDefinitions<infer S> } ? S : undefined;

/** A channel the hooks take: any string, or the registered channels' names. */
export type HookChannel = ChannelFor<Registered>;

/** What the hooks hand out of channel `N`: `Publication`, or the registered channel's, narrowed by `event`. */
export type HookPublication<N extends string> = PublicationFor<Registered, N>;

/** Publishing on channel `N` from a hook: any data, or each registered event's shape with its `event`. */
export type HookPublish<N extends string> = PublishFor<Registered, N>;

type ChannelFor<S> = S extends ChannelSchemas ? ChannelName<S> : string;
type PublicationFor<S, N extends string> = S extends ChannelSchemas ? TypedPublication<S, N> : Publication;
type PublishFor<S, N extends string> = S extends ChannelSchemas
  ? <E extends EventName<S, N>>(data: EventInput<S, N, E>, options: { event: E; id?: string }) => string
  : (data: unknown, options?: { event?: string; id?: string }) => string;
