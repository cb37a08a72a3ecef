import { createRequire } from 'node:module';

/**
 * The @herald/server version, read from its package.json at run time (the same relative path from `src/`
 * and from a build output folder beside it); the standalone binary build inlines it instead.
 */
export const version: string = (createRequire(import.meta.url)('../package.json') as { version: string })
  .version;
