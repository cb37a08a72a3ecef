import type { IncomingMessage } from 'node:http';
import { HeraldError } from '@herald/protocol';
import type { ConnectContext, Credentials } from '../../core/auth.ts';
import { validateChannelName } from '../../core/channel-name.ts';
import type { HubCore } from '../../core/hub.ts';
import type { Session, SessionSink } from '../../core/session.ts';
import { clientAddress, nodeHeader, requestUrl } from '../../http/node-adapter.ts';
import type { RequestClients } from './request-clients.ts';

/**
 * What the client-facing HTTP endpoints (SSE, long-polling, client actions) read from a request,
 * whether it came as a web `Request` (route handlers) or straight from Node's HTTP server.
 */
export interface ConnectionRequest {
  readonly url: URL;
  /** A header by its lower-case name. */
  header(name: string): string | undefined;
  /** The peer's address when the server knows it (not behind a web-standard route handler). */
  readonly ip: string | undefined;
}

export function fromWebRequest(request: Request): ConnectionRequest {
  return {
    url: new URL(request.url),
    header: (name) => request.headers.get(name) ?? undefined,
    ip: clientAddress(request),
  };
}

export function fromNodeRequest(req: IncomingMessage): ConnectionRequest {
  return {
    url: requestUrl(req),
    header: (name) => nodeHeader(req, name),
    ip: req.socket.remoteAddress,
  };
}

/** `clients`: for transports whose every request is a session of its own, the clients they belong to. */
export function connectContext(
  request: ConnectionRequest,
  transport: 'sse' | 'poll',
  clients?: RequestClients,
): ConnectContext {
  const context: ConnectContext = {
    transport,
    ip: request.ip,
    origin: request.header('origin'),
    host: request.header('host'),
    cookie: request.header('cookie'),
  };
  // Every poll is a session of its own: its rate and presence are kept per client instead.
  if (clients) context.requestClient = clients.of(request.url.searchParams.get('client'));
  return context;
}

/**
 * The connection token: `Authorization: Bearer T`, or `?token=T` for clients that cannot set headers
 * (the browser's EventSource). The header wins when both are present.
 */
export function credentialsOf(request: ConnectionRequest): Credentials {
  const credentials: Credentials = {};
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.header('authorization') ?? '');
  const token = bearer ? bearer[1] : request.url.searchParams.get('token');
  if (token) credentials.token = token;
  const cookie = request.header('cookie');
  if (cookie !== undefined) credentials.cookie = cookie;
  return credentials;
}

/**
 * The `channel` query parameters, validated, without repeats, in the order given. More than `max`
 * (`limits.subscriptionsPerConnection`; 0: unlimited) are refused before any is looked at, as a
 * WebSocket `connect` naming too many is.
 */
export function channelsOf(request: ConnectionRequest, max: number): string[] {
  const names = request.url.searchParams.getAll('channel');
  if (max > 0 && names.length > max) {
    throw new HeraldError('too_many_subscriptions', `name at most ${max} channels`);
  }
  return [...new Set(names.map(validateChannelName))];
}

/** Lets a client of an HTTP transport in (see `HubCore.connect`); on refusal it throws and nothing stays open. */
export async function connectRequest(
  hub: HubCore,
  sink: SessionSink,
  request: ConnectionRequest,
  transport: 'sse' | 'poll',
  clients?: RequestClients,
): Promise<Session> {
  return hub.connect(sink, connectContext(request, transport, clients), credentialsOf(request));
}
