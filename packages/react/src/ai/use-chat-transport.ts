import type { HeraldClient } from '@herald/client';
import type { ChatTransport, UIMessage } from 'ai';
import { useEffect, useRef, useState } from 'react';
import { useHerald } from '../provider.tsx';
import { type HeraldChatTransportOptions, heraldChatTransport } from './chat-transport.ts';

/**
 * `heraldChatTransport` with the client of the nearest HeraldProvider, for
 * `useChat({ transport: useHeraldChatTransport({ channel }), resume: true })`. The transport stays the same
 * across renders (useChat keeps the first one it gets) and reads the latest options; its calls wait for the
 * provider's client, which exists only after mounting — when `resume` first asks for it.
 */
export function useHeraldChatTransport<Message extends UIMessage = UIMessage>(
  options: Omit<HeraldChatTransportOptions, 'client'>,
): ChatTransport<Message> {
  const client = useHerald();
  const latest = useRef(options);
  latest.current = options;
  const [held] = useState(heldClient);
  useEffect(() => held.set(client), [held, client]);
  const [transport] = useState(() =>
    heraldChatTransport<Message>({
      client: held.get,
      channel: (chatId) => {
        const { channel } = latest.current;
        return typeof channel === 'function' ? channel(chatId) : channel;
      },
      get api() {
        return latest.current.api;
      },
      headers: () => {
        const { headers } = latest.current;
        return (typeof headers === 'function' ? headers() : headers) ?? {};
      },
      get body() {
        return latest.current.body;
      },
      get fetch() {
        return latest.current.fetch;
      },
    }),
  );
  return transport;
}

/** The provider's current client, and a promise of it while there is none yet. */
function heldClient() {
  let current: HeraldClient | null = null;
  const waiters: Array<(client: HeraldClient) => void> = [];
  return {
    set(client: HeraldClient | null) {
      current = client;
      if (!client) return;
      for (const resolve of waiters.splice(0)) resolve(client);
    },
    get: (): HeraldClient | Promise<HeraldClient> =>
      current ?? new Promise<HeraldClient>((resolve) => waiters.push(resolve)),
  };
}
