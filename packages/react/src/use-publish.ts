'use client';

import type { HeraldClient, OutboxMessage, PublishOptions } from '@herald/client';
import { useCallback, useEffect, useState } from 'react';
import { useHerald } from './provider.tsx';
import type { HookChannel, HookPublish } from './register.ts';

export interface PublishView<N extends string = string> {
  /**
   * Publishes through the outbox and returns the message id at once; the message shows in `messages`
   * right away (optimistically) with its state. With channels registered, `event` is required and `data`
   * must be of its shape.
   */
  publish: HookPublish<N>;
  /**
   * This channel's messages not yet seen as publications: `sending`, `failed`, and `sent` ones until
   * their publication is delivered on a subscription of this client (at once if there is none). Render them
   * after the channel's publications and nothing shows twice.
   */
  messages: OutboxMessage[];
  retry(id: string): void;
  cancel(id: string): void;
}

/** Whether the client will not show this sent message as a publication (delivered, or not subscribed). */
function echoed(client: HeraldClient, message: OutboxMessage): boolean {
  const position = client.position(message.channel);
  if (!position || !message.result) return true;
  return position.epoch !== message.result.epoch || position.offset >= message.result.offset;
}

function merge(client: HeraldClient, list: OutboxMessage[], message: OutboxMessage): OutboxMessage[] {
  const rest = list.filter((m) => m.id !== message.id);
  const gone = message.state === 'cancelled' || (message.state === 'sent' && echoed(client, message));
  if (gone) return rest.length === list.length ? list : rest;
  const index = list.findIndex((m) => m.id === message.id);
  if (index === -1) return [...list, message];
  const next = [...list];
  next[index] = message;
  return next;
}

/** Publishing on `channel` with the outbox's states, for optimistic UIs (chat). */
export function usePublish<N extends HookChannel>(channel: N | null | undefined): PublishView<N> {
  const client = useHerald();
  const [messages, setMessages] = useState<OutboxMessage[]>([]);

  useEffect(() => {
    if (!client || !channel) {
      setMessages([]);
      return;
    }
    setMessages(client.pending(channel)); // kept from before a reload, or sent by another component
    const offChange = client.outbox.on('change', (message) => {
      if (message.channel === channel) setMessages((list) => merge(client, list, message));
    });
    const offPublication = client.on('publication', (pub) => {
      if (pub.channel !== channel) return;
      setMessages((list) => {
        const rest = list.filter(
          (m) => !(m.state === 'sent' && m.result?.epoch === pub.epoch && m.result.offset <= pub.offset),
        );
        return rest.length === list.length ? list : rest;
      });
    });
    return () => {
      offChange();
      offPublication();
    };
  }, [client, channel]);

  const publish = useCallback(
    (data: unknown, options?: PublishOptions) => {
      if (!client || !channel) throw new Error('usePublish: no Herald client or channel yet');
      const pending = client.publish(channel, data, options);
      pending.catch(() => undefined); // the message's state shows the failure
      return pending.id;
    },
    [client, channel],
  );
  const retry = useCallback((id: string) => void client?.outbox.retry(id).catch(() => undefined), [client]);
  const cancel = useCallback((id: string) => void client?.outbox.cancel(id), [client]);

  return { publish: publish as HookPublish<N>, messages, retry, cancel };
}
