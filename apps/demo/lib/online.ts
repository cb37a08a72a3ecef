import { randomBytes } from 'node:crypto';
import type { WebhookEvent } from '@herald/protocol';

/** Being on the "online now" page puts a member in this channel's presence; the hub's webhooks say so. */
export const LOBBY = 'online:lobby';
/** Where the app publishes who is online, as its own store has it. */
export const ROSTER = 'online:roster';

export interface Roster {
  users: string[];
  guests: number;
}

const STORE = Symbol.for('herald.demo.online');

/**
 * The app's own record of who is online, kept from the hub's `presence.joined`/`presence.left` webhooks
 * (flap-damped: a reload or a reconnect within `presence.grace` changes nothing). On `globalThis`, because
 * Next.js loads this module once per route bundle.
 */
const global = globalThis as { [STORE]?: Map<string, string | null> };
global[STORE] ??= new Map();
const members = global[STORE];

/** Applies one webhook event; returns the new roster when it changed. */
export function applyWebhook(event: WebhookEvent): Roster | undefined {
  if (event.type !== 'presence.joined' && event.type !== 'presence.left') return undefined;
  if (event.data.channel !== LOBBY) return undefined;
  const { client, user } = event.data.member;
  if (event.type === 'presence.joined') members.set(client, user);
  else if (!members.delete(client)) return undefined;
  return roster();
}

export function roster(): Roster {
  const users = new Set<string>();
  let guests = 0;
  for (const user of members.values()) {
    if (user === null) guests++;
    else users.add(user);
  }
  return { users: [...users].sort(), guests };
}

/**
 * The secret the hub signs the demo's webhooks with: one per run, in `process.env` so the custom server
 * and every Next.js bundle agree (not `HERALD_WEBHOOK_SECRET`, which the hub reads with `HERALD_WEBHOOK_URL`
 * as an endpoint of its own).
 */
export function webhookSecret(): string {
  process.env.DEMO_WEBHOOK_SECRET ||= `whsec_${randomBytes(32).toString('base64')}`;
  return process.env.DEMO_WEBHOOK_SECRET;
}

/** The demo's own webhook route, on the port the server listens on. */
export function webhookEndpoint(): {
  url: string;
  secret: string;
  events: ['presence.joined', 'presence.left'];
  namespaces: ['online'];
} {
  const host = process.env.HOST ?? '127.0.0.1';
  const port = process.env.PORT ?? '3000';
  return {
    url: `http://${host}:${port}/api/herald-events`,
    secret: webhookSecret(),
    events: ['presence.joined', 'presence.left'],
    namespaces: ['online'],
  };
}
