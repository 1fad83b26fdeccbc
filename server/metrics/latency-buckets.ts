/**
 * @module latency-buckets
 * The `le` bounds of the duration and queue-wait histograms, chosen on the edges of the live
 * latency histogram's buckets (shared/histogram.ts) so that every cumulative count is exact.
 */
import { isBucketEdge, type LatencyHistogram } from '../../shared/histogram.js';
import type { HistogramSample, Labels } from './exposition.js';

/*
 * The usual web-latency ladder (0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1 s …) scaled by
 * 1.024: 5 ms becomes 5.12 ms = 80 x 2^6 µs, a bucket edge. Above 1.024 s the ladder doubles
 * (2.048 … 65.536 s), because 2.56 s (odd part 625) is no edge. The live histogram has 64
 * buckets per power of two; a bound on an edge splits none of them, so a count is exact.
 */
export const LATENCY_BOUNDS_US: readonly number[] = [
  512, 1_024, 2_560, 5_120, 10_240, 25_600, 51_200, 102_400, 256_000, 512_000,
  1_024_000, 2_048_000, 4_096_000, 8_192_000, 16_384_000, 32_768_000, 65_536_000,
];

for (const us of LATENCY_BOUNDS_US) if (!isBucketEdge(us)) throw new Error(`latency bound ${us} µs is not a bucket edge`);

/**
 * A Prometheus histogram sample from a live histogram. Values are whole microseconds, and an
 * edge starts a bucket, so the count for `le` is of values below the bound: a request of exactly
 * 5,120 µs counts under le="0.01024", not le="0.00512" (1 µs of difference, nothing estimated).
 */
export function histogramSample(labels: Labels, histogram: LatencyHistogram): HistogramSample {
  const below = histogram.countsBelow(LATENCY_BOUNDS_US);
  return {
    labels,
    buckets: LATENCY_BOUNDS_US.map((us, i) => [us / 1e6, below[i] as number] as const),
    count: histogram.count,
    sum: histogram.sum / 1e6,
  };
}
