#!/usr/bin/env node
// `npx @herald/next init`: runs the compiled generator (in a checkout, `npm run build` makes dist/).
const { main } = await import('../dist/init-cli.js');
process.exitCode = await main(process.argv.slice(2));
