/**
 * The result of one load run and its two printed forms: a short text report and exactly one
 * JSON line (`--json`). Shared by `shardkv bench` and the etcd load generator so both print
 * the same fields; bench/run.ts reads the JSON line. Pure (test/unit/bench-report.test.ts).
 */
import type { Histogram } from "./histogram";

/** Latency summary in milliseconds. */
export interface LatencyMs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** One --timeline window (timelineWindowMs wide; the last may be shorter). */
export interface TimelineWindow {
  /** Start of the window, ms after the measured phase started. */
  readonly tMs: number;
  /** Operations completed in the window. */
  readonly ops: number;
  readonly opsPerSec: number;
  /** p99 latency of the window's operations; null when it has none. */
  readonly p99Ms: number | null;
}

export interface BenchResult {
  /** "shardkv" or "etcd". */
  readonly target: string;
  /** "put", "get", "append", "mixed:95". */
  readonly workload: string;
  readonly keys: number;
  readonly valueBytes: number;
  readonly concurrency: number;
  readonly warmupMs: number;
  /** Keys written before the run (read workloads), 0 otherwise. */
  readonly preloadedKeys: number;
  /** Length of the measured phase: its start to the completion of its last operation. */
  readonly elapsedMs: number;
  /** Successful operations in the measured phase. */
  readonly ops: number;
  readonly opsPerSec: number;
  /** Failed operations in the measured phase, by error type (e.g. "Timeout"). */
  readonly errors: { readonly total: number; readonly byType: Readonly<Record<string, number>> };
  /** Of successful operations; every field NaN -> null in JSON when ops = 0. */
  readonly latencyMs: LatencyMs;
  /** The load generator's process CPU time (user + system) per successful operation, µs. */
  readonly clientCpuUsPerOp: number;
  readonly timeline?: readonly TimelineWindow[];
}

/** Latency summary of a histogram of microseconds. */
export function latencyOf(h: Histogram): LatencyMs {
  const ms = (us: number): number => us / 1000;
  if (h.count === 0) return { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  return {
    p50: ms(h.valueAt(50)),
    p90: ms(h.valueAt(90)),
    p99: ms(h.valueAt(99)),
    p999: ms(h.valueAt(99.9)),
    max: ms(h.max),
    mean: ms(h.mean()),
  };
}

/** Rounds to `digits` decimals; NaN and infinities become null (JSON has neither). */
export function round(x: number, digits: number): number | null {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The JSON line (with its newline): ms to 3 decimals, rates to 1, CPU µs to 1. */
export function formatJson(r: BenchResult): string {
  const l = r.latencyMs;
  const out = {
    target: r.target,
    workload: r.workload,
    keys: r.keys,
    valueBytes: r.valueBytes,
    concurrency: r.concurrency,
    warmupMs: r.warmupMs,
    preloadedKeys: r.preloadedKeys,
    elapsedMs: round(r.elapsedMs, 1),
    ops: r.ops,
    opsPerSec: round(r.opsPerSec, 1),
    errors: { total: r.errors.total, byType: sortedRecord(r.errors.byType) },
    latencyMs: { p50: round(l.p50, 3), p90: round(l.p90, 3), p99: round(l.p99, 3), p999: round(l.p999, 3), max: round(l.max, 3), mean: round(l.mean, 3) },
    clientCpuUsPerOp: round(r.clientCpuUsPerOp, 1),
    ...(r.timeline ? { timeline: r.timeline.map((w) => ({ tMs: w.tMs, ops: w.ops, opsPerSec: round(w.opsPerSec, 1), p99Ms: w.p99Ms === null ? null : round(w.p99Ms, 3) })) } : {}),
  };
  return JSON.stringify(out) + "\n";
}

function sortedRecord(r: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A number for humans: fixed decimals, "-" for NaN. */
export function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "-";
}

/** The text report (with a final newline). */
export function formatText(r: BenchResult): string {
  const l = r.latencyMs;
  const errs = Object.entries(sortedRecord(r.errors.byType)).map(([t, n]) => `${t} ${n}`).join(", ");
  const lines = [
    `${r.target} ${r.workload}: ${r.keys} keys, ${r.valueBytes}-byte values, concurrency ${r.concurrency}` +
      `${r.preloadedKeys > 0 ? `, ${r.preloadedKeys} keys preloaded` : ""}, warmup ${fmt(r.warmupMs / 1000, 1)} s`,
    `ops        ${r.ops} in ${fmt(r.elapsedMs / 1000, 2)} s = ${fmt(r.opsPerSec, 1)} ops/s`,
    `latency ms p50 ${fmt(l.p50, 3)}  p90 ${fmt(l.p90, 3)}  p99 ${fmt(l.p99, 3)}  p99.9 ${fmt(l.p999, 3)}  max ${fmt(l.max, 3)}  (mean ${fmt(l.mean, 3)})`,
    `errors     ${r.errors.total}${r.errors.total > 0 ? ` (${errs})` : ""}`,
    `client CPU ${fmt(r.clientCpuUsPerOp, 1)} µs/op`,
  ];
  return lines.join("\n") + "\n";
}

/** The --timeline table in text form (header and one line per window). */
export function formatTimeline(windows: readonly TimelineWindow[]): string {
  const rows = windows.map((w) => `${String(w.tMs).padStart(8)} ${String(w.ops).padStart(7)} ${fmt(w.opsPerSec, 0).padStart(9)} ${w.p99Ms === null ? "        -" : fmt(w.p99Ms, 3).padStart(9)}`);
  return ["    t_ms     ops     ops/s    p99_ms", ...rows].join("\n") + "\n";
}

/** The live progress line (no newline): elapsed, ops/s over the last interval, errors. */
export function formatProgress(p: { readonly elapsedMs: number; readonly phase: string; readonly opsPerSec: number; readonly errors: number }): string {
  return `${p.phase} ${fmt(p.elapsedMs / 1000, 1)} s  ${fmt(p.opsPerSec, 0)} ops/s  ${p.errors} errors`;
}
