import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import PusherServer from 'pusher';
import type { Channel, Options } from 'pusher-js';
import PusherJs from 'pusher-js';
import { afterEach, expect } from 'vitest';
import WebSocket from 'ws';
import { hubPerTest, type TestHub } from './hub.ts';

// pusher-js's type declarations miss the default export its Node build has.
type PusherClass = typeof import('pusher-js/types/src/core/pusher.js').default;
export const Pusher = PusherJs as unknown as PusherClass;
export type Pusher = InstanceType<PusherClass>;

/** The one Pusher app of these tests. */
export const APP = { id: '1001', key: 'test-key', secret: 'test-secret-0123' };

/** The official server SDK, pointed at a hub. */
export function serverSdk(hub: TestHub, app = APP): PusherServer {
  return new PusherServer({
    appId: app.id,
    key: app.key,
    secret: app.secret,
    host: '127.0.0.1',
    port: String(hub.port),
    useTLS: false,
  });
}

/** Who the auth endpoint says a socket is: the `user` form field the test client sends along. */
export interface AuthEndpoint {
  url: string;
  /** Answers every request with this app instead (a forger). */
  forgeWith?: typeof APP;
  close(): Promise<void>;
}

/**
 * The app's own auth endpoints, as a Pusher app writes them with the server SDK: `/auth` signs channel
 * subscriptions (`authorizeChannel`), `/user-auth` sign-ins (`authenticateUser`). The user is the
 * `user` parameter pusher-js sends from `params`.
 */
export async function authEndpoint(
  sdk: PusherServer,
  forger?: PusherServer,
): Promise<AuthEndpoint & { server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const socketId = form.get('socket_id') ?? '';
      const user = form.get('user') ?? 'anonymous';
      const signer = forger ?? sdk;
      let answer: unknown;
      if (req.url === '/user-auth') {
        answer = signer.authenticateUser(socketId, { id: user, user_info: { name: `User ${user}` } });
      } else {
        const channel = form.get('channel_name') ?? '';
        answer = channel.startsWith('presence-')
          ? signer.authorizeChannel(socketId, channel, { user_id: user, user_info: { name: `User ${user}` } })
          : signer.authorizeChannel(socketId, channel);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** pusher-js (its Node build) on a hub, with the app's auth endpoint, as a browser app configures it. */
export function pusherClient(
  hub: TestHub,
  options: { auth?: AuthEndpoint; user?: string; key?: string; extra?: Partial<Options> } = {},
): Pusher {
  const params = { user: options.user ?? 'anonymous' };
  return new Pusher(options.key ?? APP.key, {
    cluster: 'herald',
    wsHost: '127.0.0.1',
    wsPort: hub.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: { endpoint: `${options.auth?.url}/auth`, transport: 'ajax', params },
    userAuthentication: { endpoint: `${options.auth?.url}/user-auth`, transport: 'ajax', params },
    ...options.extra,
  });
}

const WAIT_MS = 10_000;

/** Resolves with the next `event` on `target` (a channel, `pusher.connection`, `pusher.user`), or fails in time. */
export function next<T = unknown>(
  // biome-ignore lint/suspicious/noExplicitAny: pusher-js's dispatchers type their callbacks loosely.
  target: { bind(event: string, callback: any): unknown; unbind(event: string, callback: any): unknown },
  event: string,
  what = event,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.unbind(event, handler);
      reject(new Error(`no ${what} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const handler = (data: T) => {
      clearTimeout(timer);
      target.unbind(event, handler);
      resolve(data);
    };
    target.bind(event, handler);
  });
}

/** Subscribes and waits for pusher:subscription_succeeded (its data: the presence members). */
export async function subscribed(pusher: Pusher, name: string): Promise<{ channel: Channel; data: unknown }> {
  const channel = pusher.subscribe(name);
  const data = await Promise.race([
    next(channel, 'pusher:subscription_succeeded', `subscription to ${name}`),
    next(channel, 'pusher:subscription_error').then((e) => {
      throw new Error(`subscription to ${name} refused: ${JSON.stringify(e)}`);
    }),
  ]);
  return { channel, data };
}

export async function connected(pusher: Pusher): Promise<string> {
  if (pusher.connection.state !== 'connected') await next(pusher.connection, 'connected');
  return pusher.connection.socket_id;
}

/** Collects a channel's events of one name, in order. */
export function collect(channel: Channel, event: string): unknown[] {
  const seen: unknown[] = [];
  channel.bind(event, (data: unknown) => seen.push(data));
  return seen;
}

/** App options a test may change. */
export type AppOverrides = Partial<typeof APP> & {
  clientEvents?: boolean;
  clientEventRate?: number;
  maxPresenceMembers?: number;
  userAuthentication?: 'optional' | 'required';
  signinTimeout?: number;
};

/**
 * For a test file: `hubPerTest`'s hubs, plus `setup` (a hub with the app, its SDK and a real auth
 * endpoint) and `client` (pusher-js on a hub), all closed after each test.
 */
export function pusherPerTest() {
  const { start, onCleanup } = hubPerTest();
  const clients: Pusher[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });
  return {
    start,
    onCleanup,
    async setup(app: AppOverrides = {}) {
      const hub = await start({ pusher: { apps: [{ ...APP, ...app }] } });
      const sdk = serverSdk(hub);
      const auth = await authEndpoint(sdk);
      onCleanup(() => auth.close());
      return { hub, sdk, auth };
    },
    client(hub: TestHub, options: Parameters<typeof pusherClient>[1] = {}): Pusher {
      const pusher = pusherClient(hub, options);
      clients.push(pusher);
      return pusher;
    },
  };
}

export interface RawFrame {
  event: string;
  channel?: string;
  data?: unknown;
}

/** A bare Pusher-protocol socket, to send what pusher-js never would; resolves once established. */
export async function rawPusher(hub: TestHub, query = 'protocol=7&client=js&version=8.6.0') {
  const ws = new WebSocket(`ws://127.0.0.1:${hub.port}/app/${APP.key}?${query}`);
  const frames: RawFrame[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await expect.poll(() => frames.length).toBe(1);
  const { socket_id: socketId } = JSON.parse(frames[0].data as string) as { socket_id: string };
  return {
    ws,
    frames,
    socketId,
    send: (event: string, data: unknown, channel?: string) =>
      ws.send(JSON.stringify({ event, data, channel })),
    /** The app's signature of `text`, as its auth endpoint would make it. */
    sign: (text: string) => `${APP.key}:${createHmac('sha256', APP.secret).update(text).digest('hex')}`,
    /** Resolves with the frames after the first `count` (the handshake is frame 0). */
    async next(count: number): Promise<RawFrame[]> {
      await expect.poll(() => frames.length).toBeGreaterThanOrEqual(count + 1);
      return frames.slice(1, count + 1);
    },
  };
}
