import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CloseCodes, HeraldError } from '@herald/protocol';
import {
  answerClientErrors,
  type Hub,
  replyOnSocket,
  WEBSOCKET_PATH,
  WebSocketTransport,
} from '@herald/server';
import { closeHub, getHub, type HubSource, resolveHub } from './hub.ts';
import { servesWebSocket } from './transports.ts';

export interface NextServerOptions {
  /** The Next.js app directory. Default: the working directory. */
  dir?: string;
  /** Next.js dev mode (compile on demand, hot reload). Default: `NODE_ENV !== 'production'`. */
  dev?: boolean;
  /** Interface to listen on. Default `127.0.0.1`. */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. Default 3000. */
  port?: number;
  /** Where the `[...herald]` catch-all route is mounted; WebSocket upgrades are served below it. */
  basePath?: string;
  /** The hub; default the process-wide `getHub()`, which the route handlers share. */
  hub?: HubSource;
  /** Suppress Next.js's error messages about server internals. */
  quiet?: boolean;
}

export interface NextServer {
  /** `http://HOST:PORT` */
  url: string;
  port: number;
  server: Server;
  hub: Hub;
  websocket: WebSocketTransport;
  /** Drains WebSocket clients (told to reconnect), then stops Next.js and the port. */
  close(): Promise<void>;
}

/** The part of `next()` (Next.js's custom-server API) used here. */
type CreateNextApp = (options: {
  dev?: boolean;
  dir?: string;
  hostname?: string;
  port?: number;
  quiet?: boolean;
  httpServer?: Server;
}) => {
  prepare(): Promise<void>;
  getRequestHandler(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  close(): Promise<void>;
};

// `require`: Next.js is CommonJS, and what a default import of it is typed as depends on the importer's
// module resolution (NodeNext or Bundler); at runtime it is `createServer` either way.
const next = createRequire(import.meta.url)('next') as CreateNextApp;

/**
 * Runs Next.js and the hub on one port: HTTP goes to Next.js (whose `[...herald]` route handlers serve SSE,
 * long-polling and the API), WebSocket upgrades to `<basePath>/connection/websocket` go to the hub, and
 * every other upgrade (dev-mode hot reload) to Next.js.
 */
export async function startNextServer(options: NextServerOptions = {}): Promise<NextServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const basePath = options.basePath ?? '/realtime';
  const hub = await resolveHub(options.hub ?? getHub);
  const server = createServer();
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  // Next.js adds its own upgrade listener to the server it runs on, and that listener ends every upgrade
  // to a path it routes, ours included. It gets this never-listening server instead, and only its own
  // upgrades (`/_next/…`: dev-mode hot reload) are relayed to it; it would leave any other one hanging.
  const nextUpgrades = createServer();
  const app = next({
    dev: options.dev ?? process.env.NODE_ENV !== 'production',
    dir: options.dir,
    hostname,
    port,
    quiet: options.quiet,
    httpServer: nextUpgrades,
  });
  const ready = app.prepare().then(() => app.getRequestHandler());
  server.on('request', (req, res) => {
    ready
      .then((handle) => handle(req, res))
      .catch((err) => {
        hub.log.error({ err, url: req.url }, 'next.js request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });

  const websocket = new WebSocketTransport(hub);
  websocket.attach(server, {
    path: `${basePath}${WEBSOCKET_PATH}`,
    otherwise: (req, socket, head) => {
      if (req.url?.includes('/_next/') && nextUpgrades.listenerCount('upgrade') > 0)
        nextUpgrades.emit('upgrade', req, socket, head);
      else replyOnSocket(socket, new HeraldError('not_found', 'no WebSocket endpoint at this path'));
    },
  });

  servesWebSocket(hub, true);

  try {
    await ready;
  } catch (err) {
    servesWebSocket(hub, false);
    await new Promise((resolve) => server.close(resolve));
    throw err;
  }

  let closing: Promise<void> | undefined;
  const close = async () => {
    servesWebSocket(hub, false);
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    await websocket.close(CloseCodes.shutdown, 'server shutting down');
    if (options.hub === undefined) await closeHub();
    await app.close();
    server.closeAllConnections();
    await stopped;
  };
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    hub,
    websocket,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
