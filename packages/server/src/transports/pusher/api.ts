import { HeraldError } from '@herald/protocol';
import type { PusherApp } from '../../config.ts';
import { toHeraldError } from '../../core/session.ts';
import { readBodyText } from '../../http/json.ts';
import { channelKind, isPusherChannel } from './channel-names.ts';
import type { PusherTransport } from './pusher.ts';
import { md5, safeEqual, sign } from './signatures.ts';
import { isReservedEvent, storedData } from './wire.ts';

/** Seconds an API request's `auth_timestamp` may differ from the hub's clock. */
const TIMESTAMP_WINDOW = 600;
const MAX_CHANNELS = 100;
const MAX_BATCH = 10;
const SOCKET_ID = /^\d+\.\d+$/;

/** A refusal in Pusher's shape: a status and a plain-text body, as the server SDKs report it. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface ApiRequest {
  app: PusherApp;
  method: string;
  /** Path segments after `/apps/{id}/`. */
  segments: string[];
  query: URLSearchParams;
  body: string;
}

function text(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  });
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/**
 * Pusher's HTTP API (`/apps/{id}/…`) as the official server SDKs call it: requests signed with the app's
 * secret (auth_key, auth_timestamp, auth_version, body_md5, auth_signature), answers in JSON, refusals
 * in plain text.
 */
export async function handlePusherApi(pusher: PusherTransport, request: Request): Promise<Response> {
  try {
    const url = new URL(request.url);
    const parts = url.pathname.split('/').slice(1);
    // ['apps', id, ...rest]
    const app = pusher.app(decodeURIComponent(parts[1] ?? ''));
    if (app === undefined) throw new ApiError(404, `Unknown app ${(parts[1] ?? '').slice(0, 64)}`);
    const body = await readBody(request, pusher.hub.config.maxPayloadBytes * 2 + 16 * 1024);
    authenticate(app, request.method, url, body);
    const segments = parts.slice(2).map((s) => decodeURIComponent(s));
    return json(
      await route(pusher, { app, method: request.method, segments, query: url.searchParams, body }),
    );
  } catch (err) {
    if (err instanceof ApiError) return text(err.status, err.message);
    const error = toHeraldError(err);
    if (error.code === 'internal') pusher.hub.log.error({ err }, 'pusher API call failed');
    return text(error.status, error.message);
  }
}

async function readBody(request: Request, limit: number): Promise<string> {
  if (request.method === 'GET' || request.method === 'HEAD') return '';
  return readBodyText(request, limit);
}

/** The request's query pairs as sent (undecoded: the SDKs sign them so), keys lowercased. */
function rawPairs(url: URL): [string, string][] {
  const query = url.search.slice(1);
  if (query === '') return [];
  return query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    return eq === -1 ? [pair.toLowerCase(), ''] : [pair.slice(0, eq).toLowerCase(), pair.slice(eq + 1)];
  });
}

function authenticate(app: PusherApp, method: string, url: URL, body: string): void {
  const pairs = rawPairs(url);
  const get = (key: string) => pairs.find(([k]) => k === key)?.[1];
  if (get('auth_key') !== app.key) throw new ApiError(401, 'Unknown auth_key');
  const timestamp = Number(get('auth_timestamp'));
  const now = Math.floor(Date.now() / 1000);
  if (!Number.isFinite(timestamp) || Math.abs(now - timestamp) > TIMESTAMP_WINDOW) {
    throw new ApiError(
      401,
      `Timestamp expired: Given timestamp (${String(get('auth_timestamp')).slice(0, 20)}) not within ${TIMESTAMP_WINDOW}s of server time (${now})`,
    );
  }
  if (get('auth_version') !== '1.0') throw new ApiError(401, 'Invalid auth_version: use 1.0');
  if (body !== '' && get('body_md5') !== md5(body)) throw new ApiError(401, 'Invalid body_md5');
  const signed = pairs
    .filter(([k]) => k !== 'auth_signature')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const toSign = `${method}\n${url.pathname}\n${signed}`;
  const signature = get('auth_signature') ?? '';
  if (!safeEqual(signature, sign(app.secret, toSign))) {
    throw new ApiError(
      401,
      `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(toSign)}, your_secret_key), but you sent "${signature.slice(0, 64)}"`,
    );
  }
}

async function route(pusher: PusherTransport, req: ApiRequest): Promise<unknown> {
  const { method, segments } = req;
  const [first, second, third] = segments;
  const only = (allowed: string) => {
    if (method !== allowed) throw new ApiError(405, `Use ${allowed}`);
  };
  if (first === 'events' && segments.length === 1) {
    only('POST');
    return events(pusher, req);
  }
  if (first === 'batch_events' && segments.length === 1) {
    only('POST');
    return batchEvents(pusher, req);
  }
  if (first === 'channels' && segments.length === 1) {
    only('GET');
    return channels(pusher, req);
  }
  if (first === 'channels' && segments.length === 2) {
    only('GET');
    return channel(pusher, req, checkChannel(second));
  }
  if (first === 'channels' && segments.length === 3 && third === 'users') {
    only('GET');
    const name = checkChannel(second);
    if (!channelKind(name).presence) throw new ApiError(400, 'Users are only listed for presence channels');
    const { users } = await occupancy(pusher, name);
    return { users: [...users].map((id) => ({ id })) };
  }
  if (first === 'users' && segments.length === 3 && third === 'terminate_connections') {
    only('POST');
    pusher.terminate(req.app, second);
    return {};
  }
  throw new ApiError(404, `Unknown endpoint /apps/${req.app.id}/${segments.join('/').slice(0, 100)}`);
}

function parseBody(body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ApiError(400, 'Request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ApiError(400, 'Request body must be a JSON object');
  return value as Record<string, unknown>;
}

function checkChannel(name: unknown): string {
  if (typeof name !== 'string' || !isPusherChannel(name))
    throw new ApiError(400, `Invalid channel name ${String(name).slice(0, 200)}`);
  return name;
}

interface EventInput {
  name: unknown;
  data: unknown;
  socket_id?: unknown;
  info?: unknown;
}

/** Checks one event's fields; returns its name, data as stored, and the socket to leave out. */
function checkEvent(input: EventInput): { name: string; data: unknown; socketId?: string } {
  const { name, data, socket_id: socketId } = input;
  if (typeof name !== 'string' || name === '' || name.length > 200)
    throw new ApiError(400, 'Event name must be a string of 1-200 characters');
  if (isReservedEvent(name)) throw new ApiError(400, `Event name ${name.slice(0, 100)} is reserved`);
  if (typeof data !== 'string') throw new ApiError(400, 'Event data must be a string');
  if (socketId !== undefined && (typeof socketId !== 'string' || !SOCKET_ID.test(socketId)))
    throw new ApiError(400, 'Invalid socket_id');
  return { name, data: storedData(data), socketId: socketId as string | undefined };
}

function infoFields(info: unknown): Set<string> {
  if (info === undefined || info === null || info === '') return new Set();
  if (typeof info !== 'string') throw new ApiError(400, 'info must be a comma-separated string');
  const fields = new Set(info.split(','));
  for (const field of fields) {
    if (field !== 'user_count' && field !== 'subscription_count')
      throw new ApiError(400, `Unknown info attribute ${field.slice(0, 40)}`);
  }
  return fields;
}

async function channelInfo(pusher: PusherTransport, name: string, fields: Set<string>) {
  const info: { user_count?: number; subscription_count?: number } = {};
  if (fields.size === 0) return info;
  const { users, subscriptions } = await occupancy(pusher, name);
  if (fields.has('user_count')) {
    if (!channelKind(name).presence)
      throw new ApiError(400, 'user_count is only available for presence channels');
    info.user_count = users.size;
  }
  if (fields.has('subscription_count')) info.subscription_count = subscriptions;
  return info;
}

async function events(pusher: PusherTransport, req: ApiRequest): Promise<unknown> {
  const body = parseBody(req.body);
  const names =
    body.channels !== undefined ? body.channels : body.channel !== undefined ? [body.channel] : undefined;
  if (!Array.isArray(names) || names.length === 0 || names.length > MAX_CHANNELS)
    throw new ApiError(400, `channels must be an array of 1 to ${MAX_CHANNELS} channel names`);
  const list = names.map(checkChannel);
  const { name, data, socketId } = checkEvent(body as unknown as EventInput);
  const fields = infoFields(body.info);
  await Promise.all(list.map((channel) => publish(pusher, channel, name, data, socketId)));
  if (fields.size === 0) return {};
  const infos = await Promise.all(list.map((channel) => channelInfo(pusher, channel, fields)));
  return { channels: Object.fromEntries(list.map((channel, i) => [channel, infos[i]])) };
}

async function batchEvents(pusher: PusherTransport, req: ApiRequest): Promise<unknown> {
  const batch = parseBody(req.body).batch;
  if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_BATCH)
    throw new ApiError(400, `batch must be an array of 1 to ${MAX_BATCH} events`);
  const checked = batch.map((item) => {
    if (typeof item !== 'object' || item === null)
      throw new ApiError(400, 'Each batch item must be an object');
    const event = item as EventInput & { channel?: unknown };
    return { channel: checkChannel(event.channel), fields: infoFields(event.info), ...checkEvent(event) };
  });
  // In order: a batch's events on one channel keep the order they were given.
  for (const e of checked) await publish(pusher, e.channel, e.name, e.data, e.socketId);
  if (checked.every((e) => e.fields.size === 0)) return {};
  return { batch: await Promise.all(checked.map((e) => channelInfo(pusher, e.channel, e.fields))) };
}

async function publish(
  pusher: PusherTransport,
  channel: string,
  name: string,
  data: unknown,
  socketId?: string,
) {
  try {
    await pusher.publish(channel, name, data, socketId);
  } catch (err) {
    const error = toHeraldError(err);
    if (error.code === 'internal') throw err;
    throw new ApiError(error.status, error.message);
  }
}

async function channels(pusher: PusherTransport, req: ApiRequest): Promise<unknown> {
  const prefix = req.query.get('filter_by_prefix') ?? '';
  const fields = infoFields(req.query.get('info') ?? undefined);
  if (fields.has('user_count') && !prefix.startsWith('presence-'))
    throw new ApiError(400, 'info=user_count needs filter_by_prefix=presence-');
  if (fields.has('subscription_count'))
    throw new ApiError(400, 'subscription_count is only available for one channel');
  const names = (await pusher.hub.channelNames()).filter(
    (name) => name.startsWith(prefix) && isPusherChannel(name) && !channelKind(name).user,
  );
  const occupied = await Promise.all(names.map((name) => occupancy(pusher, name)));
  const result: Record<string, { user_count?: number }> = {};
  names.forEach((name, i) => {
    if (occupied[i].subscriptions === 0) return;
    result[name] = fields.has('user_count') ? { user_count: occupied[i].users.size } : {};
  });
  return { channels: result };
}

async function channel(pusher: PusherTransport, req: ApiRequest, name: string): Promise<unknown> {
  const fields = infoFields(req.query.get('info') ?? undefined);
  const { subscriptions } = await occupancy(pusher, name);
  return { occupied: subscriptions > 0, ...(await channelInfo(pusher, name, fields)) };
}

/**
 * Who is on a channel, across nodes: every subscription has an entry in the hub's presence (namespace
 * `""` keeps presence on), Herald clients' as well as pusher-js's.
 */
async function occupancy(pusher: PusherTransport, name: string) {
  let members: { user: string | null }[];
  try {
    members = await pusher.hub.presence(name);
  } catch (err) {
    if (err instanceof HeraldError && err.code !== 'internal') throw new ApiError(err.status, err.message);
    throw err;
  }
  const users = new Set<string>();
  for (const member of members) if (member.user !== null) users.add(member.user);
  return { users, subscriptions: members.length };
}
