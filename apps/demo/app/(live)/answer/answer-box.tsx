'use client';

import { useHerald, useStream } from '@herald/react';
import { type FormEvent, useState } from 'react';
import { ask } from './actions.ts';

function Answer({ id }: { id: string }) {
  const {
    value: text,
    last,
    done,
  } = useStream<string>(`answers:${id}`, {
    initial: '',
    reduce: (text, pub) => (pub.event === 'token' ? text + (pub.data as { token: string }).token : text),
  });
  const tokens = last ? (last.event === 'done' ? (last.data as { tokens: number }).tokens : last.offset) : 0;
  return (
    <article className="answer" data-testid="answer" data-done={done}>
      <p>
        {text}
        {!done && <span className="caret">▍</span>}
      </p>
      <p className="muted" data-testid="answer-status">
        {done ? `done · ${tokens} tokens` : `streaming · ${tokens} tokens`}
      </p>
    </article>
  );
}

export function AnswerBox() {
  const client = useHerald();
  const [question, setQuestion] = useState('How does Herald avoid lost messages?');
  const [id, setId] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = crypto.randomUUID().slice(0, 8);
    setId(next);
    void ask(next, question);
  };

  return (
    <>
      <form onSubmit={submit} className="row">
        <input
          value={question}
          onChange={(e) => setQuestion(e.target.value)}
          aria-label="question"
          className="grow"
        />
        <button type="submit" className="primary" disabled={!client}>
          Ask
        </button>
      </form>
      {id && <Answer key={id} id={id} />}
    </>
  );
}
