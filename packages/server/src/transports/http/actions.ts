import { type Command, HeraldError, validateCommand } from '@herald/protocol';
import type { Session, SessionCommand } from '../../core/session.ts';
import type { Sink } from '../../core/sink.ts';
import { jsonResponse, readJsonObject } from '../../http/json.ts';
import { clientEndpoint, type RouteHandler } from '../../http/route.ts';
import type { Hub } from '../../hub.ts';
import {
  type ConnectionRequest,
  connectContext,
  connectRequest,
  credentialsOf,
  fromWebRequest,
} from './request.ts';

type Action = 'publish' | 'subscribe' | 'unsubscribe' | 'refresh' | 'history' | 'presence';

/** Actions that need no stream: without `session` they run as a connection of their own. */
const STANDALONE = new Set<string>(['publish', 'history', 'presence']);

/** A session that lives for one action and has nowhere to push to. */
class ActionSink implements Sink {
  session!: Session;
  send(): void {}
  sendPublication(): void {}
  queuedBytes(): number {
    return 0;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
}

/**
 * The stream an action names by its `session` key, once the request's credentials are shown to be the
 * stream's user: the key travels only on the stream, but a leaked one must not act for anyone else.
 * (`refresh` brings new credentials instead, and checks the user itself.)
 */
async function streamOf(hub: Hub, request: ConnectionRequest, key: unknown, checkUser = true) {
  if (key === undefined) throw new HeraldError('bad_request', '"session" is required (from the SSE stream)');
  const sink = hub.http.sse.sinkFor(key);
  if (!checkUser) return sink;
  const identity = await hub.admission.authenticate(credentialsOf(request), connectContext(request, 'sse'));
  if (identity.user !== sink.session.identity.user) {
    throw new HeraldError('forbidden', 'these credentials are not those of the stream');
  }
  return sink;
}

async function run(hub: Hub, action: Action, request: Request): Promise<unknown> {
  const input = fromWebRequest(request);
  // Envelope room beyond the payload limit, so an oversized `data` gets the precise 413 message.
  const { session: key, ...fields } = await readJsonObject(
    request,
    hub.config.maxPayloadBytes * 2 + 16 * 1024,
  );
  const command = validateCommand({ ...fields, id: 0, type: action }) as Exclude<Command, { type: 'pong' }>;
  if (command.type === 'subscribe') {
    const sink = await streamOf(hub, input, key);
    sink.session.takeToken('command');
    const { channel, since, token } = command;
    return sink.subscribe(channel, { since, token }, false);
  }
  if (key === undefined && STANDALONE.has(command.type)) {
    // No stream (a long-poll client, or none): authorised like a connection of its own.
    const session = await connectRequest(hub, new ActionSink(), input, 'poll', hub.http.clients);
    try {
      session.takeToken('command');
      return await session.execute(command as SessionCommand);
    } finally {
      session.transportClosed();
    }
  }
  const sink = await streamOf(hub, input, key, command.type !== 'refresh');
  sink.session.takeToken('command');
  const result = await sink.session.execute(command as SessionCommand);
  if (command.type === 'unsubscribe') sink.unsubscribed(command.channel);
  return result;
}

function action(name: Action): RouteHandler {
  return clientEndpoint('POST', async (request, hub) => jsonResponse(await run(hub, name, request)));
}

/**
 * Client actions over plain HTTP, for clients whose transport only receives (SSE, long-polling):
 * `POST /connection/<action>` with the command's fields as JSON, plus `session` (the key the SSE stream
 * announced) for actions on a stream. Authorised as on the WebSocket: the connection token as
 * `Authorization: Bearer` or `?token=`, namespace rules, rate limits.
 */
export const clientActions: Record<string, RouteHandler> = {
  '/connection/publish': action('publish'),
  '/connection/subscribe': action('subscribe'),
  '/connection/unsubscribe': action('unsubscribe'),
  '/connection/refresh': action('refresh'),
  '/connection/history': action('history'),
  '/connection/presence': action('presence'),
};
