import { fileURLToPath } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];
/** Screenshots of every page, kept after the run (gitignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/demo', import.meta.url));
/** The demo server under test gets known secrets, so tests can call the hub API and reason about tokens. */
export const E2E_API_KEY = 'e2e-api-key';
export const E2E_TOKEN_SECRET = 'e2e-token-secret-at-least-32-characters-long';
