/**
 * The controller in the simulator with faults (test/sim/controller-run.ts; test/sim/README.md): fixed
 * seeds, byte-identical replay, and proof that the checkers catch what they claim to (a state
 * machine that ignores its duplicate table, queries without ReadIndex, divergent replicas).
 * A failing seed prints `reproduce with SEED=<s> npm run sim -- --controller`.
 */
import { describe, expect, it } from "vitest";
import type { Clock } from "../../common/env";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId, Term } from "../../common/ids";
import { nextTurn } from "../../common/real-env";
import { encodeCommand } from "../../controller/codec";
import { type Config, initialConfig } from "../../controller/config";
import { type ControllerCommand, ControllerCore, type ControllerOp } from "../../controller/state-machine";
import { makeMessage, type Entry, type Message, type SnapshotMeta } from "../../raft/core/types";
import { RaftNode } from "../../raft/node";
import type { SnapshotSink, StateMachine } from "../../raft/state-machine";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import type { Transport } from "../../raft/transport/transport";
import { CheckFailure } from "../sim/checkers";
import { ControllerChecker } from "../sim/controller-checkers";
import { controllerFixedSeeds, runControllerSeed, type ControllerRunResult } from "../sim/controller-run";
import { type AppliedEntry, ControllerDurable } from "../sim/controller-replica";
import { SimRng } from "../sim/rng";
import { failureReport } from "../sim/seeds";
import { BuggifyTotals, buggifyReach } from "../sim/buggify";

describe("controller simulation: fixed seeds", () => {
  const results: ControllerRunResult[] = [];
  it.for(controllerFixedSeeds)("seed %i", async (seed, { signal }) => {
    const r = await runControllerSeed(seed, { signal });
    results.push(r);
    expect(r.ok, failureReport(r, "controller")).toBe(true);
    // Checker (c), restated: no request created more than one config.
    expect(Math.max(0, ...r.createdPerRequest.values())).toBeLessThanOrEqual(1);
    expect(r.stats.livenessSettledMs).toBeGreaterThanOrEqual(0);
  });

  it("the seeds exercise what the checks are about", () => {
    expect(results.length).toBe(controllerFixedSeeds.length);
    const sum = (k: keyof ControllerRunResult["stats"]) => results.reduce((n, r) => n + r.stats[k], 0);
    const seedsWith = (k: keyof ControllerRunResult["stats"]) => results.filter((r) => r.stats[k] > 0).length;
    // Retries answered by the duplicate table (the same request in the log twice or more).
    expect(seedsWith("duplicateEntries")).toBeGreaterThan(results.length / 2);
    // Replies the clients pretended to lose, and late replies, all compared.
    expect(seedsWith("lostReplies")).toBeGreaterThan(results.length / 2);
    expect(sum("lateReplies")).toBeGreaterThan(0);
    // Invalid requests, refused (and retried: the same refusal each time).
    expect(seedsWith("changesRefused")).toBeGreaterThan(results.length / 2);
    // Faults: crashes and multi-chunk snapshot installs.
    expect(seedsWith("crashes")).toBeGreaterThan(results.length / 3);
    expect(seedsWith("restores")).toBeGreaterThan(results.length / 5);
    expect(seedsWith("messagesDropped")).toBeGreaterThan(results.length / 2);
    expect(sum("queries")).toBeGreaterThan(results.length * 20);
    // Intents changed under open WatchIntent feeds, which told the changes.
    expect(seedsWith("intentUpdates")).toBeGreaterThan(results.length / 2);
    expect(results.filter((r) => r.params.cluster.size === 5).length).toBeGreaterThan(0);
  });

  it("every BUGGIFY point a controller reaches fired in these seeds", () => {
    const buggify = new BuggifyTotals();
    for (const r of results) buggify.add(r.buggify);
    expect(buggify.missing(buggifyReach.controller), buggify.describe()).toEqual([]);
  });
});

describe("controller simulation: log store corruption", () => {
  it("a replica whose log store detects a corrupt read stops for good; the group serves on", async ({ signal }) => {
    // Read faults on every replica's log database, at rates high enough to hit in a few seeds.
    // Each detected corruption stops its replica for good (a minority at most); the run must
    // pass its checks and liveness with the replicas left.
    let flipped = 0;
    let checksum = 0;
    let corruptions = 0;
    for (let seed = 1; seed <= 20 && (flipped < 1 || checksum < 1 || corruptions < 3); seed++) {
      const r = await runControllerSeed(seed, { signal, params: (p) => ({ ...p, cluster: { ...p.cluster, logReadFaults: { corruptionRate: 0.01, flipRate: 0.01 } } }) });
      expect(r.ok, failureReport(r, "controller")).toBe(true);
      flipped += r.stats.flippedReads;
      checksum += r.stats.corruptReads;
      corruptions += r.stats.corruptions;
      expect(r.stats.corruptions).toBeLessThanOrEqual(r.stats.flippedReads + r.stats.corruptReads);
      expect(r.stats.corruptions).toBeLessThanOrEqual(Math.floor((r.params.cluster.size - 1) / 2));
      expect(r.stats.stateFlips).toBe(0); // a group has log read faults or state machine flips, not both
    }
    expect(flipped).toBeGreaterThanOrEqual(1);
    expect(checksum).toBeGreaterThanOrEqual(1);
    expect(corruptions).toBeGreaterThanOrEqual(3);
  }, 240_000);
});

describe("controller simulation: determinism", () => {
  it("replays a seed byte for byte (same trace, same hash)", async ({ signal }) => {
    const a: string[] = [];
    const b: string[] = [];
    const r1 = await runControllerSeed(3, { signal, safetyMs: 4000, trace: (l) => a.push(l) });
    const r2 = await runControllerSeed(3, { signal, safetyMs: 4000, trace: (l) => b.push(l) });
    expect(r1.ok, failureReport(r1, "controller")).toBe(true);
    expect(r1.stats.changesCompleted).toBeGreaterThan(10);
    expect(b).toEqual(a);
    expect(r2.traceHash).toBe(r1.traceHash);
    expect(r2.stats).toEqual(r1.stats);
    const other = await runControllerSeed(4, { signal, safetyMs: 4000 });
    expect(other.traceHash).not.toBe(r1.traceHash);
  });
});

describe("controller simulation: the checkers catch broken runs", () => {
  it("(c) a state machine that ignores its duplicate table: retries create configs again", async ({ signal }) => {
    // Without the pure model, so that only the at-most-once checks can catch it.
    const failures: string[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const r = await runControllerSeed(seed, { signal, brokenDedup: true, model: false });
      expect(r.ok, `seed ${seed} passed with a broken duplicate table`).toBe(false);
      failures.push(r.failure!);
    }
    for (const f of failures) expect(f).toMatch(/^at most once: request \w+\/\d+ /);
    // Some are caught as a second config created by one request, some as a retry that got
    // another answer (re-executed, e.g. a join refused the second time), or a refused request
    // that created a config (re-executed once it had become valid).
    expect(failures.some((f) => /created 2 configs/.test(f))).toBe(true);
    expect(failures.some((f) => /got ok config \d+ and then, .* refused/.test(f))).toBe(true);
  });

  it("(b) with the pure model, a broken duplicate table is caught too", async ({ signal }) => {
    const r = await runControllerSeed(1, { signal, brokenDedup: true });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^(model|at most once)/);
  });

  it("(b) queries that skip the ReadIndex barrier return stale configs", async ({ signal }) => {
    let caught = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = await runControllerSeed(seed, { signal, unsafeQueries: true, buggify: false });
      if (!r.ok) {
        expect(r.failure).toMatch(/^stale Query\(-1\) on node \d+: returned config \d+, but config \d+ was replied before the query started/);
        caught++;
      }
    }
    expect(caught).toBeGreaterThanOrEqual(4);
  });

  it("(b) WatchIntent feeds that the intent changes do not wake are caught at the end of the run", async ({ signal }) => {
    let caught = 0;
    // Only the live incarnations' feeds are checked (a crashed one's died with it), so a seed
    // catches the sabotage when its intents changed after the last restart of some replica:
    // seeds 1, 2, 5 and 8 of 1-8 do.
    for (let seed = 1; seed <= 8; seed++) {
      const r = await runControllerSeed(seed, { signal, silentIntentFeeds: true, buggify: false });
      if (!r.ok) {
        expect(r.failure).toMatch(/^intent feeds not woken by a change of the intent: n\d+ gid \d+: the feed last said/);
        caught++;
      }
    }
    expect(caught).toBeGreaterThanOrEqual(3);
  });

  // ---------------------------------------------------------------- the checker, fed directly

  const clientA = "aa".repeat(16);
  const clientB = "bb".repeat(16);
  const shards = 4;
  const n = (x: number) => x as NodeId;
  const join = (gid: number): ControllerOp => ({ kind: "join", groups: new Map([[gid as GroupId, [`h${gid}:1`]]]) });
  const cmd = (clientId: string, seq: number, op: ControllerOp): ControllerCommand => ({ clientId, seq, op, shardCount: shards });

  /** A replica: a ControllerCore and its durable state, reporting to `checker` as test/sim/controller-replica.ts does. */
  class Replica {
    readonly durable: ControllerDurable;
    readonly core: ControllerCore;
    constructor(readonly id: NodeId, private readonly checker: ControllerChecker) {
      this.durable = new ControllerDurable(id, shards);
      this.core = new ControllerCore(this.durable.latest(), new Map());
    }

    apply(index: number, c: ControllerCommand, tamper?: (a: AppliedEntry) => AppliedEntry): AppliedEntry {
      const e: Entry = { index: index as LogIndex, term: 1 as never, type: "normal", data: encodeCommand(c) };
      const o = this.core.apply(c, index as LogIndex);
      let a: AppliedEntry = { index: index as LogIndex, entry: e, cmd: c, result: o.result, created: o.created };
      if (tamper) a = tamper(a);
      if (a.created) this.durable.configs.push(a.created);
      this.durable.dedup = new Map(this.core.dedupEntries());
      this.durable.applied = index as LogIndex;
      this.checker.applied(this.id, [a], this.durable);
      return a;
    }
  }

  it("(a) replicas that apply the same entry differently", () => {
    const c = new ControllerChecker(shards, { model: false });
    const r1 = new Replica(n(1), c);
    const r2 = new Replica(n(2), c);
    r1.apply(1, cmd(clientA, 1, join(1)));
    expect(() => r2.apply(1, cmd(clientA, 1, join(1)), (a) => ({ ...a, created: { ...a.created!, shards: [1, 1, 1, 0] as GroupId[] } })))
      .toThrow(CheckFailure);
    expect(c.failure).toMatch(/identical histories: node 2 created #1 shards \[1,1,1,0\]/);
  });

  it("(a) a replica whose durable history differs from another's", () => {
    const c = new ControllerChecker(shards, { model: false });
    const r1 = new Replica(n(1), c);
    const r2 = new Replica(n(2), c);
    r1.apply(1, cmd(clientA, 1, join(1)));
    r2.apply(1, cmd(clientA, 1, join(1)));
    c.compareHistories([r1.durable, r2.durable]);
    r2.durable.configs[1] = { ...r2.durable.configs[1]!, groups: new Map([[1 as GroupId, ["elsewhere:1"]]]) };
    expect(() => c.compareHistories([r1.durable, r2.durable])).toThrow(/identical histories \(compare\): node 2 has config #1/);
  });

  it("(b) a replica that disagrees with the pure model", () => {
    const c = new ControllerChecker(shards);
    const r1 = new Replica(n(1), c);
    r1.apply(1, cmd(clientA, 1, join(1)));
    expect(() => r1.apply(2, cmd(clientB, 1, { kind: "move", shard: 0 as ShardId, gid: 1 as GroupId }), (a) => ({
      ...a, result: { ok: false, field: "gid", reason: "made up" }, created: undefined,
    }))).toThrow(/model: at index 2 node 1 got refused gid: made up, the pure model ok config 2/);
  });

  it("(b) stale and wrong queries; a completed change that is not reflected", () => {
    const c = new ControllerChecker(shards, { model: false });
    const r1 = new Replica(n(1), c);
    const j = cmd(clientA, 1, join(1));
    const a = r1.apply(1, j);
    c.reply(j, n(1), a.result, "reply");
    c.completed(j, a.result);
    expect(c.maxRepliedNum).toBe(1);
    c.queryDone(n(1), -1, 1, r1.durable.latest());
    c.queryDone(n(1), 0, 1, r1.durable.configs[0]!);
    expect(() => c.queryDone(n(2), -1, 1, initialConfig(shards))).toThrow(/stale Query\(-1\) on node 2: returned config 0, but config 1/);
    const d = new ControllerChecker(shards, { model: false });
    expect(() => d.queryDone(n(1), 3, 0, initialConfig(shards))).toThrow(/Query\(3\) on node 1 returned config 0/);
    // A move that "completed" with a config where the shard went elsewhere.
    const e = new ControllerChecker(shards, { model: false });
    const r = new Replica(n(1), e);
    r.apply(1, cmd(clientA, 1, join(1)));
    r.apply(2, cmd(clientA, 2, { kind: "ackJoin", gid: 1 as GroupId, joinNum: 1 as ConfigNum })); // else join 2 waits for it
    r.apply(3, cmd(clientA, 3, join(2)));
    r.apply(4, cmd(clientA, 4, { kind: "ackJoin", gid: 2 as GroupId, joinNum: 2 as ConfigNum }));
    const mv = cmd(clientB, 1, { kind: "move", shard: 3 as ShardId, gid: 1 as GroupId });
    const out = r.apply(5, mv, (x) => ({ ...x, created: { ...x.created!, shards: [...x.created!.shards.slice(0, 3), 2 as GroupId] } as Config }));
    expect(() => e.completed(mv, out.result)).toThrow(/completed move 3->1 .* is not reflected in config #3 .*: shard 3 is owned by 2/);
  });

  it("(c) one request told two different outcomes, or refused after creating a config", () => {
    const c = new ControllerChecker(shards, { model: false });
    const r1 = new Replica(n(1), c);
    const j = cmd(clientA, 1, join(1));
    const a = r1.apply(1, j);
    c.reply(j, n(1), a.result, "lost");
    expect(() => c.reply(j, n(2), { ok: true, configNum: 2 as ConfigNum }, "reply")).toThrow(/at most once: request aaaaaa\/1 .* got ok config 1 and then, reply from node 2, ok config 2/);
    const d = new ControllerChecker(shards, { model: false });
    const r2 = new Replica(n(1), d);
    r2.apply(1, j);
    expect(() => d.reply(j, n(1), { ok: false, field: "gid", reason: "x" }, "late")).toThrow(/was refused .* but created config 1/);
  });
});

describe("finding of the controller simulation, fixed", () => {
  it("a finished snapshot followed by chunk 0 of another transfer in one batch: the finished one is installed intact", async () => {
    // Controller seeds 2015 and 2711 (test/sim/README.md, controller findings): the leader
    // resends the last chunk of snapshot A, then moves the transfer to a newer snapshot B; the
    // follower gets both in one batch. The core completes A (Ready.snapshot = A) and starts B in
    // the same Ready; RaftNode hands every chunk over first (B's chunk 0 aborts A's sink and
    // opens one for B), then calls finish() for Ready.snapshot on the sink it holds: B's,
    // holding only B's first chunk. The controller state machine then decodes a truncated
    // ControllerSnapshot (RangeError: the node dies) or, worse, a truncation that happens to
    // decode, installed as index B while Raft records A.
    const events: string[] = [];
    const sm: StateMachine<number> = {
      appliedIndex: () => 0 as LogIndex,
      apply: async (entries) => entries.map(() => 0),
      snapshot: async () => { throw new Error("not a leader here"); },
      restore: (meta: SnapshotMeta): SnapshotSink => {
        events.push(`restore ${meta.index}`);
        const parts: string[] = [];
        return {
          write: async (_chunk, data) => { parts.push(Buffer.from(data).toString()); },
          finish: async () => { events.push(`finish ${meta.index} with ${JSON.stringify(parts.join(""))}`); },
          abort: async () => { events.push(`abort ${meta.index}`); },
        };
      },
    };
    let receive: (m: Message[]) => void = () => {};
    const transport: Transport = {
      send: () => {},
      setReceiver: (h) => { receive = h; },
      close: async () => {},
    };
    const clock: Clock = { nowMs: () => 0, after: () => () => {} }; // time stands still
    const node = await RaftNode.start<number>(
      { group: 1 as GroupId, raft: { id: 1 as NodeId, voters: [1, 2] as NodeId[] }, onFatal: () => {} },
      { clock, rng: new SimRng(1), transport, storage: new MemoryLogStore() },
      sm,
    );
    const snap = (index: number, chunk: number, last: boolean, data: string): Message => makeMessage({
      type: "snapshot", from: 2 as NodeId, to: 1 as NodeId, term: 1 as Term,
      snapshot: { index: index as LogIndex, term: 1 as Term, voters: [1, 2] as NodeId[] },
      chunk, chunkLast: last, chunkData: new TextEncoder().encode(data),
    });
    receive([snap(10, 0, true, "A-whole"), snap(20, 0, false, "B-part1")]);
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => nextTurn(r));
    // Snapshot A is installed whole; B's chunk, arriving in the same Ready, is dropped (the
    // leader resends it) instead of reopening the sink A was being finished on.
    expect(node.status().applied).toBe(10);
    expect(events).toEqual(["restore 10", 'finish 10 with "A-whole"']);
    node.halt();
  });
});
