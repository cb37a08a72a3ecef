import {
  decodeCursor,
  HeraldError,
  type PollResult,
  type Publication,
  type ServerFrame,
  type SubscribedEvent,
} from '@herald/protocol';
import type { Delivery } from '../../core/delivery.ts';
import type { HubCore } from '../../core/hub.ts';
import type { Session } from '../../core/session.ts';
import type { Sink } from '../../core/sink.ts';
import { jsonResponse } from '../../http/json.ts';
import { FlushQueue } from '../flush-queue.ts';
import { SharedTicker } from '../shared-ticker.ts';
import { ChannelPositions } from './positions.ts';
import { type ConnectionRequest, channelsOf, connectRequest, fromWebRequest } from './request.ts';
import type { RequestClients } from './request-clients.ts';

export const POLL_PATH = '/connection/poll';

/** How often held polls are checked against their deadline (one timer for all of them). */
const TICK_MS = 250;

/**
 * One long-poll: a hub session that lives for one request. It gathers what the cursor has not seen yet
 * (recovered from history, then live), and answers with the batch and the cursor after it. Once it has
 * answered it takes nothing more, so the cursor matches the batch exactly: whatever came later is the
 * next poll's, read from history.
 */
class PollSink implements Sink {
  session!: Session;
  readonly positions = new ChannelPositions();
  readonly subscribed: SubscribedEvent[] = [];
  deadline = Number.POSITIVE_INFINITY;
  readonly answer: Promise<PollResult>;
  private readonly publications: Publication[] = [];
  private bytes = 0;
  /** Waiting for publications: the first one to arrive answers at the end of its event-loop turn. */
  private holding = false;
  private done = false;
  private resolve!: (result: PollResult) => void;

  constructor(private readonly transport: PollTransport) {
    this.answer = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  send(frame: ServerFrame): void {
    // A subscription the hub ended, or the session closing: answer now; the next poll resumes.
    if ('type' in frame && (frame.type === 'unsub' || frame.type === 'disconnect')) this.finish();
  }

  sendPublication(delivery: Delivery): void {
    this.take(delivery.pub, delivery.json.length);
    if (this.holding) {
      this.holding = false;
      this.transport.flushQueue.add(this);
    }
  }

  take(pub: Publication, bytes: number): void {
    if (this.done) return;
    this.positions.advance(pub);
    this.publications.push(pub);
    this.bytes += bytes;
    // A full page answers at once; what follows is the next poll's, read from history.
    if (this.bytes >= this.session.hub.pageBytes) this.finish();
  }

  queuedBytes(): number {
    return this.bytes;
  }

  /** The answer is built in memory up to a page, never waiting on the network. */
  drained(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.finish();
  }

  /** Answers now if there is anything to tell; otherwise holds until a publication or the deadline. */
  hold(timeoutMs: number): void {
    if (this.done) return;
    if (this.publications.length > 0 || this.subscribed.length > 0 || timeoutMs <= 0) {
      this.finish();
      return;
    }
    this.deadline = Date.now() + timeoutMs;
    this.holding = true;
    this.transport.ticker.add(this);
  }

  /** Called by the flush queue, a turn after the first live publication: answers with the batch. */
  flush(): void {
    this.finish();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.holding = false;
    this.transport.ticker.delete(this);
    this.resolve({
      publications: this.publications,
      subscribed: this.subscribed,
      cursor: this.positions.cursor(),
    });
    this.session.transportClosed(1000, 'the poll was answered');
  }
}

/**
 * Serves `GET /connection/poll?channel=A&channel=B&cursor=C&timeout=S`: stateless long-polling, so any
 * node (or serverless instance) can answer any poll. Exactly-once comes from the cursor: each answer's
 * cursor is where the next poll resumes, and a lost answer is simply asked again with the old cursor.
 */
export class PollTransport {
  readonly flushQueue = new FlushQueue<PollSink>();
  readonly ticker: SharedTicker<PollSink>;

  constructor(
    private readonly hub: HubCore,
    private readonly clients: RequestClients,
  ) {
    this.ticker = new SharedTicker(TICK_MS, (sinks, now) => {
      for (const sink of sinks) if (sink.deadline <= now + TICK_MS / 2) sink.finish();
    });
  }

  get waiting(): number {
    return this.ticker.members.size;
  }

  async handle(request: Request): Promise<Response> {
    const input = fromWebRequest(request);
    const timeout = this.timeoutOf(input);
    const sink = await this.open(input);
    const onAbort = () => sink.finish();
    request.signal.addEventListener('abort', onAbort, { once: true });
    if (request.signal.aborted) sink.finish();
    sink.hold(timeout);
    const result = await sink.answer;
    request.signal.removeEventListener('abort', onAbort);
    return jsonResponse(result);
  }

  /** `?timeout=` seconds, at most (and by default) the configured `poll.timeout`. */
  private timeoutOf(input: ConnectionRequest): number {
    const max = this.hub.config.poll.timeout;
    const asked = input.url.searchParams.get('timeout');
    if (asked === null) return max * 1000;
    const seconds = Number(asked);
    if (asked === '' || !Number.isFinite(seconds) || seconds < 0) {
      throw new HeraldError('bad_request', '"timeout" must be a number of seconds, 0 or more');
    }
    return Math.min(seconds, max) * 1000;
  }

  /** Admits the client and positions every channel at the cursor, gathering what history has. */
  private async open(input: ConnectionRequest): Promise<PollSink> {
    const channels = channelsOf(input, this.hub.config.limits.subscriptionsPerConnection);
    if (channels.length === 0) throw new HeraldError('bad_request', 'name at least one channel');
    const cursorText = input.url.searchParams.get('cursor');
    const cursor = cursorText ? decodeCursor(cursorText) : undefined;
    const sink = new PollSink(this);
    const session = await connectRequest(this.hub, sink, input, 'poll', this.clients);
    try {
      if (cursor) sink.positions.hold(cursor, channels);
      const outcomes = await Promise.allSettled(
        channels.map((channel) =>
          sink.positions.subscribe(session, channel, { since: cursor?.position(channel) }, !!cursor),
        ),
      );
      const refused = outcomes.find((o) => o.status === 'rejected');
      if (refused) throw refused.reason;
      for (const outcome of outcomes) {
        if (outcome.status !== 'fulfilled') continue;
        const { subscribed, positioned } = outcome.value;
        // Plain continuations are not news; fresh positions and lost ones are.
        if (subscribed.recovered !== true) sink.subscribed.push(subscribed);
        for (const delivery of positioned.deliveries) sink.take(delivery.pub, delivery.json.length);
        positioned.activate();
      }
    } catch (err) {
      session.transportClosed();
      throw err;
    }
    return sink;
  }
}
