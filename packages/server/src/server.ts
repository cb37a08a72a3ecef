import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCodes } from '@herald/protocol';
import { createBroker } from './brokers/create-broker.ts';
import { type HeraldConfig, type HeraldConfigInput, parseConfig } from './config.ts';
import type { Authenticator } from './core/auth.ts';
import type { Broker } from './core/broker.ts';
import { Hub } from './core/hub.ts';
import type { Logger } from './core/logger.ts';
import { sendWebResponse, toWebRequest } from './http/node-adapter.ts';
import { handleRequest } from './http/routes.ts';
import { SSE_PATH, type SseTransport, sseTransport } from './transports/sse.ts';
import { WebSocketTransport } from './transports/websocket.ts';

export interface HeraldServerOptions {
  config?: HeraldConfig | HeraldConfigInput;
  broker?: Broker;
  authenticator?: Authenticator;
  logger?: Logger;
}

/** A started hub with its broker: what `herald serve` runs, and what apps embed (Next.js). */
export async function createHub(options: HeraldServerOptions = {}): Promise<Hub> {
  const config = parseConfig(options.config ?? {});
  const broker = options.broker ?? (await createBroker(config.broker, options.logger));
  const hub = new Hub({ config, broker, authenticator: options.authenticator, logger: options.logger });
  await hub.start();
  return hub;
}

/** A hub with every transport on one HTTP port: what `herald serve` runs. */
export class HeraldServer {
  readonly hub: Hub;
  readonly http: Server;
  readonly websocket: WebSocketTransport;
  readonly sse: SseTransport;

  private constructor(hub: Hub) {
    this.hub = hub;
    this.websocket = new WebSocketTransport(hub);
    this.sse = sseTransport(hub);
    this.http = createServer((req, res) => {
      // SSE streams skip the web-stream adapter: their bytes go straight to the socket.
      if (req.method === 'GET' && req.url?.split('?', 1)[0] === SSE_PATH) {
        this.sse.serveNode(req, res).catch((err) => {
          hub.log.error({ err }, 'sse request failed');
          res.destroy();
        });
        return;
      }
      const request = toWebRequest(req, res);
      handleRequest(request, hub).then(
        (response) => sendWebResponse(response, res),
        (err) => {
          hub.log.error({ err }, 'unhandled request failure');
          res.destroy();
        },
      );
    });
    this.websocket.attach(this.http);
    this.http.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }

  static async create(options: HeraldServerOptions = {}): Promise<HeraldServer> {
    return new HeraldServer(await createHub(options));
  }

  /** Listens on the configured host and port (0 picks a free port). */
  async listen(port = this.hub.config.port, host = this.hub.config.host): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    return this.http.address() as AddressInfo;
  }

  get url(): string {
    const address = this.http.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  private closing: Promise<void> | undefined;

  /** Graceful drain: every client is told to reconnect elsewhere, then the port closes. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.websocket.close(CloseCodes.shutdown, 'server shutting down');
    await this.hub.close(CloseCodes.shutdown, 'server shutting down');
    this.http.closeAllConnections();
    await closed;
  }
}
