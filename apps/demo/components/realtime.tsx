'use client';

import type { ClientOptions } from '@herald/client';
import { HeraldProvider, useConnectionState } from '@herald/react';
import type { ReactNode } from 'react';

/** A fresh connection token for the signed-in user (the session cookie goes along); null when signed out. */
async function fetchToken(): Promise<string | null> {
  const res = await fetch('/auth/token', { cache: 'no-store' });
  if (res.status === 401) return null;
  if (!res.ok) throw new Error(`token request failed: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * One Herald connection for the whole app, as the signed-in user or anonymous. Signing in or out makes a
 * new one (the `key`), so no connection outlives the identity it was opened with. `transports`: the ones
 * the server offers (default: all three, WebSocket first).
 */
export function Realtime({
  url,
  user,
  transports,
  children,
}: {
  url: string;
  user: string | null;
  transports?: ClientOptions['transports'];
  children: ReactNode;
}) {
  return (
    <HeraldProvider
      key={user ?? ''}
      url={url}
      getToken={user ? fetchToken : undefined}
      transports={transports}
    >
      {children}
    </HeraldProvider>
  );
}

export function ConnectionBadge() {
  const state = useConnectionState();
  const label =
    state.status === 'connected'
      ? `connected · ${state.transport}`
      : state.status === 'disconnected' && state.reconnect
        ? 'reconnecting…'
        : state.status;
  return (
    <span
      className={`badge badge-${state.status}`}
      data-testid="connection-state"
      data-status={state.status}
      title={state.status === 'disconnected' ? state.reason : undefined}
    >
      {label}
    </span>
  );
}
