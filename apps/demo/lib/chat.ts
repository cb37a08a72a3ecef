import { herald } from './herald.ts';

export const ROOM_NAME = /^[A-Za-z0-9_-]{1,40}$/;

export interface ChatMessage {
  /** The sender's id for the message: the outbox message id, so the sender matches the echo to its draft. */
  id: string;
  user: string;
  text: string;
  at: number;
}

const LINES = [
  'deploy is green',
  'anyone seen the flaky test?',
  'lunch?',
  'merged, thanks',
  'looking into it',
  'ship it',
];

/** Publishes `count` messages from a bot, as a long room's backlog (for the windowed list and scroll-back). */
export async function fillRoom(room: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    const message: ChatMessage = {
      id: `bot-${Date.now()}-${i}`,
      user: 'bot',
      text: `backlog ${i}: ${LINES[i % LINES.length]}`,
      at: Date.now(),
    };
    await herald.publish(`chat:${room}`, message);
  }
}
