export { defineChannels } from '@herald/protocol';
export { closeHub, getHub, type HubSource } from './hub.ts';
export {
  type BroadcastResult,
  createPublisher,
  type Publisher,
  type PublisherTarget,
  type PublishOptions,
  type RemoteHub,
  type TypedPublisher,
  type TypedPublishOptions,
} from './publisher.ts';
export { publishAndRevalidate, type RevalidateOptions } from './revalidate.ts';
export { type HeraldRoutesOptions, heraldRoutes, type RouteContext, type RouteHandler } from './routes.ts';
export { type ConnectionTokenOptions, connectionToken } from './token.ts';
export { type OfferedTransport, offeredTransports } from './transports.ts';
export { verifyWebhook, WebhookVerificationError } from './webhook.ts';
