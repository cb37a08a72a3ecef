import { connectionToken, currentUser } from '../../../lib/session.ts';

export const dynamic = 'force-dynamic';

/** A fresh connection token for the signed-in user: the client calls this before its token expires. */
export async function GET(): Promise<Response> {
  const user = await currentUser();
  if (!user)
    return Response.json({ error: { code: 'unauthorized', message: 'not signed in' } }, { status: 401 });
  return Response.json({ token: await connectionToken(user) }, { headers: { 'cache-control': 'no-store' } });
}
