/** Latency samples in microseconds, kept in full (bounded) so percentiles are exact. */
export class LatencyRecorder {
  private samples = new Float64Array(1 << 16);
  private size = 0;
  /** Samples past the cap are counted but not kept. */
  private dropped = 0;

  constructor(private readonly cap = 4_000_000) {}

  record(micros: number): void {
    if (this.size === this.samples.length) {
      if (this.size >= this.cap) {
        this.dropped++;
        return;
      }
      const bigger = new Float64Array(Math.min(this.cap, this.size * 2));
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.size++] = micros;
  }

  reset(): void {
    this.size = 0;
    this.dropped = 0;
  }

  summary(): LatencySummary {
    const sorted = this.samples.slice(0, this.size).sort();
    return summarize(sorted, this.dropped);
  }
}

export interface LatencySummary {
  count: number;
  /** Microseconds. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles of sorted samples. */
export function summarize(sorted: Float64Array, dropped = 0): LatencySummary {
  const at = (q: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return {
    count: sorted.length + dropped,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted.length === 0 ? 0 : sorted[sorted.length - 1],
  };
}
