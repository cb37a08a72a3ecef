import { isWebhookEventType, type WebhookEvent } from '@herald/protocol';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export { WebhookVerificationError };

/**
 * Checks a Herald webhook request (Standard Webhooks: `webhook-id`, `webhook-timestamp` within five
 * minutes, `webhook-signature` made with `secret`, the `whsec_…` of the hub's `webhooks` entry) and
 * returns its event, typed: narrow it on `type`. Throws `WebhookVerificationError` for a bad or stale
 * signature or a body that is not a Herald event; answer those 400 or 401. Reads the request's body.
 *
 * ```ts
 * // app/api/herald-events/route.ts
 * export async function POST(request: Request) {
 *   const event = await verifyWebhook(request, process.env.HERALD_WEBHOOK_SECRET!);
 *   if (event.type === 'presence.joined') markOnline(event.data.member.user);
 *   return new Response(null, { status: 204 });
 * }
 * ```
 */
export async function verifyWebhook(request: Request, secret: string): Promise<WebhookEvent> {
  const body = await request.text();
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'])
    headers[name] = request.headers.get(name) ?? '';
  const payload = new Webhook(secret).verify(body, headers) as Partial<WebhookEvent> | null;
  if (
    typeof payload !== 'object' ||
    payload === null ||
    !isWebhookEventType(payload.type) ||
    typeof payload.timestamp !== 'string' ||
    typeof payload.data !== 'object' ||
    payload.data === null
  ) {
    throw new WebhookVerificationError('the body is not a Herald webhook event');
  }
  return payload as WebhookEvent;
}
