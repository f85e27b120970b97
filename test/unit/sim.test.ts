/**
 * The deterministic simulation (test/sim): fixed seeds 1-150 (151-300 are in
 * sim-seeds.test.ts, so the two halves run in parallel), three random seeds, byte-identical
 * replay, and proof that the checkers are not vacuous. A failing seed prints
 * `reproduce with SEED=<s> npm run sim`.
 */
import { describe, expect, it } from "vitest";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import { RaftHarness } from "../lib/raft-network";
import { Checker, CheckFailure } from "../sim/checkers";
import { BuggifyTotals, buggifyReach } from "../sim/buggify";
import { deriveParams, runSeed } from "../sim/run";
import { failureReport, fixedSeedsA, randomSeeds } from "../sim/seeds";

const enc = new TextEncoder();
const entry = (index: number, term: number, data: string) =>
  ({ index: index as LogIndex, term: term as Term, type: "normal" as const, data: enc.encode(data) });
const n = (x: number) => x as NodeId;
const t = (x: number) => x as Term;
const hs = (term: number, vote: number, commit: number) => ({ term: t(term), vote: n(vote), commit: commit as LogIndex });

describe("simulation: fixed seeds 1-150", () => {
  const buggify = new BuggifyTotals();
  let runs = 0;
  it.for(fixedSeedsA)("seed %i", async (seed, { signal }) => {
    const r = await runSeed(seed, { signal });
    buggify.add(r.buggify);
    runs++;
    expect(r.ok, failureReport(r)).toBe(true);
  });

  it("every BUGGIFY point of the Raft driver fired in these seeds", () => {
    expect(runs).toBe(fixedSeedsA.length);
    expect(buggify.missing(buggifyReach.raft), buggify.describe()).toEqual([]);
  });
});

describe("simulation: random seeds", () => {
  const seeds = randomSeeds(3);
  console.log(`sim: random seeds this run: ${seeds.join(", ")} (replay one with SEED=<s> npm run sim)`);
  it.for(seeds)("seed %i", async (seed, { signal }) => {
    const r = await runSeed(seed, { signal });
    expect(r.ok, failureReport(r)).toBe(true);
  });
});

describe("simulation: determinism", () => {
  it("replays a seed byte for byte (same trace, same hash)", async ({ signal }) => {
    // Seed 4: five nodes, drops, duplicates, partitions, crashes.
    const a: string[] = [];
    const b: string[] = [];
    const r1 = await runSeed(4, { signal, safetyMs: 5000, trace: (l) => a.push(l) });
    const r2 = await runSeed(4, { signal, safetyMs: 5000, trace: (l) => b.push(l) });
    expect(r1.params.cluster.size).toBeGreaterThan(1);
    expect(r1.stats.messagesSent).toBeGreaterThan(1000);
    expect(b.length).toBe(a.length);
    expect(b).toEqual(a);
    expect(r2.traceHash).toBe(r1.traceHash);
    expect(r2.stats).toEqual(r1.stats);
    const other = await runSeed(5, { signal, safetyMs: 5000 });
    expect(other.traceHash).not.toBe(r1.traceHash);
  });
});

describe("simulation: the checkers catch broken runs", () => {
  it("two leaders in one term", () => {
    const c = new Checker();
    c.leaderElected(n(1), t(3));
    c.leaderElected(n(1), t(3)); // the same leader reported again is fine
    expect(() => c.leaderElected(n(2), t(3))).toThrow(/election safety: nodes 1 and 2 both leader in term 3/);
    expect(c.failure).toMatch(/election safety/);
  });

  it("two different entries applied at one index", () => {
    const c = new Checker();
    c.committedEntries(n(1), t(2), [entry(7, 2, "a")]);
    c.committedEntries(n(2), t(2), [entry(7, 2, "a")]);
    expect(() => c.committedEntries(n(3), t(3), [entry(7, 3, "b")])).toThrow(CheckFailure);
    expect(c.failure).toMatch(/state machine safety: node 3 committed 3\/7 but node 1 committed 2\/7/);
  });

  it("the same (index, term) with different data or a different predecessor", () => {
    const c = new Checker();
    c.logSaved(n(1), { entries: [entry(5, 2, "x"), entry(6, 2, "y")] }, t(1), hs(2, 1, 0));
    expect(() => c.logSaved(n(2), { entries: [entry(6, 2, "z")] }, t(2), hs(2, 1, 0))).toThrow(/log matching: node 2 stored a different entry 6\/2/);
    const d = new Checker();
    d.logSaved(n(1), { entries: [entry(5, 2, "x")] }, t(1), hs(2, 1, 0));
    expect(() => d.logSaved(n(2), { entries: [entry(5, 2, "x")] }, t(2), hs(2, 1, 0))).toThrow(/log matching: node 2 stored 5\/2 after term 2/);
  });

  it("a vote changed within a term, a term or commit going back", () => {
    const c = new Checker();
    c.logSaved(n(1), { entries: [] }, undefined, hs(4, 2, 3));
    expect(() => c.logSaved(n(1), { entries: [] }, undefined, hs(4, 3, 3))).toThrow(/voted for 2 and then 3 in term 4/);
    const d = new Checker();
    d.logSaved(n(1), { entries: [] }, undefined, hs(4, 2, 3));
    expect(() => d.logSaved(n(1), { entries: [] }, undefined, hs(3, 2, 3))).toThrow(/term of node 1 went back/);
  });

  it("a leader elected without a committed entry", () => {
    const c = new Checker();
    c.committedEntries(n(1), t(2), [entry(1, 1, "a"), entry(2, 2, "b")]);
    const log = { firstIndex: 1, lastIndex: 1, term: (i: number) => (i === 1 ? t(1) : undefined) };
    expect(() => c.leaderLog(n(3), t(3), log)).toThrow(/leader completeness: node 3 became leader of term 3 with no entry at 2/);
    // A stale leader of a term not above the commit bound is not required to have it.
    expect(() => new Checker().leaderLog(n(3), t(2), log)).not.toThrow();
  });

  it("replicas that diverge, a value applied twice or never proposed", () => {
    const c = new Checker();
    c.proposing("a");
    c.proposing("b");
    c.smSaved(n(1), 1 as LogIndex, ["a"], [{ value: "a", index: 1 as LogIndex }], false);
    expect(() => c.smSaved(n(2), 1 as LogIndex, ["b"], [{ value: "b", index: 1 as LogIndex }], false)).toThrow(/replicas diverge/);
    const d = new Checker();
    d.proposing("a");
    d.smSaved(n(1), 1 as LogIndex, ["a"], [{ value: "a", index: 1 as LogIndex }], false);
    expect(() => d.smSaved(n(1), 2 as LogIndex, ["a", "a"], [{ value: "a", index: 2 as LogIndex }], false)).toThrow(/applied twice/);
    expect(() => new Checker().smSaved(n(1), 1 as LogIndex, ["z"], [{ value: "z", index: 1 as LogIndex }], false)).toThrow(/no client proposed/);
  });

  it("a stale read, a lost acknowledged write, a refused write that was applied", () => {
    const c = new Checker();
    c.proposing("a");
    c.proposing("b");
    c.smSaved(n(1), 1 as LogIndex, ["a"], [{ value: "a", index: 1 as LogIndex }], false);
    c.smSaved(n(1), 2 as LogIndex, ["a", "b"], [{ value: "b", index: 2 as LogIndex }], false);
    c.acked("b", 2);
    expect(() => c.readDone(n(2), c.maxAckedPosition, 1)).toThrow(/stale read on node 2: saw 1 values, but value #2/);
    expect(() => new Checker().acked("x", 1)).toThrow(/acknowledged "x" at position 1/);
    const d = new Checker();
    d.proposing("a");
    d.smSaved(n(1), 1 as LogIndex, ["a"], [{ value: "a", index: 1 as LogIndex }], false);
    expect(() => d.refused("a")).toThrow(/was refused/);
    const e = new Checker();
    e.proposing("a");
    e.smSaved(n(1), 1 as LogIndex, ["a"], [{ value: "a", index: 1 as LogIndex }], false);
    e.acked("a", 1);
    expect(() => e.allAckedIn(n(2), [])).toThrow(/missing on node 2/);
  });

  it("a disk whose fsync lies loses acknowledged entries: the runs fail safety checks", async ({ signal }) => {
    // The log stores acknowledge writes before they are durable, so crashes lose entries a
    // majority acknowledged. Runs must fail, each by a safety property or by a restarted node
    // finding its state machine applied entries its log no longer holds (the loss itself);
    // others fail otherwise (a follower that lost acknowledged entries can never match its
    // leader's probe: a message storm). Since leaders send entries while writing them (Raft
    // thesis §10.2.1) the loss shows mostly at restarts.
    // The commit-quorum check catches most at once: an entry a leader counted is not durable
    // on a quorum.
    const caught = /^(n\d+ committed index \d+ without a quorum|leader completeness|state machine safety|election safety|log matching|replicas diverge|stale read|node \d+ \(gen \d+\) restart failed: AssertionFailure: applied \d+ > last index \d+)/;
    const failures: string[] = [];
    for (let seed = 1; seed <= 100 && failures.filter((f) => caught.test(f)).length < 3; seed++) {
      const r = await runSeed(seed, { signal, safetyMs: 10_000, livenessMs: 3000, params: (p) => ({ ...p, cluster: { ...p.cluster, lyingFsync: true } }) });
      if (!r.ok) failures.push(r.failure!.split("\n")[0]!);
    }
    expect(failures.filter((f) => caught.test(f)).length, failures.join("\n")).toBeGreaterThanOrEqual(3);
  });
});

describe("simulation findings, fixed", () => {
  it("a crash between a snapshot restore and the log save recording it: the node restarts", async ({ signal }) => {
    // Found by the simulator (then about one seed in 20): handleReady finished the state
    // machine's restore, then saved installSnapshot; a crash in between left the state machine
    // ahead of the log and every restart asserted. RaftNode now records a pending-snapshot
    // marker first and completes the install on restart. These seeds crash in that window.
    // (Without BUGGIFY: these seeds, as when the finding was made; the fixed seeds above run it.)
    let interrupted = 0;
    for (let seed = 1; seed <= 120 && interrupted < 3; seed++) {
      const r = await runSeed(seed, { signal, buggify: false });
      expect(r.ok, failureReport(r)).toBe(true);
      interrupted += r.stats.interruptedInstalls;
    }
    expect(interrupted).toBeGreaterThan(0);
  });
});

describe("saves without fsync", () => {
  it("commit-only hard state saves lost in crashes: every checker still passes", async ({ signal }) => {
    // RaftNode writes a Ready that only moves the commit index without waiting for fsync
    // (etcd's MustSync); a crash may lose it, and the restart takes commit = max(stored
    // commit, the state machine's applied index). These seeds crash with such saves pending.
    let lost = 0;
    for (let seed = 1; seed <= 120 && lost < 5; seed++) {
      const r = await runSeed(seed, { signal, buggify: false });
      expect(r.ok, failureReport(r)).toBe(true);
      lost += r.stats.lostUnsyncedSaves;
    }
    expect(lost).toBeGreaterThanOrEqual(5);
  });
});

describe("log store corruption", () => {
  it("a node whose log store detects a corrupt read (checksum failure or flipped bit) stops for good; the rest keeps serving", async ({ signal }) => {
    // Read faults on every node's log database, at rates high enough to hit in a few seeds.
    // Each detected corruption stops its node for good (a minority at most: the faults stop
    // then); the run must pass its checks and liveness without it.
    let corruptions = 0;
    let flipped = 0;
    let checksum = 0;
    for (let seed = 1; seed <= 60 && (flipped < 2 || checksum < 2); seed++) {
      const p = deriveParams(seed);
      if (p.cluster.size < 3 || p.membershipGapMs !== undefined) continue; // the seeds that may draw read faults
      const r = await runSeed(seed, { signal, safetyMs: 10_000, params: () => ({ ...p, cluster: { ...p.cluster, logReadFaults: { corruptionRate: 0.01, flipRate: 0.01 } } }) });
      expect(r.ok, failureReport(r)).toBe(true);
      corruptions += r.stats.corruptions;
      flipped += r.stats.flippedReads;
      checksum += r.stats.corruptReads;
      // Every fault a live node read stopped it (one may hit an incarnation already crashing).
      expect(r.stats.corruptions).toBeLessThanOrEqual(r.stats.flippedReads + r.stats.corruptReads);
      expect(r.stats.corruptions).toBeLessThanOrEqual(Math.floor((r.params.cluster.size - 1) / 2));
    }
    expect(flipped).toBeGreaterThanOrEqual(2);
    expect(checksum).toBeGreaterThanOrEqual(2);
    expect(corruptions).toBeGreaterThanOrEqual(4);
  });
});

describe("simulation findings, pinned at the core level", () => {
  it("random seed 4084815270: stale rejections do not rewind the append window again and again (finding 10)", async ({ signal }) => {
    // Five nodes, one-entry appends, reordered and dropped batches (BUGGIFY): each rejection
    // arriving after the follower acknowledged the probe made the leader resend its window,
    // until 2,000 messages were in flight at 2.9 s (test/unit/testdata/raft/stale_rejections.txt
    // pins the rule; this pins the seed).
    const r = await runSeed(4084815270, { signal, safetyMs: 5000 });
    expect(r.ok, failureReport(r)).toBe(true);
    expect(r.stats.peakInFlight).toBeLessThan(500);
  });

  it("a duplicated snapshotResp does not make the leader send another chunk (message storm)", () => {
    // Found by seeds 161, 202, 208 and 256: each duplicated or stale response kept one more
    // chunk/response pair bouncing until the transfer ended, multiplying with duplication.
    const h = new RaftHarness([1, 2, 3].map(n));
    h.node(1).raw.campaign();
    h.stabilize();
    h.isolate(n(3));
    for (let i = 0; i < 5; i++) {
      h.node(1).raw.propose([enc.encode(`value-${i}`)]);
      h.stabilize();
    }
    h.compact(n(1));
    h.heal();
    h.inflight = [];
    h.node(1).raw.propose([enc.encode("after")]);
    h.processReady(n(1));
    h.deliver((m) => m.to === 3); // append 1->3 is rejected: 3 lacks the compacted entries
    h.processReady(n(3));
    h.deliver((m) => m.to === 1 && m.from === 3);
    h.processReady(n(1)); // leader now sends snapshot chunk 0
    const chunk0 = h.inflight.filter((m) => m.type === "snapshot" && m.to === 3);
    expect(chunk0.map((m) => m.chunk)).toEqual([0]);
    expect(chunk0[0]!.chunkLast).toBe(false);
    h.inflight = [];
    h.node(3).raw.step(chunk0[0]!);
    h.processReady(n(3));
    const resp = h.inflight.filter((m) => m.type === "snapshotResp");
    expect(resp.map((m) => m.chunk)).toEqual([1]);
    h.inflight = [];
    h.node(1).raw.step(resp[0]!);
    h.node(1).raw.step({ ...resp[0]! }); // the network duplicated it
    h.processReady(n(1));
    expect(h.inflight.filter((m) => m.type === "snapshot").map((m) => m.chunk)).toEqual([1]);
  });
});
