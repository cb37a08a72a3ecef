import { act, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import WebSocket from 'ws';
import { memoryOutboxStore } from '../../client/src/index.ts';
import type { WebSocketConstructor } from '../../client/src/transports/websocket.ts';
import type { TestHub } from '../../server/test/support/hub.ts';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** What every test provider gets: `ws` (Node 20 has no WebSocket), quick reconnects, a memory outbox. */
export const testClientOptions = () => ({
  WebSocket: WebSocket as unknown as WebSocketConstructor,
  reconnectDelay: { min: 20, max: 200 },
  outbox: { store: memoryOutboxStore() },
});

export interface Mounted {
  container: HTMLElement;
  render(element: ReactNode): Promise<void>;
  unmount(): Promise<void>;
  text(): string;
}

/** A real React root in the DOM shim; every render and unmount runs inside act. */
export async function mount(element: ReactNode): Promise<Mounted> {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root: Root = createRoot(container);
  let mounted = true;
  const mountedRoot: Mounted = {
    container,
    async render(next) {
      await act(async () => root.render(next));
    },
    async unmount() {
      if (!mounted) return;
      mounted = false;
      await act(async () => root.unmount());
      container.remove();
    },
    text: () => container.textContent ?? '',
  };
  await mountedRoot.render(element);
  return mountedRoot;
}

/** Lets React and the sockets work, inside act, until `check` holds. */
export async function waitFor(check: () => boolean, message: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${message}`);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 10));
    });
  }
}

/**
 * Publishes in the hub's process. (The DOM shim's fetch applies browser CORS rules, and the server API is
 * not meant for browsers.)
 */
export function publish(hub: TestHub, channel: string, data: unknown, event?: string) {
  return hub.server.hub.publish(channel, { data, event });
}
