'use server';

import { herald } from '../../../lib/herald.ts';
import { currentUser, USER_NAME } from '../../../lib/session.ts';

export interface NotifyResult {
  ok: boolean;
  error?: string;
}

/**
 * Sends a notification to `to`'s private channel. Only the server may publish to `notifications:*`
 * (herald.json) and only `to` may subscribe to `notifications:#to`, so nobody can read or forge another's.
 */
export async function notify(to: string, text: string): Promise<NotifyResult> {
  const from = await currentUser();
  if (!from) return { ok: false, error: 'sign in first' };
  if (!USER_NAME.test(to)) return { ok: false, error: 'no such user name' };
  const message = text.trim().slice(0, 280);
  if (!message) return { ok: false, error: 'write something' };
  await herald.publish(
    `notifications:#${to}`,
    { from, text: message, at: Date.now() },
    { event: 'notification' },
  );
  return { ok: true };
}
