import { createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a hub, so a test can cut live connections at the network level,
 * the way a flaky proxy or a dropped Wi-Fi does, without either end closing cleanly. Given several hubs
 * it sends each new connection to the next one, as a load balancer without affinity does.
 */
export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  private server!: Server;
  private accepted = 0;
  port = 0;
  /** While set, new connections are reset at once, as when the network is down. */
  refusing = false;

  private constructor(private readonly targetPorts: number[]) {}

  static async start(targetPort: number | number[]): Promise<TcpProxy> {
    const proxy = new TcpProxy(Array.isArray(targetPort) ? targetPort : [targetPort]);
    proxy.server = createServer((client) => proxy.accept(client));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = new (client.constructor as typeof Socket)();
    upstream.connect(this.targetPorts[this.accepted++ % this.targetPorts.length], '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Stops reading from the hub on every connection: the client looks alive but consumes nothing. */
  stallAll(): void {
    for (const [, upstream] of this.pairs) upstream.pause();
  }

  /** Destroys every proxied connection at once (both directions, no close handshake). */
  cutAll(): number {
    const n = this.pairs.size;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    return n;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
