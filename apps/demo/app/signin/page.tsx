import { currentUser } from '../../lib/session.ts';
import { signInAction, signOutAction } from './actions.ts';

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string>>;
}) {
  const { next = '/', error } = await searchParams;
  const user = await currentUser();
  return (
    <>
      <h1>Sign in</h1>
      {user && (
        <form action={signOutAction}>
          <p>
            Signed in as <b data-testid="signed-in-user">{user}</b>. <button type="submit">Sign out</button>
          </p>
        </form>
      )}
      <p className="muted">No password: pick a name. It names your private notification channel.</p>
      <form action={signInAction} className="row">
        <input type="hidden" name="next" value={next} />
        <input
          name="name"
          placeholder="your name"
          aria-label="name"
          required
          pattern="[A-Za-z0-9_\-]{1,24}"
        />
        <button className="primary" type="submit">
          Sign in
        </button>
      </form>
      {error && <p className="error">Use 1 to 24 letters, digits, _ or -.</p>}
    </>
  );
}
