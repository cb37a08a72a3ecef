import type { Publication, SseControlEvent } from '@herald/protocol';
import { EventSource, type EventSourceInit } from 'eventsource';
import { expect } from 'vitest';
import { eventually } from './ws-client.ts';

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * The complete messages, comments and `retry:` values of `text/event-stream` text, parsed by the spec's
 * rules; `rest` is the unfinished tail.
 */
export function parseEventStream(text: string): {
  messages: SseMessage[];
  comments: string[];
  retries: number[];
  rest: string;
} {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\n\n');
    if (end === -1) return { messages, comments, retries, rest };
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    const message: SseMessage = { id: undefined, event: 'message', data: '' };
    let hasData = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        comments.push(line.slice(1));
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') message.id = value;
      else if (field === 'event') message.event = value;
      else if (field === 'retry') retries.push(Number(value));
      else if (field === 'data') {
        message.data += hasData ? `\n${value}` : value;
        hasData = true;
      }
    }
    if (hasData) messages.push(message);
  }
}

/**
 * Reads a `text/event-stream` body with plain fetch and parses it by the spec's rules, keeping every
 * message, comment and `retry:` — for tests that look at the wire itself.
 */
export class RawSseStream {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  readonly retries: number[] = [];
  ended = false;
  private buffer = '';
  private readonly done: Promise<void>;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    this.done = this.pump();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<RawSseStream> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    return new RawSseStream(response, abort);
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        this.buffer += decoder.decode(chunk, { stream: true });
        this.parse();
      }
    } catch {
      // cancelled by the test, or cut
    }
    this.ended = true;
  }

  private parse(): void {
    const parsed = parseEventStream(this.buffer);
    this.buffer = parsed.rest;
    this.messages.push(...parsed.messages);
    this.comments.push(...parsed.comments);
    this.retries.push(...parsed.retries);
  }

  /** Control events (`event: herald`), parsed. */
  get controls(): SseControlEvent[] {
    return this.messages.filter((m) => m.event === 'herald').map((m) => JSON.parse(m.data));
  }

  /** Publication messages, parsed, with their ids. */
  get publications(): Array<Publication & { id: string }> {
    return this.messages
      .filter((m) => m.event !== 'herald')
      .map((m) => ({ ...JSON.parse(m.data), id: m.id as string }));
  }

  /** The id a browser would send as Last-Event-ID now. */
  get lastEventId(): string | undefined {
    return this.messages.findLast((m) => m.id !== undefined)?.id;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  /** Resolves when the server has ended the stream. */
  async ends(): Promise<void> {
    await this.done;
  }
}

export interface SseTally {
  received: number;
  duplicates: number;
  /** Offsets that arrived after a jump (a gap), out of order, or with a foreign epoch. */
  outOfOrder: number;
  notRecovered: number;
  opens: number;
}

/**
 * A subscriber on the npm `eventsource` package, which reconnects by itself and sends Last-Event-ID the
 * way a browser does, with no Herald code. Per channel it checks each offset arrives once, in order.
 */
export class EventSourceSubscriber {
  readonly es: EventSource;
  readonly tally: SseTally = { received: 0, duplicates: 0, outOfOrder: 0, notRecovered: 0, opens: 0 };
  readonly positions = new Map<string, { epoch: string; offset: number }>();
  readonly controls: SseControlEvent[] = [];
  readonly data: unknown[] = [];
  /** Channels announced since the stream last opened: all of them means the stream is live. */
  private readonly announced = new Set<string>();
  private readonly seen = new Map<string, Set<number>>();

  constructor(
    url: string,
    readonly channels: string[],
    init?: EventSourceInit,
  ) {
    this.es = new EventSource(url, init);
    this.es.addEventListener('open', () => {
      this.tally.opens++;
      this.announced.clear();
    });
    this.es.addEventListener('error', () => this.announced.clear());
    this.es.addEventListener('herald', (e) => {
      const control = JSON.parse(e.data) as SseControlEvent;
      this.controls.push(control);
      if (control.type !== 'subscribed') return;
      this.announced.add(control.channel);
      if (control.recovered === false) this.tally.notRecovered++;
      if (!this.positions.has(control.channel) || control.recovered === false) {
        this.positions.set(control.channel, { epoch: control.epoch, offset: control.offset });
      }
    });
    this.es.addEventListener('message', (e) => this.take(JSON.parse(e.data)));
  }

  get live(): boolean {
    return this.es.readyState === EventSource.OPEN && this.channels.every((c) => this.announced.has(c));
  }

  offset(channel: string): number {
    return this.positions.get(channel)?.offset ?? -1;
  }

  private take(pub: Publication): void {
    const position = this.positions.get(pub.channel);
    let seen = this.seen.get(pub.channel);
    if (!seen) {
      seen = new Set();
      this.seen.set(pub.channel, seen);
    }
    if (!position || position.epoch !== pub.epoch) this.tally.outOfOrder++;
    if (seen.has(pub.offset)) this.tally.duplicates++;
    else if (position && pub.offset !== position.offset + 1) this.tally.outOfOrder++;
    seen.add(pub.offset);
    this.tally.received++;
    this.data.push(pub.data);
    if (position && pub.offset > position.offset) position.offset = pub.offset;
  }

  close(): void {
    this.es.close();
  }
}

/**
 * Waits for every subscriber to reach `perChannel` on each of its channels, closes them, and checks each
 * got every publication once, in order, with no recovery lost.
 */
export async function expectEveryPublicationOnce(
  subscribers: EventSourceSubscriber[],
  perChannel: number,
): Promise<void> {
  await eventually(
    () => subscribers.every((s) => s.channels.every((c) => s.offset(c) === perChannel)),
    'every subscriber reaches the end of each channel',
    30_000,
  );
  for (const s of subscribers) {
    s.close();
    expect(s.tally).toMatchObject({ duplicates: 0, outOfOrder: 0, notRecovered: 0 });
    expect(s.tally.received).toBe(perChannel * s.channels.length);
  }
}
