import WebSocket from 'ws';

export interface SubscriberTally {
  received: number;
  duplicates: number;
  /** Offsets that arrived after a jump (a gap) or out of order. */
  outOfOrder: number;
  reconnects: number;
  notRecovered: number;
  /** Subscriptions refused with an error (then retried on a new connection). */
  refused: number;
}

/**
 * A minimal WebSocket subscriber that does what the protocol asks of a resuming client: keep the last
 * {epoch, offset}, and on every reconnect subscribe with `since` and take the recovered publications
 * before the live ones. It counts rather than stores, so a thousand of them stay cheap.
 */
export class ResumingSubscriber {
  readonly tally: SubscriberTally = {
    received: 0,
    duplicates: 0,
    outOfOrder: 0,
    reconnects: 0,
    notRecovered: 0,
    refused: 0,
  };
  epoch = '';
  offset = 0;
  /** True between a positioned subscription and the next disconnect. */
  live = false;
  private ws: WebSocket | null = null;
  private stopped = false;
  private readonly seen: Uint8Array;

  constructor(
    /** Where to connect; a function is asked again on every reconnect (to move between nodes). */
    private readonly url: string | (() => string),
    private readonly channel: string,
    /** Largest offset expected, for exactly-once bookkeeping. */
    maxOffset: number,
  ) {
    this.seen = new Uint8Array(maxOffset + 2);
  }

  /** Resolves once the first subscription is positioned. */
  start(): Promise<void> {
    return new Promise((resolve) => this.connect(resolve));
  }

  private connect(onSubscribed?: () => void): void {
    if (this.stopped) return;
    const ws = new WebSocket(typeof this.url === 'string' ? this.url : this.url());
    this.ws = ws;
    ws.on('open', () => {
      const sub = this.epoch ? { since: { epoch: this.epoch, offset: this.offset } } : {};
      ws.send(JSON.stringify({ id: 1, type: 'connect', subs: { [this.channel]: sub } }));
    });
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (frame.type === 'pub') this.take(frame.epoch, frame.offset);
      else if (frame.type === 'ping') ws.send('{"type":"pong"}');
      else if (frame.id === 1 && frame.result) {
        const sub = frame.result.subs[this.channel];
        if (sub.error) {
          // Refused for now (e.g. the broker is unavailable): reconnect and try again.
          this.tally.refused++;
          ws.terminate();
          return;
        }
        if (sub.recovered === false) this.tally.notRecovered++;
        if (!this.epoch || sub.recovered === false) {
          this.epoch = sub.epoch;
          this.offset = sub.offset;
        }
        for (const pub of sub.publications) this.take(pub.epoch, pub.offset);
        this.live = true;
        onSubscribed?.();
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.live = false;
      if (this.stopped) return;
      this.tally.reconnects++;
      setTimeout(() => this.connect(), 5 + Math.random() * 50);
    });
  }

  private take(epoch: string, offset: number): void {
    if (epoch !== this.epoch) this.tally.outOfOrder++;
    if (offset < this.seen.length && this.seen[offset]) this.tally.duplicates++;
    else if (offset !== this.offset + 1) this.tally.outOfOrder++;
    if (offset < this.seen.length) this.seen[offset] = 1;
    this.tally.received++;
    if (offset > this.offset) this.offset = offset;
  }

  /** Drops the connection abruptly (no close handshake); it reconnects and resumes by itself. */
  cut(): boolean {
    if (!this.live || !this.ws) return false;
    this.ws.terminate();
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}
