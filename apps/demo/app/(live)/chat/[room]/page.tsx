import { notFound, redirect } from 'next/navigation';
import { ROOM_NAME } from '../../../../lib/chat.ts';
import { currentUser } from '../../../../lib/session.ts';
import { ChatRoom } from './chat-room.tsx';

export default async function RoomPage({ params }: { params: Promise<{ room: string }> }) {
  const { room } = await params;
  if (!ROOM_NAME.test(room)) notFound();
  const user = await currentUser();
  if (!user) redirect(`/signin?next=/chat/${room}`);
  return <ChatRoom room={room} user={user} />;
}
