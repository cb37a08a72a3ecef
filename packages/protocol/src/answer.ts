/**
 * How an AI answer travels on a Herald channel (one channel per chat). The server publishes, in order:
 * `start`, then `chunks` (the AI SDK's UI message chunks, coalesced), then one of `finish`, `error` or
 * `abort`, whose payload carries the last chunks. Any client may publish `stop` to end an answer.
 * Chunks are opaque here: the protocol does not depend on the AI SDK.
 */
export const AnswerEvents = {
  start: 'start',
  chunks: 'chunks',
  finish: 'finish',
  error: 'error',
  abort: 'abort',
  stop: 'stop',
} as const;

export type AnswerOutcome = 'finish' | 'error' | 'abort';

/** The payload of `start`, `chunks` and the final publication. */
export interface AnswerPublication<Chunk = unknown> {
  /** The answer's id: several answers of one chat share its channel. */
  answer: string;
  /**
   * The offset of the answer's `start` publication, where a late reader replays the answer from; absent on
   * `start` itself (its own offset).
   */
  start?: number;
  chunks: Chunk[];
}

/** The payload of `stop`; without `answer` it stops whatever answer is generating on the channel. */
export interface AnswerStop {
  answer?: string;
}

/** What the app's chat route answers with: where the answer is published. */
export interface AnswerTicket {
  channel: string;
  answer: string;
  /** The epoch and offset of the answer's `start` publication. */
  epoch: string;
  offset: number;
}

export const ANSWER_END_EVENTS: ReadonlySet<string> = new Set<AnswerOutcome>(['finish', 'error', 'abort']);
