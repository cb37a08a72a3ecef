'use server';
import { herald } from './herald';

export async function notify(user: string, title: string) {
  await herald.publish(`notifications:#${user}`, { title }, { event: 'notification' });
}
