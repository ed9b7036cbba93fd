// Quantiles of a latency histogram over a time window from the cumulative histograms heartbeats carry — the same
// arithmetic as PromQL's `histogram_quantile(q, rate(x_bucket[w]))`, so monitoring's own rule and the mirrored
// Prometheus rule agree.
import { CumulativeHistogramV1 } from '@sovren/messaging';

/** Observations between two cumulative snapshots of one process (undefined when the bucket layouts differ). */
export function histogramDelta(
  older: CumulativeHistogramV1,
  newer: CumulativeHistogramV1,
): CumulativeHistogramV1 | undefined {
  if (older.le.length !== newer.le.length || older.le.some((bound, i) => bound !== newer.le[i])) return undefined;
  return {
    le: [...newer.le],
    cumulative: newer.cumulative.map((n, i) => Math.max(0, n - older.cumulative[i])),
    count: Math.max(0, newer.count - older.count),
  };
}

/** Adds histograms with the same bounds (several instances); undefined when the layouts differ. */
export function histogramSum(parts: CumulativeHistogramV1[]): CumulativeHistogramV1 | undefined {
  const [first, ...rest] = parts;
  if (!first) return undefined;
  const total: CumulativeHistogramV1 = { le: [...first.le], cumulative: [...first.cumulative], count: first.count };
  for (const part of rest) {
    if (part.le.length !== total.le.length || part.le.some((bound, i) => bound !== total.le[i])) return undefined;
    part.cumulative.forEach((n, i) => (total.cumulative[i] += n));
    total.count += part.count;
  }
  return total;
}

/**
 * The q-quantile (0..1) by linear interpolation inside the bucket that holds it, like Prometheus: a quantile in
 * the +Inf bucket is reported as the highest finite bound. NaN without observations.
 */
export function histogramQuantile(q: number, histogram: CumulativeHistogramV1): number {
  const { le, cumulative, count } = histogram;
  if (count === 0 || le.length === 0) return Number.NaN;
  const rank = q * count;
  for (let i = 0; i < le.length; i += 1) {
    if (cumulative[i] >= rank) {
      const lower = i === 0 ? 0 : le[i - 1];
      const below = i === 0 ? 0 : cumulative[i - 1];
      const inBucket = cumulative[i] - below;
      return inBucket === 0 ? le[i] : lower + ((le[i] - lower) * (rank - below)) / inBucket;
    }
  }
  return le[le.length - 1];
}
