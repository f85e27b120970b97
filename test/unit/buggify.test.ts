/**
 * BUGGIFY (common/buggify.ts, test/sim/buggify.ts): inert without the simulator, seeded per
 * run and per point, replayed byte for byte. That every point is reached is asserted by the
 * simulation tests over their fixed seeds (sim.test.ts, controller-sim.test.ts,
 * shard-sim.test.ts: `buggifyReach`).
 */
import { afterEach, describe, expect, it } from "vitest";
import { type BuggifyPoint, type BuggifySource, buggify, buggifyAmount, buggifyInt, buggifyPointNames, buggifyPoints, buggifySource, setBuggifySource } from "../../common/buggify";
import type { shardkv as kvpb } from "../../proto/gen/shardkv.js";
import { serveBatch } from "../../shard-server/batch-stream";
import { BuggifyTotals, SimBuggify, buggifyReach } from "../sim/buggify";
import { SimRng } from "../sim/rng";
import { runSeed } from "../sim/run";

afterEach(() => setBuggifySource(undefined));

/** A source that records every question and answers `answer`. */
function spySource(answer: boolean): BuggifySource & { asked: BuggifyPoint[] } {
  const asked: BuggifyPoint[] = [];
  return { asked, fires: (p) => (asked.push(p), answer), int: () => 0 };
}

/** Serves one Batch stream of two gets through the production serveBatch; returns the messages sent. */
async function twoGets(): Promise<number> {
  const sent: unknown[] = [];
  const turns: (() => void)[] = [];
  const session = serveBatch(
    { write: (m) => (sent.push(m), true), end: () => {}, fail: () => {} },
    { get: (req) => Promise.resolve({ found: true, value: req.key }), write: () => Promise.reject(new Error("no writes")), describe: (e) => e, stopping: () => false },
    { defer: (fn) => void turns.push(fn) },
  );
  const req = (requestId: number) => ({ requestId, get: { key: new Uint8Array([requestId]) } }) as kvpb.kv.BatchRequest.IRequest;
  session.receive({ requests: [req(1), req(2)] } as kvpb.kv.BatchRequest);
  for (let i = 0; i < 20; i++) await Promise.resolve();
  for (const t of turns.splice(0)) t();
  return sent.length;
}

describe("BUGGIFY outside the simulator", () => {
  it("every point is off and nothing is installed: false, 0, no source asked", () => {
    expect(buggifySource()).toBeUndefined();
    for (const p of buggifyPointNames) {
      expect(buggify(p)).toBe(false);
      expect(buggifyAmount(p, 100)).toBe(0);
      expect(buggifyInt(p, 100)).toBe(0);
    }
  });

  it("production code asks the source only when one is installed, and acts on its answer", async () => {
    expect(await twoGets()).toBe(1); // no source: the two answers of one turn leave together
    const spy = spySource(true);
    setBuggifySource(spy);
    expect(await twoGets()).toBe(2); // shard.batch.flush-each fired: one message per answer
    expect(spy.asked).toEqual(["shard.batch.flush-each", "shard.batch.flush-each"]);
    setBuggifySource(undefined);
    expect(await twoGets()).toBe(1);
    expect(spy.asked).toHaveLength(2);
  });

  it("the registry: names <area>.<place>.<what>, rates in (0, 1], a sentence each", () => {
    expect(buggifyPointNames.length).toBeGreaterThanOrEqual(20);
    for (const p of buggifyPointNames) {
      expect(p).toMatch(/^[a-z]+\.[a-z-]+\.[a-z-]+$/);
      const { rate, what } = buggifyPoints[p];
      expect(rate).toBeGreaterThan(0);
      expect(rate).toBeLessThanOrEqual(1);
      expect(what.length).toBeGreaterThan(10);
    }
  });
});

describe("BUGGIFY in the simulator", () => {
  it("a seed enables the same points every time; seeds differ; about a quarter are enabled", () => {
    const enabled = (seed: number) => new SimBuggify(new SimRng(seed).fork("buggify")).stats().enabled;
    expect(enabled(7)).toEqual(enabled(7));
    let total = 0;
    const sets = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      total += enabled(seed).length;
      sets.add(enabled(seed).join(","));
    }
    const mean = total / 200 / buggifyPointNames.length;
    expect(mean).toBeGreaterThan(0.18);
    expect(mean).toBeLessThan(0.32);
    expect(sets.size).toBeGreaterThan(150);
  });

  it("a disabled point draws nothing; one point's calls never move another's draws", () => {
    const seed = 11;
    const b1 = new SimBuggify(new SimRng(seed).fork("buggify"));
    const [p, ...others] = b1.stats().enabled;
    expect(p).toBeDefined();
    const alone = Array.from({ length: 200 }, () => b1.fires(p!));
    const b2 = new SimBuggify(new SimRng(seed).fork("buggify"));
    const mixed: boolean[] = [];
    for (let i = 0; i < 200; i++) {
      for (const q of buggifyPointNames) if (q !== p) b2.fires(q);
      mixed.push(b2.fires(p!));
    }
    expect(mixed).toEqual(alone);
    expect(alone.some((x) => x)).toBe(true);
    const disabled = buggifyPointNames.filter((q) => q !== p && !others.includes(q));
    expect(disabled.length).toBeGreaterThan(0);
    expect(Object.keys(b2.stats().fired).every((q) => b2.stats().enabled.includes(q as BuggifyPoint))).toBe(true);
  });

  it("a run installs its source and uninstalls it at the end; a seed replays byte for byte with BUGGIFY on", async ({ signal }) => {
    // Seed 3 enables several Raft points (they fire tens of times in 5 s).
    const a: string[] = [];
    const b: string[] = [];
    const r1 = await runSeed(3, { signal, safetyMs: 5000, trace: (l) => a.push(l) });
    expect(buggifySource()).toBeUndefined();
    const r2 = await runSeed(3, { signal, safetyMs: 5000, trace: (l) => b.push(l) });
    expect(r1.ok, r1.failure).toBe(true);
    const fired = Object.values(r1.buggify.fired).reduce((n, x) => n + x, 0);
    expect(fired).toBeGreaterThan(20);
    expect(a.filter((l) => l.includes(" buggify ")).length).toBe(fired);
    expect(b).toEqual(a);
    expect(r2.traceHash).toBe(r1.traceHash);
    expect(r2.buggify).toEqual(r1.buggify);
    // Off: another run (the points are what changed it), with nothing enabled.
    const off = await runSeed(3, { signal, safetyMs: 5000, buggify: false });
    expect(off.buggify).toEqual({ enabled: [], fired: {} });
    expect(off.traceHash).not.toBe(r1.traceHash);
  });

  it("the totals name the points that never fired", () => {
    const t = new BuggifyTotals();
    t.add({ enabled: ["raft.apply.late", "raft.send.split"], fired: { "raft.apply.late": 3 } });
    t.add({ enabled: ["raft.apply.late"], fired: { "raft.apply.late": 2 } });
    expect(t.neverFired()).not.toContain("raft.apply.late");
    expect(t.neverFired()).toContain("raft.send.split");
    expect(t.missing(["raft.apply.late", "raft.send.split"])).toEqual(["raft.send.split"]);
    expect(t.describe()).toMatch(/raft\.apply\.late: enabled in 2 runs, fired in 2, 5 times/);
    expect(t.describe()).toMatch(/never fired: .*raft\.send\.split/);
  });

  it("every point is reachable by some kind of run", () => {
    const reached = new Set(Object.values(buggifyReach).flat());
    expect(buggifyPointNames.filter((p) => !reached.has(p))).toEqual([]);
  });
});
