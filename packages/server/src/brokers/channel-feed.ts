import { OrderedFollower, type Publication, type StreamPosition } from '@herald/protocol';
import type { HistoryPage } from '../core/broker.ts';

/** Reads the channel's stream: after `since` (nothing if its epoch is not current), or only the position. */
export type StreamReader = (since: StreamPosition | undefined, limit: number) => Promise<HistoryPage>;

/** Gives the stream a new epoch if it is still behind `delivered` (see RETIRE_SCRIPT). */
export type EpochRetirer = (delivered: StreamPosition) => Promise<void>;

/** Publications read from the stream per round trip while catching up. */
const CATCH_UP_BATCH = 1000;

/**
 * One channel's publications on their way to this node's hub, in offset order. Pub/sub brings them live;
 * whenever pub/sub cannot be trusted to have brought everything (a gap, a new epoch, a reconnect), the
 * feed reads the missing range from the stream, then merges what pub/sub brought meanwhile, by offset.
 * A range the stream no longer holds is passed over: the hub sees the gap and ends the affected
 * subscriptions with `recovered: false`, never silently.
 */
export class ChannelFeed {
  /**
   * The last position handed to the hub. It holds nothing ahead of a gap (bound 0): what pub/sub brings
   * out of order waits in `waiting` with its arrival order, which decides what a new epoch means.
   */
  private readonly follower: OrderedFollower<Publication>;
  private positioned = false;
  private catchingUp = false;
  /** A catch-up failed (Redis unreachable); the next message or sweep tries again. */
  private stale = false;
  private closed = false;
  /** Publications received while positioning or catching up; `seq` orders them against stream reads. */
  private waiting: Array<{ pub: Publication; seq: number }> = [];
  private received = 0;
  /** Pub/sub brought something in order since `heardSinceAsked` was last asked. */
  private heard = false;

  constructor(
    readonly channel: string,
    private readonly read: StreamReader,
    private readonly retire: EpochRetirer,
    emit: (pub: Publication) => void,
  ) {
    this.follower = new OrderedFollower({ epoch: '', offset: 0 }, emit, 0);
  }

  get epoch(): string {
    return this.follower.position.epoch;
  }

  get offset(): number {
    return this.follower.position.offset;
  }

  /** Called once pub/sub delivery is live: takes the stream's current end as the starting point. */
  async start(): Promise<void> {
    const page = await this.read(undefined, 0);
    if (this.closed) return;
    this.follower.reset(page);
    this.positioned = true;
    if (this.waiting.length > 0) await this.catchUp();
  }

  /** A publication from pub/sub. */
  receive(pub: Publication): void {
    if (this.closed) return;
    if (!this.positioned || this.catchingUp) {
      this.waiting.push({ pub, seq: ++this.received });
      return;
    }
    if (!this.stale) {
      const offered = this.follower.offer(pub);
      if (offered === 'delivered' || offered === 'duplicate') {
        this.heard = true;
        return;
      }
    }
    // A gap or another epoch: pub/sub cannot be trusted to have brought everything.
    this.waiting.push({ pub, seq: ++this.received });
    void this.catchUp();
  }

  /**
   * Reads everything after the last delivered position from the stream and delivers it, then what
   * pub/sub brought meanwhile. Called on a gap, after a reconnect, and periodically (which also keeps
   * the stream's epoch alive while this node listens). Never throws; a failure leaves the feed stale.
   */
  async catchUp(): Promise<void> {
    if (this.catchingUp || this.closed || !this.positioned) return;
    this.catchingUp = true;
    try {
      for (;;) {
        const readAt = this.received;
        const page = await this.read({ ...this.follower.position }, CATCH_UP_BATCH);
        if (this.closed) return;
        if (page.epoch === this.epoch && page.offset < this.offset) {
          // Redis lost publications this node already delivered (a restart from an older snapshot or
          // AOF): new publications would reuse their offsets. A new epoch makes that a plain reset.
          await this.retire({ ...this.follower.position });
          continue;
        }
        if (page.epoch !== this.epoch) {
          // The stream was reset (lost by Redis, or expired): read the new incarnation from its start.
          this.follower.reset({ epoch: page.epoch, offset: 0 });
          continue;
        }
        for (const pub of page.publications) this.take(pub);
        // A full batch short of the end: more to read. (Fewer than asked means the rest is trimmed.)
        if (page.publications.length === CATCH_UP_BATCH && this.offset < page.offset) continue;
        if (!this.drainWaiting(readAt)) break;
      }
      this.stale = false;
    } catch {
      this.stale = true;
    } finally {
      this.catchingUp = false;
    }
  }

  /**
   * Delivers the waiting publications of the current epoch in order. One of another epoch that arrived
   * before the read is from an incarnation the stream already left and is dropped; one that arrived
   * during the read may start a newer incarnation: returns true to read again.
   */
  private drainWaiting(readAt: number): boolean {
    const waiting = this.waiting;
    this.waiting = [];
    for (let i = 0; i < waiting.length; i++) {
      const { pub, seq } = waiting[i];
      if (pub.epoch === this.epoch) this.take(pub);
      else if (seq > readAt) {
        this.waiting = waiting.slice(i);
        return true;
      }
    }
    return false;
  }

  /** Delivers a publication of the current epoch beyond the position, even after a gap (see class doc). */
  private take(pub: Publication): void {
    if (this.follower.offer(pub) !== 'ahead') return;
    this.follower.reset({ epoch: pub.epoch, offset: pub.offset - 1 });
    this.follower.offer(pub);
  }

  get needsCatchUp(): boolean {
    return this.stale;
  }

  /**
   * Whether pub/sub brought publications in order since the last call. Such a feed needs no periodic
   * catch-up: a lost message shows as a gap at the next one, publications keep its epoch alive, and
   * once it goes quiet the next periodic catch-up reads what the last messages may have missed.
   */
  heardSinceAsked(): boolean {
    const heard = this.heard;
    this.heard = false;
    return heard;
  }

  close(): void {
    this.closed = true;
    this.waiting = [];
  }
}
