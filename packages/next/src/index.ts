export { closeHub, getHub, type HubSource } from './hub.ts';
export {
  type BroadcastResult,
  createPublisher,
  type Publisher,
  type PublishOptions,
  type RemoteHub,
} from './publisher.ts';
export { type HeraldRoutesOptions, heraldRoutes, type RouteContext, type RouteHandler } from './routes.ts';
export { type ConnectionTokenOptions, connectionToken } from './token.ts';
export { verifyWebhook, WebhookVerificationError } from './webhook.ts';
