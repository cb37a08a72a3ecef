import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['packages/*/test/**/*.test.{ts,tsx}', 'bench/test/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        // Browser tests share one demo build, server and Chromium, set up once per run (only when they run).
        extends: true,
        test: {
          name: 'browser',
          include: ['apps/*/test/**/*.test.ts'],
          globalSetup: ['apps/demo/test/support/global-setup.ts'],
          // A page takes its time to render what arrives: every `expect.poll` waits up to 15 s.
          expect: { poll: { timeout: 15_000, interval: 50 } },
        },
      },
    ],
  },
});
