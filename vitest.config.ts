import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests import the workspace packages from their TypeScript sources (the `@herald/source` export
// condition), so editing a package needs no build. The rest are Vitest's defaults, for every environment
// (happy-dom too): Node's conditions, never `browser` (ws, for one, has a browser stub).
const conditions = ['@herald/source', ...defaultServerConditions.filter((c) => c !== 'module')];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The `herald` CLI and Next.js builds under test use dist/ as an installed package would: fresh each run.
    globalSetup: ['scripts/build-packages.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['packages/*/test/**/*.test.{ts,tsx}', 'bench/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/consumer/**', '**/node_modules/**'],
        },
      },
      {
        // Browser tests share one demo build, server and Chromium, set up once per run (only when they run).
        extends: true,
        test: {
          name: 'browser',
          include: ['apps/*/test/**/*.test.ts'],
          globalSetup: ['apps/demo/test/support/global-setup.ts'],
          // Bounded, but generous for a loaded 2-core machine (Next.js, Chromium and other tests at once):
          // an `expect.poll` waits up to 30 s for a page to show what arrived, a test runs up to 2 minutes.
          expect: { poll: { timeout: 30_000, interval: 50 } },
          testTimeout: 120_000,
        },
      },
      {
        // Packs every package and installs the tarballs into a Next.js app outside the repository, as a user
        // does: npm install, next build, next start and Chromium take minutes, not the node project's seconds.
        extends: true,
        test: {
          name: 'consumer',
          include: ['test/consumer/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
