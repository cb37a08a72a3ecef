/**
 * Pushpin (Debian's package) in front of a minimal GRIP origin: WebSocket clients connect to Pushpin,
 * which asks the origin over WebSocket-over-HTTP; the origin subscribes each connection to the channel
 * named by `?channel=` and tells the client `ready`. Messages are published to Pushpin's HTTP publish
 * endpoint (`ws-message` format). Pushpin runs its own processes (condure, proxy, handler, zurl); all of
 * them inherit this process's core and are measured together.
 *
 * Changed from Debian's pushpin.conf, and only these: private ports and run directory, loopback only,
 * `message_rate`/`message_hwm` raised (the default 2,500 messages/s is a throttle, not a capacity), log
 * level 1 (the default logs a line per publish), and zurl wired into the run directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../proc.ts';
import { announce } from './control.ts';

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listening(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    }).catch(() => false);
    if (up) return;
    await sleep(100);
  }
  throw new Error(`pushpin did not listen on ${port}`);
}

/** The GRIP origin: subscribes every WebSocket to its channel and says `ready` (GRIP's `m:` prefix). */
function startOrigin(): Promise<number> {
  const origin = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      let events = '';
      if (body.startsWith('OPEN')) {
        const channel = new URL(req.url ?? '/', 'http://x').searchParams.get('channel') ?? 'bench';
        const subscribe = `c:${JSON.stringify({ type: 'subscribe', channel })}`;
        events = `OPEN\r\nTEXT ${Buffer.byteLength(subscribe).toString(16)}\r\n${subscribe}\r\nTEXT 7\r\nm:ready\r\n`;
      }
      res.writeHead(200, {
        'Content-Type': 'application/websocket-events',
        'Sec-WebSocket-Extensions': 'grip',
      });
      res.end(events);
    });
  });
  return new Promise((resolve) =>
    origin.listen(0, '127.0.0.1', () => resolve((origin.address() as { port: number }).port)),
  );
}

const dir = mkdtempSync(join(tmpdir(), 'herald-bench-pushpin-'));
const originPort = await startOrigin();
const [clientPort, publishPort, pushPort, subPort, commandPort] = await Promise.all(
  Array.from({ length: 5 }, () => freePort()),
);
const settings: Record<string, string> = {
  rundir: dir,
  ipc_prefix: 'bench-',
  http_port: `127.0.0.1:${clientPort}`,
  logdir: dir,
  log_level: '1',
  services: 'condure,zurl,pushpin-proxy,pushpin-handler',
  routesfile: join(dir, 'routes'),
  push_in_spec: `tcp://127.0.0.1:${pushPort}`,
  push_in_sub_specs: `tcp://127.0.0.1:${subPort}`,
  push_in_http_addr: '127.0.0.1',
  push_in_http_port: String(publishPort),
  command_spec: `tcp://127.0.0.1:${commandPort}`,
  message_rate: '100000000',
  message_hwm: '100000000',
};
let config = readFileSync('/etc/pushpin/pushpin.conf', 'utf8').replace(/^(\w+)=.*$/gm, (line, key: string) =>
  key in settings ? `${key}=${settings[key]}` : line,
);
// Debian's internal.conf points the proxy at a system zurl; use the one the runner starts here.
config = config.replace(
  '[proxy]\n',
  '[proxy]\nzurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in\nzurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream\nzurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out\n',
);
writeFileSync(join(dir, 'pushpin.conf'), config);
writeFileSync(join(dir, 'routes'), `* 127.0.0.1:${originPort},over_http\n`);

const pushpin: ChildProcess = spawn('pushpin', ['--config', join(dir, 'pushpin.conf'), '--merge-output'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const stop = () => {
  pushpin.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', stop);
const deadline = Date.now() + 30_000;
await Promise.all([listening(clientPort, deadline), listening(publishPort, deadline)]);
announce(clientPort, { publishPort });
