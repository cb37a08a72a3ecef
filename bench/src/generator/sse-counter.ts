import { encodeCursor, type SubscribedEvent } from '@herald/protocol';
import { RawCounter } from './raw-counter.ts';

/** Every publication (the benchmark publishes without an event name) has this line; control events do not. */
const MARK = Buffer.from('event: message\n');
const SUBSCRIBED = 'data: {"type":"subscribed"';

/**
 * A Herald SSE subscriber over a plain TCP socket: once the stream's `subscribed` control event has
 * been read, it counts publications by scanning for their `event: message` line (native `indexOf`,
 * nothing decoded). It resumes with `Last-Event-ID`, a cursor made from the position it counted to.
 */
export class SseCounter extends RawCounter {
  /** The stream before it is live, as text. */
  private opening = '';
  /** The last bytes of the previous read, for a mark split between reads. */
  private carry = Buffer.alloc(0);

  protected request(): string {
    const resume = this.since ? `Last-Event-ID: ${encodeCursor({ [this.channel]: this.since })}\r\n` : '';
    return (
      `GET /connection/sse?channel=${encodeURIComponent(this.channel)} HTTP/1.1\r\n` +
      `Host: ${this.host}:${this.port}\r\nAccept: text/event-stream\r\n${resume}\r\n`
    );
  }

  protected accepted(status: string): boolean {
    return status.startsWith('HTTP/1.1 200');
  }

  protected resetParser(): void {
    this.opening = '';
    this.carry = Buffer.alloc(0);
  }

  protected body(buf: Buffer, start: number, end: number): void {
    if (this.state === 'live') {
      this.scan(buf, start, end);
      return;
    }
    this.opening += buf.toString('latin1', start, end);
    const at = this.opening.indexOf(SUBSCRIBED);
    const lineEnd = at < 0 ? -1 : this.opening.indexOf('\n', at);
    if (lineEnd < 0) {
      if (this.opening.length > 65_536) this.fail('no subscribed event');
      return;
    }
    const event = JSON.parse(this.opening.slice(at + 6, lineEnd)) as SubscribedEvent;
    const rest = Buffer.from(this.opening.slice(lineEnd), 'latin1');
    this.opening = '';
    // Recovered publications follow the event as ordinary messages and are counted from the `since`.
    const position = event.recovered ? this.since : { epoch: event.epoch, offset: event.offset };
    this.becomeLive(0, position, this.since !== undefined && event.recovered !== true);
    this.scan(rest, 0, rest.length);
  }

  private scan(buf: Buffer, start: number, end: number): void {
    const view = buf.subarray(start, end);
    if (this.carry.length > 0) {
      // Marks that begin in the carried bytes and end in this read.
      const joint = Buffer.concat([this.carry, view.subarray(0, MARK.length - 1)]);
      for (let i = joint.indexOf(MARK); i >= 0 && i < this.carry.length; i = joint.indexOf(MARK, i + 1))
        this.count++;
    }
    for (let i = view.indexOf(MARK); i >= 0; i = view.indexOf(MARK, i + MARK.length)) this.count++;
    const keep = MARK.length - 1;
    this.carry =
      view.length >= keep
        ? Buffer.from(view.subarray(view.length - keep))
        : Buffer.concat([this.carry, view]).subarray(-keep);
  }
}
