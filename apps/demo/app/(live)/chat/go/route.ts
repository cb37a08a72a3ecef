import { ROOM_NAME } from '../../../../lib/chat.ts';

/** The room form's target: `/chat/go?room=x` → `/chat/x` (a relative Location: behind proxies too). */
export function GET(request: Request): Response {
  const room = new URL(request.url).searchParams.get('room') ?? '';
  return new Response(null, {
    status: 303,
    headers: { location: ROOM_NAME.test(room) ? `/chat/${room}` : '/chat' },
  });
}
