import { createPublisher, getHub } from '@herald/next';
import type { HeraldConfigInput } from '@herald/server';
import hubConfig from '../herald.json' with { type: 'json' };
import { channels } from './channels.ts';
import { webhookEndpoint } from './online.ts';
import { apiKey, tokenSecret } from './secrets.ts';

/**
 * The embedded hub with the demo's namespaces (`herald.json`, which `herald serve --config` reads too).
 * Its secrets come from the environment, so they are settled before it is created.
 */
export function demoHub() {
  tokenSecret();
  apiKey();
  // Lifecycle webhooks to the app's own route: they drive "online now" (lib/online.ts).
  return getHub({
    config: { ...(hubConfig as HeraldConfigInput), webhooks: [webhookEndpoint()] },
    channels,
  });
}

/** Whether the demo talks to a standalone hub (`HERALD_URL`) rather than its embedded one. */
export const standaloneHub = Boolean(process.env.HERALD_URL);

/** Server-side publishing: the embedded hub, or a standalone one when `HERALD_URL` is set. */
export const herald = createPublisher(standaloneHub ? undefined : { hub: demoHub });

/** Where browsers reach the hub: this app's route handlers, or `HERALD_PUBLIC_URL` for a standalone hub. */
export const publicHubUrl = process.env.HERALD_PUBLIC_URL ?? '/realtime';
