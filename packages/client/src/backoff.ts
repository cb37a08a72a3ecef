/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, min * 2^n)], so that
 * thousands of clients cut at once (a hub restart) come back spread out instead of in one thundering wave.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minDelay: number,
    private readonly maxDelay: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const cap = Math.min(this.maxDelay, this.minDelay * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * cap);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
