'use client';

import type { ConnectionState } from '@herald/client';
import { useCallback, useSyncExternalStore } from 'react';
import { useHerald } from './provider.tsx';

/** What the hooks report before a client exists (server rendering, the first render). */
const STARTING: ConnectionState = { status: 'connecting', transport: '' };

/** The connection's state, re-rendering on every change. */
export function useConnectionState(): ConnectionState {
  const client = useHerald();
  const subscribe = useCallback(
    (notify: () => void) => (client ? client.on('state', notify) : () => undefined),
    [client],
  );
  return useSyncExternalStore(
    subscribe,
    () => client?.state ?? STARTING,
    () => STARTING,
  );
}
