import { simulateReadableStream } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';

/**
 * The AI SDK's mock model answering `words` as text deltas, one every `delayMs` (with `noTimer`, none
 * at all: a timer of 0 still waits ~1 ms, so the model is never the bottleneck); `failure` makes it
 * throw instead. Records the abort signal of every call. Shared by the AI answer tests and benchmark.
 */
export function mockAnswerModel(
  words: string[],
  options: { delayMs: number; noTimer?: boolean; failure?: string },
) {
  const calls: { signal?: AbortSignal }[] = [];
  const model = new MockLanguageModelV3({
    doStream: async ({ abortSignal }) => {
      calls.push({ signal: abortSignal });
      if (options.failure) throw new Error(options.failure);
      return {
        stream: simulateReadableStream({
          chunkDelayInMs: options.delayMs,
          _internal: options.noTimer ? { delay: () => Promise.resolve() } : undefined,
          chunks: [
            { type: 'stream-start', warnings: [] },
            { type: 'text-start', id: 't' },
            ...words.map((delta) => ({ type: 'text-delta' as const, id: 't', delta })),
            { type: 'text-end', id: 't' },
            {
              type: 'finish',
              finishReason: { unified: 'stop', raw: undefined },
              usage: {
                inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
                outputTokens: { total: words.length, text: words.length, reasoning: 0 },
              },
            },
          ],
        }),
      };
    },
  });
  return { model, calls };
}
