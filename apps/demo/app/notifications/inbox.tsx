'use client';

import type { Publication } from '@herald/protocol';
import { type FormEvent, useState } from 'react';
import { useChannel, useHeraldClient } from '../../components/realtime.tsx';
import { notify } from './actions.ts';

interface Notification {
  from: string;
  text: string;
  at: number;
}

export function Inbox({ user }: { user: string }) {
  const client = useHeraldClient();
  const channel = `notifications:#${user}`;
  const [items, setItems] = useState<Map<number, Notification>>(() => new Map());
  const [to, setTo] = useState(user);
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const add = (pubs: Publication[]) =>
    setItems((previous) => {
      const next = new Map(previous);
      for (const pub of pubs) next.set(pub.offset, pub.data as Notification);
      return next;
    });

  useChannel(channel, {
    onSubscribed: () => {
      client?.history(channel, { limit: 20, reverse: true }).then(
        (page) => add(page.publications),
        () => undefined,
      );
    },
    onPublication: (pub) => add([pub]),
    onReset: () => setItems(new Map()),
  });

  const send = async (event: FormEvent) => {
    event.preventDefault();
    setStatus('sending…');
    const result = await notify(to, text);
    setStatus(result.ok ? `sent to ${to}` : (result.error ?? 'failed'));
    if (result.ok) setText('');
  };

  const newest = [...items].sort(([a], [b]) => b - a);
  return (
    <>
      <form onSubmit={send} className="row">
        <input value={to} onChange={(e) => setTo(e.target.value)} aria-label="to" size={12} />
        <input
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-label="message"
          className="grow"
          placeholder="message"
        />
        <button type="submit" className="primary">
          Notify
        </button>
        <span className="muted" data-testid="notify-status">
          {status}
        </span>
      </form>
      <ul className="notifications" data-testid="notifications" data-count={items.size}>
        {newest.map(([offset, n]) => (
          <li key={offset}>
            <b>{n.from}</b> {n.text} <span className="muted">{new Date(n.at).toLocaleTimeString()}</span>
          </li>
        ))}
      </ul>
    </>
  );
}
