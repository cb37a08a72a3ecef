import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 of `text` with `secret`, hex: every Pusher signature. */
export function sign(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

export function md5(body: string): string {
  return createHash('md5').update(body).digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether `auth` (`key:signature`, from the app's auth endpoint) signs `text` with the app's secret:
 * `socket_id:channel[:channel_data]` for a channel, `socket_id::user::user_data` for a sign-in.
 */
export function verifyAuth(app: { key: string; secret: string }, auth: unknown, text: string): boolean {
  if (typeof auth !== 'string') return false;
  const colon = auth.indexOf(':');
  if (colon === -1) return false;
  const key = auth.slice(0, colon);
  const signature = auth.slice(colon + 1);
  return safeEqual(key, app.key) && safeEqual(signature, sign(app.secret, text));
}
