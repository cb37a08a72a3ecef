'use server';

import { fillRoom, ROOM_NAME } from '../../../lib/chat.ts';
import { currentUser } from '../../../lib/session.ts';

/** Gives a room a long backlog (1,000 messages), to show the windowed list and scroll-back. */
export async function fillRoomAction(room: string): Promise<void> {
  if (!(await currentUser())) throw new Error('sign in first');
  if (!ROOM_NAME.test(room)) throw new Error('bad room name');
  await fillRoom(room, 1000);
}
