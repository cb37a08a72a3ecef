export { ConfigAuthenticator } from './auth/config-authenticator.ts';
export { createBroker } from './brokers/create-broker.ts';
export { MemoryBroker } from './brokers/memory-broker.ts';
export { RedisBroker, type RedisBrokerOptions } from './brokers/redis-broker.ts';
export {
  ConfigError,
  type HeraldConfig,
  type HeraldConfigInput,
  type NamespaceOptions,
  parseConfig,
} from './config.ts';
export { configFromEnv } from './config-sources.ts';
export type {
  Authenticator,
  ConnectContext,
  Credentials,
  Identity,
  SubscriptionRequest,
} from './core/auth.ts';
export type {
  Broker,
  BrokerHandlers,
  HistoryPage,
  HistoryQuery,
  PublishOptions,
  PublishOutcome,
} from './core/broker.ts';
export { validateChannelName } from './core/channel-name.ts';
export type { HubCore, HubParts, PublishInput } from './core/hub.ts';
export type { LifecycleEvent, LifecycleListener } from './core/lifecycle.ts';
export type { Logger } from './core/logger.ts';
export type { Session, SessionSink } from './core/session.ts';
export type { Sink } from './core/sink.ts';
export { callApi } from './http/api.ts';
export { handleRequest, routes } from './http/routes.ts';
export { answerClientErrors, replyOnSocket } from './http/socket-reply.ts';
export { Hub, type HubOptions } from './hub.ts';
export { createHub, HeraldServer, type HeraldServerOptions } from './server.ts';
export { POLL_PATH, type PollTransport } from './transports/http/poll.ts';
export { SSE_PATH, type SseTransport } from './transports/http/sse.ts';
export type { HttpTransports } from './transports/http/transports.ts';
export { WEBSOCKET_PATH, WebSocketTransport } from './transports/websocket.ts';
