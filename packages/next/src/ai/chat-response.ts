import { type AnswerTicket, ErrorCodes, HeraldError } from '@herald/protocol';
import type { Answer } from './publish-answer.ts';

/**
 * The chat route's reply: the answer's ticket (`{channel, answer, epoch, offset}`) that
 * `heraldChatTransport` follows, or a refusal as Herald's error shape `{"error":{"code","message"}}` with
 * its status (429 `limit_exceeded`, 403 `forbidden`…), which the chat shows as its error.
 */
export async function chatResponse(answer: Promise<Answer>): Promise<Response> {
  try {
    const { channel, answer: id, epoch, offset } = await answer;
    return Response.json({ channel, answer: id, epoch, offset } satisfies AnswerTicket);
  } catch (err) {
    if (!(err instanceof HeraldError)) throw err;
    return Response.json(
      { error: { code: err.code, message: err.message } },
      { status: ErrorCodes[err.code] },
    );
  }
}
