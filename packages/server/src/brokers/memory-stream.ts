import type { Publication } from '@herald/protocol';
import { newEpoch } from './epoch.ts';

/**
 * One channel's stream in memory: an epoch, the last offset, and a bounded window of recent publications.
 * Offsets never go back within an epoch, even when the window is trimmed to nothing.
 */
export class MemoryStream {
  readonly epoch = newEpoch();
  offset = 0;
  /** Time of the last append, so an idle stream can be dropped (and a later one gets a new epoch). */
  touchedAt = Date.now();
  private readonly window: Publication[] = [];
  /** Index of the first live entry; entries before it were trimmed and are dropped in bulk. */
  private head = 0;

  constructor(readonly channel: string) {}

  append(data: unknown, event: string | undefined, historySize: number, historyTtl: number): Publication {
    const now = Date.now();
    this.offset += 1;
    this.touchedAt = now;
    const pub: Publication = { channel: this.channel, epoch: this.epoch, offset: this.offset, data, ts: now };
    if (event !== undefined) pub.event = event;
    if (historySize > 0 && historyTtl > 0) this.window.push(pub);
    this.trim(historySize, historyTtl, now);
    return pub;
  }

  trim(historySize: number, historyTtl: number, now = Date.now()): void {
    const w = this.window;
    let head = Math.max(this.head, w.length - historySize);
    const oldest = now - historyTtl;
    while (head < w.length && w[head].ts! < oldest) head++;
    this.head = head;
    // Compact once the dead prefix is as large as the live part, keeping appends amortised O(1).
    if (head > 64 && head * 2 >= w.length) {
      w.splice(0, head);
      this.head = 0;
    }
  }

  /** Retained publications with offset > `after`, oldest first, at most `limit`. */
  since(after: number, limit: number): Publication[] {
    const w = this.window;
    const live = w.length - this.head;
    if (live === 0 || limit <= 0) return [];
    // Offsets in the window are consecutive, so the start index is arithmetic.
    const first = w[this.head].offset;
    const start = this.head + Math.max(0, after + 1 - first);
    return w.slice(start, Math.min(w.length, start + limit));
  }

  /** The newest `limit` retained publications, newest first. */
  latest(limit: number): Publication[] {
    const w = this.window;
    const start = Math.max(this.head, w.length - limit);
    return w.slice(start).reverse();
  }

  get retained(): number {
    return this.window.length - this.head;
  }
}
