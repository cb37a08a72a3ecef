import type { StreamPosition } from './types.ts';

/**
 * The stream-position rule, written once for the hub, the brokers, the transports and the client.
 *
 * A position is the last publication a reader has taken (or where it starts): an `epoch` naming one
 * incarnation of the channel's stream, and an `offset` that grows by one per publication. Relative to a
 * position, a publication is
 * - `next`: same epoch, offset + 1: take it and move on;
 * - `duplicate`: same epoch, offset at or before the position: seen already (a resume that overlaps, a
 *   broker redelivery, a second connection); drop it;
 * - `gap`: same epoch, further ahead: the offsets in between are missing; hold it and heal the gap from
 *   history, or reset the reader if history no longer holds them;
 * - `epoch`: another epoch: the stream was reset (expired, or lost by its broker); offsets say nothing
 *   across epochs, so the reader resets to the new incarnation.
 */
export type Continuity = 'next' | 'duplicate' | 'gap' | 'epoch';

/** Where `pub` stands relative to `position` (see Continuity). */
export function continuity(position: StreamPosition, pub: StreamPosition): Continuity {
  if (pub.epoch !== position.epoch) return 'epoch';
  if (pub.offset <= position.offset) return 'duplicate';
  return pub.offset === position.offset + 1 ? 'next' : 'gap';
}

/** Whether `pub` is the very next publication after `position`. */
export function follows(position: StreamPosition, pub: StreamPosition): boolean {
  return pub.epoch === position.epoch && pub.offset === position.offset + 1;
}

/** Whether `pub` was seen already by a reader at `position`. */
export function isDuplicate(position: StreamPosition, pub: StreamPosition): boolean {
  return pub.epoch === position.epoch && pub.offset <= position.offset;
}

/** Whether offsets are missing between `position` and `pub` (same epoch, more than one ahead). */
export function isGap(position: StreamPosition, pub: StreamPosition): boolean {
  return pub.epoch === position.epoch && pub.offset > position.offset + 1;
}

/** What a stream read returned: where the stream stands, and what it holds after the position asked for. */
export interface StreamRead extends StreamPosition {
  /** In offset order. */
  publications: readonly StreamPosition[];
}

/**
 * The hub's `recovered`: whether resuming from `since` loses nothing, given the stream read after it.
 * True when `since` is of the current epoch, not beyond the stream's end, and the read starts right
 * after it (or the reader is at the end already). A subscribe result carries it only when the client
 * gave `since`; `recovered: false` means the subscription starts at the stream's current position.
 */
export function recovers(since: StreamPosition, read: StreamRead): boolean {
  if (since.epoch !== read.epoch || since.offset > read.offset) return false;
  const first = read.publications[0];
  return first ? first.offset === since.offset + 1 : since.offset === read.offset;
}

/**
 * What a reader at `position` (undefined: nothing taken yet) does with a subscribe result:
 * - `start`: nothing taken, so nothing lost: begin at the result's position;
 * - `continue`: the result's publications follow the position;
 * - `not_recovered`: history no longer covered what was missed: reset to the result's position;
 * - `epoch_changed`: the stream is a new incarnation: reset to the result's position.
 */
export type ResumeOutcome = 'start' | 'continue' | 'not_recovered' | 'epoch_changed';

export function resumeOutcome(
  position: StreamPosition | undefined,
  result: { epoch: string; recovered?: boolean },
): ResumeOutcome {
  if (!position) return 'start';
  if (result.recovered === false) return 'not_recovered';
  return result.epoch === position.epoch ? 'continue' : 'epoch_changed';
}

/** Offsets missing in `epoch`, `from` through `to`. */
export interface Gap {
  epoch: string;
  from: number;
  to: number;
}

/** What `OrderedFollower.offer` did with a publication. */
export type Offered = 'delivered' | 'duplicate' | 'ahead' | 'epoch';

/** Publications held ahead of a gap by default: beyond it, the furthest are dropped (history has them). */
export const DEFAULT_AHEAD_LIMIT = 10_000;

/**
 * One reader's position and the publications it holds ahead of a gap: whatever the order and however
 * often publications are offered, each is emitted once, in offset order. It never decides how to heal:
 * `offer` says what happened and `missing` what is missing, and the caller reads history (`offer`s what
 * it finds) or gives up on the gap (`reset`). A publication of another epoch is not taken: the caller
 * checks the stream and `reset`s.
 *
 * The held publications are bounded (`limit`); past it the furthest are dropped, but their offsets stay
 * known, so `missing` still covers them and healing brings them back from history.
 */
export class OrderedFollower<P extends StreamPosition = StreamPosition> {
  private readonly at: StreamPosition;
  /** Of the position's epoch, after a gap: sorted by offset, one per offset. */
  private ahead: P[] = [];
  /** The highest offset known to exist in the position's epoch. */
  private end: number;

  constructor(
    position: StreamPosition,
    private readonly emit: (pub: P) => void,
    private readonly limit = DEFAULT_AHEAD_LIMIT,
  ) {
    this.at = { epoch: position.epoch, offset: position.offset };
    this.end = position.offset;
  }

  /** The last publication emitted (or where emission starts). A live view: copy it to keep it. */
  get position(): Readonly<StreamPosition> {
    return this.at;
  }

  /** How many publications are held ahead of a gap. */
  get held(): number {
    return this.ahead.length;
  }

  /** The offsets to read from history before emission can go on, if any. */
  get missing(): Gap | undefined {
    if (this.end <= this.at.offset) return undefined;
    const to = this.ahead.length > 0 ? this.ahead[0].offset - 1 : this.end;
    return { epoch: this.at.epoch, from: this.at.offset + 1, to };
  }

  /** Takes a publication: emits it and what it unblocks, holds it ahead of a gap, or drops it. */
  offer(pub: P): Offered {
    switch (continuity(this.at, pub)) {
      case 'epoch':
        return 'epoch';
      case 'duplicate':
        return 'duplicate';
      case 'next':
        if (pub.offset > this.end) this.end = pub.offset;
        this.at.offset = pub.offset;
        this.emit(pub);
        this.flush();
        return 'delivered';
      case 'gap':
        if (pub.offset > this.end) this.end = pub.offset;
        return this.hold(pub) ? 'ahead' : 'duplicate';
    }
  }

  /** The stream of the position's epoch is known to reach `end` (a subscribe result, a history read). */
  know(end: number): void {
    if (end > this.end) this.end = end;
  }

  /**
   * Moves the position without emitting anything (continuity broke, or a range is passed over). What is
   * held after `to` in its epoch stays; call `flush` to emit what now follows.
   */
  reset(to: StreamPosition): void {
    const sameEpoch = to.epoch === this.at.epoch;
    this.ahead = sameEpoch ? this.ahead.filter((p) => p.offset > to.offset) : [];
    this.end = sameEpoch ? Math.max(this.end, to.offset) : to.offset;
    this.at.epoch = to.epoch;
    this.at.offset = to.offset;
  }

  /** Emits the held publications that follow the position without a hole. */
  flush(): void {
    while (this.ahead.length > 0 && this.ahead[0].offset <= this.at.offset + 1) {
      const pub = this.ahead.shift() as P;
      if (pub.offset <= this.at.offset) continue;
      this.at.offset = pub.offset;
      this.emit(pub);
    }
  }

  /** Adds to `ahead` in offset order; false if that offset is held already. */
  private hold(pub: P): boolean {
    const ahead = this.ahead;
    let i = ahead.length;
    while (i > 0 && ahead[i - 1].offset > pub.offset) i--;
    if (i > 0 && ahead[i - 1].offset === pub.offset) return false;
    if (i >= this.limit) return true; // beyond the bound: dropped, but its offset is known (`end`)
    ahead.splice(i, 0, pub);
    if (ahead.length > this.limit) ahead.pop();
    return true;
  }
}
