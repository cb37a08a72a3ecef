import type { NextConfig } from 'next';

const config: NextConfig = {
  // The root `npm run typecheck` checks the demo with the rest of the repo; the build need not again.
  typescript: { ignoreBuildErrors: true },
  devIndicators: false,
  poweredByHeader: false,
};

export default config;
