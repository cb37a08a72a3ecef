import { chatResponse, publishAnswer } from '@herald/next/ai';
import { convertToModelMessages, streamText, type UIMessage } from 'ai';
import { after } from 'next/server';
import { CHAT_ID, demoModel, saveChat } from '../../../lib/answer.ts';
import { herald } from '../../../lib/herald.ts';
import { currentUser } from '../../../lib/session.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

/**
 * Starts an answer on `answers:<chat id>` and replies at once with where it is published; the answer is
 * generated whether or not the browser stays (`after` keeps it going where functions end with the response).
 */
export async function POST(request: Request): Promise<Response> {
  const { id, messages } = (await request.json()) as { id: string; messages: UIMessage[] };
  if (!CHAT_ID.test(id) || !Array.isArray(messages)) {
    return Response.json(
      { error: { code: 'bad_request', message: 'expected {id, messages}' } },
      { status: 400 },
    );
  }
  saveChat(id, messages);
  const last = messages.at(-1)?.parts.find((part) => part.type === 'text');
  const question = (last?.type === 'text' ? last.text : '').slice(0, 500);
  const prompt = await convertToModelMessages(messages);
  const answer = publishAnswer({
    channel: `answers:${id}`,
    publisher: herald,
    user: (await currentUser()) ?? undefined,
    stream: (abortSignal) =>
      streamText({ model: demoModel(question), messages: prompt, abortSignal }).toUIMessageStream({
        originalMessages: messages,
        onFinish: ({ messages: answered }) => saveChat(id, answered),
      }),
  });
  return chatResponse(answer, { waitUntil: after });
}
