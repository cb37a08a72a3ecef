import Link from 'next/link';
import { redirect } from 'next/navigation';
import { currentUser } from '../../../lib/session.ts';

const ROOMS = ['lobby', 'random', 'support'];

export default async function ChatIndex() {
  if (!(await currentUser())) redirect('/signin?next=/chat');
  return (
    <>
      <h1>Chat rooms</h1>
      <ul className="cards">
        {ROOMS.map((room) => (
          <li key={room}>
            <Link href={`/chat/${room}`}>#{room}</Link>
          </li>
        ))}
      </ul>
      <form action="/chat/go" className="row">
        <input
          name="room"
          aria-label="room"
          placeholder="any room name"
          pattern="[A-Za-z0-9_\-]{1,40}"
          required
        />
        <button type="submit">Open</button>
      </form>
    </>
  );
}
