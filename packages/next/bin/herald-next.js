#!/usr/bin/env node
// `npx @herald/next init`: runs the compiled generator. In a checkout, `npm run build` makes dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/init-cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(`herald-next: ${fileURLToPath(cli)} is missing; build the packages first (npm run build)`);
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
