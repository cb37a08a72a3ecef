import type { HeraldConfig } from '../config.ts';

/** What a client's rate is kept for: its publishes, or its commands of every kind. */
export type RateKind = 'publish' | 'command';

/** The configured rate (per second; 0: unlimited) and burst of `kind`. */
export function rateOf(limits: HeraldConfig['limits'], kind: RateKind): { rate: number; burst: number } {
  return kind === 'publish'
    ? { rate: limits.publishRate, burst: limits.publishBurst }
    : { rate: limits.commandRate, burst: limits.commandBurst };
}

/**
 * A token bucket refilled lazily on each `take`: `rate` tokens per second up to `burst`. No timer, a few
 * numbers per connection.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Full again: it holds nothing worth keeping. */
  idle(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }
}

/** Open connections per key (user or IP). */
export class ConnectionCounter {
  private readonly counts = new Map<string, number>();

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  add(key: string): void {
    this.counts.set(key, this.count(key) + 1);
  }

  remove(key: string): void {
    const n = this.count(key) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}
