/**
 * The lifecycle events a hub sends to the app's backend as signed webhooks (Standard Webhooks: headers
 * `webhook-id`, `webhook-timestamp`, `webhook-signature`; see docs/webhooks.md). Each body is one
 * `WebhookEvent`: `{type, timestamp, data}`.
 */

/** A presence member as webhooks report it. */
export interface WebhookMember {
  client: string;
  user: string | null;
  /** The connection token's `info` claim, when it had one. */
  info?: unknown;
}

/** `data` of each event type. */
export interface WebhookEventData {
  /** A client was let in (after authentication). */
  'client.connected': { client: string; user: string | null; transport: string; node: string };
  /**
   * A client's connection ended. `code`: its close code (4000-4999 Herald's, 1000-3999 the network's);
   * `reason: "node_lost"` when the node holding it died and a surviving node reports it.
   */
  'client.disconnected': {
    client: string;
    user: string | null;
    code: number;
    reason: string;
    durationMs: number;
  };
  'channel.subscribed': { channel: string; client: string; user: string | null };
  'channel.unsubscribed': { channel: string; client: string; user: string | null };
  /** The channel's first subscriber anywhere in the cluster. */
  'channel.occupied': { channel: string };
  /** The channel's last subscriber anywhere in the cluster is gone (for longer than `presence.grace`). */
  'channel.vacated': { channel: string };
  'presence.joined': { channel: string; member: WebhookMember };
  'presence.left': { channel: string; member: WebhookMember };
  /** A client published (sent only to endpoints whose `events` list `publication`). */
  publication: {
    channel: string;
    epoch: string;
    offset: number;
    data: unknown;
    event?: string;
    client: string;
    user: string | null;
  };
}

export type WebhookEventType = keyof WebhookEventData;

/** Every event type, in the order of the lifecycle. */
export const WEBHOOK_EVENT_TYPES = [
  'client.connected',
  'client.disconnected',
  'channel.subscribed',
  'channel.unsubscribed',
  'channel.occupied',
  'channel.vacated',
  'presence.joined',
  'presence.left',
  'publication',
] as const satisfies readonly WebhookEventType[];

/** One webhook body; narrow it on `type`. */
export type WebhookEvent = {
  [T in WebhookEventType]: {
    type: T;
    /** When the hub saw it happen, ISO 8601 (UTC). */
    timestamp: string;
    data: WebhookEventData[T];
  };
}[WebhookEventType];

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly unknown[]).includes(value);
}
