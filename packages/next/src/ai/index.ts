export type { AnswerOutcome, AnswerTicket } from '@herald/protocol';
export { type ChatResponseOptions, chatResponse } from './chat-response.ts';
export { type Answer, type AnswerOptions, publishAnswer } from './publish-answer.ts';
