'use client';

import type { Publication } from '@herald/protocol';
import { useStream } from '@herald/react';
import { type FormEvent, useState } from 'react';
import { notify } from './actions.ts';

interface Notification {
  from: string;
  text: string;
  at: number;
}

export function Inbox({ user }: { user: string }) {
  // Newest first: the ones kept in history (a day), then each new one as it arrives.
  const { value: items } = useStream<Publication[]>(`notifications:#${user}`, {
    initial: [],
    reduce: (list, pub) => [pub, ...list].slice(0, 50),
  });
  const [to, setTo] = useState(user);
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');

  const send = async (event: FormEvent) => {
    event.preventDefault();
    setStatus('sending…');
    const result = await notify(to, text);
    setStatus(result.ok ? `sent to ${to}` : (result.error ?? 'failed'));
    if (result.ok) setText('');
  };

  return (
    <>
      <form onSubmit={send} className="notify-form">
        <input
          value={to}
          onChange={(e) => setTo(e.target.value)}
          aria-label="to"
          placeholder="to"
          className="notify-to"
        />
        <input
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-label="message"
          placeholder="message"
          className="notify-text"
        />
        <button type="submit" className="primary notify-send">
          Notify
        </button>
      </form>
      {/* A line of its own, held open when empty: the status never moves or resizes the form. */}
      <p className="form-status muted" role="status" data-testid="notify-status">
        {status}
      </p>
      <ul className="notifications" data-testid="notifications" data-count={items.length}>
        {items.map(({ offset, data }) => {
          const n = data as Notification;
          return (
            <li key={offset}>
              <b>{n.from}</b> {n.text}{' '}
              <time className="muted" dateTime={new Date(n.at).toISOString()}>
                {new Date(n.at).toLocaleTimeString()}
              </time>
            </li>
          );
        })}
      </ul>
    </>
  );
}
