/**
 * Per-group throughput and latency from the shard servers' /metrics (pure; the dashboard's
 * poller feeds it two scrapes of each node and gets one chart point per group):
 *
 * - ops/s: the increase of `shardkv_service_operations_total{type,result="ok"}` over the data
 *   operations (dataOperationTypes) between two scrapes of a node, divided by the seconds
 *   between them, summed over the group's nodes. Refusals (not_leader at a follower,
 *   wrong_group, limits) and failures are not served operations and do not count.
 * - p99: the 0.99 quantile of `shardkv_service_operation_duration_seconds{type}` over the same
 *   types (every result), from the increase of each bucket between the two scrapes summed over
 *   the group's nodes, interpolated within a bucket as Prometheus' histogram_quantile does.
 *
 * A counter that went down (the daemon restarted) counts from zero, as Prometheus' rate() does.
 */
import type { Sample } from "./prometheus-text";

/** The request types that are data operations (shard-server: the `type` label). */
export const dataOperationTypes: readonly string[] = ["get", "put", "append", "delete", "cas", "batch"];

export const operationsTotalName = "shardkv_service_operations_total";
export const operationDurationName = "shardkv_service_operation_duration_seconds";
export const migrationMovedBytesName = "shardkv_migration_moved_bytes_total";
export const migrationInFlightBytesName = "shardkv_migration_in_flight_bytes";

/** One scrape of one node: when (milliseconds on a monotonic clock) and what it said. */
export interface Scrape {
  readonly atMs: number;
  readonly samples: readonly Sample[];
}

/** What a node served between two scrapes. */
export interface NodeDelta {
  readonly seconds: number;
  /** Served data operations. */
  readonly ops: number;
  /** Bucket upper bound (seconds; Infinity last) -> operations at most that long, cumulative. */
  readonly buckets: ReadonlyMap<number, number>;
}

/** What a scrape says about the counters this module reads. */
interface Totals {
  readonly ops: number;
  readonly buckets: Map<number, number>;
}

function totals(s: Scrape): Totals {
  let ops = 0;
  const buckets = new Map<number, number>();
  for (const x of s.samples) {
    const type = x.labels.type;
    if (type === undefined || !dataOperationTypes.includes(type)) continue;
    if (x.name === operationsTotalName && x.labels.result === "ok") ops += x.value;
    else if (x.name === `${operationDurationName}_bucket` && x.labels.le !== undefined) {
      const le = x.labels.le === "+Inf" ? Infinity : Number(x.labels.le);
      if (!Number.isNaN(le)) buckets.set(le, (buckets.get(le) ?? 0) + x.value);
    }
  }
  return { ops, buckets };
}

/** A counter's increase from `a` to `b` (from zero when it went down: a restart). */
const increase = (a: number, b: number): number => (b >= a ? b - a : b);

/**
 * What the node served between scrapes `prev` and `next`; undefined when they are not in
 * order in time.
 */
export function nodeDelta(prev: Scrape, next: Scrape): NodeDelta | undefined {
  const seconds = (next.atMs - prev.atMs) / 1000;
  if (!(seconds > 0)) return undefined;
  const a = totals(prev);
  const b = totals(next);
  const buckets = new Map<number, number>();
  for (const [le, n] of b.buckets) buckets.set(le, increase(a.buckets.get(le) ?? 0, n));
  return { seconds, ops: increase(a.ops, b.ops), buckets };
}

/**
 * The `q` quantile (0 < q < 1) of a cumulative histogram (upper bound -> count, the +Inf
 * bucket the total), in the buckets' unit; null when it holds no observation. Linear within
 * the bucket the rank falls in (from the previous bound, or 0); a rank in the +Inf bucket
 * gives the highest finite bound (histogram_quantile's answer).
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number | null {
  const sorted = [...buckets].sort((x, y) => x[0] - y[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (sorted.length === 0 || !(total > 0) || sorted.at(-1)![0] !== Infinity) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return sorted.length > 1 ? sorted[sorted.length - 2]![0] : null;
      if (count === lowerCount) return le;
      return lowerBound + (le - lowerBound) * ((rank - lowerCount) / (count - lowerCount));
    }
    lowerBound = le;
    lowerCount = count;
  }
  return null;
}

/** One chart point of a group. */
export interface GroupRate {
  /** Served data operations per second, summed over the group's nodes. */
  readonly opsPerSec: number;
  /** p99 latency of the data operations in milliseconds; null when none was served. */
  readonly p99Ms: number | null;
}

/** The group's point from the deltas of its nodes (at least one). */
export function groupRate(deltas: readonly NodeDelta[]): GroupRate {
  let opsPerSec = 0;
  const buckets = new Map<number, number>();
  for (const d of deltas) {
    opsPerSec += d.ops / d.seconds;
    for (const [le, n] of d.buckets) buckets.set(le, (buckets.get(le) ?? 0) + n);
  }
  const p99 = histogramQuantile(0.99, buckets);
  return { opsPerSec, p99Ms: p99 === null ? null : p99 * 1000 };
}

/** The `gid` label of a scrape (the registry's default label), if its samples carry one. */
export function gidOfScrape(samples: readonly Sample[]): number | undefined {
  for (const s of samples) {
    const g = s.labels.gid;
    if (g !== undefined && /^\d+$/.test(g)) return Number(g);
  }
  return undefined;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumOf(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): number | undefined {
  let sum: number | undefined;
  for (const s of samples) {
    if (s.name !== name || Object.entries(match).some(([k, v]) => s.labels[k] !== v)) continue;
    sum = (sum ?? 0) + s.value;
  }
  return sum;
}
