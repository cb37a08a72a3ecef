import { type AnswerTicket, ErrorCodes, HeraldError } from '@herald/protocol';
import type { Answer } from './publish-answer.ts';

export interface ChatResponseOptions {
  /**
   * Keeps the function alive until the answer is complete where the platform ends it with the response:
   * Next.js's `after` (or Vercel's `waitUntil`). Not needed on a long-running server.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/**
 * The chat route's reply: the answer's ticket (`{channel, answer, epoch, offset}`) that
 * `heraldChatTransport` follows, or a refusal as Herald's error shape `{"error":{"code","message"}}` with
 * its status (429 `limit_exceeded`, 403 `forbidden`…), which the chat shows as its error.
 */
export async function chatResponse(
  answer: Promise<Answer>,
  options: ChatResponseOptions = {},
): Promise<Response> {
  try {
    const { channel, answer: id, epoch, offset, done } = await answer;
    options.waitUntil?.(done);
    return Response.json({ channel, answer: id, epoch, offset } satisfies AnswerTicket);
  } catch (err) {
    if (!(err instanceof HeraldError)) throw err;
    return Response.json(
      { error: { code: err.code, message: err.message } },
      { status: ErrorCodes[err.code] },
    );
  }
}
