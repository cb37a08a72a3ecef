import type {
  ChannelName,
  ChannelSchemas,
  EventInput,
  EventName,
  HistoryResult,
  TypedPublication,
} from '@herald/protocol';
import type { HeraldClient, HistoryOptions, SubscribeOptions, Subscription } from './client.ts';
import type { PendingPublish, PublishOptions } from './outbox.ts';

/** Subscribe options whose publications are those of channel `N`, narrowed by `event`. */
export interface TypedSubscribeOptions<P> extends Omit<SubscribeOptions, 'onPublication'> {
  onPublication?(publication: P): void;
}

/** `PublishOptions` whose `event`, one of the channel's, is required. */
export type TypedClientPublishOptions<E extends string> = Omit<PublishOptions, 'event'> & { event: E };

/** History of channel `N`, its publications typed. */
export type TypedHistory<P> = Omit<HistoryResult, 'publications'> & { publications: P[] };

/**
 * A `HeraldClient` as `createClient({ channels })` returns it: the same client, its channels, events and
 * data typed by `defineChannels`. The hub, given the same channels, checks the data at run time.
 */
export interface TypedClient<S extends ChannelSchemas>
  extends Omit<HeraldClient, 'subscribe' | 'publish' | 'history' | 'presence' | 'position' | 'pending'> {
  subscribe<N extends ChannelName<S>>(
    channel: N,
    options?: TypedSubscribeOptions<TypedPublication<S, N>>,
  ): Subscription;
  publish<N extends ChannelName<S>, E extends EventName<S, N>>(
    channel: N,
    data: EventInput<S, N, E>,
    options: TypedClientPublishOptions<E>,
  ): PendingPublish;
  history<N extends ChannelName<S>>(
    channel: N,
    options?: HistoryOptions,
  ): Promise<TypedHistory<TypedPublication<S, N>>>;
  presence: HeraldClient['presence'];
  position: HeraldClient['position'];
  pending: HeraldClient['pending'];
}
