'use client';

import { type ClientOptions, createClient, type HeraldClient } from '@herald/client';
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react';

const HeraldContext = createContext<HeraldClient | null>(null);

export type HeraldProviderProps =
  | {
      /** A client you created and close yourself (e.g. a module singleton). */
      client: HeraldClient;
      children?: ReactNode;
    }
  | (Omit<ClientOptions, 'url'> & {
      /** The hub's base URL. Default `/realtime`: the hub mounted in this Next.js app (same origin). */
      url?: string;
      client?: undefined;
      children?: ReactNode;
    });

/** Where `heraldRoutes` and `startNextServer` mount the hub in a Next.js app. */
const DEFAULT_HUB_URL = '/realtime';

/**
 * Makes a Herald client available to the hooks below it. Given `client`, it uses that one; otherwise it
 * creates one from the client options (`url`, default `/realtime`; `getToken`…) after mounting (never
 * during server rendering), keeps it while `url` stays the same, and closes it on unmount. `getToken` may
 * change between renders: the latest one is called.
 */
export function HeraldProvider(props: HeraldProviderProps): ReactNode {
  const { children, client: given, ...options } = props;
  const latest = useRef(options as Partial<ClientOptions>);
  latest.current = options as Partial<ClientOptions>;
  const [owned, setOwned] = useState<HeraldClient | null>(null);
  const url = given ? undefined : (latest.current.url ?? DEFAULT_HUB_URL);

  useEffect(() => {
    if (url === undefined) return;
    const { getToken, ...rest } = latest.current;
    const client = createClient({
      ...rest,
      url,
      getToken: getToken ? () => (latest.current.getToken ?? getToken)() : undefined,
      autoConnect: false,
    });
    // Connecting after this tick means StrictMode's immediate unmount closes it before any socket opens.
    const start = setTimeout(() => {
      if (latest.current.autoConnect !== false) client.connect();
    }, 0);
    setOwned(client);
    return () => {
      clearTimeout(start);
      client.close();
      setOwned((current) => (current === client ? null : current));
    };
  }, [url]);

  return <HeraldContext.Provider value={given ?? owned}>{children}</HeraldContext.Provider>;
}

/** The client of the nearest HeraldProvider; null before it has one (server rendering, first render). */
export function useHerald(): HeraldClient | null {
  return useContext(HeraldContext);
}
