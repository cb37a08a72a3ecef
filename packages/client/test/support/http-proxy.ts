import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ProxyRules {
  /** Answer every WebSocket upgrade with this HTTP status instead of forwarding it. */
  refuseUpgrades?: number;
  /** Paths (without query) answered by the proxy itself: a status, or `hang` (never answer, like a buffering proxy). */
  intercept?: (path: string) => number | 'hang' | undefined;
}

/**
 * A plain HTTP reverse proxy in front of a hub, of the kind that stands between browsers and servers:
 * it forwards requests and streams responses, and can be told to refuse WebSocket upgrades or to swallow
 * some endpoints. `rules` can be changed while it runs.
 */
export class HttpProxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  private constructor(
    private readonly targetPort: number,
    public rules: ProxyRules,
  ) {}

  static async start(targetPort: number, rules: ProxyRules = {}): Promise<HttpProxy> {
    const proxy = new HttpProxy(targetPort, rules);
    proxy.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const intercepted = proxy.rules.intercept?.(path);
      if (intercepted === 'hang') return;
      if (intercepted !== undefined) {
        res.writeHead(intercepted, { 'content-type': 'text/html' }).end('<h1>blocked by the proxy</h1>');
        return;
      }
      const upstream = request(
        {
          host: '127.0.0.1',
          port: proxy.targetPort,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy()); // the client went away: so does the hub's side
      req.pipe(upstream);
    });
    proxy.server.on('connection', (socket: Socket) => {
      proxy.sockets.add(socket);
      socket.on('close', () => proxy.sockets.delete(socket));
    });
    proxy.server.on('upgrade', (req, socket: Socket, head) => {
      if (proxy.rules.refuseUpgrades) {
        socket.end(
          `HTTP/1.1 ${proxy.rules.refuseUpgrades} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
        return;
      }
      const upstream = request({
        host: '127.0.0.1',
        port: proxy.targetPort,
        path: req.url,
        method: req.method,
        headers: req.headers,
      });
      upstream.on('upgrade', (answer, upstreamSocket, upstreamHead) => {
        const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}`];
        for (let i = 0; i < answer.rawHeaders.length; i += 2)
          lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (upstreamHead.length) socket.write(upstreamHead);
        if (head.length) upstreamSocket.write(head);
        upstreamSocket.pipe(socket).pipe(upstreamSocket);
        const drop = () => {
          socket.destroy();
          upstreamSocket.destroy();
        };
        socket.on('error', drop).on('close', drop);
        upstreamSocket.on('error', drop).on('close', drop);
      });
      upstream.on('response', (answer) => {
        socket.end(`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\nConnection: close\r\n\r\n`);
      });
      upstream.on('error', () => socket.destroy());
      upstream.end();
    });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Destroys every client connection at once: streams, polls and sockets die mid-flight. */
  cutAll(): number {
    const n = this.sockets.size;
    for (const socket of this.sockets) socket.destroy();
    return n;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
