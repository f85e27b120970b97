/**
 * The replica-change executor (raft/replica-change.ts) over the simulator's real RaftNodes
 * (test/sim/cluster.ts SimCluster, reliable network, virtual time): a replacement completes,
 * completes too when the leader crashes at each step (the new leader resumes from the
 * configuration), and each check refuses with its one-line typed error.
 */
import { describe, expect, it } from "vitest";
import { AbortError, NotLeaderError, StoppedError } from "../../common/errors";
import type { LogIndex, NodeId } from "../../common/ids";
import type { ReplicaChange, ReplicaChangeStep } from "../../common/replica-change";
import { applyConfChange, isJoint, makeConfState, type ConfState } from "../../raft/core/conf-change";
import {
  executeReplicaChange, nextReplicaConfChange, QuorumUnreachableError, replicaChangeStep, ReplicaChangeRefusedError,
} from "../../raft/replica-change";
import type { SimCluster } from "../sim/cluster";
import { expectAllApplied, leaderOf, runUntil, settle, simGroup, write } from "../lib/sim-group";

const ids = (...xs: number[]) => xs as NodeId[];
const cluster = simGroup;

const run = (c: SimCluster, extra: Partial<Parameters<typeof executeReplicaChange>[2]> = {}) => ({
  clock: c.clock, pollMs: 20,
  appliedConfIndex: (id: NodeId) => Promise.resolve(c.handles.get(id)?.alive ? c.handles.get(id)?.node?.confIndex() : undefined),
  ...extra,
});

const replace34: ReplicaChange = { kind: "replace", oldId: 3 as NodeId, newId: 4 as NodeId, address: "127.0.0.1:7104" };

describe("replicaChangeStep", () => {
  const base = makeConfState(ids(1, 2, 3));
  const learner = applyConfChange(base, { kind: "simple", change: { type: "addLearner", node: 4 as NodeId, address: "a4" } });
  const joint = applyConfChange(learner, { kind: "enterJoint", changes: [{ type: "promote", node: 4 as NodeId }, { type: "remove", node: 3 as NodeId }], autoLeave: true });
  const after = applyConfChange(joint, { kind: "leaveJoint" });
  it("derives each step of a replacement from the configuration alone", () => {
    const steps = [base, learner, joint, after].map((conf) => replicaChangeStep(conf, replace34));
    expect(steps).toEqual<ReplicaChangeStep[]>(["adding", "catchingUp", "joint", "done"]);
    expect(after).toEqual({ voters: ids(1, 2, 4), learners: [], votersOutgoing: [], autoLeave: false, addresses: { 4: "a4" } });
  });
  it("add, promote and remove have their own steps", () => {
    expect(replicaChangeStep(base, { kind: "addLearner", id: 4 as NodeId, address: "a4" })).toBe("adding");
    expect(replicaChangeStep(learner, { kind: "addLearner", id: 4 as NodeId, address: "a4" })).toBe("done");
    expect(replicaChangeStep(learner, { kind: "promote", id: 4 as NodeId })).toBe("catchingUp");
    expect(replicaChangeStep(base, { kind: "promote", id: 3 as NodeId })).toBe("done");
    expect(replicaChangeStep(base, { kind: "remove", id: 3 as NodeId })).toBe("joint");
    expect(replicaChangeStep(joint, { kind: "remove", id: 3 as NodeId })).toBe("joint");
    expect(replicaChangeStep(after, { kind: "remove", id: 3 as NodeId })).toBe("done");
  });
});

describe("the executor's checks", () => {
  const all = () => true;
  const conf: ConfState = makeConfState(ids(1, 2, 3), [], { 1: "h:1", 2: "h:2", 3: "h:3" });
  const refused = (cf: ConfState, ch: ReplicaChange, message: string, reachable: (id: NodeId) => boolean = all, force = false) => {
    let e: unknown;
    try {
      nextReplicaConfChange(cf, ch, { force, reachable });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toBe(message);
    return e;
  };
  it("refuses what cannot be done, one line each", () => {
    const e = refused(makeConfState(ids(1)), { kind: "remove", id: 1 as NodeId }, "invalid replicaChange: cannot remove replica 1: replica 1 is the last voter of the group");
    expect(e).toBeInstanceOf(ReplicaChangeRefusedError);
    refused(conf, { kind: "promote", id: 9 as NodeId }, "invalid replicaChange: cannot promote learner 9 to voter: replica 9 is not a learner of the group (add it as a learner first)");
    refused(conf, { kind: "replace", oldId: 7 as NodeId, newId: 4 as NodeId, address: "h:4" }, "invalid replicaChange: cannot replace replica 7 by 4 at h:4: replica 7 is not a voter of the group");
    refused(conf, { kind: "addLearner", id: 4 as NodeId, address: "h:2" }, "invalid replicaChange: cannot add replica 4 at h:2 as a learner: address h:2 is already replica 2's");
    refused(conf, { kind: "replace", oldId: 3 as NodeId, newId: 3 as NodeId, address: "h:9" }, "invalid replicaChange: cannot replace replica 3 by 3 at h:9: the old and the new replica are the same id");
    refused(conf, { kind: "addLearner", id: 2 as NodeId, address: "h:9" }, "invalid replicaChange: cannot add replica 2 at h:9 as a learner: replica 2 is already in the group, at h:2");
    // At the address asked for, it is this change done already (a leader resuming it).
    expect(nextReplicaConfChange(conf, { kind: "addLearner", id: 2 as NodeId, address: "h:2" }, { force: false, reachable: all })).toEqual({ done: true });
  });
  it("waits for a learner that never answered the leader before promoting it, unless forced", () => {
    const learner = applyConfChange(conf, { kind: "simple", change: { type: "addLearner", node: 4 as NodeId, address: "h:4" } });
    const o = { force: false, reachable: all, answered: (id: NodeId) => id !== 4 };
    expect(nextReplicaConfChange(learner, { ...replace34, address: "h:4" }, o))
      .toEqual({ wait: "learner 4 at h:4 has not answered the leader within the last election timeout; is it running (started with --join)?" });
    expect(nextReplicaConfChange(learner, { kind: "promote", id: 4 as NodeId }, o)).toHaveProperty("wait");
    expect(nextReplicaConfChange(learner, { kind: "promote", id: 4 as NodeId }, { ...o, force: true }))
      .toEqual({ propose: { kind: "simple", change: { type: "promote", node: 4 } } });
  });
  it("refuses a change leaving fewer than a majority of the voters reachable, unless forced", () => {
    const e = refused(conf, { kind: "remove", id: 2 as NodeId }, "remove replica 2 would leave 1 of the voters {1,3} reachable (2 needed; not heard from: 3); bring them back or force the change", (id) => id !== 3);
    expect(e).toBeInstanceOf(QuorumUnreachableError);
    expect(nextReplicaConfChange(conf, { kind: "remove", id: 2 as NodeId }, { force: true, reachable: (id) => id !== 3 }))
      .toEqual({ propose: { kind: "enterJoint", changes: [{ type: "remove", node: 2 }], autoLeave: true } });
    // Replacing the unreachable replica itself is what the check lets through.
    const learner = applyConfChange(conf, { kind: "simple", change: { type: "addLearner", node: 4 as NodeId, address: "h:4" } });
    expect(nextReplicaConfChange(learner, { ...replace34, address: "h:4" }, { force: false, reachable: (id) => id !== 3 }))
      .toEqual({ propose: { kind: "enterJoint", changes: [{ type: "promote", node: 4 }, { type: "remove", node: 3 }], autoLeave: true } });
  });
});

describe("executeReplicaChange over simulated replicas", () => {
  it("replaces a voter: learner with its address, caught up, one joint change, left, applied everywhere", async () => {
    const c = cluster(3);
    await write(c, 30, "before");
    c.addNode(4 as NodeId);
    const steps: string[] = [];
    const r = await settle(c, executeReplicaChange(await leaderOf(c), replace34, run(c, { onProgress: (s) => steps.push(s) })), "replace 3 by 4");
    expect(r.error).toBeUndefined();
    const leader = c.leader()!.node!;
    expect(leader.confState()).toEqual({ voters: ids(1, 2, 4), learners: [], votersOutgoing: [], autoLeave: false, addresses: { 4: "127.0.0.1:7104" } });
    expect(r.value).toBe(leader.confIndex());
    expectAllApplied(c, r.value!);
    expect(steps[0]).toBe("adding");
    expect(steps).toContain("catchingUp");
    // Running it again (a leader resuming a finished change) proposes nothing.
    const before = leader.status().lastIndex;
    const again = await settle(c, executeReplicaChange(leader, replace34, run(c)), "replace again");
    expect(again.value).toBe(r.value);
    expect(leader.status().lastIndex).toBe(before);
    // The group still commits with 3 of 4 gone... i.e. with replica 3 down it has its majority.
    c.crash(3 as NodeId);
    await write(c, 5, "after");
  });

  for (const at of ["adding", "catchingUp", "joint"] as const) {
    it(`completes when the leader crashes at step ${at} (a new leader resumes from the configuration)`, async () => {
      const c = cluster(3, 7);
      await write(c, 30, "before");
      c.addNode(4 as NodeId);
      const first = await leaderOf(c);
      const lastBefore = first.status().lastIndex;
      const outcome = settle(c, executeReplicaChange(first, replace34, run(c)), `replace until the crash at ${at}`);
      // Crash the leader as soon as the group is at that step (at adding: once the learner's
      // addition is in its log, committed or not).
      await runUntil(c, () => at === "adding" ? first.status().lastIndex > lastBefore : replicaChangeStep(first.confState(), replace34) === at,
        `the leader reaches step ${at}`);
      const crashed = first.id;
      c.crash(crashed);
      const r = await outcome;
      expect(r.error).toSatisfy((e: unknown) => e instanceof NotLeaderError || e instanceof StoppedError);
      c.restart(crashed);
      // A new leader (maybe the restarted one) runs the same change until it is done.
      let done: LogIndex | undefined;
      for (let attempt = 0; done === undefined && attempt < 10; attempt++) {
        const leader = await leaderOf(c);
        const again = await settle(c, executeReplicaChange(leader, replace34, run(c)), `resume after the crash at ${at}`);
        if (again.error instanceof NotLeaderError) continue;
        expect(again.error).toBeUndefined();
        done = again.value;
      }
      expect(done).toBeDefined();
      const conf = c.leader()!.node!.confState();
      expect(conf.voters).toEqual(ids(1, 2, 4));
      expect(isJoint(conf)).toBe(false);
      expectAllApplied(c, done!);
      await write(c, 5, "after");
    });
  }

  it("waits, naming both indexes, while the learner lags; promotes once it caught up", async () => {
    const c = cluster(3, 3);
    c.addNode(4 as NodeId);
    const leader = await leaderOf(c);
    const added = await settle(c, executeReplicaChange(leader, { kind: "addLearner", id: 4 as NodeId, address: "127.0.0.1:7104" }, run(c)), "add 4");
    expect(added.error).toBeUndefined();
    // A learner that lags, not one that never answered (that one waits on another condition,
    // tested above): the addition is done once committed by the voters, and the learner's first
    // answer may still be on its way then.
    await runUntil(c, () => (leader.memberStatuses().find((m) => m.id === 4)?.match ?? 0) > 0, "learner 4 to answer the leader");
    c.pause(4 as NodeId);
    await write(c, 60, "lag");
    const waits: string[] = [];
    let stop = false;
    const promote = settle(c, executeReplicaChange(leader, { kind: "promote", id: 4 as NodeId }, run(c, {
      onProgress: (_s, w) => waits.push(w), aborted: () => stop,
    })), "promote 4");
    const lag = /^cannot promote learner 4: its log reaches index (\d+), the leader's (\d+); wait until it catches up$/;
    await runUntil(c, () => waits.some((w) => lag.test(w)), "a wait naming the lag");
    const [, match, last] = lag.exec(waits.find((w) => lag.test(w))!)!;
    expect(Number(last) - Number(match)).toBeGreaterThan(20);
    expect(c.leader()!.node!.confState().learners).toEqual(ids(4));
    c.resume(4 as NodeId);
    const r = await promote;
    expect(r.error).toBeUndefined();
    expect(c.leader()!.node!.confState().voters).toEqual(ids(1, 2, 3, 4));
    stop = true;
  });

  it("an addition completes with a member down; a removal waits until every remaining member applied it", async () => {
    const c = cluster(3, 9);
    const leader = await leaderOf(c);
    const down = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
    c.crash(down);
    c.addNode(4 as NodeId);
    const added = await settle(c, executeReplicaChange(leader, { kind: "addLearner", id: 4 as NodeId, address: "127.0.0.1:7104" }, run(c)), "add 4 with a member down");
    expect(added.error).toBeUndefined();
    expect(leader.confState().learners).toEqual(ids(4));
    // Removing the learner while `down` is still down: committed, but not done until `down`
    // applied it too (stopping a removed replica is safe only then).
    const waits: string[] = [];
    const removal = settle(c, executeReplicaChange(leader, { kind: "remove", id: 4 as NodeId }, run(c, { onProgress: (_s, w) => waits.push(w) })), "remove 4");
    await runUntil(c, () => waits.some((w) => w.startsWith(`waiting for replicas ${down} to apply`)), "the removal waiting for the down member");
    expect(leader.confState().learners).toEqual([]);
    c.restart(down);
    const r = await removal;
    expect(r.error).toBeUndefined();
    expectAllApplied(c, r.value!);
  });

  it("refuses to remove a voter when the rest would have no reachable majority; nothing is proposed", async () => {
    const c = cluster(3, 5);
    const leader = await leaderOf(c);
    const down = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
    const other = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id && id !== down)!;
    c.crash(down);
    await runUntil(c, () => !leader.recentlyActive(down), "the leader notices the crash");
    const last = leader.status().lastIndex;
    const r = await settle(c, executeReplicaChange(leader, { kind: "remove", id: other }, run(c)), "remove");
    expect(r.error).toBeInstanceOf(QuorumUnreachableError);
    expect(r.error!.message).toContain(`not heard from: ${down}`);
    expect(leader.status().lastIndex).toBe(last);
    const aborted = await settle(c, executeReplicaChange(leader, { kind: "remove", id: other }, run(c, { aborted: () => true })), "aborted");
    expect(aborted.error).toBeInstanceOf(AbortError);
  });
});
