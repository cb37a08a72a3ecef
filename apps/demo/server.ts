// The demo's server: Next.js and the embedded Herald hub on one port (WebSocket included).
// `npm start` runs it in production mode, building first when the sources changed since the last build.
// It imports the packages from source (tsx, `--conditions=@herald/source`); Next.js compiles the app
// against their dist/, as in any app that installs them, so both modes build the packages first.
import { createServer } from 'node:net';
import { startNextServer } from '@herald/next/server';
import { buildPackages } from '../../scripts/build-packages.ts';
import { demoHub } from './lib/herald.ts';
import { DEMO_DIR, ensureBuild } from './scripts/build.ts';

const dev = process.env.NODE_ENV !== 'production';
const hostname = process.env.HOST ?? '127.0.0.1';
const port = await portToUse(Number(process.env.PORT ?? 3000), hostname);
// The hub's webhooks go to this server (lib/online.ts), which must know its port before the hub exists.
process.env.PORT = String(port);

if (dev) await buildPackages();
else if (await ensureBuild()) console.log('herald demo: built');
await demoHub();
const app = await startNextServer({ dir: DEMO_DIR, dev, port, hostname, basePath: '/realtime' }).catch(
  (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    console.error(`herald demo: port ${port} on ${hostname} is in use; set PORT to another one`);
    process.exit(1);
  },
);
console.log(`herald demo: ready on ${app.url} (${dev ? 'development' : 'production'})`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

/** `port`, or for 0 a free one, picked now. */
async function portToUse(port: number, host: string): Promise<number> {
  if (port !== 0) return port;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, host, resolve));
  const { port: free } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return free;
}
