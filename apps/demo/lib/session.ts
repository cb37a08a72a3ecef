import { createHmac } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { cookies } from 'next/headers';
import { tokenSecret } from './secrets.ts';

const COOKIE = 'herald-demo-session';
/** Names become private channel names (`notifications:#ada`), so they keep to channel characters. */
export const USER_NAME = /^[A-Za-z0-9_-]{1,24}$/;

const tokenKey = () => new TextEncoder().encode(tokenSecret());
// The session cookie is signed with a key derived from the hub's secret, so it is never a valid
// connection token itself: browsers only ever hold short-lived connection tokens.
const sessionKey = () => createHmac('sha256', tokenSecret()).update('session').digest();

export async function signIn(user: string): Promise<void> {
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime('7d')
    .sign(sessionKey());
  (await cookies()).set(COOKIE, jwt, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 7 * 86_400 });
}

export async function signOut(): Promise<void> {
  (await cookies()).delete(COOKIE);
}

/** The signed-in user, or null. */
export async function currentUser(): Promise<string | null> {
  const jwt = (await cookies()).get(COOKIE)?.value;
  if (!jwt) return null;
  try {
    const { payload } = await jwtVerify(jwt, sessionKey(), { algorithms: ['HS256'] });
    return typeof payload.sub === 'string' && USER_NAME.test(payload.sub) ? payload.sub : null;
  } catch {
    return null;
  }
}

/** A 15-minute connection token for the hub; the client asks `/auth/token` for a new one before expiry. */
export function connectionToken(user: string): Promise<string> {
  return new SignJWT({ info: { name: user } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime('15m')
    .sign(tokenKey());
}
