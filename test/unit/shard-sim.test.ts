/**
 * The whole-cluster simulation (test/sim/shard-run.ts) in `npm test`: fixed seeds plus one
 * random seed (printed), a byte-for-byte replay, and proof that the checkers are not vacuous:
 * sabotaged state machines, read paths and leaders must fail the checks that guard against
 * them. The clients are the real client library (client/shardkv.ts) over the simulated
 * network (test/sim/sim-client-transport.ts).
 */
import { describe, expect, it } from "vitest";
import { failureReport, randomSeeds } from "../sim/seeds";
import { initialConfig } from "../../controller/config";
import { ShardChecker } from "../sim/shard-checkers";
import { BuggifyTotals, buggifyReach } from "../sim/buggify";
import { runShardSeed, shardFixedSeeds, type ShardSimParams } from "../sim/shard-run";

const seedTimeoutMs = 120_000;

async function expectOk(seed: number, signal: AbortSignal): Promise<void> {
  const r = await runShardSeed(seed, { signal });
  if (!r.ok) expect.fail(failureReport(r, "cluster"));
  // The run did something: operations completed, configs changed, the liveness probe ran.
  expect(r.stats["acked"]).toBeGreaterThan(0);
  expect(r.stats["probeDone"]).toBe(1);
}

describe("whole-cluster simulation: fixed seeds", () => {
  it(`seeds ${shardFixedSeeds[0]}-${shardFixedSeeds[shardFixedSeeds.length - 1]} pass`, async ({ signal }) => {
    const failures: string[] = [];
    let handoffs = 0;
    let duplicates = 0;
    let answered = 0;
    let undecided = 0;
    let lostApplies = 0;
    let lostUnflushed = 0;
    const totals: Record<string, number> = {};
    const buggify = new BuggifyTotals();
    for (const seed of shardFixedSeeds) {
      const r = await runShardSeed(seed, { signal });
      if (!r.ok) failures.push(failureReport(r, "cluster"));
      buggify.add(r.buggify);
      handoffs += r.stats["handoffs"] ?? 0;
      duplicates += r.stats["duplicateWrites"] ?? 0;
      answered += r.stats["retriesAnswered"] ?? 0;
      undecided += r.stats["undecidedKeys"] ?? 0;
      lostApplies += r.stats["lostUnsyncedApplies"] ?? 0;
      lostUnflushed += r.stats["lostUnflushed"] ?? 0;
      for (const k of ["writesRedelivered", "streamsBroken", "backpressured", "gaveUp", "paceRaised", "paceLowered", "pulledNotInserted"]) totals[k] = (totals[k] ?? 0) + (r.stats[k] ?? 0);
      totals["pulledMaxInFlight"] = Math.max(totals["pulledMaxInFlight"] ?? 0, r.stats["pulledMaxInFlight"] ?? 0);
    }
    expect(failures.join("\n")).toBe("");
    // The client library's faults happened: writes delivered more than once (duplicated
    // messages, retries after lost answers and broken streams), Batch streams broken by cuts,
    // dead incarnations and refused connections, servers' answers held by back-pressure, and
    // operations whose deadline passed (outcome unknown).
    expect(totals["writesRedelivered"]).toBeGreaterThan(100);
    expect(totals["streamsBroken"]).toBeGreaterThan(50);
    expect(totals["backpressured"]).toBeGreaterThan(100);
    expect(totals["gaveUp"]).toBeGreaterThan(0);
    // The migration drivers' adaptive pace (shard-server/migration-pacer.ts) moved both ways
    // while shards moved under faults.
    expect(totals["paceRaised"]).toBeGreaterThan(0);
    expect(totals["paceLowered"]).toBeGreaterThan(0);
    // Pulls kept several chunks in flight, and inserts failed or were refused (a lost,
    // duplicated or reordered proposal, a leader change): the continuity check and the resume
    // after it ran, and the checkers saw no lost or doubled write.
    expect(totals["pulledMaxInFlight"]).toBeGreaterThan(2);
    expect(totals["pulledNotInserted"]).toBeGreaterThan(10);
    // Shards moved between groups and retried writes were absorbed by the duplicate tables:
    // answered by a leader's table without a proposal (a retry of a write already applied,
    // ShardService.write), or by the apply (a retry proposed before its write applied, at a
    // new leader, or at the shard's new owner).
    expect(handoffs).toBeGreaterThan(10);
    expect(answered).toBeGreaterThan(10);
    expect(duplicates).toBeGreaterThan(0);
    // The general linearizability search decided every key within its step budget.
    expect(undecided).toBe(0);
    // Crashes took applies written without fsync: replicas restarted behind and re-applied.
    expect(lostApplies).toBeGreaterThan(0);
    // ...and applies still in the write-behind layer (shard-server/write-behind.ts), never written.
    expect(lostUnflushed).toBeGreaterThan(0);
    // Every BUGGIFY point fired: Raft's, the controller's, the shard server's, the migration
    // driver's, the Batch stream's and the client library's.
    expect(buggify.missing(buggifyReach.shards), buggify.describe()).toEqual([]);
  }, seedTimeoutMs * 4);

  const [random] = randomSeeds(1);
  it(`random seed ${random} passes (replay: SEED=${random} npm run sim -- --cluster)`, async ({ signal }) => {
    process.stdout.write(`shard-sim random seed: ${random}\n`);
    await expectOk(random!, signal);
  }, seedTimeoutMs);
});

describe("whole-cluster simulation: pinned seeds", () => {
  it("seed 102: an aborted first join's shards, which nobody held before, start empty in a remaining group", async ({ signal }) => {
    // A join aborted by a later config hands shards nobody held before to a remaining group,
    // which serves them at once, empty (no pull from the aborted group, whose servers then
    // learn of the abort and skip ahead); the checkers see every operation linearizable.
    // (Pinned to seed 58, then 41, then 164, then 9, then 37, then 102, until quiescence (and
    // then quiescence on by default), log time, held commits, joined retries, pipelined pulls,
    // the commit hold with entries in flight, applies written behind, the pacer's foreground
    // signal and retries answered from the duplicate table changed their course; of seeds
    // 1-300 only 37 shows it on session 14's merged code; back to 102, the first of seeds
    // 1-102 that shows it, once read rounds went to a quorum instead of every follower.)
    const started: string[] = [];
    const r = await runShardSeed(102, { signal, trace: (l) => { if (l.includes("start here empty")) started.push(l); } });
    if (!r.ok) expect.fail(failureReport(r, "cluster"));
    expect(started.length).toBeGreaterThan(0);
    expect(r.stats["probeDone"]).toBe(1);
  }, seedTimeoutMs);
});

describe("whole-cluster simulation: replay", () => {
  it("the same seed gives the same trace, byte for byte", async ({ signal }) => {
    const a = await runShardSeed(3, { signal });
    const b = await runShardSeed(3, { signal });
    expect(a.ok, failureReport(a, "cluster")).toBe(true);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.stats).toEqual(a.stats);
  }, seedTimeoutMs);
});

/**
 * Params with many config changes, retries, duplicates, partitions and pauses, and many
 * reads, so the sabotages get their chance.
 */
const busy = (p: ShardSimParams): ShardSimParams => ({
  ...p,
  adminGapMs: 150,
  rpc: { ...p.rpc, dropRate: 0.05, dupRate: 0.1 },
  client: { ...p.client, attemptMs: 120, getRate: 0.5 },
  nemesisGapMs: 200,
  weights: { ...p.weights, partition: 4, pause: 3 },
});

/** Runs seeds until one fails; returns its failure (none: every seed passed). */
async function failuresOf(seeds: readonly number[], opts: Parameters<typeof runShardSeed>[1]): Promise<string[]> {
  for (const seed of seeds) {
    const r = await runShardSeed(seed, opts);
    if (!r.ok) return [r.failure!.split("\n")[0]!];
  }
  return [];
}

describe("whole-cluster simulation: log store corruption", () => {
  it("replicas whose log store detects a corrupt read stop for good; every group serves on", async ({ signal }) => {
    // Read faults on the log databases of every group of 3 or more (the controller's too), at
    // rates high enough to hit; each detected corruption stops its replica for good (a minority
    // of its group at most), and the run must pass its checks and liveness with the rest.
    const faulty = (c: ShardSimParams["controller"]) => (c.size >= 3 ? { ...c, logReadFaults: { corruptionRate: 0.01, flipRate: 0.01 } } : c);
    let corruptions = 0;
    for (let seed = 1; seed <= 6 && corruptions < 3; seed++) {
      const r = await runShardSeed(seed, { signal, params: (p) => ({ ...p, controller: faulty(p.controller), groups: p.groups.map(faulty) }) });
      if (!r.ok) expect.fail(failureReport(r, "cluster"));
      corruptions += r.stats.corruptions!;
      expect(r.stats.corruptions).toBeLessThanOrEqual(r.stats.flippedReads! + r.stats.corruptReads!);
      const minorities = [r.params.controller, ...r.params.groups].reduce((n, g) => n + Math.floor((g.size - 1) / 2), 0);
      expect(r.stats.corruptions).toBeLessThanOrEqual(minorities);
      expect(r.stats.stateFlips).toBe(0); // a group has log read faults or state machine flips, not both
    }
    expect(corruptions).toBeGreaterThanOrEqual(3);
  }, seedTimeoutMs * 3);
});

describe("whole-cluster simulation: the checkers are not vacuous", () => {
  it("a state machine that ignores its duplicate table applies retried writes twice: (c)/(b)/(d) fail", async ({ signal }) => {
    const f = await failuresOf([1, 2, 3, 4, 5, 6], { signal, sabotage: { ignoreDedup: true }, params: busy });
    expect(f.length).toBeGreaterThan(0);
    for (const m of f) expect(m).toMatch(/^\((b|c|d)\)/);
  }, seedTimeoutMs * 3);

  it("a state machine that skips the ownership check at apply fails (a)", async ({ signal }) => {
    const f = await failuresOf([1, 2, 3, 4, 5, 6], { signal, sabotage: { skipOwnership: true }, params: busy });
    expect(f.length).toBeGreaterThan(0);
    expect(f.some((m) => m.startsWith("(a)"))).toBe(true);
  }, seedTimeoutMs * 3);

  it("a deposed leader that acknowledges its entry loses acknowledged writes: (b)/(d) fail", async ({ signal }) => {
    const f = await failuresOf([1, 2, 3, 4, 5, 6], { signal, sabotage: { ackLost: true }, params: busy });
    expect(f.length).toBeGreaterThan(0);
    for (const m of f) expect(m).toMatch(/^\((b|d)\)/);
  }, seedTimeoutMs * 3);

  it("reads without the leader check and ReadIndex barrier fail linearizability (d)", async ({ signal }) => {
    const f = await failuresOf([1, 2, 3, 4, 5, 6], { signal, sabotage: { unsafeReads: true }, params: busy });
    expect(f.length).toBeGreaterThan(0);
    expect(f.some((m) => m.startsWith("(d)"))).toBe(true);
  }, seedTimeoutMs * 3);
});

describe("whole-cluster checkers, fed directly", () => {
  const appendOnly = new Set(["a"]);
  const checker = (): ShardChecker => new ShardChecker(() => initialConfig(4), appendOnly);
  const append = (c: ShardChecker, client: number, token: string, callMs: number, returnMs?: number): void => {
    c.written.add(token);
    const e = c.invoke(client, { op: "append", input: { key: "a", value: token } }, callMs);
    if (returnMs !== undefined) {
      e.output = { ok: true };
      e.returnMs = returnMs;
      c.ackedAppend("a", token);
    }
  };
  const get = (c: ShardChecker, client: number, value: string, callMs: number, returnMs: number): void => {
    const e = c.invoke(client, { op: "get", input: { key: "a" } }, callMs);
    e.output = { value };
    e.returnMs = returnMs;
  };

  it("an append-only history in real-time order passes; a stale read fails (d)", () => {
    const ok = checker();
    append(ok, 1, "x;", 0, 10);
    append(ok, 2, "y;", 5, 20);
    append(ok, 3, "z;", 6); // unknown outcome, never took effect
    get(ok, 1, "x;", 11, 12);
    ok.finish(new Map([["a", "x;y;"]]), 30);
    expect(ok.failure).toBeUndefined();

    const stale = checker();
    append(stale, 1, "x;", 0, 10);
    append(stale, 2, "y;", 11, 20);
    get(stale, 1, "x;", 21, 22); // y was acknowledged before this read began
    stale.finish(new Map([["a", "x;y;"]]), 30);
    expect(stale.failure).toMatch(/^\(d\) key a is not linearizable/);
  });

  it("a lost acknowledged append fails (b); a doubled token fails (c)", () => {
    const lost = checker();
    append(lost, 1, "x;", 0, 10);
    lost.finish(new Map([["a", ""]]), 30);
    expect(lost.failure).toMatch(/^\(b\)/);

    const twice = checker();
    append(twice, 1, "x;", 0, 10);
    twice.finish(new Map([["a", "x;x;"]]), 30);
    expect(twice.failure).toMatch(/^\(c\)/);
  });
});
