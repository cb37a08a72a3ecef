import { randomUUID } from 'node:crypto';
import { redirect } from 'next/navigation';
import { CHAT_ID, loadChat } from '../../../lib/answer.ts';
import { AnswerChat } from './answer-chat.tsx';

export const dynamic = 'force-dynamic';

export default async function AnswerPage({ searchParams }: { searchParams: Promise<{ chat?: string }> }) {
  const { chat } = await searchParams;
  if (!chat || !CHAT_ID.test(chat)) redirect(`/answer?chat=${randomUUID().slice(0, 8)}`);
  return (
    <>
      <h1>Streamed answer</h1>
      <p className="muted">
        An AI SDK chat (<code>useChat</code>) whose answer comes over Herald: the route starts{' '}
        <code>streamText</code> with the AI SDK's mock model and publishes its chunks on{' '}
        <code>answers:{chat}</code>. Reload mid-answer, or open this page on another device: the answer picks
        up from history and goes on live, every token once.
      </p>
      <AnswerChat id={chat} initialMessages={loadChat(chat)} />
    </>
  );
}
