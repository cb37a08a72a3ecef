import { verifyWebhook, WebhookVerificationError } from '@herald/next';
import { herald } from '../../../lib/herald.ts';
import { applyWebhook, ROSTER, webhookSecret } from '../../../lib/online.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

/** The hub's lifecycle webhooks: presence in the lobby updates the app's store, which it then publishes. */
export async function POST(request: Request): Promise<Response> {
  try {
    const roster = applyWebhook(await verifyWebhook(request, webhookSecret()));
    if (roster) await herald.publish(ROSTER, roster);
    return new Response(null, { status: 204 });
  } catch (err) {
    if (err instanceof WebhookVerificationError) return new Response(null, { status: 401 });
    throw err; // a 500: the hub tries again
  }
}
