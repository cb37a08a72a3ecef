export { type ChannelDefinitions, defineChannels } from '@herald/protocol';
export type { ChannelListener, ChannelStatus, ResetEvent, SubscribedEvent } from './channel.ts';
export {
  type ClientOptions,
  createClient,
  HeraldClient,
  type HistoryOptions,
  type SubscribeOptions,
  type Subscription,
  type TransportName,
} from './client.ts';
export type { TokenSource } from './connection.ts';
export { type ClientErrorCode, HeraldClientError } from './errors.ts';
export type { ConnectionState } from './link.ts';
export type { OutboxMessage, OutboxState, PendingPublish, PublishOptions } from './outbox.ts';
export { indexedDbOutboxStore, memoryOutboxStore, type OutboxStore } from './outbox-store.ts';
export type { Transport, TransportConnection, TransportHandlers } from './transport.ts';
export type { FetchLike } from './transports/http.ts';
export { type PollTransportOptions, pollTransport } from './transports/poll.ts';
export { sseTransport } from './transports/sse.ts';
export { type WebSocketConstructor, type WebSocketLike, webSocketTransport } from './transports/websocket.ts';
export type {
  TypedClient,
  TypedClientPublishOptions,
  TypedHistory,
  TypedSubscribeOptions,
} from './typed-client.ts';
