import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InitError, initApp } from './init.ts';

const USAGE = `Usage: herald-next init [--dir <app>]

Writes Herald into a Next.js App Router app (TypeScript):
  app/realtime/[...herald]/route.ts   the hub, mounted at /realtime
  app/herald-provider.tsx             <Realtime>: the provider, with the user's connection token
  app/realtime-token/route.ts         connection tokens for signed-in users (HERALD_TOKEN_SECRET)
Existing files are never overwritten: if any of them exists, nothing is written.

Options:
  --dir <app>   the app's directory (default: the current one)
  -h, --help    this help`;

/** `herald-next init`: exit 0 when the files were written, 1 when nothing was, 2 on a usage error. */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`herald-next: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'init') {
    console.error(`herald-next: expected the command \`init\`\n\n${USAGE}`);
    return 2;
  }
  const root = resolve(values.dir ?? '.');
  try {
    const written = await initApp(root);
    console.log(`herald-next: wrote\n${written.map((path) => `  ${path}`).join('\n')}
Next:
  1. In your root layout, wrap the children: <Realtime>{children}</Realtime> (from './herald-provider').
  2. Fill in currentUser() in realtime-token/route.ts, and set HERALD_TOKEN_SECRET (32+ characters).
  3. Publish from server code: await createPublisher().publish(channel, data) (from '@herald/next').
See docs/quickstart.md.`);
    return 0;
  } catch (err) {
    if (!(err instanceof InitError)) throw err;
    console.error(`herald-next: ${err.message}`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: { dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
}
