'use client';

import type { OutboxState } from '@herald/client';
import type { Publication } from '@herald/protocol';
import { useChannel, useHerald, usePresence, usePublish } from '@herald/react';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ChatMessage } from '../../../../lib/chat.ts';

const PAGE = 50;
const TYPING_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 4_000;

/** A line of the room: from the stream (with its offset), or one of ours the hub has not confirmed yet. */
export type ChatLine =
  | { kind: 'stream'; offset: number; message: ChatMessage }
  | { kind: 'outbox'; id: string; message: ChatMessage; state: OutboxState; error?: string };

export type OlderState = 'more' | 'loading' | 'start' | 'expired';

/**
 * Everything a chat room shows: the stream (pages of history merged with live publications by offset,
 * so nothing shows twice or goes missing), our messages still in the outbox (`usePublish`), presence and
 * who is typing.
 */
export function useChatRoom(room: string, user: string) {
  const client = useHerald();
  const channel = `chat:${room}`;
  const typingChannel = `typing:${room}`;
  const [lines, setLines] = useState<Map<number, ChatMessage>>(() => new Map());
  const [typing, setTyping] = useState<Map<string, number>>(() => new Map());
  const [older, setOlder] = useState<OlderState>('more');
  const epoch = useRef<string | null>(null);
  const lastTypingSent = useRef(0);
  const outbox = usePublish(channel);
  const { members } = usePresence(channel);

  const add = useCallback((pubs: Publication[]) => {
    if (pubs.length === 0) return;
    setLines((previous) => {
      const next = new Map(previous);
      for (const pub of pubs) next.set(pub.offset, pub.data as ChatMessage);
      return next;
    });
  }, []);

  /** The newest page of history; live publications are merged with it by offset. */
  const loadLatest = useCallback(async () => {
    if (!client) return;
    const page = await client.history(channel, { limit: PAGE, reverse: true });
    epoch.current = page.epoch;
    add(page.publications);
    const oldest = Math.min(...page.publications.map((p) => p.offset));
    setOlder(page.publications.length === 0 || oldest <= 1 ? 'start' : 'more');
  }, [client, channel, add]);

  useChannel(channel, (pub) => add([pub]), {
    onSubscribed: (event) => {
      if (epoch.current === event.epoch) return; // resumed: the stream itself filled the gap
      epoch.current = event.epoch;
      void loadLatest().catch(() => {
        epoch.current = null;
      });
    },
    // History could not cover what we missed: start over from the newest page.
    onReset: () => {
      setLines(new Map());
      void loadLatest().catch(() => undefined);
    },
  });

  useChannel(typingChannel, (pub) => {
    const { user: who, at } = pub.data as { user: string; at: number };
    if (who === user || Date.now() - at > TYPING_SHOWN_MS) return;
    setTyping((t) => new Map(t).set(who, Date.now() + TYPING_SHOWN_MS));
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

  const send = (text: string) => {
    if (!client || !text.trim()) return;
    const id = crypto.randomUUID();
    outbox.publish({ id, user, text: text.trim(), at: Date.now() } satisfies ChatMessage, { id });
  };

  /** At most one note every two seconds, and only while connected: a stale one is worse than none. */
  const noteTyping = () => {
    const now = Date.now();
    if (client?.state.status !== 'connected' || now - lastTypingSent.current < TYPING_EVERY_MS) return;
    lastTypingSent.current = now;
    client.publish(typingChannel, { user, at: now }).catch(() => undefined);
  };

  const loadOlder = useCallback(async () => {
    if (!client || older !== 'more' || epoch.current === null || lines.size === 0) return;
    const oldest = Math.min(...lines.keys());
    setOlder('loading');
    try {
      const from = Math.max(0, oldest - 1 - PAGE);
      const page = await client.history(channel, {
        since: { epoch: epoch.current, offset: from },
        limit: PAGE,
      });
      const earlier = page.publications.filter((p) => p.offset < oldest);
      add(earlier);
      // History keeps a window: when it no longer starts right after `from`, older lines are gone.
      const complete = earlier.length > 0 && earlier[0].offset === from + 1;
      setOlder(complete ? (from === 0 ? 'start' : 'more') : 'expired');
    } catch {
      setOlder('more');
    }
  }, [client, channel, older, lines, add]);

  const view: ChatLine[] = [...lines]
    .sort(([a], [b]) => a - b)
    .map(([offset, message]) => ({ kind: 'stream', offset, message }));
  for (const m of outbox.messages) {
    view.push({
      kind: 'outbox',
      id: m.id,
      message: m.data as ChatMessage,
      state: m.state,
      error: m.error?.message,
    });
  }

  return {
    lines: view,
    users: [...new Set(members.map((m) => m.user ?? 'anonymous'))].sort(),
    typing: [...typing.keys()],
    older,
    loadOlder,
    send,
    noteTyping,
    retry: outbox.retry,
    cancel: outbox.cancel,
    ready: client !== null,
  };
}
