/**
 * Quiescence of idle Raft groups (raft/core/quiesce.ts) on the production RaftNode in the
 * simulator (test/sim: virtual time, the production log store, SimNetwork's liveness signal):
 * per seed, a group of 3 or 5 goes idle and quiesces (and then sends nothing at all), serves a
 * linearizable read (which wakes it), quiesces again, and then loses its quiesced leader to a
 * crash, a partition or a pause (by seed): the others must elect a new leader and commit, the
 * cut-off old leader must not confirm a read, and once healed the group quiesces again. The
 * simulator's safety checkers (election safety, log matching, durability, commit quorums) run
 * on every Ready. A failing seed prints how to replay it.
 */
import { describe, expect, it } from "vitest";
import type { NodeId } from "../../common/ids";
import { nextTurn } from "../../common/real-env";
import { Checker } from "../sim/checkers";
import { SimClock } from "../sim/clock";
import { SimCluster, type ClusterConfig } from "../sim/cluster";
import { reliableNetwork } from "../sim/network";
import { SimRng } from "../sim/rng";

type Fault = "crash" | "partition" | "pause";
const faults: readonly Fault[] = ["crash", "partition", "pause"];
const enc = new TextEncoder();

interface Scenario {
  readonly seed: number;
  readonly size: number;
  readonly fault: Fault;
  /** How long the network's liveness signal takes to report a cut or paused peer; Infinity: never. */
  readonly detectMs: number;
  /**
   * Who replaces the lost leader: the liveness signal, or (with `detectMs` Infinity: a cut or
   * pause is never reported, as gRPC's keepalive far beyond the test) client requests to
   * the followers, refused NotLeader, which wake the group (Raft.wakeGroup).
   */
  readonly wakeBy: "signal" | "clients";
}

function scenarioOf(seed: number): Scenario {
  const r = new SimRng(seed).fork("quiesce-scenario");
  return { seed, size: r.pick([3, 5]), fault: faults[seed % faults.length]!, detectMs: r.range(20, 800), wakeBy: "signal" };
}

/** A leader cut off or paused without any liveness signal: only client requests wake the followers. */
function silentScenarioOf(seed: number): Scenario {
  const r = new SimRng(seed).fork("quiesce-silent");
  return { seed, size: r.pick([3, 5]), fault: seed % 2 === 0 ? "partition" : "pause", detectMs: Infinity, wakeBy: "clients" };
}

/** Runs one scenario; returns the failure (with the replay hint) or undefined. */
async function runScenario(s: Scenario): Promise<string | undefined> {
  const clock = new SimClock();
  const rng = new SimRng(s.seed);
  const trace: string[] = [];
  const checker = new Checker();
  const cfg: ClusterConfig = {
    size: s.size, tickMs: 10, electionTicks: 10, heartbeatTicks: 1 + (s.seed % 3), snapshotEveryEntries: 1000, compactKeepEntries: 10,
    snapshotChunkBytes: 256, limits: { appendBytesMax: 1 << 20, inflightAppendsMax: 256, uncommittedBytesMax: 64 << 20 },
    network: { ...reliableNetwork, delayMaxMs: 1 + rng.range(1, 10) }, disk: { minMs: 0, maxMs: 2 },
    quiesce: { on: true, detectMs: s.detectMs },
  };
  const cluster = new SimCluster(cfg, clock, rng.fork("cluster"), checker, (l) => trace.push(`${clock.nowMs()} ${l}`));
  const fail = (what: string): string =>
    `${what}${checker.failure !== undefined || cluster.failures.length > 0 ? `: ${checker.failure ?? cluster.failures[0]}` : ""} (${JSON.stringify(s)}; replay: SEED=${s.seed} npx vitest run test/unit/raft-quiesce.test.ts)\n${trace.slice(-40).join("\n")}`;
  /** Runs virtual time until `done` holds (true) or `ms` passed (false). */
  const runUntil = async (done: () => boolean, ms: number): Promise<boolean> => {
    const end = clock.nowMs() + ms;
    while (clock.nowMs() < end) {
      if (done()) return true;
      if (checker.failure !== undefined || cluster.failures.length > 0) return false;
      await new Promise<void>((r) => nextTurn(r)); // promise chains first (a start opens its storage before any timer exists)
      if (!clock.runNext()) break;
    }
    return done();
  };
  const ids = cluster.ids;
  const allQuiesced = (): boolean => cluster.live().length === cluster.live().filter((h) => h.node!.isQuiesced()).length && cluster.live().length > 0;
  const settledOn = (pred: (id: NodeId) => boolean): boolean => {
    const l = cluster.leader();
    return l !== undefined && pred(l.id) && cluster.followsLeader(l, cluster.live());
  };
  const write = async (value: string): Promise<boolean> => {
    const l = cluster.leader()!;
    let ok = false;
    checker.proposing(value);
    l.node!.propose(enc.encode(value)).then((pos) => {
      ok = true;
      checker.acked(value, pos);
    }, () => undefined);
    return runUntil(() => ok, 2000);
  };

  for (const id of ids) cluster.start(id);
  if (!(await runUntil(() => settledOn(() => true), 3000))) return fail("no leader elected");
  if (!(await write("v1"))) return fail("first write not acknowledged");
  if (!(await runUntil(allQuiesced, 3000))) return fail("the idle group did not quiesce");
  const leader = cluster.leader()!;
  const term = leader.node!.softState().term;
  // The acknowledgements of the quiesce heartbeats land (a leader resends to whoever has not
  // acknowledged, every heartbeat interval) ...
  await runUntil(() => false, 100);
  const sent = cluster.netStats().messagesSent;
  await runUntil(() => false, 2000);
  if (cluster.netStats().messagesSent !== sent) return fail(`a quiesced group sent ${cluster.netStats().messagesSent - sent} messages in 2 s`);
  if (!allQuiesced() || cluster.leader() !== leader || leader.node!.softState().term !== term) return fail("the quiesced group changed leader or woke by itself");

  let read = false;
  leader.node!.readBarrier().then(() => (read = true), () => undefined);
  if (!(await runUntil(() => read, 1000))) return fail("a read on the quiesced leader was not confirmed");
  if (!(await runUntil(allQuiesced, 3000))) return fail("the group did not quiesce again after the read");

  const old = leader.id;
  const others = ids.filter((id) => id !== old);
  let staleRead = "pending" as "pending" | "ok" | "refused";
  const staleOk = (): boolean => staleRead === "ok";
  if (s.fault === "crash") cluster.crash(old);
  else if (s.fault === "pause") cluster.pause(old);
  else {
    cluster.net.partition([[old], others]);
    leader.node!.readBarrier().then(() => (staleRead = "ok"), () => (staleRead = "refused"));
  }
  const electionMs = cfg.tickMs * cfg.electionTicks;
  const replaced = (): boolean => {
    const l = cluster.leader();
    if (l === undefined || l.id === old || l.node!.softState().term <= term) return false;
    return cluster.followsLeader(l, cluster.live().filter((h) => h.id !== old));
  };
  let bound = s.detectMs + 40 * electionMs;
  if (s.wakeBy === "clients") {
    // Nothing tells the followers: the group stays without a leader while nobody asks ...
    if (await runUntil(replaced, 20 * electionMs)) return fail(`the quiesced followers replaced n${old} with no signal and no request`);
    if (others.some((id) => !cluster.handles.get(id)!.node!.isQuiesced())) return fail("a follower woke with no signal and no request");
    // ... and a client's reads on one follower (refused NotLeader) wake it, and it wakes the
    // others (its wake messages, within a few message delays: before any election timeout).
    const asked = cluster.handles.get(others[0]!)!;
    const ask = (): void => {
      if (replaced()) return;
      asked.node!.readBarrier().catch(() => undefined);
      clock.after(5 * cfg.tickMs, ask);
    };
    ask();
    const awake = (): boolean => others.every((id) => !cluster.handles.get(id)!.node!.isQuiesced());
    if (!(await runUntil(awake, cfg.tickMs * 5))) return fail("a request on a quiesced follower did not wake every other follower");
    bound = 20 * electionMs;
  }
  if (!(await runUntil(replaced, bound))) return fail(`the quiesced leader n${old} was not replaced within ${bound} ms after a ${s.fault}`);
  if (!(await write("v2"))) return fail("the new leader did not commit");
  if (staleOk()) return fail("the partitioned old leader confirmed a read");

  if (s.fault === "crash") cluster.restart(old);
  else if (s.fault === "pause") cluster.resume(old);
  else cluster.net.heal();
  if (!(await runUntil(() => cluster.live().length === s.size && settledOn((id) => id !== old || s.fault !== "crash") && allQuiesced(), 5000))) {
    return fail("the healed group did not settle and quiesce again");
  }
  if (staleOk()) return fail("the partitioned old leader confirmed a read");
  for (const h of cluster.live()) h.node!.halt();
  return checker.failure ?? cluster.failures[0];
}

const seedOverride = process.env["SEED"] === undefined ? undefined : Number(process.env["SEED"]);
const seeds = seedOverride !== undefined ? [seedOverride] : Array.from({ length: 24 }, (_, i) => i + 1);

describe("quiescence in the simulator: an idle group stops, a lost quiesced leader is replaced", () => {
  it.each(seeds)("seed %i", async (seed) => {
    expect(await runScenario(scenarioOf(seed))).toBeUndefined();
  });

  it.each(seeds)("seed %i, no liveness signal: client requests to the followers wake them", async (seed) => {
    expect(await runScenario(silentScenarioOf(seed))).toBeUndefined();
  });

  it("covers every fault and both group sizes", () => {
    const sc = seeds.map(scenarioOf);
    if (seedOverride !== undefined) return;
    expect(new Set(sc.map((x) => x.fault)).size).toBe(3);
    expect(new Set(sc.map((x) => x.size)).size).toBe(2);
  });
});
