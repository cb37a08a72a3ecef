import { randomUUID } from 'node:crypto';
import {
  AnswerEvents,
  type AnswerOutcome,
  type AnswerPublication,
  type AnswerStop,
  type AnswerTicket,
  type Publication,
  type StreamPosition,
} from '@herald/protocol';
import { createPublisher, type Publisher } from '../publisher.ts';
import { claimGeneration } from './generation-limit.ts';

export interface AnswerOptions<Chunk> {
  /** The chat's channel; every answer of the chat is published there. */
  channel: string;
  /**
   * The answer: `streamText(…).toUIMessageStream()` or any stream of UI message chunks, or a function
   * returning one that honours `signal` (pass it to `streamText` as `abortSignal`, so a stop stops the model).
   */
  stream: ReadableStream<Chunk> | ((signal: AbortSignal) => ReadableStream<Chunk>);
  /** Where to publish: default `createPublisher()` (the in-process hub, or `HERALD_URL`). */
  publisher?: Publisher;
  /** Whose generation this is, for `maxPerUser`. */
  user?: string;
  /** Answers one user may have generating at once in this process; over it: `limit_exceeded`. Default 2. */
  maxPerUser?: number;
  /**
   * A publication at most every `ms` milliseconds or every `chunks` chunks, and none larger than `bytes` of
   * JSON chunks (keep it under the hub's `maxPayloadBytes`). Default 30 ms, 64 chunks, 32 KiB.
   */
  coalesce?: { ms?: number; chunks?: number; bytes?: number };
  /** How often a model that produces nothing checks the channel for an `answer-stop`. Default 250 ms. */
  stopCheckMs?: number;
}

export interface Answer extends AnswerTicket {
  /** Settles with the outcome when the final publication is out (or rejects if the hub refused it). */
  done: Promise<AnswerOutcome>;
  /** Stops the generation from the server, as a client's `answer-stop` would. */
  stop(): void;
}

/**
 * Runs an AI answer into a Herald channel and returns as soon as its `answer-start` is published, so the
 * route answers at once and the browser reads the answer from the hub. The generation does not depend on
 * the request: it goes on when the browser goes away, and ends with `answer-finish`, `answer-error` or
 * `answer-abort` (after an `answer-stop` publication on the channel from any client, or `stop()`). A
 * refusal — per-user limit, or the hub refusing the `answer-start` — rejects with a `HeraldError` before
 * anything runs.
 */
export async function publishAnswer<Chunk>(options: AnswerOptions<Chunk>): Promise<Answer> {
  const publisher = options.publisher ?? createPublisher();
  const release = claimGeneration(options.user, options.maxPerUser ?? 2);
  const answer = randomUUID();
  let started: StreamPosition;
  try {
    started = await publisher.publish(options.channel, { answer, chunks: [] } satisfies AnswerPublication, {
      event: AnswerEvents.start,
    });
  } catch (err) {
    release();
    throw err;
  }
  const controller = new AbortController();
  const stream = typeof options.stream === 'function' ? options.stream(controller.signal) : options.stream;
  const run = new AnswerRun(publisher, options, answer, started, controller);
  const done = run.pump(stream).finally(release);
  // The caller may await `done` (or hand it to `after()`); a rejection it does not await is still handled.
  done.catch(() => {});
  return {
    channel: options.channel,
    answer,
    epoch: started.epoch,
    offset: started.offset,
    done,
    stop: () => controller.abort(),
  };
}

/** One answer being published: buffers chunks, publishes them coalesced, and watches for an `answer-stop`. */
class AnswerRun<Chunk> {
  private buffer: Chunk[] = [];
  /** The JSON size of each buffered chunk, in bytes. */
  private sizes: number[] = [];
  private bufferedBytes = 0;
  /** The last offset of the channel this run has looked at: its own publications and what it checked. */
  private seen: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private ended = false;
  private failure: unknown;
  private sawError = false;
  private lastPublishAt = Date.now();
  private readonly maxChunks: number;
  private readonly maxBytes: number;
  private readonly maxMs: number;

  constructor(
    private readonly publisher: Publisher,
    private readonly options: AnswerOptions<Chunk>,
    private readonly answer: string,
    private readonly started: StreamPosition,
    private readonly controller: AbortController,
  ) {
    this.seen = started.offset;
    this.maxChunks = options.coalesce?.chunks ?? 64;
    this.maxBytes = options.coalesce?.bytes ?? 32 * 1024;
    this.maxMs = options.coalesce?.ms ?? 30;
  }

  async pump(stream: ReadableStream<Chunk>): Promise<AnswerOutcome> {
    try {
      return await this.run(stream);
    } catch (err) {
      // The hub refused a publication (too large, rate limited, gone): readers wait for a final one, so
      // they get a small one saying why, if the hub takes that.
      const chunks = [{ type: 'error', errorText: `the hub refused the answer: ${errorText(err)}` }];
      await this.publisher
        .publish(
          this.options.channel,
          { answer: this.answer, start: this.started.offset, chunks } satisfies AnswerPublication,
          { event: AnswerEvents.error },
        )
        .catch(() => {});
      throw err;
    }
  }

  private async run(stream: ReadableStream<Chunk>): Promise<AnswerOutcome> {
    const reader = stream.getReader();
    const stopped = new Promise<'stopped'>((resolve) => {
      if (this.controller.signal.aborted) resolve('stopped');
      this.controller.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
    });
    const stopCheckMs = this.options.stopCheckMs ?? 250;
    // While chunks flow, each publication shows whether someone else published; a silent model is checked.
    const watch = setInterval(() => {
      if (this.timer === undefined && Date.now() - this.lastPublishAt >= stopCheckMs) this.enqueueFlush();
    }, stopCheckMs);
    let outcome: AnswerOutcome = 'finish';
    try {
      for (;;) {
        const next = await Promise.race([reader.read(), stopped]);
        if (next === 'stopped') {
          outcome = 'abort';
          // The model's stream gets the cancel, so a provider call stops costing money.
          reader.cancel().catch(() => {});
          break;
        }
        if (next.done) break;
        this.add(next.value);
        if (this.failure) throw this.failure;
      }
    } catch (err) {
      if (this.failure === err) throw err;
      outcome = 'error';
      this.push({ type: 'error', errorText: errorText(err) } as Chunk);
      this.controller.abort();
    } finally {
      this.ended = true;
      clearInterval(watch);
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.flushing;
    if (this.failure) throw this.failure;
    if (outcome === 'abort') this.push({ type: 'abort' } as Chunk);
    else if (outcome === 'finish' && this.sawError) outcome = 'error';
    for (let batch = this.takeBatch(); ; batch = this.takeBatch()) {
      if (this.buffer.length === 0) {
        await this.publish(AnswerEvents[outcome], batch);
        return outcome;
      }
      await this.publish(AnswerEvents.chunks, batch);
    }
  }

  private push(chunk: Chunk): void {
    const size = Buffer.byteLength(JSON.stringify(chunk) ?? 'null');
    this.buffer.push(chunk);
    this.sizes.push(size);
    this.bufferedBytes += size;
  }

  /** The oldest buffered chunks that fit one publication: at most `chunks` of them and `bytes` (at least one). */
  private takeBatch(): Chunk[] {
    let count = 0;
    let bytes = 0;
    while (count < this.buffer.length && count < this.maxChunks) {
      if (count > 0 && bytes + this.sizes[count] > this.maxBytes) break;
      bytes += this.sizes[count++];
    }
    this.sizes.splice(0, count);
    this.bufferedBytes -= bytes;
    return this.buffer.splice(0, count);
  }

  private add(chunk: Chunk): void {
    this.push(chunk);
    // `toUIMessageStream()` reports a model failure as an `error` chunk and then ends normally.
    if (isErrorChunk(chunk)) this.sawError = true;
    if (this.batchIsFull()) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.enqueueFlush();
    } else this.schedule();
  }

  private batchIsFull(): boolean {
    return this.buffer.length >= this.maxChunks || this.bufferedBytes >= this.maxBytes;
  }

  /** A flush in `maxMs`, unless one is scheduled or the stream has ended (the final publication takes the rest). */
  private schedule(): void {
    if (this.timer !== undefined || this.ended) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueueFlush();
    }, this.maxMs);
  }

  /** One publication at a time, in order: chunks arriving meanwhile wait and go out together. */
  private enqueueFlush(): void {
    // A flush that has not started yet takes whatever is buffered when it does: one waiting is enough.
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.flushing = this.flushing.then(async () => {
      this.flushQueued = false;
      if (this.failure) return;
      try {
        if (this.buffer.length === 0) await this.checkForStop(undefined);
        else {
          // One publication; more only while full ones are waiting (chunks that came in together).
          do await this.publish(AnswerEvents.chunks, this.takeBatch());
          while (this.batchIsFull());
          if (this.buffer.length > 0) this.schedule();
        }
      } catch (err) {
        this.failure = err;
        this.controller.abort();
      }
    });
  }

  private async publish(event: string, chunks: Chunk[]): Promise<void> {
    const data: AnswerPublication<Chunk> = { answer: this.answer, start: this.started.offset, chunks };
    const at = await this.publisher.publish(this.options.channel, data, { event });
    this.lastPublishAt = Date.now();
    // Our publications are numbered one after another unless someone else published in between: only then
    // is there something to read, so an answer nobody stops costs no reads while it streams.
    if (at.offset > this.seen + 1 && at.epoch === this.started.epoch) await this.checkForStop(at.offset);
    this.seen = Math.max(this.seen, at.offset);
  }

  /** Reads what others published on the channel since `seen` (up to `until`) and stops on an `answer-stop`. */
  private async checkForStop(until: number | undefined): Promise<void> {
    if (this.controller.signal.aborted) return;
    const since = { epoch: this.started.epoch, offset: this.seen };
    const page = await this.publisher.history(this.options.channel, {
      since,
      limit: until === undefined ? undefined : until - this.seen,
    });
    if (page.epoch !== this.started.epoch) return;
    for (const pub of page.publications) {
      if (isStopFor(pub, this.answer)) this.controller.abort();
      if (until === undefined) this.seen = Math.max(this.seen, pub.offset);
    }
  }
}

function isStopFor(pub: Publication, answer: string): boolean {
  if (pub.event !== AnswerEvents.stop) return false;
  const target = (pub.data as AnswerStop | null)?.answer;
  return target === undefined || target === answer;
}

function isErrorChunk(chunk: unknown): boolean {
  return (chunk as { type?: unknown } | null)?.type === 'error';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
