'use client';

import { useChat } from '@ai-sdk/react';
import { useHeraldChatTransport } from '@herald/react/ai';
import type { UIMessage } from 'ai';
import { type FormEvent, useState } from 'react';

const text = (message: UIMessage) =>
  message.parts.map((part) => (part.type === 'text' ? part.text : '')).join('');

export function AnswerChat({ id, initialMessages }: { id: string; initialMessages: UIMessage[] }) {
  const transport = useHeraldChatTransport({ api: '/api/answer', channel: `answers:${id}` });
  const { messages, sendMessage, stop, status, error } = useChat({
    id,
    messages: initialMessages,
    transport,
    resume: true,
  });
  const [question, setQuestion] = useState('How does Herald avoid lost messages?');
  const busy = status === 'submitted' || status === 'streaming';

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void sendMessage({ text: question });
  };

  return (
    <>
      {messages.map((message) => (
        <article
          key={message.id}
          className={message.role === 'assistant' ? 'answer' : 'question'}
          data-testid={message.role === 'assistant' ? 'answer' : 'question'}
        >
          <p>
            <span data-testid="message-text">{text(message)}</span>
            {busy && message === messages.at(-1) && message.role === 'assistant' && (
              <span className="caret">▍</span>
            )}
          </p>
        </article>
      ))}
      <p className="muted" data-testid="answer-status" data-status={status}>
        {status}
      </p>
      {error && (
        <p className="error" role="alert">
          {error.message}
        </p>
      )}
      <form onSubmit={submit} className="row">
        <input
          value={question}
          onChange={(e) => setQuestion(e.target.value)}
          aria-label="question"
          className="grow"
        />
        {busy ? (
          <>
            <button type="button" onClick={() => window.location.reload()}>
              Reload mid-answer
            </button>
            <button type="button" onClick={() => void stop()}>
              Stop
            </button>
          </>
        ) : (
          <button type="submit" className="primary">
            Ask
          </button>
        )}
      </form>
    </>
  );
}
