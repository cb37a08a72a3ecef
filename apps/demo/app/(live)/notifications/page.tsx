import Link from 'next/link';
import { currentUser } from '../../../lib/session.ts';
import { Inbox } from './inbox.tsx';

export default async function NotificationsPage() {
  const user = await currentUser();
  return (
    <>
      <h1>Notifications</h1>
      {user ? (
        <>
          <p className="muted">
            Yours arrive on <code>notifications:#{user}</code>: private to you (the hub checks your token),
            published only by the server (a Server Action). Send one to yourself or to anyone signed in
            elsewhere.
          </p>
          <Inbox user={user} />
        </>
      ) : (
        <p>
          <Link href="/signin?next=/notifications">Sign in</Link> to get notifications.
        </p>
      )}
    </>
  );
}
