import { CloseCodes, HeraldError, parsePosition, type StreamPosition } from '@herald/protocol';
import { validateChannelName } from '../core/channel-name.ts';
import type { HubCore, PublishInput } from '../core/hub.ts';
import { presentsKey } from './api-key.ts';
import type { ApiRequest } from './api-request.ts';
import { corsFor, operatorOrigins } from './cors.ts';
import { parseJsonObject } from './json.ts';
import { errorReply, jsonReply, type Reply } from './reply.ts';

type Body = Record<string, unknown>;
type ApiMethod = (hub: HubCore, body: Body) => Promise<unknown>;

function str(body: Body, key: string, required: true): string;
function str(body: Body, key: string, required?: false): string | undefined;
function str(body: Body, key: string, required = false): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new HeraldError('bad_request', `"${key}" must be a non-empty string`);
  return v;
}

function since(body: Body): StreamPosition | undefined {
  return body.since === undefined ? undefined : parsePosition(body.since);
}

function publishInput(body: Body): PublishInput {
  if (!Object.hasOwn(body, 'data')) throw new HeraldError('bad_request', '"data" is required');
  if (body.validate !== undefined && typeof body.validate !== 'boolean') {
    throw new HeraldError('bad_request', '"validate" must be a boolean');
  }
  const { data, validate } = body;
  return { data, event: str(body, 'event'), idempotencyKey: str(body, 'idempotencyKey'), validate };
}

/** The server API: trusted callers (the app's backend) authorised by `Authorization: apikey KEY`. */
const methods: Record<string, ApiMethod> = {
  publish: (hub, body) => hub.publish(validateChannelName(str(body, 'channel', true)), publishInput(body)),
  broadcast: async (hub, body) => {
    const channels = body.channels;
    if (!Array.isArray(channels) || channels.length === 0 || channels.length > 1000) {
      throw new HeraldError('bad_request', '"channels" must be an array of 1 to 1000 channel names');
    }
    const input = publishInput(body);
    const names = channels.map(validateChannelName);
    const results = await Promise.all(
      names.map((channel) =>
        hub.publish(channel, input).catch((err: unknown) => ({
          error: (err instanceof HeraldError ? err : new HeraldError('internal', 'internal error')).toJSON(),
        })),
      ),
    );
    return { results };
  },
  history: (hub, body) => {
    const limit = body.limit;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || (limit as number) < 0)) {
      throw new HeraldError('bad_request', '"limit" must be a non-negative integer');
    }
    if (body.reverse !== undefined && typeof body.reverse !== 'boolean') {
      throw new HeraldError('bad_request', '"reverse" must be a boolean');
    }
    return hub.history(validateChannelName(str(body, 'channel', true)), {
      since: since(body),
      limit: limit as number | undefined,
      reverse: body.reverse as boolean | undefined,
    });
  },
  presence: async (hub, body) => {
    const members = await hub.presence(validateChannelName(str(body, 'channel', true)));
    return { members: Object.fromEntries(members.map((m) => [m.client, m])) };
  },
  channels: async (hub) => ({ channels: await hub.channelNames() }),
  disconnect: async (hub, body) => {
    const user = str(body, 'user', true);
    let disconnected = 0;
    for (const session of [...hub.sessions]) {
      if (session.identity.user === user) {
        session.close(CloseCodes.disconnectedByServer, 'disconnected by the server');
        disconnected++;
      }
    }
    return { disconnected };
  },
};

function apiMethod(method: string): ApiMethod {
  const run = Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (!run) throw new HeraldError('not_found', `no API method "${method.slice(0, 40)}"`);
  return run;
}

/** Runs an API method in-process, with the same checks and result as `POST /api/<method>`. */
export async function callApi(hub: HubCore, method: string, body: Body): Promise<unknown> {
  return apiMethod(method)(hub, body);
}

/**
 * Serves `/api/<method>` (`method`: the path segment after `/api/`), CORS included: the one handler
 * behind the route table (`handleRequest`) and the hub's own server.
 */
export async function serveApi(hub: HubCore, method: string, request: ApiRequest): Promise<Reply> {
  const cors = corsFor(operatorOrigins(hub, request.header('host')), request);
  if (cors.answer) return cors.answer;
  const reply = await answer(hub, method, request);
  if (cors.headers) Object.assign(reply.headers, cors.headers);
  return reply;
}

async function answer(hub: HubCore, method: string, request: ApiRequest): Promise<Reply> {
  try {
    const run = apiMethod(method);
    if (request.method !== 'POST') {
      return errorReply(new HeraldError('method_not_allowed', 'use POST'), { allow: 'POST' });
    }
    if (!presentsKey(request.header('authorization'), [hub.config.apiKey])) {
      throw new HeraldError('unauthorized', 'missing or wrong API key (Authorization: apikey KEY)');
    }
    // Only JSON, which a page on another origin cannot send without a CORS preflight the hub refuses:
    // a form or a `text/plain` fetch cannot publish through a hub that has no API key.
    const type = request.header('content-type')?.split(';', 1)[0].trim().toLowerCase();
    if (type !== 'application/json') {
      throw new HeraldError('unsupported_media_type', 'send the body as Content-Type: application/json');
    }
    // Envelope room beyond the payload limit, so an oversized `data` gets the precise 413 message.
    const body = parseJsonObject(await request.text(hub.config.maxPayloadBytes * 2 + 16 * 1024));
    return jsonReply(await run(hub, body));
  } catch (err) {
    if (err instanceof HeraldError) hub.log.debug({ code: err.code, method }, 'API call refused');
    else hub.log.error({ err, method }, 'API call failed');
    return errorReply(err);
  }
}
