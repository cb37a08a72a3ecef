'use client';

import { type FormEvent, useState } from 'react';
import { useChannel, useHeraldClient } from '../../components/realtime.tsx';
import { ask } from './actions.ts';

interface Answer {
  id: string;
  question: string;
  text: string;
  tokens: number;
  done: boolean;
}

export function AnswerBox() {
  const client = useHeraldClient();
  const [question, setQuestion] = useState('How does Herald avoid lost messages?');
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [asked, setAsked] = useState(false);

  useChannel(answer ? `answers:${answer.id}` : null, {
    onSubscribed: () => {
      if (!answer || asked) return;
      setAsked(true);
      void ask(answer.id, answer.question);
    },
    onPublication: (pub) => {
      if (pub.event === 'done') setAnswer((a) => a && { ...a, done: true });
      else {
        const { token } = pub.data as { token: string };
        setAnswer((a) => a && { ...a, text: a.text + token, tokens: a.tokens + 1 });
      }
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAsked(false);
    setAnswer({ id: crypto.randomUUID().slice(0, 8), question, text: '', tokens: 0, done: false });
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
        <button type="submit" className="primary" disabled={!client || (answer !== null && !answer.done)}>
          Ask
        </button>
      </form>
      {answer && (
        <article className="answer" data-testid="answer" data-done={answer.done}>
          <p>
            {answer.text}
            {!answer.done && <span className="caret">▍</span>}
          </p>
          <p className="muted" data-testid="answer-status">
            {answer.done ? `done · ${answer.tokens} tokens` : `streaming · ${answer.tokens} tokens`}
          </p>
        </article>
      )}
    </>
  );
}
