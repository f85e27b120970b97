/**
 * The layout updates of `shardkv-local replace | add-replica | remove-replica`
 * (deploy/local/layout.ts) and where a stored replica change stands (deploy/local/replica-ops.ts).
 */
import { describe, expect, it } from "vitest";
import type { NodeId } from "../../common/ids";
import type { Member, ReplicaChange } from "../../common/replica-change";
import type { RaftMembersReply } from "../../raft/transport/members-service";
import {
  addNode, allNodes, type ClusterFile, groupNodes, nextReplicaId, type NodeEntry, nodeNameIn, peersArg, removeNode,
} from "../../deploy/local/layout";
import {
  changeOutcome, formatReplicaProgress, liveStep, olderPeersArg, pendingChangeHint, storedMembersRefusal,
} from "../../deploy/local/replica-ops";

const n = (id: number, port = 7000 + id): NodeEntry => ({ id, addr: `127.0.0.1:${port}`, pid: null, dataDir: `/d/${id}`, log: `/l/${id}` });
const layout = (): ClusterFile => ({
  controllers: [n(1, 7001), n(2, 7002), n(3, 7003)],
  groups: [{ gid: 1, servers: [n(1, 7101), n(2, 7102), n(3, 7103)] }, { gid: 2, servers: [n(1, 7201)] }],
  nats: null, shards: 8,
});

describe("cluster.json updates of replica changes", () => {
  it("--peers names every node the layout lists for the group, ids ascending", () => {
    const l = layout();
    expect(peersArg(l, 1)).toBe("1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103");
    expect(peersArg(l, "controllers")).toBe("1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003");
    expect(() => peersArg(l, 9)).toThrow("no group 9 (groups: 1, 2)");
  });

  it("a replace adds the new node, then drops the old one; --peers follows", () => {
    const l = layout();
    const id = nextReplicaId(l, 1, ["c1", "c2", "c3", "g1n1", "g1n2", "g1n3", "g2n1"]);
    expect(id).toBe(4);
    addNode(l, 1, n(id, 7104));
    expect(peersArg(l, 1)).toBe("1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103,4=127.0.0.1:7104");
    expect(removeNode(l, "g1n1")).toEqual(n(1, 7101));
    expect(peersArg(l, 1)).toBe("2=127.0.0.1:7102,3=127.0.0.1:7103,4=127.0.0.1:7104");
    expect(allNodes(l).map((x) => x.name)).toEqual(["c1", "c2", "c3", "g1n2", "g1n3", "g1n4", "g2n1"]);
    // The other group and the controllers are untouched.
    expect(l.groups[1]).toEqual(layout().groups[1]);
    expect(l.controllers).toEqual(layout().controllers);
  });

  it("never reuses an id: one listed, or one whose data directory stays after a removal", () => {
    const l = layout();
    removeNode(l, "g1n3");
    // g1n3's data directory stays, so the next replica of group 1 is 4, not 3.
    expect(nextReplicaId(l, 1, ["g1n1", "g1n2", "g1n3"])).toBe(4);
    expect(nextReplicaId(l, 1, ["g1n1", "g1n2", "g1n7", "g3n9", "c8", "junk"])).toBe(8);
    expect(nextReplicaId(l, "controllers", ["c1", "c2", "c3", "c5", "g1n9"])).toBe(6);
    expect(nextReplicaId(l, 2, [])).toBe(2);
  });

  it("controller nodes: added in id order, removed by name", () => {
    const l = layout();
    addNode(l, "controllers", n(5, 7005));
    removeNode(l, "c2");
    expect(groupNodes(l, "controllers").map((x) => nodeNameIn("controllers", x.id))).toEqual(["c1", "c3", "c5"]);
    expect(peersArg(l, "controllers")).toBe("1=127.0.0.1:7001,3=127.0.0.1:7003,5=127.0.0.1:7005");
  });

  it("a replica holding an older configuration: the ids its refusal names, at their listed or last addresses", () => {
    const line = "2026-12-06T02:00:00.000Z ERROR shard g1 n2 invalid --peers: names replicas {2,3,4}, but data directory /t/data/g1n2 " +
      "belongs to a group of replicas {1,2,3}; --peers may change a replica's address, not the group's members";
    expect(storedMembersRefusal(`started\n${line}\n`)).toEqual([1, 2, 3]);
    expect(storedMembersRefusal("invalid --join: data directory /x already holds a group of replicas {1,2,3}")).toBeUndefined();
    const l = layout();
    removeNode(l, "g1n1");
    addNode(l, 1, n(4, 7104));
    expect(olderPeersArg(l, 1, [3, 1, 2], { g1n1: "127.0.0.1:7101" })).toBe("1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103");
    expect(olderPeersArg(l, 1, [1, 2, 3], {})).toBe("1=127.0.0.1:1,2=127.0.0.1:7102,3=127.0.0.1:7103");
  });

  it("refuses a duplicate id; removing an unknown node changes nothing", () => {
    const l = layout();
    expect(() => addNode(l, 1, n(2, 9999))).toThrow("g1n2 is in cluster.json already");
    for (const name of ["g1n9", "g9n1", "c9", "x"]) expect(removeNode(l, name)).toBeUndefined();
    expect(l).toEqual(layout());
  });
});

describe("where a stored replica change stands", () => {
  const id = (x: number): NodeId => x as NodeId;
  const replace: ReplicaChange = { kind: "replace", oldId: id(1), newId: id(4), address: "127.0.0.1:7104" };
  const m = (x: number, learner = false): Member => ({ id: id(x), address: `127.0.0.1:${7100 + x}`, learner });

  it("pending while the controller holds the same intent (fields in any order)", () => {
    const fromWire = { address: "127.0.0.1:7104", newId: id(4), oldId: id(1), kind: "replace" } as ReplicaChange;
    expect(changeOutcome(replace, { change: fromWire, force: false }, [m(1), m(2), m(3)])).toBe("pending");
  });

  it("done once the intent is gone and the members are what it asked", () => {
    expect(changeOutcome(replace, undefined, [m(2), m(3), m(4)])).toBe("done");
    expect(changeOutcome({ kind: "remove", id: id(3) }, undefined, [m(1), m(2)])).toBe("done");
    expect(changeOutcome({ kind: "addLearner", id: id(4), address: "a:1" }, undefined, [m(1), m(4, true)])).toBe("done");
    expect(changeOutcome({ kind: "promote", id: id(4) }, undefined, [m(1), m(4)])).toBe("done");
  });

  it("dropped when the intent is gone (cancelled) or another replaced it, members unchanged", () => {
    expect(changeOutcome(replace, undefined, [m(1), m(2), m(3)])).toBe("dropped");
    expect(changeOutcome(replace, undefined, [m(1), m(2), m(3), m(4, true)])).toBe("dropped");
    expect(changeOutcome(replace, { change: { kind: "remove", id: id(2) }, force: false }, [m(1), m(2), m(3)])).toBe("dropped");
    expect(changeOutcome({ kind: "promote", id: id(4) }, undefined, [m(1), m(4, true)])).toBe("dropped");
  });

  it("the live step from the leader's member list", () => {
    const live = (...ms: [number, string, string?][]) =>
      ({ id: 1, role: "leader", term: 2, leader: 1, confIndex: 9, members: ms.map(([x, role, joint]) => ({ id: x, address: `h:${x}`, role, joint: joint ?? "" })) }) as unknown as RaftMembersReply;
    expect(liveStep(replace, undefined)).toBeUndefined();
    expect(liveStep(replace, live([1, "leader"], [2, "follower"], [3, "follower"]))).toBe("adding");
    expect(liveStep(replace, live([1, "leader"], [2, "follower"], [3, "follower"], [4, "learner"]))).toBe("catchingUp");
    const joint = live([1, "leader", "outgoing"], [2, "follower", "both"], [3, "follower", "both"], [4, "follower", "incoming"]);
    expect(liveStep(replace, joint)).toBe("joint");
    expect(liveStep(replace, live([2, "leader"], [3, "follower"], [4, "follower"]))).toBe("done");
  });

  it("progress and pending lines name the group, the change and the shardctl commands", () => {
    expect(formatReplicaProgress({ group: "group 1", change: replace, step: "catchingUp", blocked: "" }))
      .toBe("group 1: replace replica 1 by 4 at 127.0.0.1:7104: catchingUp");
    expect(formatReplicaProgress({ group: "the controllers", change: { kind: "remove", id: id(2) }, blocked: "no quorum" }))
      .toBe("the controllers: remove replica 2: no leader answers (blocked: no quorum)");
    expect(pendingChangeHint(1 as never, ["a:1", "b:2"])).toBe("the change stays stored and group 1's leader goes on with it; " +
      "`shardctl --controllers a:1,b:2 replica list 1` shows it, `shardctl --controllers a:1,b:2 replica cancel 1` drops it");
    expect(pendingChangeHint(0 as never, ["a:1"])).toContain("`shardctl --controllers a:1 controller cancel` drops it");
  });
});
