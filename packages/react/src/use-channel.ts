'use client';

import type {
  ChannelStatus,
  HeraldClientError,
  ResetEvent,
  SubscribedEvent,
  SubscribeOptions,
} from '@herald/client';
import type { StreamPosition } from '@herald/protocol';
import { useEffect, useState } from 'react';
import { useHerald } from './provider.tsx';
import type { HookChannel, HookPublication } from './register.ts';
import { useLatest } from './use-latest.ts';

export interface UseChannelOptions {
  /** Continuity broke (history too short, stream reset): refetch what you built from the publications. */
  onReset?(event: ResetEvent): void;
  onSubscribed?(event: SubscribedEvent): void;
  onError?(error: HeraldClientError): void;
  /** Resume from a stored position instead of starting live. Read when the channel is subscribed. */
  since?: StreamPosition;
  /** Subscription token for channels that require one; the latest is used on every (re)subscribe. */
  getToken?: SubscribeOptions['getToken'];
}

export interface ChannelView {
  status: ChannelStatus | 'idle';
  error: HeraldClientError | undefined;
}

/**
 * Subscribes while mounted and calls `onPublication` with each publication of `channel` once, in order,
 * across reconnects. `channel` null or undefined subscribes to nothing. Changing it moves the subscription.
 * With channels registered (`Register`), publications come typed, narrowed by `event`.
 */
export function useChannel<N extends HookChannel>(
  channel: N | null | undefined,
  onPublication?: (publication: HookPublication<N>) => void,
  options: UseChannelOptions = {},
): ChannelView {
  const client = useHerald();
  const handlers = useLatest({ onPublication, ...options });
  const [view, setView] = useState<ChannelView>({ status: 'idle', error: undefined });

  useEffect(() => {
    if (!client || !channel) {
      setView({ status: 'idle', error: undefined });
      return;
    }
    const { since, getToken } = handlers.current;
    const sub = client.subscribe(channel, {
      since,
      getToken: getToken && (() => handlers.current.getToken?.()),
      onPublication: (pub) => handlers.current.onPublication?.(pub as HookPublication<N>),
      onReset: (event) => handlers.current.onReset?.(event),
      onSubscribed: (event) => {
        setView({ status: 'subscribed', error: undefined });
        handlers.current.onSubscribed?.(event);
      },
      onError: (error) => {
        setView({ status: sub.status, error });
        handlers.current.onError?.(error);
      },
    });
    setView({ status: sub.status, error: undefined });
    return () => sub.unsubscribe();
  }, [client, channel, handlers]);

  return view;
}
