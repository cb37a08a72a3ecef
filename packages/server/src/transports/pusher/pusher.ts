import { randomInt } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { PublishResult } from '@herald/protocol';
import type { WebSocketServer } from 'ws';
import type { PusherApp, PusherConfig } from '../../config.ts';
import type { ConnectContext } from '../../core/auth.ts';
import type { HubCore } from '../../core/hub.ts';
import { toHeraldError } from '../../core/session.ts';
import { replyOnSocket } from '../../http/socket-reply.ts';
import { FlushQueue } from '../flush-queue.ts';
import { SharedTicker } from '../shared-ticker.ts';
import { heartbeat, IGNORED, type SinkSocket, type SocketSink, sinkSocketServer } from '../socket-sink.ts';
import { PUSHER_CREDENTIALS } from './authenticator.ts';
import { type Exclusion, PusherConnection, type PusherHost } from './connection.ts';
import type { PusherWebhooks } from './webhooks.ts';
import { PROTOCOLS, PusherCodes } from './wire.ts';

/** `/app/{key}`: where pusher-js connects. */
const APP_PATH = /^\/app\/([^/]*)$/;

/** How long a `socket_id` exclusion waits for its publication to come by. */
const EXCLUSION_MS = 10_000;

const ping = (connection: PusherConnection): void => connection.emit('pusher:ping', {});

export function isPusherPath(url: string | undefined): boolean {
  return APP_PATH.test(url?.split('?', 1)[0] ?? '');
}

/**
 * The Pusher Channels protocol on Herald (docs/pusher.md): pusher-js connections at `/app/{key}`, made
 * once per hub and shared with its Pusher HTTP API (`/apps/{id}/…`). Every connection is a hub session;
 * heartbeats and sign-in deadlines run on shared timers.
 */
export class PusherTransport implements PusherHost {
  readonly flushQueue = new FlushQueue<SocketSink>();
  readonly connections = new Set<PusherConnection>();
  private readonly server: WebSocketServer;
  private readonly byKey = new Map<string, PusherApp>();
  private readonly byId = new Map<string, PusherApp>();
  private readonly bySocketId = new Map<string, PusherConnection>();
  /** Signed-in connections by app id and user id. */
  private readonly byUser = new Map<string, Set<PusherConnection>>();
  /** Connections of apps that require sign-in, until they sign in. */
  private readonly unsigned: SharedTicker<PusherConnection>;
  private readonly heartbeat: NodeJS.Timeout;
  /** `socket_id` is `<node>.<n>`, the form the server SDKs check; the node part keeps nodes apart. */
  private readonly node = randomInt(1, 2 ** 31);
  private sockets = 0;

  constructor(
    readonly hub: HubCore,
    readonly config: PusherConfig,
    /** The apps' Pusher-format webhooks, when any app lists receivers. */
    readonly webhooks?: PusherWebhooks,
  ) {
    for (const app of config.apps) {
      this.byKey.set(app.key, app);
      this.byId.set(app.id, app);
    }
    this.server = sinkSocketServer(hub.config.maxPayloadBytes);
    this.heartbeat = setInterval(
      () => heartbeat(this.connections, ping, 'Pong reply not received'),
      config.activityTimeout * 1000,
    );
    this.heartbeat.unref();
    this.unsigned = new SharedTicker(1000, (connections, now) => {
      for (const connection of [...connections]) {
        if (now - connection.openedAt < connection.app.signinTimeout * 1000) continue;
        this.unsigned.delete(connection);
        connection.refuse(PusherCodes.unauthorized, 'this app requires sign-in (pusher:signin) in time');
      }
    });
  }

  app(id: string): PusherApp | undefined {
    return this.byId.get(id);
  }

  /** An upgrade to `/app/{key}`; the Origin and per-IP limits refuse it with a plain HTTP error first. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const origin = request.headers.origin;
    const context: ConnectContext = {
      transport: 'pusher',
      ip: request.socket.remoteAddress,
      origin,
      host: origin === undefined ? undefined : request.headers.host,
      cookie: request.headers.cookie,
    };
    const refusal = this.hub.admission.check(context);
    if (refusal) {
      replyOnSocket(socket, refusal);
      return;
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    const key = decodeURIComponent(APP_PATH.exec(url.pathname)?.[1] ?? '');
    this.server.handleUpgrade(request, socket, head, (ws) => {
      const sinkSocket = ws as SinkSocket;
      const app = this.byKey.get(key);
      const protocol = url.searchParams.get('protocol');
      const why =
        app === undefined
          ? ([PusherCodes.unknownApp, `App key ${key.slice(0, 64)} does not exist`] as const)
          : protocol === null
            ? ([PusherCodes.noProtocol, 'No protocol version supplied'] as const)
            : !PROTOCOLS.has(protocol)
              ? ([
                  PusherCodes.unsupportedProtocol,
                  `Unsupported protocol version ${protocol.slice(0, 10)}`,
                ] as const)
              : undefined;
      if (app === undefined || why !== undefined) {
        sinkSocket.sink = IGNORED;
        const [code, message] = why ?? [PusherCodes.unknownApp, 'unknown app'];
        sinkSocket.send(JSON.stringify({ event: 'pusher:error', data: { code, message } }));
        sinkSocket.close(code, message);
        return;
      }
      this.accept(sinkSocket, socket, app, context);
    });
  }

  /**
   * Lets the connection in as the hub lets every client in (`hub.connect`): Origin and connections per
   * IP; it presents no Herald credentials (`PUSHER_CREDENTIALS`: the app's signatures authorise its
   * channels and sign-in). Then `pusher:connection_established`.
   */
  private accept(ws: SinkSocket, socket: Duplex, app: PusherApp, context: ConnectContext): void {
    const socketId = `${this.node}.${++this.sockets}`;
    const connection = new PusherConnection(this, app, socketId, ws, socket);
    ws.sink = connection;
    this.connections.add(connection);
    this.bySocketId.set(socketId, connection);
    this.hub
      .connect(connection, context, PUSHER_CREDENTIALS)
      .then(() => {
        if (connection.session.closed) return;
        if (app.userAuthentication === 'required') this.unsigned.add(connection);
        connection.emit(
          'pusher:connection_established',
          JSON.stringify({ socket_id: socketId, activity_timeout: this.config.activityTimeout }),
        );
      })
      .catch((err: unknown) => {
        const error = toHeraldError(err);
        const code =
          error.status === 429 || error.status >= 500 ? PusherCodes.overCapacity : PusherCodes.unauthorized;
        connection.refuseSocket(code, error.message);
      });
  }

  forget(connection: PusherConnection): void {
    this.connections.delete(connection);
    this.bySocketId.delete(connection.socketId);
    this.unsigned.delete(connection);
    if (connection.user === null) return;
    const key = userKey(connection.app, connection.user.id);
    const set = this.byUser.get(key);
    set?.delete(connection);
    if (set?.size === 0) this.byUser.delete(key);
  }

  signedIn(connection: PusherConnection): void {
    this.unsigned.delete(connection);
    const key = userKey(connection.app, (connection.user as { id: string }).id);
    let set = this.byUser.get(key);
    if (!set) {
      set = new Set();
      this.byUser.set(key, set);
    }
    set.add(connection);
  }

  /** Closes the user's connections on this node (`terminate_connections`); returns how many. */
  terminate(app: PusherApp, user: string): number {
    const set = this.byUser.get(userKey(app, user));
    if (!set) return 0;
    const connections = [...set];
    for (const connection of connections)
      connection.refuse(PusherCodes.unauthorized, 'terminated by the app');
    return connections.length;
  }

  /**
   * Publishes an event on the Herald channel of the same name. `except`: the connection (by `socket_id`,
   * or the client event's sender) that must not get it, when it is on this node.
   */
  async publish(
    channel: string,
    event: string,
    data: unknown,
    except?: PusherConnection | string,
  ): Promise<PublishResult> {
    const connection = typeof except === 'string' ? this.bySocketId.get(except) : except;
    if (connection === undefined) return this.hub.publish(channel, { data, event });
    const exclusion: Exclusion = { channel, event, json: JSON.stringify(data) };
    connection.exclude(exclusion);
    try {
      return await this.hub.publish(channel, { data, event });
    } finally {
      // Fan-out may come after the publish resolves (another broker node's round trip).
      setTimeout(() => connection.unexclude(exclusion), EXCLUSION_MS).unref();
    }
  }

  /** Stops the timers; the hub closes the connections (they are its sessions). */
  stop(): void {
    clearInterval(this.heartbeat);
    for (const connection of [...this.unsigned.members]) this.unsigned.delete(connection);
    this.server.close();
  }
}

function userKey(app: PusherApp, user: string): string {
  return `${app.id}\n${user}`;
}
