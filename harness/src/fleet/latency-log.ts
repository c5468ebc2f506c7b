/** Percentiles of a set of latencies, ms. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

/**
 * Every confirmation's latency (measured → the device learnt its reading was committed), kept in
 * the chunks the workers sent, so the live display can look at the last seconds and the final
 * figures at a steady stretch of the run.
 */
export class LatencyLog {
  private readonly chunks: { arrivedAt: number; measuredAt: number[]; latencyMs: number[] }[] = [];

  add(measuredAt: readonly number[], latencyMs: readonly number[], arrivedAt = Date.now()): void {
    if (latencyMs.length > 0) this.chunks.push({ arrivedAt, measuredAt: [...measuredAt], latencyMs: [...latencyMs] });
  }

  /** Forgets the confirmations that arrived before `time` (epoch ms). */
  dropBefore(time: number): void {
    let n = 0;
    while (n < this.chunks.length && this.chunks[n]!.arrivedAt < time) n++;
    if (n > 0) this.chunks.splice(0, n);
  }

  /** Latencies of the confirmations that arrived from `since` (epoch ms) on. */
  confirmedSince(since: number): LatencySummary | undefined {
    const values: number[] = [];
    for (let i = this.chunks.length - 1; i >= 0 && this.chunks[i]!.arrivedAt >= since; i--) values.push(...this.chunks[i]!.latencyMs);
    return summarize(values);
  }

  /** Latencies of the readings measured in [from, to) (epoch ms). */
  measuredBetween(from: number, to = Number.POSITIVE_INFINITY): LatencySummary | undefined {
    const values: number[] = [];
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.latencyMs.length; i++) {
        const at = chunk.measuredAt[i]!;
        if (at >= from && at < to) values.push(chunk.latencyMs[i]!);
      }
    }
    return summarize(values);
  }
}

/** Nearest-rank percentiles. */
export function summarize(values: number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1]!, count: sorted.length };
}
