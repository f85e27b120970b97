/**
 * The closed-loop load runner shared by `shardkv bench` (bench/shardkv-bench.ts) and the etcd load
 * generator (bench/etcd-load.ts): one piece of measurement logic, two targets.
 *
 * Phases: preload (read workloads: every key written once, in batches), warmup (load, not
 * counted), measured phase. `concurrency` workers each keep one operation in flight against
 * one target object. An operation is measured when it starts inside the measured phase; the
 * phase ends after its duration (no new operations start) or once N operations have started,
 * and its length runs to the completion of its last operation. Latency goes into a histogram
 * in microseconds (bench/histogram.ts), never a sorted array of samples.
 *
 * Time comes from the Clock seam (realClock in the tools), CPU time from a callback, so the
 * runner is tested with a fake clock and a fake target (test/unit/bench-load.test.ts).
 */
import type { Clock, Rng } from "../common/env";
import { type BenchOptions, timelineWindowMs, workloadName, workloadReads } from "./load-args";
import { Histogram } from "./histogram";
import { type BenchResult, type TimelineWindow, latencyOf } from "./load-report";

/** What a load generator drives: one client object of the store under test. */
export interface BenchTarget {
  /** "shardkv" or "etcd". */
  readonly name: string;
  /** A linearizable read. */
  get(key: string): Promise<void>;
  put(key: string, value: Uint8Array): Promise<void>;
  append(key: string, value: Uint8Array): Promise<void>;
  /** Writes every key of `keys` with `value` (preload); may be one batch or several requests. */
  putMany(keys: readonly string[], value: Uint8Array): Promise<void>;
  /** A short type name of a failure for the error counts, e.g. "Timeout". */
  errorType(e: unknown): string;
  /** When given, drawn keys it rejects are drawn again (e.g. keys of an excluded shard). */
  keyAllowed?(key: string): boolean;
}

/** Draws of a key at most before a rejected one is used anyway. */
export const keyDrawsMax = 1000;

export interface LoadHooks {
  readonly clock: Clock;
  /** Process CPU time (user + system) so far, µs (process.cpuUsage in the tools). */
  cpuUsageUs(): number;
  /** Called every progressEveryMs with the live numbers (the tools show it on a terminal). */
  onProgress?(p: Progress): void;
  readonly progressEveryMs?: number;
  /** Called when the measured phase starts and when it ends. */
  onPhase?(phase: "measure-start" | "measure-end"): void;
}

export interface Progress {
  readonly phase: "preload" | "warmup" | "measure";
  /** Since the start of the current phase. */
  readonly elapsedMs: number;
  /** Over the last progress interval. */
  readonly opsPerSec: number;
  /** Errors in the measured phase so far (warmup errors are not counted). */
  readonly errors: number;
}

/** Keys per preload batch. */
export const preloadBatchKeys = 100;
/** Bytes per preload batch at most (keys + values). */
export const preloadBatchBytesMax = 256 * 1024;
/** Attempts per preload batch (each with the client's own retries until its deadline). */
export const preloadAttemptsMax = 3;
/** Preload batches in flight at most. */
export const preloadConcurrencyMax = 16;
export const progressEveryMsDefault = 500;
/** Pause of a worker after a failed operation. */
export const errorPauseMs = 1;

/** A seeded PRNG (mulberry32): the same seed gives every run the same key sequence. */
export function seededRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { float: next, int: (n) => Math.floor(next() * n) };
}

/** The value written by puts and appends: `bytes` printable bytes (deterministic). */
export function benchValue(bytes: number): Uint8Array {
  const v = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) v[i] = 97 + (i % 26);
  return v;
}

export const keyOf = (prefix: string, i: number): string => `${prefix}${i}`;

/** Writes keys [0, o.keys) once, in batches; rejects when a batch fails preloadAttemptsMax times. */
async function preload(target: BenchTarget, o: BenchOptions, value: Uint8Array): Promise<void> {
  const perBatch = Math.max(1, Math.min(preloadBatchKeys, Math.floor(preloadBatchBytesMax / (value.length + o.keyPrefix.length + 10))));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.keys) {
      const from = next;
      next = Math.min(o.keys, next + perBatch);
      const keys: string[] = [];
      for (let i = from; i < next; i++) keys.push(keyOf(o.keyPrefix, i));
      // A preload batch is idempotent (puts of fixed values): retried a few times, so one
      // election on a loaded machine does not fail the run.
      for (let attempt = 1; ; attempt++) {
        try {
          await target.putMany(keys, value);
          break;
        } catch (e) {
          if (attempt >= preloadAttemptsMax) throw e;
        }
      }
    }
  };
  const workers = Math.min(preloadConcurrencyMax, o.concurrency, Math.ceil(o.keys / perBatch));
  await Promise.all(Array.from({ length: workers }, worker));
}

/** Per-window counts and histograms for --timeline (coarser precision: 0.8 %). */
class Timeline {
  private readonly windows: { ops: number; h: Histogram }[] = [];

  record(sinceStartMs: number, latencyUs: number): void {
    const i = Math.max(0, Math.floor(sinceStartMs / timelineWindowMs));
    while (this.windows.length <= i) this.windows.push({ ops: 0, h: new Histogram(7) });
    const w = this.windows[i]!;
    w.ops++;
    w.h.record(latencyUs);
  }

  /** The windows up to `elapsedMs` (the last one possibly shorter). */
  result(elapsedMs: number): TimelineWindow[] {
    const n = Math.max(1, Math.ceil(elapsedMs / timelineWindowMs));
    // A completion exactly at the end (or a straggler just past it) belongs to the last window.
    while (this.windows.length > n) {
      const extra = this.windows.pop()!;
      const last = this.windows[n - 1] ?? { ops: 0, h: new Histogram(7) };
      last.ops += extra.ops;
      last.h.merge(extra.h);
      this.windows[n - 1] = last;
    }
    const out: TimelineWindow[] = [];
    for (let i = 0; i < n; i++) {
      const w = this.windows[i];
      const tMs = i * timelineWindowMs;
      const widthMs = Math.max(1, Math.min(timelineWindowMs, elapsedMs - tMs));
      const ops = w?.ops ?? 0;
      out.push({ tMs, ops, opsPerSec: (ops * 1000) / widthMs, p99Ms: w && w.ops > 0 ? w.h.valueAt(99) / 1000 : null });
    }
    return out;
  }
}

/**
 * Runs the whole load (preload, warmup, measured phase) and returns its result. Setup
 * failures (preload) reject; failures of measured operations are counted by type.
 */
export async function runLoad(target: BenchTarget, o: BenchOptions, hooks: LoadHooks): Promise<BenchResult> {
  const { clock } = hooks;
  const value = benchValue(o.valueBytes);
  const reads = workloadReads(o.workload);
  let phase: Progress["phase"] = "preload";
  let phaseStart = clock.nowMs();
  let completed = 0; // operations completed (any phase), for progress
  let errors = 0;
  const byType: Record<string, number> = {};
  const hist = new Histogram();
  const timeline = o.timeline ? new Timeline() : undefined;

  // Progress ticks for the whole run, preload included.
  let progressCancel: (() => void) | undefined;
  let lastTick = { at: phaseStart, completed: 0 };
  const every = hooks.progressEveryMs ?? progressEveryMsDefault;
  const tick = (): void => {
    const now = clock.nowMs();
    hooks.onProgress?.({ phase, elapsedMs: now - phaseStart, opsPerSec: ((completed - lastTick.completed) * 1000) / Math.max(1, now - lastTick.at), errors });
    lastTick = { at: now, completed };
    progressCancel = clock.after(every, tick);
  };
  if (hooks.onProgress) progressCancel = clock.after(every, tick);

  try {
    if (reads) await preload(target, o, value);

    // Warmup, then the measured phase: `phase` becomes "measure" on a timer (at once without warmup).
    phase = "warmup";
    phaseStart = clock.nowMs();
    let measureStart = Infinity;
    let cpuStart = 0;
    let stopIssuing = false;
    let started = 0; // measured operations started
    let lastEnd = 0;
    const stopTimers: (() => void)[] = [];
    const beginMeasure = (): void => {
      phase = "measure";
      measureStart = clock.nowMs();
      phaseStart = measureStart;
      cpuStart = hooks.cpuUsageUs();
      hooks.onPhase?.("measure-start");
      if (o.stop.kind === "duration") stopTimers.push(clock.after(o.stop.ms, () => (stopIssuing = true)));
    };
    if (o.warmupMs > 0) stopTimers.push(clock.after(o.warmupMs, beginMeasure));
    else beginMeasure();

    const rngs = Array.from({ length: o.concurrency }, (_, w) => seededRng((o.seed * 0x9e3779b1 + w) >>> 0));
    const worker = async (w: number): Promise<void> => {
      const rng = rngs[w]!;
      while (!stopIssuing) {
        const measured = phase === "measure";
        if (measured) {
          if (o.stop.kind === "ops" && started >= o.stop.ops) break;
          started++;
        }
        let key = keyOf(o.keyPrefix, rng.int(o.keys));
        for (let d = 1; target.keyAllowed && d < keyDrawsMax && !target.keyAllowed(key); d++) key = keyOf(o.keyPrefix, rng.int(o.keys));
        const t0 = clock.nowMs();
        try {
          switch (o.workload.kind) {
            case "put": await target.put(key, value); break;
            case "get": await target.get(key); break;
            case "append": await target.append(key, value); break;
            case "mixed":
              if (rng.float() * 100 < o.workload.readPercent) await target.get(key);
              else await target.put(key, value);
              break;
          }
          const t1 = clock.nowMs();
          completed++;
          if (measured) {
            hist.record((t1 - t0) * 1000);
            timeline?.record(t1 - measureStart, (t1 - t0) * 1000);
            lastEnd = Math.max(lastEnd, t1);
          }
        } catch (e) {
          completed++;
          if (measured) {
            errors++;
            const t = target.errorType(e);
            byType[t] = (byType[t] ?? 0) + 1;
            lastEnd = Math.max(lastEnd, clock.nowMs());
          }
          // A failure that comes back at once (a closed client, a rejected argument) must not
          // spin this loop on microtasks and starve the timers that end the run.
          await new Promise<void>((r) => clock.after(errorPauseMs, r));
        }
      }
    };
    await Promise.all(rngs.map((_, w) => worker(w)));
    for (const c of stopTimers) c();
    const cpuUs = hooks.cpuUsageUs() - cpuStart;
    hooks.onPhase?.("measure-end");
    const elapsedMs = Math.max(0, lastEnd - measureStart);
    return {
      target: target.name,
      workload: workloadName(o.workload),
      keys: o.keys,
      valueBytes: o.valueBytes,
      concurrency: o.concurrency,
      warmupMs: o.warmupMs,
      preloadedKeys: reads ? o.keys : 0,
      elapsedMs,
      ops: hist.count,
      opsPerSec: elapsedMs > 0 ? (hist.count * 1000) / elapsedMs : NaN,
      errors: { total: errors, byType },
      latencyMs: latencyOf(hist),
      clientCpuUsPerOp: hist.count > 0 ? cpuUs / hist.count : NaN,
      ...(timeline ? { timeline: timeline.result(elapsedMs) } : {}),
    };
  } finally {
    progressCancel?.();
  }
}
