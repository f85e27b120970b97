/**
 * The load runner (bench/load.ts) under a fake clock and a fake target with fixed
 * latencies, so counts, rates and percentiles are exact: warmup not counted, duration and
 * --ops stops, errors by type, preload of read workloads, timeline windows, CPU per op.
 */
import { describe, expect, it } from "vitest";
import type { BenchOptions } from "../../bench/load-args";
import { type BenchTarget, type LoadHooks, type Progress, keyOf, runLoad, seededRng } from "../../bench/load";
import type { Clock } from "../../common/env";
import { nextTurn } from "../../common/real-env";

/** A virtual clock: timers fire in deadline order (ties in insertion order). */
class FakeClock implements Clock {
  now = 0;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  nowMs(): number {
    return this.now;
  }
  after(ms: number, fn: () => void): () => void {
    const t = { at: this.now + ms, seq: this.seq++, fn, live: true };
    this.timers.push(t);
    return () => void (t.live = false);
  }
  /** Fires the earliest live timer; false when none is left. */
  step(): boolean {
    this.timers = this.timers.filter((t) => t.live);
    if (this.timers.length === 0) return false;
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const t = this.timers.shift()!;
    this.now = Math.max(this.now, t.at);
    t.fn();
    return true;
  }
}

const turn = (): Promise<void> => new Promise((r) => nextTurn(r));

/** Runs `p` to completion, firing fake timers whenever the microtasks have drained. */
async function drive<T>(clock: FakeClock, p: Promise<T>): Promise<T> {
  let done = false;
  let out: { ok: true; v: T } | { ok: false; e: unknown } | undefined;
  p.then((v) => { done = true; out = { ok: true, v }; }, (e) => { done = true; out = { ok: false, e }; });
  for (let i = 0; !done; i++) {
    await turn();
    if (!done && !clock.step()) await turn();
    if (i > 10_000_000) throw new Error("runaway");
  }
  if (!out!.ok) throw out!.e;
  return out!.v;
}

interface FakeTarget extends BenchTarget {
  readonly calls: Record<string, number>;
  readonly preloaded: string[];
}

function fakeTarget(clock: FakeClock, opts: { latencyMs?: Record<string, number>; failEvery?: number } = {}): FakeTarget {
  const lat = { get: 1, put: 2, append: 3, putMany: 5, ...opts.latencyMs };
  const calls: Record<string, number> = { get: 0, put: 0, append: 0, putMany: 0 };
  const preloaded: string[] = [];
  let n = 0;
  const op = (kind: string) => () => new Promise<void>((resolve, reject) => {
    calls[kind]!++;
    const fail = opts.failEvery !== undefined && ++n % opts.failEvery === 0;
    clock.after(lat[kind as keyof typeof lat], () => (fail ? reject(new RangeError("boom")) : resolve()));
  });
  return {
    name: "fake",
    calls,
    preloaded,
    get: op("get"),
    put: op("put"),
    append: op("append"),
    putMany: (keys) => {
      preloaded.push(...keys);
      return op("putMany")();
    },
    errorType: (e) => (e instanceof Error ? e.constructor.name : "unknown"),
  };
}

const base: BenchOptions = {
  addresses: ["h:1"], workload: { kind: "put" }, keys: 100, valueBytes: 16, concurrency: 4,
  stop: { kind: "duration", ms: 1000 }, warmupMs: 100, json: true, timeline: false, timeoutMs: 1000,
  keyPrefix: "k", seed: 1, phaseMarks: false,
};

function hooks(clock: FakeClock, extra: Partial<LoadHooks> = {}): LoadHooks {
  return { clock, cpuUsageUs: () => clock.now * 10, ...extra };
}

describe("runLoad", () => {
  it("duration: only operations started in the measured phase count; exact rate and latency", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    const phases: [string, number][] = [];
    const r = await drive(clock, runLoad(t, base, hooks(clock, { onPhase: (p) => phases.push([p, clock.now]) })));
    // 4 workers, 2 ms per put, measured phase [100, 1100): 500 puts each.
    expect(r.ops).toBe(2000);
    expect(r.elapsedMs).toBe(1000);
    expect(r.opsPerSec).toBe(2000);
    expect(r.latencyMs).toEqual({ p50: 2, p90: 2, p99: 2, p999: 2, max: 2, mean: 2 });
    expect(r.errors).toEqual({ total: 0, byType: {} });
    expect(r.clientCpuUsPerOp).toBe(5); // 10 µs of "CPU" per ms over 1000 ms / 2000 ops
    expect(r.preloadedKeys).toBe(0);
    expect(t.calls.put).toBe(2000 + 4 * 50); // plus the warmup's 50 per worker
    expect(t.calls.putMany).toBe(0);
    expect(phases).toEqual([["measure-start", 100], ["measure-end", 1100]]);
    expect(r).toMatchObject({ target: "fake", workload: "put", keys: 100, valueBytes: 16, concurrency: 4, warmupMs: 100 });
  });

  it("--ops N: exactly N measured operations, none after", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    const r = await drive(clock, runLoad(t, { ...base, concurrency: 7, warmupMs: 0, stop: { kind: "ops", ops: 200 } }, hooks(clock)));
    expect(r.ops).toBe(200);
    expect(t.calls.put).toBe(200);
    expect(r.errors.total).toBe(0);
  });

  it("errors are counted by type, not in the latency", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock, { failEvery: 4 });
    const r = await drive(clock, runLoad(t, { ...base, concurrency: 2, warmupMs: 0, stop: { kind: "ops", ops: 100 } }, hooks(clock)));
    expect(r.ops + r.errors.total).toBe(100);
    expect(r.errors).toEqual({ total: 25, byType: { RangeError: 25 } });
  });

  it("get: every key preloaded exactly once, in batches, before the load", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    const r = await drive(clock, runLoad(t, { ...base, workload: { kind: "get" }, keys: 250, warmupMs: 0, stop: { kind: "ops", ops: 50 } }, hooks(clock)));
    expect([...t.preloaded].sort()).toEqual(Array.from({ length: 250 }, (_, i) => keyOf("k", i)).sort());
    expect(t.calls.putMany).toBe(3); // 100 + 100 + 50
    expect(r.preloadedKeys).toBe(250);
    expect(t.calls.get).toBe(50);
    expect(t.calls.put).toBe(0);
    expect(r.latencyMs.p99).toBe(1);
  });

  it("mixed:R: about R % reads; mixed:0 does not preload", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    await drive(clock, runLoad(t, { ...base, workload: { kind: "mixed", readPercent: 95 }, stop: { kind: "ops", ops: 2000 } }, hooks(clock)));
    expect(t.calls.get! / (t.calls.get! + t.calls.put!)).toBeGreaterThan(0.93);
    expect(t.calls.get! / (t.calls.get! + t.calls.put!)).toBeLessThan(0.97);
    const c2 = new FakeClock();
    const t2 = fakeTarget(c2);
    const r2 = await drive(c2, runLoad(t2, { ...base, workload: { kind: "mixed", readPercent: 0 }, stop: { kind: "ops", ops: 10 } }, hooks(c2)));
    expect([t2.calls.putMany, t2.calls.get, r2.preloadedKeys]).toEqual([0, 0, 0]);
  });

  it("timeline: one window per 100 ms with its rate and p99", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    const r = await drive(clock, runLoad(t, { ...base, timeline: true, stop: { kind: "duration", ms: 500 } }, hooks(clock)));
    expect(r.timeline).toHaveLength(5);
    // Completions at 102..600: the first window holds 49 per worker, the last 51 (its end at 600 included).
    expect(r.timeline!.map((w) => w.ops)).toEqual([196, 200, 200, 200, 204]);
    expect(r.timeline!.every((w) => w.p99Ms === 2)).toBe(true);
    expect(r.timeline![1]).toEqual({ tMs: 100, ops: 200, opsPerSec: 2000, p99Ms: 2 });
  });

  it("progress ticks report the phase and the recent rate", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    const seen: Progress[] = [];
    await drive(clock, runLoad(t, { ...base, stop: { kind: "duration", ms: 1000 } }, hooks(clock, { onProgress: (p) => seen.push(p), progressEveryMs: 250 })));
    expect(seen.map((p) => p.phase)).toEqual(["measure", "measure", "measure", "measure"]);
    expect(seen[1]).toEqual({ phase: "measure", elapsedMs: 400, opsPerSec: 2000, errors: 0 });
  });

  it("seededRng: deterministic and in range", () => {
    const a = seededRng(42);
    const b = seededRng(42);
    const xs = Array.from({ length: 1000 }, () => a.int(10));
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.int(10)));
    expect(xs.every((x) => x >= 0 && x < 10)).toBe(true);
    expect(new Set(xs).size).toBe(10);
  });
});

describe("runLoad failures", () => {
  it("operations that fail at once do not starve the timer that ends the run", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    const failing: BenchTarget = { ...t, put: async () => { throw new TypeError("closed"); } };
    const r = await drive(clock, runLoad(failing, { ...base, concurrency: 2, warmupMs: 0, stop: { kind: "duration", ms: 50 } }, hooks(clock)));
    expect(r.ops).toBe(0);
    expect(r.errors.byType).toEqual({ TypeError: r.errors.total });
    expect(r.errors.total).toBeGreaterThanOrEqual(100); // 2 workers, one attempt per ms
    expect(r.latencyMs.p99).toBeNaN();
  });
});

describe("runLoad key filter", () => {
  it("keys the target rejects are never used", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    const used: string[] = [];
    const filtered: BenchTarget = {
      ...t,
      put: (key, v) => { used.push(key); return t.put(key, v); },
      keyAllowed: (key) => !key.endsWith("7"),
    };
    const r = await drive(clock, runLoad(filtered, { ...base, warmupMs: 0, stop: { kind: "ops", ops: 500 } }, hooks(clock)));
    expect(r.ops).toBe(500);
    expect(used).toHaveLength(500);
    expect(used.filter((k) => k.endsWith("7"))).toEqual([]);
    expect(new Set(used).size).toBeGreaterThan(50);
  });
});

describe("runLoad preload", () => {
  it("a failed preload batch is retried; one that keeps failing fails the run", async () => {
    const clock = new FakeClock();
    const t = fakeTarget(clock);
    let failures = 2;
    const flaky: BenchTarget = { ...t, putMany: async (keys, v) => { if (failures-- > 0) throw new Error("election"); await t.putMany(keys, v); } };
    const r = await drive(clock, runLoad(flaky, { ...base, workload: { kind: "get" }, keys: 50, warmupMs: 0, stop: { kind: "ops", ops: 5 } }, hooks(clock)));
    expect(r.preloadedKeys).toBe(50);
    expect(t.preloaded).toHaveLength(50);
    const broken: BenchTarget = { ...t, putMany: async () => { throw new Error("down"); } };
    await expect(drive(clock, runLoad(broken, { ...base, workload: { kind: "get" }, keys: 50, warmupMs: 0, stop: { kind: "ops", ops: 5 } }, hooks(clock)))).rejects.toThrow("down");
  });
});
