import type { Hub } from '@herald/server';
import { getHub, type HubSource, resolveHub } from './hub.ts';

/** A transport a browser can reach the hub on; the names `createClient({ transports })` takes. */
export type OfferedTransport = 'websocket' | 'sse' | 'poll';

// On globalThis under a Symbol.for key, like the hub itself: the custom server and every route bundle
// load their own copy of this module, and all of them must agree about the one hub.
const SLOT = Symbol.for('herald.next.websocket-hubs');
type Slot = { [SLOT]?: WeakSet<Hub> };

function webSocketHubs(): WeakSet<Hub> {
  const slot = globalThis as Slot;
  slot[SLOT] ??= new WeakSet();
  return slot[SLOT];
}

/** Whether this process serves `hub`'s WebSocket upgrades (`startNextServer` says so while it runs). */
export function servesWebSocket(hub: Hub, serving: boolean): void {
  if (serving) webSocketHubs().add(hub);
  else webSocketHubs().delete(hub);
}

/**
 * The transports a browser can reach `hub` on through this Next.js server, in the client's order of
 * preference: WebSocket only while `startNextServer` serves its upgrades in this process, then SSE and
 * long-polling (the route handlers, always). Given to `<HeraldProvider transports>` from a Server Component,
 * it spares browsers on hosts without upgrades (`next start`, serverless) a WebSocket attempt that must
 * fail, and that the browser console would show. It makes the page render per request (`connection()`):
 * a build knows nothing of the server that will run it.
 */
export async function offeredTransports(hub: HubSource = getHub): Promise<OfferedTransport[]> {
  // Loaded here, not at the top: outside a Next.js server (a custom server starting up, a script) the
  // module throws as it loads, for want of Next.js's request storage.
  const { connection } = await import('next/server.js');
  await connection();
  return webSocketHubs().has(await resolveHub(hub)) ? ['websocket', 'sse', 'poll'] : ['sse', 'poll'];
}
