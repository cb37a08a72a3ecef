import { herald } from './herald.ts';

export const ANSWER_ID = /^[A-Za-z0-9_-]{1,40}$/;

const FACTS = [
  'Herald keeps every channel as a stream with an epoch and an offset that grows by one per publication.',
  'A client that comes back with its last position gets exactly what it missed, in order, or is told plainly that the gap is too old.',
  'The same hub speaks WebSocket, Server-Sent Events and long-polling, and the client falls back by itself.',
  'Publishing with an idempotency key means a retried send is never delivered twice.',
  'Presence, private channels and short-lived tokens come with it, so the app code shrinks to a publish call and a hook.',
];

/** A deterministic stand-in for a language model: an answer built from the question, then split in tokens. */
export function composeAnswer(question: string): string[] {
  const topic = question.trim().replace(/[?.!]+$/, '') || 'real-time updates';
  const seed = [...topic].reduce((sum, c) => sum + c.charCodeAt(0), 0);
  const picked = [0, 1, 2].map((i) => FACTS[(seed + i * 2) % FACTS.length]);
  const text = `You asked about "${topic}". ${picked.join(' ')} This answer was streamed token by token over one channel.`;
  return text.match(/\s*\S+/g) ?? [];
}

/** Streams the answer on `answers:<id>`: one `token` publication each, then `done`. */
export async function streamAnswer(id: string, question: string, tokenMs = 35): Promise<void> {
  const channel = `answers:${id}`;
  const tokens = composeAnswer(question);
  for (const [index, token] of tokens.entries()) {
    await herald.publish(channel, { index, token }, { event: 'token' });
    await new Promise((resolve) => setTimeout(resolve, tokenMs));
  }
  await herald.publish(channel, { tokens: tokens.length }, { event: 'done' });
}
