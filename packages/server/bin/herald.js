#!/usr/bin/env node
// Runs the compiled CLI: no TypeScript loader at run time. In a checkout, `npm run build` makes dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(`herald: ${fileURLToPath(cli)} is missing; build the packages first (npm run build)`);
  process.exit(1);
}
await import(cli.href);
