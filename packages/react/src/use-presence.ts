'use client';

import type { HeraldClientError } from '@herald/client';
import type { PresenceMember } from '@herald/protocol';
import { useEffect, useState } from 'react';
import { useHerald } from './provider.tsx';

export interface PresenceView {
  /** Connections subscribed to the channel (this one included), one entry per client id. */
  members: PresenceMember[];
  error: HeraldClientError | undefined;
}

type Change = { type: 'join' | 'leave'; member: PresenceMember };

function apply(members: Map<string, PresenceMember>, change: Change): void {
  if (change.type === 'join') members.set(change.member.client, change.member);
  else members.delete(change.member.client);
}

/**
 * Who is on `channel`: subscribes (which makes this connection a member), reads the member list on every
 * (re)subscribe, and follows join/leave pushes in namespaces that send them. `refreshMs` re-reads the list
 * periodically for namespaces without join/leave pushes.
 */
export function usePresence(
  channel: string | null | undefined,
  options: { refreshMs?: number } = {},
): PresenceView {
  const client = useHerald();
  const [view, setView] = useState<PresenceView>({ members: [], error: undefined });
  const { refreshMs = 0 } = options;

  useEffect(() => {
    if (!client || !channel) {
      setView({ members: [], error: undefined });
      return;
    }
    setView({ members: [], error: undefined }); // not the previous channel's members
    let members = new Map<string, PresenceMember>();
    /** Changes seen while a read is on its way: replayed over its (possibly older) snapshot. */
    let since: Change[] | null = null;
    let reads = 0;
    let active = true;
    const publish = () => setView({ members: [...members.values()], error: undefined });
    const change = (c: Change) => {
      apply(members, c);
      since?.push(c);
      publish();
    };
    const read = () => {
      const mine = ++reads;
      since = [];
      client.presence(channel).then(
        (list) => {
          if (!active || mine !== reads) return;
          members = new Map(list.map((m) => [m.client, m]));
          for (const c of since ?? []) apply(members, c);
          since = null;
          publish();
        },
        (error: HeraldClientError) => {
          if (active && mine === reads) setView((v) => ({ members: v.members, error }));
        },
      );
    };
    const sub = client.subscribe(channel, {
      onSubscribed: read,
      onJoin: (member) => change({ type: 'join', member }),
      onLeave: (member) => change({ type: 'leave', member }),
      onError: (error) => setView((v) => ({ members: v.members, error })),
    });
    const timer = refreshMs > 0 ? setInterval(read, refreshMs) : undefined;
    return () => {
      active = false;
      clearInterval(timer);
      sub.unsubscribe();
    };
  }, [client, channel, refreshMs]);

  return view;
}
