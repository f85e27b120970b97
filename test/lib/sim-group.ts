/**
 * One Raft group of the simulator's real RaftNodes (test/sim/cluster.ts SimCluster: reliable
 * network, virtual time) and the helpers that run it until something holds: the harness of the
 * replica-change tests (test/unit/replica-change.test.ts, test/unit/replica-driver.test.ts).
 */
import { expect } from "vitest";
import { LeadershipTransferError, NotLeaderError } from "../../common/errors";
import type { LogIndex } from "../../common/ids";
import { nextTurn } from "../../common/real-env";
import { members } from "../../raft/core/conf-change";
import type { RaftNode } from "../../raft/node";
import { Checker } from "../sim/checkers";
import { SimClock } from "../sim/clock";
import { SimCluster } from "../sim/cluster";
import { reliableNetwork } from "../sim/network";
import { SimRng } from "../sim/rng";

/** Lets promise chains run (nodes starting set their first timers). */
export const drain = (): Promise<void> => new Promise((r) => nextTurn(r));

/** A started group of `size` replicas (10 ms ticks, small snapshots) seeded with `seed`. */
export function simGroup(size: number, seed = 1): SimCluster {
  const c = new SimCluster({
    size, tickMs: 10, electionTicks: 10, heartbeatTicks: 2, snapshotEveryEntries: 1000, compactKeepEntries: 10, snapshotChunkBytes: 256,
    limits: { appendBytesMax: 1 << 20, inflightAppendsMax: 256, uncommittedBytesMax: 64 << 20 },
    network: reliableNetwork, disk: { minMs: 0, maxMs: 1 },
  }, new SimClock(), new SimRng(seed), new Checker(), () => {});
  for (const id of c.ids) c.start(id);
  return c;
}

/** Runs virtual time until `pred` holds; fails after `ms` virtual ms or on a checker failure. */
export async function runUntil(c: SimCluster, pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = c.clock.nowMs() + ms;
  while (!pred()) {
    expect(c.checker.failure ?? c.failures[0]).toBeUndefined();
    await drain();
    if (pred()) return;
    const next = c.clock.peekTime();
    if (next === undefined || next > deadline) throw new Error(`not within ${ms} virtual ms: ${what}`);
    c.clock.runNext();
    await drain();
  }
}

/** Runs virtual time until `p` settles; returns its outcome. */
export async function settle<T>(c: SimCluster, p: Promise<T>, what: string): Promise<{ value?: T; error?: Error }> {
  let out: { value?: T; error?: Error } | undefined;
  p.then((value) => (out = { value }), (error: Error) => (out = { error }));
  await runUntil(c, () => out !== undefined, what);
  return out!;
}

/** The leader, once one committed an entry of its term. */
export async function leaderOf(c: SimCluster): Promise<RaftNode<number>> {
  await runUntil(c, () => c.leader() !== undefined && c.leader()!.node!.status().commit > 0, "a leader that committed its term");
  return c.leader()!.node!;
}

/** Proposes `n` entries `tag-i` through the leader of the moment, one after the other. */
export async function write(c: SimCluster, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    c.checker.proposing(`${tag}-${i}`);
    const r = await settle(c, (await leaderOf(c)).propose(new TextEncoder().encode(`${tag}-${i}`)), `write ${tag}-${i}`);
    expect(c.failures).toEqual([]);
    // Refusals that say the entry never entered the log (the leader stepping down or handing
    // over, as a removed leader does): the write is simply not made.
    if (r.error && !(r.error instanceof NotLeaderError) && !(r.error instanceof LeadershipTransferError)) throw r.error;
  }
}

/** Every live member applied the leader's configuration (voters, learners, joint state, addresses) at `index`. */
export function expectAllApplied(c: SimCluster, index: LogIndex): void {
  const leader = c.leader()!.node!;
  for (const id of members(leader.confState())) {
    const n = c.handles.get(id)!.node!;
    expect(n.confIndex(), `node ${id}`).toBe(index);
    expect(n.confState()).toEqual(leader.confState());
  }
}
