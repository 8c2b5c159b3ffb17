/**
 * Latency histograms for the benchmark: 1 ms buckets, kept as
 * `Map<ms, count>` while recording and sent between processes as
 * `[ms, count][]` pairs (compact and JSON-safe). Percentiles are read from the
 * merged histogram, so every delivery counts (no sampling).
 */

/** A histogram as it crosses IPC: `[latency in ms, how many deliveries]`, any order. */
export type HistogramPairs = [ms: number, count: number][];

/** p50/p99/max (and mean) of a latency distribution, in ms; null fields when it is empty. */
export interface LatencySummary {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
}

/** Adds one observation (ms, rounded to whole ms, negatives clamp to 0) to `hist`. */
export function record(hist: Map<number, number>, ms: number): void {
  const bucket = Math.max(0, Math.round(ms));
  hist.set(bucket, (hist.get(bucket) ?? 0) + 1);
}

/** Merges histograms (as pairs) into one map. */
export function merge(parts: HistogramPairs[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pairs of parts) for (const [ms, n] of pairs) out.set(ms, (out.get(ms) ?? 0) + n);
  return out;
}

/** p50, p99, max and mean of `hist` (ms). */
export function summarize(hist: Map<number, number>): LatencySummary {
  const buckets = [...hist.entries()].sort((a, b) => a[0] - b[0]);
  const count = buckets.reduce((s, [, n]) => s + n, 0);
  if (count === 0) return { count, p50Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  const at = (q: number) => {
    const rank = Math.ceil(q * count);
    let seen = 0;
    for (const [ms, n] of buckets) if ((seen += n) >= rank) return ms;
    return buckets.at(-1)![0];
  };
  const sum = buckets.reduce((s, [ms, n]) => s + ms * n, 0);
  return { count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: buckets.at(-1)![0], meanMs: Math.round((sum / count) * 10) / 10 };
}

/** Summary of raw samples (ms), e.g. per-request latencies of the writes scenario: exact order statistics, 0.1 ms precision. */
export function summarizeSamples(samples: number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const count = sorted.length;
  if (count === 0) return { count, p50Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  const r = (v: number) => Math.round(v * 10) / 10;
  const at = (q: number) => r(sorted[Math.max(0, Math.ceil(q * count) - 1)]!);
  return { count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: r(sorted[count - 1]!), meanMs: r(sorted.reduce((a, b) => a + b, 0) / count) };
}

/** `a / b` rounded to 2 decimals; null when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

/** A performance target checked against this run: `met` null when the run did not measure it; `detail` the figures it was judged on. */
export interface Target {
  name: string;
  met: boolean | null;
  detail: string;
}
