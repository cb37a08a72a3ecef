'use server';

import { redirect } from 'next/navigation';
import { signIn, signOut, USER_NAME } from '../../lib/session.ts';

/** Only same-site paths: `next` comes from the query string. */
function safeNext(value: FormDataEntryValue | null): string {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') ? value : '/';
}

export async function signInAction(form: FormData): Promise<void> {
  const name = String(form.get('name') ?? '').trim();
  const next = safeNext(form.get('next'));
  if (!USER_NAME.test(name)) redirect(`/signin?error=name&next=${encodeURIComponent(next)}`);
  await signIn(name);
  redirect(next);
}

export async function signOutAction(): Promise<void> {
  await signOut();
  redirect('/');
}
