'use client';

import type { StreamPosition } from '@herald/protocol';
import { useChannel } from '@herald/react';
import { useRouter } from 'next/navigation.js';
import { type ReactNode, useCallback, useEffect, useRef, useTransition } from 'react';

export interface LiveRefreshOptions {
  /**
   * Where the page's server data stood when it was rendered (`herald.history(channel, { limit: 0 })`
   * read before the data): publications made since then refresh the page too. Default: live from mount.
   */
  since?: StreamPosition;
  /** Called as each refresh starts. */
  onRefresh?(): void;
}

/**
 * Re-renders the page's Server Components (`router.refresh()`) when `channel` gets a publication. Bursts
 * coalesce: at most one refresh is in flight and one more is queued, however many publications arrive
 * meanwhile. The subscription resumes like every other across reconnects, so publications missed while
 * offline refresh the page when it is back; a resume history cannot cover (a reset) refreshes it too.
 * Needs a `<HeraldProvider>` above it.
 */
export function useLiveRefresh(
  channel: string | null | undefined,
  options: LiveRefreshOptions = {},
): { refreshing: boolean } {
  const router = useRouter();
  const [refreshing, startTransition] = useTransition();
  const state = useRef({ inFlight: false, queued: false });
  const latest = useRef(options);
  latest.current = options;

  const refresh = useCallback(() => {
    const current = state.current;
    if (current.inFlight) {
      current.queued = true;
      return;
    }
    current.inFlight = true;
    latest.current.onRefresh?.();
    // A transition stays pending until the refreshed Server Components have rendered: that is the end
    // of the refresh in flight.
    startTransition(() => router.refresh());
  }, [router]);

  useEffect(() => {
    const current = state.current;
    if (refreshing || !current.inFlight) return;
    current.inFlight = false;
    if (current.queued) {
      current.queued = false;
      refresh();
    }
  }, [refreshing, refresh]);

  useChannel(channel as string | null | undefined, refresh, { since: options.since, onReset: refresh });
  return { refreshing };
}

/** `useLiveRefresh` as an element for a Server Component page: `<LiveRefresh channel="orders:#42" />`. */
export function LiveRefresh({ channel, ...options }: LiveRefreshOptions & { channel: string }): ReactNode {
  useLiveRefresh(channel, options);
  return null;
}
