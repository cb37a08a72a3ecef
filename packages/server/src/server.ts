import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ChannelDefinitions, CloseCodes, HeraldError } from '@herald/protocol';
import { createBroker } from './brokers/create-broker.ts';
import { ConfigError, type HeraldConfig, type HeraldConfigInput, parseConfig } from './config.ts';
import type { Authenticator } from './core/auth.ts';
import type { Broker } from './core/broker.ts';
import type { Logger } from './core/logger.ts';
import { isLoopbackHost, isOwnHost } from './core/origin.ts';
import { serveApi } from './http/api.ts';
import { checkHost, NodeApiRequest, sendReply, sendWebResponse, toWebRequest } from './http/node-adapter.ts';
import { errorReply } from './http/reply.ts';
import { handleRequest } from './http/routes.ts';
import { answerClientErrors, replyOnSocket } from './http/socket-reply.ts';
import { Hub } from './hub.ts';
import { SSE_PATH, type SseTransport } from './transports/http/sse.ts';
import { isPusherPath } from './transports/pusher/pusher.ts';
import { WebSocketTransport } from './transports/websocket.ts';

/**
 * `/api/<method>` in origin form, its method a plain name: what a web `URL` would not rewrite (no dot
 * segments or escapes), so the path means the same to the route table. Other targets go through it.
 */
const API_CALL = /^\/api\/([A-Za-z]+)(?:[?#]|$)/;

export interface HeraldServerOptions {
  config?: HeraldConfig | HeraldConfigInput;
  broker?: Broker;
  authenticator?: Authenticator;
  logger?: Logger;
  /** `defineChannels(…)`: the schemas publications are checked against (see `HubOptions`). */
  channels?: ChannelDefinitions;
  /** Timeouts of Node's HTTP server; a request past them gets 408 `request_timeout`. Node's defaults otherwise. */
  http?: Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>;
}

/** A started hub with its broker: what `herald serve` runs, and what apps embed (Next.js). */
export async function createHub(options: HeraldServerOptions = {}): Promise<Hub> {
  const config = parseConfig(options.config ?? {});
  const broker = options.broker ?? (await createBroker(config.broker, options.logger));
  const { authenticator, logger, channels } = options;
  let hub: Hub;
  try {
    hub = new Hub({ config, broker, authenticator, logger, channels });
  } catch (err) {
    await broker.close(); // a config schema that does not compile: no connection left behind
    throw err;
  }
  await hub.start();
  return hub;
}

/** A hub with every transport on one HTTP port: what `herald serve` runs. */
export class HeraldServer {
  readonly hub: Hub;
  readonly http: Server;
  readonly websocket: WebSocketTransport;
  readonly sse: SseTransport;
  /** Whether it listens on loopback only, where a foreign Host means a DNS-rebinding page. */
  private loopbackOnly = false;
  /** The origins the config lists: their hosts are this hub's too (a proxy passing the public Host). */
  private readonly configuredOrigins: readonly string[];
  /** The last Host accepted: a backend's keep-alive requests all send the same one, checked once. */
  private acceptedHost: string | undefined;

  private constructor(hub: Hub, options: HeraldServerOptions) {
    this.hub = hub;
    this.configuredOrigins = [...hub.config.allowedOrigins, ...hub.config.apiAllowedOrigins];
    this.websocket = new WebSocketTransport(hub);
    this.sse = hub.http.sse;
    this.http = createServer({ requireHostHeader: false, ...options.http }, (req, res) =>
      this.serve(req, res),
    );
    const pusher = hub.pusher;
    this.websocket.attach(this.http, {
      guard: (req) => this.hostRefusal(req),
      otherwise: (req, socket, head) => {
        if (pusher && isPusherPath(req.url)) pusher.handleUpgrade(req, socket, head);
        else replyOnSocket(socket, new HeraldError('not_found', 'no WebSocket endpoint at this path'));
      },
    });
    answerClientErrors(this.http);
  }

  /**
   * The refusal for a request whose Host is malformed (400), or not this hub's on a hub listening on
   * loopback (403).
   */
  private hostRefusal(req: IncomingMessage): HeraldError | undefined {
    // Node's own refusal of a missing Host is a bare 400 (so the server turns it off): HTTP/1.0 may
    // leave Host out, HTTP/1.1 must send it (RFC 9112 3.2).
    const host = req.headers.host;
    if (host === undefined && req.httpVersion !== '1.0')
      return new HeraldError('bad_request', `HTTP/${req.httpVersion} requests need a Host header`);
    if (host !== undefined && host === this.acceptedHost) return undefined;
    try {
      checkHost(host);
    } catch (err) {
      return err as HeraldError;
    }
    if (!this.loopbackOnly || isOwnHost(host, this.configuredOrigins)) {
      this.acceptedHost = host;
      return undefined;
    }
    return new HeraldError(
      'origin_not_allowed',
      `Host ${String(req.headers.host).slice(0, 100)} is not this hub's: on loopback it answers loopback names and the hosts of allowedOrigins`,
    );
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const hub = this.hub;
    const refusal = this.hostRefusal(req);
    if (refusal) {
      sendReply(errorReply(refusal), res);
      return;
    }
    // The server API answers whole JSON bodies, so it needs no web Request or Response.
    const api = req.method === 'POST' ? API_CALL.exec(req.url ?? '') : null;
    if (api) {
      serveApi(hub, api[1], new NodeApiRequest(req))
        .then((reply) => sendReply(reply, res))
        .catch((err) => {
          hub.log.error({ err }, 'unhandled request failure');
          res.destroy();
        });
      return;
    }
    // SSE streams skip the web-stream adapter: their bytes go straight to the socket.
    if (req.method === 'GET' && req.url?.split('?', 1)[0] === SSE_PATH) {
      this.sse.serveNode(req, res).catch((err) => {
        hub.log.error({ err }, 'sse request failed');
        res.destroy();
      });
      return;
    }
    let request: Request;
    try {
      request = toWebRequest(req, res);
    } catch (err) {
      if (!(err instanceof HeraldError)) hub.log.error({ err }, 'request could not be read');
      sendReply(errorReply(err), res);
      return;
    }
    handleRequest(request, hub)
      .then((response) => sendWebResponse(response, res))
      .catch((err) => {
        hub.log.error({ err }, 'unhandled request failure');
        res.destroy();
      });
  }

  static async create(options: HeraldServerOptions = {}): Promise<HeraldServer> {
    return new HeraldServer(await createHub(options), options);
  }

  /** Listens on the configured host and port (0 picks a free port). */
  async listen(port = this.hub.config.port, host = this.hub.config.host): Promise<AddressInfo> {
    const { apiKey, allowUnauthenticatedApi } = this.hub.config;
    if (!isLoopbackHost(host) && apiKey === undefined && !allowUnauthenticatedApi) {
      throw new ConfigError(
        `refusing to listen on ${host} without HERALD_API_KEY: anyone who can reach it could publish through /api/*. Set HERALD_API_KEY, or pass --insecure (HERALD_INSECURE=1) to run it open`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    const address = this.http.address() as AddressInfo;
    this.loopbackOnly = isLoopbackHost(address.address);
    this.acceptedHost = undefined;
    return address;
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
