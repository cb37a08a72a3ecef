import { randomBytes } from 'node:crypto';
import {
  CloseCodes,
  CONTROL_EVENT,
  type Cursor,
  type Publication,
  type ServerFrame,
  type SseControlEvent,
  type SubscribedEvent,
  type SubscribeOptions,
} from '@herald/protocol';
import { type Delivery, encodingSlot } from '../../core/delivery.ts';
import type { HubCore } from '../../core/hub.ts';
import type { Session } from '../../core/session.ts';
import type { Sink } from '../../core/sink.ts';
import type { FlushQueue } from '../flush-queue.ts';
import { ChannelPositions } from './positions.ts';
import { type PrebuiltTurn, prebuildTurn, type StreamOutput } from './sse-output.ts';

/** What a stream needs of its transport (`SseTransport`). */
export interface SseHost {
  readonly hub: HubCore;
  readonly flushQueue: FlushQueue<SseSink>;
  /** The `retry:` advice sent as a stream closes. */
  retryAfter(code: number): number;
  /** The stream is closing or gone. */
  forget(sink: SseSink): void;
}

const HEARTBEAT = Buffer.from(':\n\n');
/** `event:` and `data:` lines of a publication's SSE message, encoded once and shared by every stream. */
const BODY = encodingSlot<Buffer>();
/**
 * The whole SSE message, `id:` included, for streams subscribed to this channel alone: their cursor is
 * the same, so they share these bytes too.
 */
const SOLO = encodingSlot<Buffer>();
/**
 * A turn of `SOLO` messages starting with this publication's, joined once (`PrebuiltTurn`). Every stream
 * on the channel alone that is caught up is handed the same publications in a turn, so all of them
 * write this one buffer, one write each as a WebSocket frame is. It keeps the last turn made: streams
 * whose turn starts here but differs (one catching up, say) rebuild it, as each would join its own.
 */
const TURN = encodingSlot<SharedTurn>();

interface SharedTurn {
  /** The messages it was built from: a turn is the same when its messages are the same buffers. */
  messages: readonly Buffer[];
  prebuilt: PrebuiltTurn | null;
}

function encodeBody(delivery: Delivery): Buffer {
  return Buffer.concat([
    Buffer.from(`event: ${delivery.pub.event ?? 'message'}\ndata: `),
    delivery.json,
    Buffer.from('\n\n'),
  ]);
}

function sseBody(delivery: Delivery): Buffer {
  return delivery.encoded(BODY, encodeBody);
}

/** The whole message for a stream on this channel alone: its one position and the body. */
function encodeSolo(delivery: Delivery, sink: SseSink): Buffer {
  return Buffer.concat([sink.idLine(), sseBody(delivery)]);
}

function newSharedTurn(): SharedTurn {
  return { messages: [], prebuilt: null };
}

/** `messages` (all `SOLO`, the first of `first`) joined, shared with the streams before that had them. */
function sharedTurn(first: Delivery, messages: readonly Buffer[], bytes: number): PrebuiltTurn {
  const turn = first.encoded(TURN, newSharedTurn);
  if (turn.prebuilt === null || !sameBuffers(turn.messages, messages)) {
    turn.messages = messages;
    turn.prebuilt = prebuildTurn(messages, bytes);
  }
  return turn.prebuilt;
}

function sameBuffers(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One SSE stream. Output queues in `pending` (also before the response has started) and is written
 * once per event-loop turn, as WebSocket frames are: prebuilt messages (shared by every stream on its
 * channel alone), handed to the output together. `positions` is what the client has been sent of every channel: each
 * publication's `id:` encodes all of it, so whichever event the client saw last resumes every channel.
 */
export class SseSink implements Sink {
  session!: Session;
  /** Authorises client actions on this stream; the session id is public (presence lists it). */
  readonly key = randomBytes(18).toString('base64url');
  /** When the hub ends the stream (maxStreamDuration); Infinity for never. */
  readonly deadline: number;
  private readonly positions = new ChannelPositions();
  /**
   * The channel of a stream on that channel alone (and not subscribing another), else null. Such a
   * stream's position is that of the last publication it was sent (`unsettled`), applied to `positions`
   * only when they are read: fan-out to it touches the sink alone.
   */
  private soloChannel: string | null = null;
  private unsettled: Publication | null = null;
  private subscribing = 0;
  /** Messages waiting for this turn's flush; null when none (most streams, most of the time). */
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  /**
   * What the output held as `pending` began. Until the turn's flush nothing is written to it, so it
   * holds no more than this: the slow-consumer check reads the output (another object, per stream) once
   * a turn instead of once a publication.
   */
  private outputBytes = 0;
  /** When `pending` holds shared `SOLO` messages alone: the publication of the first. */
  private firstSolo: Delivery | null = null;
  private output: StreamOutput | null = null;
  private closing = false;
  /** Resolves when the response starts, for catch-ups waiting to send their first page; null if none. */
  private starting: Promise<void> | null = null;
  private begin: (() => void) | null = null;

  constructor(private readonly transport: SseHost) {
    const { maxStreamDuration, retry } = transport.hub.config.sse;
    this.deadline = maxStreamDuration > 0 ? Date.now() + maxStreamDuration * 1000 : Number.POSITIVE_INFINITY;
    this.enqueue(Buffer.from(`retry: ${Math.round(retry * 1000)}\n\n`));
  }

  send(frame: ServerFrame): void {
    if (!('type' in frame) || frame.type !== 'unsub') {
      this.control(frame);
    } else if (frame.resubscribe) {
      // The hub could not heal a gap: the stream ends, and the client's reconnect resumes from its
      // cursor (told `recovered: false` if history no longer covers it).
      this.control(frame);
      queueMicrotask(() => this.session.close(CloseCodes.serverError, frame.reason));
    } else {
      // The server ended the subscription for good: the channel leaves the cursor.
      this.settled().delete(frame.channel);
      this.positionsChanged();
      this.control(frame, true);
    }
  }

  sendPublication(delivery: Delivery): void {
    const pub = delivery.pub;
    if (pub.channel === this.soloChannel) {
      this.unsettled = pub;
      this.enqueue(delivery.encoded(SOLO, encodeSolo, this), delivery);
    } else {
      const positions = this.settled();
      positions.advance(pub);
      this.enqueue(positions.idLine());
      this.enqueue(sseBody(delivery));
    }
    // Within the bound, the exact figure is too (see `outputBytes`).
    if (this.pendingBytes + this.outputBytes > this.transport.hub.config.maxQueueBytes) {
      this.session.checkQueue();
    }
  }

  /** `id: <cursor>` of what the stream has been sent, for its next message. */
  idLine(): Buffer {
    return this.settled().idLine();
  }

  /** Before a cursor is read or a channel comes or goes: `positions` with the last publication taken. */
  private settled(): ChannelPositions {
    if (this.unsettled !== null) {
      this.positions.advance(this.unsettled);
      this.unsettled = null;
    }
    return this.positions;
  }

  private positionsChanged(): void {
    this.soloChannel = this.subscribing === 0 ? this.positions.onlyChannel() : null;
  }

  /** Keeps the client's own positions before resuming (see `ChannelPositions.hold`). */
  hold(cursor: Cursor, channels: string[]): void {
    this.settled().hold(cursor, channels);
    this.positionsChanged();
  }

  queuedBytes(): number {
    return this.pendingBytes + (this.output?.buffered() ?? 0);
  }

  async drained(): Promise<void> {
    if (!this.output) {
      this.starting ??= new Promise((resolve) => {
        this.begin = resolve;
      });
      await this.starting;
    }
    this.flush();
    await this.output?.drained();
  }

  /**
   * Subscribes one channel and announces it on the stream: a `subscribed` control event carrying the new
   * cursor, then the recovered publications, then live ones. `resuming`: the client sent a cursor, so a
   * channel it holds no position for is reported `recovered: false`.
   */
  async subscribe(channel: string, options: SubscribeOptions, resuming: boolean): Promise<SubscribedEvent> {
    const positions = this.settled();
    this.subscribing++;
    this.soloChannel = null;
    let outcome: Awaited<ReturnType<ChannelPositions['subscribe']>>;
    try {
      outcome = await positions.subscribe(this.session, channel, options, resuming);
    } finally {
      this.subscribing--;
      this.positionsChanged();
    }
    const { subscribed, positioned } = outcome;
    this.control(subscribed, true);
    for (const delivery of positioned.deliveries) this.sendPublication(delivery);
    positioned.activate();
    return subscribed;
  }

  /** After an unsubscribe: the channel leaves the cursor. */
  unsubscribed(channel: string): void {
    this.settled().delete(channel);
    this.positionsChanged();
    this.control({ type: 'unsubscribed', channel }, true);
  }

  /** A `herald` control event; `withCursor` when it changes the positions, so it carries the new `id:`. */
  control(message: ServerFrame | SseControlEvent, withCursor = false): void {
    const id = withCursor ? `id: ${this.settled().cursor()}\n` : '';
    this.enqueue(Buffer.from(`event: ${CONTROL_EVENT}\n${id}data: ${JSON.stringify(message)}\n\n`));
    this.session.checkQueue();
  }

  heartbeat(): void {
    this.enqueue(HEARTBEAT);
  }

  /** `solo`: the publication whose `SOLO` message `bytes` is, else null. */
  private enqueue(bytes: Buffer, solo: Delivery | null = null): void {
    if (this.closing) return;
    if (this.pending === null) {
      this.pending = [bytes];
      this.firstSolo = solo;
      if (this.output) {
        this.outputBytes = this.output.buffered();
        this.transport.flushQueue.add(this);
      }
    } else {
      this.pending.push(bytes);
      if (solo === null) this.firstSolo = null;
    }
    this.pendingBytes += bytes.length;
  }

  /** The response has started: write what waited, and from now on once per turn. */
  start(output: StreamOutput): void {
    this.output = output;
    this.flush();
    this.begin?.();
  }

  flush(): void {
    const messages = this.pending;
    if (messages === null || !this.output) return;
    const solo = this.firstSolo;
    this.pending = null;
    this.firstSolo = null;
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    this.output.write(messages, bytes, solo === null ? undefined : sharedTurn(solo, messages, bytes));
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.transport.forget(this);
    if (code === CloseCodes.slowConsumer) {
      this.closing = true;
      this.pending = null;
      this.firstSolo = null;
      this.pendingBytes = 0;
      this.output?.abort();
      return;
    }
    this.enqueue(Buffer.from(`retry: ${this.transport.retryAfter(code)}\n\n`));
    this.closing = true;
    this.flush();
    this.output?.end();
    this.transport.hub.log.debug({ client: this.session.id, code, reason }, 'sse stream closed');
  }

  /** The client went away (or the response was cancelled). */
  gone(): void {
    this.closing = true;
    this.output = null;
    this.transport.forget(this);
    this.session.transportClosed();
  }
}
