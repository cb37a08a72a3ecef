import { simulateReadableStream, type UIMessage } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';

export const CHAT_ID = /^[A-Za-z0-9_-]{1,40}$/;

const FACTS = [
  'Herald keeps every channel as a stream with an epoch and an offset that grows by one per publication.',
  'A client that comes back with its last position gets exactly what it missed, in order, or is told plainly that the gap is too old.',
  'The same hub speaks WebSocket, Server-Sent Events and long-polling, and the client falls back by itself.',
  'Publishing with an idempotency key means a retried send is never delivered twice.',
  'Presence, private channels and short-lived tokens come with it, so the app code shrinks to a publish call and a hook.',
];

/** A deterministic answer built from the question, split in tokens. */
export function composeAnswer(question: string): string[] {
  const topic = question.trim().replace(/[?.!]+$/, '') || 'real-time updates';
  const seed = [...topic].reduce((sum, c) => sum + c.charCodeAt(0), 0);
  const picked = [0, 1, 2].map((i) => FACTS[(seed + i * 2) % FACTS.length]);
  const text = `You asked about "${topic}". ${picked.join(' ')} This answer was streamed token by token over one channel.`;
  return text.match(/\s*\S+/g) ?? [];
}

/**
 * The AI SDK's mock language model answering `question` from `composeAnswer`, a token every `tokenMs`: a
 * real `streamText` pipeline with no network and no weights.
 */
export function demoModel(question: string, tokenMs = 60): MockLanguageModelV3 {
  const tokens = composeAnswer(question);
  return new MockLanguageModelV3({
    doStream: async () => ({
      stream: simulateReadableStream({
        chunkDelayInMs: tokenMs,
        chunks: [
          { type: 'stream-start', warnings: [] },
          { type: 'text-start', id: 'answer' },
          ...tokens.map((delta) => ({ type: 'text-delta' as const, id: 'answer', delta })),
          { type: 'text-end', id: 'answer' },
          {
            type: 'finish',
            finishReason: { unified: 'stop', raw: undefined },
            usage: {
              inputTokens: { total: question.length, noCache: question.length, cacheRead: 0, cacheWrite: 0 },
              outputTokens: { total: tokens.length, text: tokens.length, reasoning: 0 },
            },
          },
        ],
      }),
    }),
  });
}

// The demo's chat store: in memory, one process. An app keeps its chats in its database.
const SLOT = Symbol.for('herald.demo.chats');
const slot = globalThis as { [SLOT]?: Map<string, UIMessage[]> };
slot[SLOT] ??= new Map();
const chats = slot[SLOT];

export function loadChat(id: string): UIMessage[] {
  return chats.get(id) ?? [];
}

export function saveChat(id: string, messages: UIMessage[]): void {
  chats.set(id, messages);
}
