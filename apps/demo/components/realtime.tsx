'use client';

import { type ChannelListener, type ConnectionState, createClient, type HeraldClient } from '@herald/client';
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react';

const ClientContext = createContext<HeraldClient | null>(null);

/** A fresh connection token for the signed-in user (the page's session cookie goes along). */
async function fetchToken(): Promise<string | null> {
  const res = await fetch('/auth/token', { cache: 'no-store' });
  if (res.status === 401) return null;
  if (!res.ok) throw new Error(`token request failed: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * One Herald client for the whole app, connected as the signed-in user (or anonymously). It is created in
 * an effect, so StrictMode's double mount closes the first one instead of leaking it.
 */
export function RealtimeProvider({
  url,
  user,
  children,
}: {
  url: string;
  user: string | null;
  children: ReactNode;
}) {
  const [client, setClient] = useState<HeraldClient | null>(null);
  useEffect(() => {
    const created = createClient({ url, getToken: user ? fetchToken : undefined });
    setClient(created);
    return () => created.close();
  }, [url, user]);
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

/** The app's client; null during the first render. */
export function useHeraldClient(): HeraldClient | null {
  return useContext(ClientContext);
}

export function useConnectionState(): ConnectionState | null {
  const client = useHeraldClient();
  const [state, setState] = useState<ConnectionState | null>(null);
  useEffect(() => {
    if (!client) return;
    setState(client.state);
    return client.on('state', setState);
  }, [client]);
  return state;
}

export function ConnectionBadge() {
  const state = useConnectionState();
  const label = !state
    ? 'starting'
    : state.status === 'connected'
      ? `connected · ${state.transport}`
      : state.status === 'disconnected' && state.reconnect
        ? 'reconnecting…'
        : state.status;
  return (
    <span
      className={`badge badge-${state?.status ?? 'connecting'}`}
      data-testid="connection-state"
      data-status={state?.status}
    >
      {label}
    </span>
  );
}

/**
 * Subscribes while mounted (and while `channel` is not null); the latest `listener` is always the one
 * called, so passing a fresh object each render does not resubscribe.
 */
export function useChannel(channel: string | null, listener: ChannelListener): void {
  const client = useHeraldClient();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => {
    if (!client || !channel) return;
    const subscription = client.subscribe(channel, {
      onPublication: (pub) => latest.current.onPublication?.(pub),
      onSubscribed: (event) => latest.current.onSubscribed?.(event),
      onReset: (event) => latest.current.onReset?.(event),
      onError: (error) => latest.current.onError?.(error),
      onJoin: (member) => latest.current.onJoin?.(member),
      onLeave: (member) => latest.current.onLeave?.(member),
    });
    return () => subscription.unsubscribe();
  }, [client, channel]);
}
