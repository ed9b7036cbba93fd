// The one percentile of the benchmarks, so every latency figure in docs/ is computed the same way: nearest rank.

/**
 * The p-th percentile (0 < p <= 100) by nearest rank: the smallest value with at least p% of all values at or below
 * it, so always one of the measured values. NaN for no values. The input need not be sorted and is not changed.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

/** The median as the benchmarks report it: the 50th percentile by nearest rank (the lower middle of an even count). */
export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}
