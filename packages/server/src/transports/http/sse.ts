import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloseCodes, decodeCursor, HeraldError, shouldReconnect } from '@herald/protocol';
import type { HubCore } from '../../core/hub.ts';
import { clientOrigins, corsHeaders } from '../../http/cors.ts';
import { sendReply } from '../../http/node-adapter.ts';
import { errorReply } from '../../http/reply.ts';
import { FlushQueue } from '../flush-queue.ts';
import { SharedTicker } from '../shared-ticker.ts';
import {
  type ConnectionRequest,
  channelsOf,
  connectRequest,
  fromNodeRequest,
  fromWebRequest,
} from './request.ts';
import { NodeOutput, SocketOutput, WebOutput } from './sse-output.ts';
import { SseSink } from './sse-sink.ts';

export const SSE_PATH = '/connection/sse';

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
};

/** Retry advice after a close the client should not reconnect from (a day: a plain EventSource stops). */
const NO_RECONNECT_RETRY_MS = 86_400_000;
/** Spread of the reconnect advice when the hub shuts down, so clients do not all come back at once. */
const SHUTDOWN_JITTER_MS = 2_000;

/**
 * Serves `GET /connection/sse`. Every stream is a hub session; heartbeats and stream deadlines run on
 * one shared timer. `handle` is the web-standard handler (route handlers, Next.js); `serveNode` is the
 * same with output written straight to Node's response.
 */
export class SseTransport {
  readonly flushQueue = new FlushQueue<SseSink>();
  private readonly ticker: SharedTicker<SseSink>;
  private readonly byKey = new Map<string, SseSink>();
  private readonly heartbeatMs: number;
  private readonly tickMs: number;
  private lastBeat = Date.now();

  constructor(readonly hub: HubCore) {
    const { heartbeat, maxStreamDuration } = hub.config.sse;
    this.heartbeatMs = heartbeat * 1000;
    // Fine enough to end streams before their deadline and to beat on time; never more than once a second.
    this.tickMs = Math.max(
      10,
      Math.min(1000, this.heartbeatMs, maxStreamDuration > 0 ? (maxStreamDuration * 1000) / 4 : 1000),
    );
    this.ticker = new SharedTicker(this.tickMs, (sinks, now) => this.tick(sinks, now));
  }

  get connections(): number {
    return this.ticker.members.size;
  }

  /** The live stream a client action names by its `session` key. */
  sinkFor(key: unknown): SseSink {
    const sink = typeof key === 'string' ? this.byKey.get(key) : undefined;
    if (!sink) {
      throw new HeraldError('not_found', 'no live SSE stream with this session on this node (reconnect)');
    }
    return sink;
  }

  /** The web-standard handler: a `Response` whose body is the stream (CORS is the route table's). */
  async handle(request: Request): Promise<Response> {
    const sink = await this.open(fromWebRequest(request), request.signal);
    if (request.signal.aborted) {
      sink.gone();
      throw new HeraldError('not_connected', 'the client went away');
    }
    request.signal.addEventListener('abort', () => sink.gone(), { once: true });
    let output: WebOutput | undefined;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          output = new WebOutput(controller);
          sink.start(output);
        },
        pull: () => output?.pulled(),
        cancel: () => sink.gone(),
      },
      { highWaterMark: 0, size: (chunk) => chunk.byteLength },
    );
    return new Response(body, { headers: SSE_HEADERS });
  }

  /** The Node fast path for `GET` on the hub's own server; other methods go to the route table. */
  async serveNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let cors: Record<string, string> = {};
    let sink: SseSink;
    // The response closes early when the client goes away before the stream starts.
    const left = new AbortController();
    const leave = () => left.abort();
    res.once('close', leave);
    try {
      const input = fromNodeRequest(req);
      const origin = input.header('origin');
      if (origin !== undefined) cors = corsHeaders(clientOrigins(this.hub), origin, input.header('host'));
      sink = await this.open(input, left.signal);
    } catch (err) {
      if (!(err instanceof HeraldError)) this.hub.log.error({ err }, 'sse request failed');
      sendReply(errorReply(err, cors), res);
      return;
    }
    if (res.destroyed || req.socket.destroyed) {
      sink.gone();
      return;
    }
    res.off('close', leave);
    res.on('close', () => sink.gone());
    res.writeHead(200, { ...SSE_HEADERS, ...cors });
    sink.start(SocketOutput.start(res) ?? new NodeOutput(res));
  }

  /**
   * Admits the client, subscribes and positions every channel, and queues the opening of the stream:
   * `retry:`, a `connected` control event, one `subscribed` event per channel, recovered publications.
   * All of that is settled before the response starts, so a publication made once the client sees the
   * stream open is delivered. A client that leaves meanwhile (`left`: one that gave up waiting, in a
   * reconnect storm) ends its session at once, so its history is not read or encoded for nobody.
   */
  private async open(input: ConnectionRequest, left: AbortSignal): Promise<SseSink> {
    const channels = channelsOf(input, this.hub.config.limits.subscriptionsPerConnection);
    // The browser's reconnect sends the newest position in the header; `?lastEventId=` is what the page
    // was first opened with, so the header wins.
    const cursorText = input.header('last-event-id') || input.url.searchParams.get('lastEventId');
    const cursor = cursorText ? decodeCursor(cursorText) : undefined;
    const sink = new SseSink(this);
    const session = await connectRequest(this.hub, sink, input, 'sse');
    const leave = () => session.transportClosed();
    if (left.aborted) leave();
    else left.addEventListener('abort', leave, { once: true });
    try {
      sink.control({
        type: 'connected',
        client: session.id,
        session: sink.key,
        user: session.identity.user,
        heartbeat: this.hub.config.sse.heartbeat,
        ...(session.identity.expiresAt === undefined ? {} : { expires: session.identity.expiresAt }),
      });
      if (cursor) sink.hold(cursor, channels);
      const outcomes = await Promise.allSettled(
        channels.map((channel) => sink.subscribe(channel, { since: cursor?.position(channel) }, !!cursor)),
      );
      const refused = outcomes.find((o) => o.status === 'rejected');
      if (refused) throw refused.reason;
      if (session.closed) throw new HeraldError('not_connected', 'the stream was closed while opening');
    } catch (err) {
      session.transportClosed();
      throw err;
    } finally {
      left.removeEventListener('abort', leave);
    }
    this.byKey.set(sink.key, sink);
    this.ticker.add(sink);
    return sink;
  }

  /** The `retry:` advice sent as a stream closes. */
  retryAfter(code: number): number {
    if (!shouldReconnect(code)) return NO_RECONNECT_RETRY_MS;
    const retry = this.hub.config.sse.retry * 1000;
    return Math.round(code === CloseCodes.shutdown ? retry + Math.random() * SHUTDOWN_JITTER_MS : retry);
  }

  forget(sink: SseSink): void {
    this.byKey.delete(sink.key);
    this.ticker.delete(sink);
  }

  private tick(sinks: ReadonlySet<SseSink>, now: number): void {
    const beat = now - this.lastBeat >= this.heartbeatMs - this.tickMs / 2;
    if (beat) this.lastBeat = now;
    for (const sink of sinks) {
      // Ends no later than the deadline: the platform's limit is what maxStreamDuration stays under.
      if (sink.deadline <= now + this.tickMs) {
        sink.session.close(CloseCodes.streamDurationReached, 'maximum stream duration reached');
      } else if (beat) {
        sink.heartbeat();
      }
    }
  }
}
