'use server';
import { streamText } from 'ai';
import { herald } from './herald';

export async function ask(id: string, prompt: string) {
  const { textStream } = streamText({ model: 'openai/gpt-5-mini', prompt });
  for await (const text of textStream) await herald.publish(`answers:${id}`, { text }, { event: 'token' });
  await herald.publish(`answers:${id}`, {}, { event: 'done' });
}
