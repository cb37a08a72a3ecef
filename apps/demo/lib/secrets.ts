import { randomBytes } from 'node:crypto';

// The app signs the tokens the hub verifies, so both read HERALD_TOKEN_SECRET, and the hub's API
// (`/realtime/api/*`) wants HERALD_API_KEY. `npm start` needs no setup: without them each run makes its
// own (sign-ins then end with the process). They live in process.env because the custom server and
// every Next.js bundle of this process must agree on them.

export function tokenSecret(): string {
  process.env.HERALD_TOKEN_SECRET ||= randomBytes(32).toString('base64url');
  return process.env.HERALD_TOKEN_SECRET;
}

export function apiKey(): string {
  process.env.HERALD_API_KEY ||= randomBytes(24).toString('base64url');
  return process.env.HERALD_API_KEY;
}
