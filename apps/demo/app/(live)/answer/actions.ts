'use server';

import { ANSWER_ID, streamAnswer } from '../../../lib/answer.ts';

/** Starts answering on `answers:<id>` and returns at once; the page renders the tokens as they arrive. */
export async function ask(id: string, question: string): Promise<void> {
  if (!ANSWER_ID.test(id)) throw new Error('bad answer id');
  void streamAnswer(id, question.slice(0, 500)).catch((err) => console.error('answer failed', id, err));
}
