/**
 * Order statistics of small samples, shared by the benchmark report (bench/report.ts) and the
 * migration pacer (shard-server/migration-pacer.ts). Each call sorts a copy: for a few dozen
 * numbers at a time.
 */

/** The median of `xs` (the mean of the middle two for an even count), or undefined. */
export function median(xs: readonly number[]): number | undefined {
  const sorted = [...xs].sort((a, b) => a - b);
  const n = sorted.length;
  return n === 0 ? undefined : n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** The `q` quantile of `xs` (0 <= q <= 1), the nearest rank below, or undefined. */
export function quantile(xs: readonly number[], q: number): number | undefined {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor((sorted.length - 1) * q)];
}
