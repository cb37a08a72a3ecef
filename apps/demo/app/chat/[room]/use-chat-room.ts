'use client';

import type { OutboxMessage, OutboxState } from '@herald/client';
import type { PresenceMember, Publication } from '@herald/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useChannel, useHeraldClient } from '../../../components/realtime.tsx';
import type { ChatMessage } from '../../../lib/chat.ts';

const PAGE = 50;
const TYPING_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 4_000;

/** A line of the room: from the stream (with its offset), or one of ours still in the outbox. */
export type ChatLine =
  | { kind: 'stream'; offset: number; message: ChatMessage }
  | { kind: 'outbox'; message: ChatMessage; state: OutboxState; error?: string };

/**
 * Everything a chat room shows, from one client: the stream (history pages merged with live publications
 * by offset, so neither loses nor doubles a line), our unconfirmed messages from the outbox, presence and
 * who is typing.
 */
export function useChatRoom(room: string, user: string) {
  const client = useHeraldClient();
  const channel = `chat:${room}`;
  const typingChannel = `typing:${room}`;
  const [lines, setLines] = useState<Map<number, ChatMessage>>(() => new Map());
  const [outbox, setOutbox] = useState<Map<string, OutboxMessage>>(() => new Map());
  const [members, setMembers] = useState<Map<string, PresenceMember>>(() => new Map());
  const [typing, setTyping] = useState<Map<string, number>>(() => new Map());
  const [olderState, setOlderState] = useState<'more' | 'loading' | 'start' | 'expired'>('more');
  const epoch = useRef<string | null>(null);
  const loaded = useRef(false);
  const lastTypingSent = useRef(0);

  const add = useCallback((pubs: Publication[]) => {
    if (pubs.length === 0) return;
    setLines((previous) => {
      const next = new Map(previous);
      for (const pub of pubs) next.set(pub.offset, pub.data as ChatMessage);
      return next;
    });
    // A message of ours is now on the stream: its outbox line is done.
    const ids = new Set(pubs.map((pub) => (pub.data as ChatMessage).id));
    setOutbox((o) => {
      if (![...o.keys()].some((id) => ids.has(id))) return o;
      return new Map([...o].filter(([id]) => !ids.has(id)));
    });
  }, []);

  const loadLatest = useCallback(async () => {
    if (!client) return;
    const page = await client.history(channel, { limit: PAGE, reverse: true });
    epoch.current = page.epoch;
    add(page.publications);
    const oldest = Math.min(...page.publications.map((p) => p.offset));
    setOlderState(page.publications.length === 0 || oldest <= 1 ? 'start' : 'more');
  }, [client, channel, add]);

  const refreshPresence = useCallback(async () => {
    if (!client) return;
    const list = await client.presence(channel);
    setMembers(new Map(list.map((m) => [m.client, m])));
  }, [client, channel]);

  useChannel(channel, {
    onSubscribed: (event) => {
      if (epoch.current !== null && epoch.current !== event.epoch) loaded.current = false;
      if (!loaded.current) {
        loaded.current = true;
        void loadLatest().catch(() => {
          loaded.current = false;
        });
      }
      // Joins and leaves while we were away were not pushed to us: take the list afresh.
      void refreshPresence().catch(() => undefined);
    },
    onPublication: (pub) => add([pub]),
    onReset: () => {
      setLines(new Map());
      loaded.current = true;
      void loadLatest().catch(() => undefined);
    },
    onJoin: (member) => setMembers((m) => new Map(m).set(member.client, member)),
    onLeave: (member) =>
      setMembers((m) => {
        const next = new Map(m);
        next.delete(member.client);
        return next;
      }),
  });

  useChannel(typingChannel, {
    onPublication: (pub) => {
      const { user: who, at } = pub.data as { user: string; at: number };
      if (who === user || Date.now() - at > TYPING_SHOWN_MS) return;
      setTyping((t) => new Map(t).set(who, Date.now() + TYPING_SHOWN_MS));
    },
  });

  // Typing notes fade out on their own.
  useEffect(() => {
    const timer = setInterval(() => {
      setTyping((t) => {
        const now = Date.now();
        const live = [...t].filter(([, until]) => until > now);
        return live.length === t.size ? t : new Map(live);
      });
    }, 1000);
    return () => clearInterval(timer);
  }, []);

  // Our messages in the outbox (kept across reloads), as they move sending → sent → failed.
  useEffect(() => {
    if (!client) return;
    const show = (message: OutboxMessage) => {
      if (message.channel !== channel) return;
      setOutbox((o) => {
        const next = new Map(o);
        if (message.state === 'cancelled') next.delete(message.id);
        else next.set(message.id, { ...message });
        return next;
      });
    };
    const stop = client.outbox.on('change', show);
    void client.outbox.loaded.then(() => {
      for (const message of client.pending(channel)) show(message);
    });
    return stop;
  }, [client, channel]);

  const send = useCallback(
    (text: string) => {
      if (!client || !text.trim()) return;
      const id = crypto.randomUUID();
      const message: ChatMessage = { id, user, text: text.trim(), at: Date.now() };
      client.publish(channel, message, { id }).catch(() => undefined); // its state shows in the line
    },
    [client, channel, user],
  );

  const noteTyping = useCallback(() => {
    const now = Date.now();
    if (client?.state.status !== 'connected' || now - lastTypingSent.current < TYPING_EVERY_MS) return;
    lastTypingSent.current = now;
    client.publish(typingChannel, { user, at: now }).catch(() => undefined);
  }, [client, typingChannel, user]);

  const loadOlder = useCallback(async () => {
    if (!client || olderState !== 'more' || epoch.current === null || lines.size === 0) return;
    const oldest = Math.min(...lines.keys());
    setOlderState('loading');
    try {
      const from = Math.max(0, oldest - 1 - PAGE);
      const page = await client.history(channel, {
        since: { epoch: epoch.current, offset: from },
        limit: PAGE,
      });
      const older = page.publications.filter((p) => p.offset < oldest);
      add(older);
      // History keeps a window: when it no longer starts right after `from`, older lines are gone.
      const complete = older.length > 0 && older[0].offset === from + 1;
      setOlderState(from === 0 && complete ? 'start' : complete ? 'more' : 'expired');
    } catch {
      setOlderState('more');
    }
  }, [client, channel, olderState, lines, add]);

  const echoed = new Set([...lines.values()].map((m) => m.id));
  const view: ChatLine[] = [...lines]
    .sort(([a], [b]) => a - b)
    .map(([offset, message]) => ({ kind: 'stream' as const, offset, message }));
  for (const pending of outbox.values()) {
    if (echoed.has(pending.id)) continue;
    view.push({
      kind: 'outbox',
      message: pending.data as ChatMessage,
      state: pending.state,
      error: pending.error?.message,
    });
  }

  return {
    lines: view,
    members: [...members.values()],
    typing: [...typing.keys()],
    olderState,
    loadOlder,
    send,
    noteTyping,
    retry: (id: string) => client?.outbox.retry(id).catch(() => undefined),
    cancel: (id: string) => client?.outbox.cancel(id),
    ready: client !== null,
  };
}
