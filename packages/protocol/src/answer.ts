/**
 * How an AI answer travels on a Herald channel (one channel per chat). The server publishes, in order:
 * `answer-start`, then `answer-chunks` (the AI SDK's UI message chunks, coalesced), then one of
 * `answer-finish`, `answer-error` or `answer-abort`, whose payload carries the last chunks. Any client may
 * publish `answer-stop` to end an answer. Prefixed, because a chat's channel may carry other events and SSE
 * reserves `error`. Chunks are opaque here: the protocol does not depend on the AI SDK.
 */
export const AnswerEvents = {
  start: 'answer-start',
  chunks: 'answer-chunks',
  finish: 'answer-finish',
  error: 'answer-error',
  abort: 'answer-abort',
  stop: 'answer-stop',
} as const;

export type AnswerOutcome = 'finish' | 'error' | 'abort';

/** The payload of `answer-start`, `answer-chunks` and the final publication. */
export interface AnswerPublication<Chunk = unknown> {
  /** The answer's id: several answers of one chat share its channel. */
  answer: string;
  /**
   * The offset of the answer's `answer-start` publication, where a late reader replays the answer from;
   * absent on `answer-start` itself (its own offset).
   */
  start?: number;
  chunks: Chunk[];
}

/** The payload of `answer-stop`; without `answer` it stops whatever answer is generating on the channel. */
export interface AnswerStop {
  answer?: string;
}

/** What the app's chat route answers with: where the answer is published. */
export interface AnswerTicket {
  channel: string;
  answer: string;
  /** The epoch and offset of the answer's `answer-start` publication. */
  epoch: string;
  offset: number;
}

export const ANSWER_END_EVENTS: ReadonlySet<string> = new Set<string>([
  AnswerEvents.finish,
  AnswerEvents.error,
  AnswerEvents.abort,
]);
