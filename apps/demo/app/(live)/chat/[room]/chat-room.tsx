'use client';

import { type FormEvent, useState, useTransition } from 'react';
import { VirtualList } from '../../../../components/virtual-list.tsx';
import { fillRoomAction } from '../actions.ts';
import { type ChatLine, useChatRoom } from './use-chat-room.ts';

const STATE_LABEL = {
  sending: 'sending…',
  sent: 'sent ✓',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;

function Line({
  line,
  me,
  retry,
  cancel,
}: {
  line: ChatLine;
  me: string;
  retry: (id: string) => void;
  cancel: (id: string) => void;
}) {
  const { message } = line;
  const mine = message.user === me;
  const state = line.kind === 'stream' ? 'sent' : line.state;
  return (
    <div
      className={`msg${mine ? ' mine' : ''}`}
      data-testid="message"
      data-state={state}
      data-offset={line.kind === 'stream' ? line.offset : undefined}
    >
      <div className="msg-head">
        <span className="who">{message.user}</span>
        {mine && (
          <span
            className={`state state-${state}`}
            data-testid="message-state"
            title={line.kind === 'outbox' ? line.error : undefined}
          >
            {STATE_LABEL[state]}
          </span>
        )}
        {line.kind === 'outbox' && line.state === 'failed' && (
          <>
            <button type="button" className="small" onClick={() => retry(line.id)}>
              Retry
            </button>
            <button type="button" className="small" onClick={() => cancel(line.id)}>
              Cancel
            </button>
          </>
        )}
      </div>
      <p className="text">{message.text}</p>
    </div>
  );
}

export function ChatRoom({ room, user }: { room: string; user: string }) {
  const chat = useChatRoom(room, user);
  const [draft, setDraft] = useState('');
  const [filling, startFilling] = useTransition();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    chat.send(draft);
    setDraft('');
  };

  const users = chat.users;
  const streamed = chat.lines.filter((l) => l.kind === 'stream');
  return (
    <div className="chat">
      <header className="row chat-header">
        <h1>#{room}</h1>
        <span className="muted" data-testid="loaded-count" data-count={streamed.length}>
          {streamed.length} loaded ·{' '}
          {chat.older === 'start'
            ? 'from the first message'
            : chat.older === 'expired'
              ? 'older ones expired'
              : chat.older === 'loading'
                ? 'loading older…'
                : 'scroll up for older'}
        </span>
        <span className="spacer" />
        <button type="button" onClick={() => startFilling(() => fillRoomAction(room))} disabled={filling}>
          {filling ? 'Adding…' : 'Add 1,000 messages'}
        </button>
      </header>
      <div className="chat-body">
        <VirtualList
          className="messages"
          testId="messages"
          items={chat.lines}
          itemKey={(line) => (line.kind === 'stream' ? `o${line.offset}` : `p${line.id}`)}
          renderItem={(line) => <Line line={line} me={user} retry={chat.retry} cancel={chat.cancel} />}
          onNearTop={chat.loadOlder}
        />
        <aside className="presence" data-testid="presence">
          <h2>Here now ({users.length})</h2>
          <ul>
            {users.map((name) => (
              <li key={name} data-testid="present-user">
                {name}
              </li>
            ))}
          </ul>
        </aside>
      </div>
      <p className="typing muted" data-testid="typing">
        {chat.typing.length > 0
          ? `${chat.typing.join(', ')} ${chat.typing.length === 1 ? 'is' : 'are'} typing…`
          : ' '}
      </p>
      <form onSubmit={submit} className="row composer">
        <input
          value={draft}
          onChange={(e) => {
            setDraft(e.target.value);
            chat.noteTyping();
          }}
          aria-label="message"
          placeholder={`Message #${room}`}
          className="grow"
          disabled={!chat.ready}
        />
        <button type="submit" className="primary" disabled={!chat.ready}>
          Send
        </button>
      </form>
    </div>
  );
}
