import { createHmac, randomUUID } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the HMAC-SHA256 of
 * `"<id>.<timestamp>.<body>"` with the secret's bytes (the base64 after `whsec_`), sent as `v1,<base64>`.
 * Receivers check it with the spec's libraries (the `standardwebhooks` npm package, `verifyWebhook` of
 * `@herald/next`).
 */
export class WebhookSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  }

  /** The three headers of one attempt; `timestamp` is its time in Unix seconds (receivers refuse stale ones). */
  headers(id: string, timestamp: number, body: string): Record<string, string> {
    const signature = createHmac('sha256', this.key).update(`${id}.${timestamp}.${body}`).digest('base64');
    return {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': `v1,${signature}`,
    };
  }
}

/** A new event's `webhook-id`: unique per event, the same on every retry and for every endpoint. */
export function newWebhookId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}
