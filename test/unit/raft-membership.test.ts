/**
 * Membership of the Raft core: joint quorum math against a naive reference (fast-check, as
 * etcd-io/raft quorum/quick_test.go), the rules of applyConfChange, the conf-change entry
 * and snapshot-meta encodings, and a restart restoring the configuration from the snapshot
 * and the applied conf-change entries. The behaviour in a running group is in the traces
 * (testdata/raft/conf_change_*.txt) and the simulator.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../common/errors";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import { snapshotMetaFromWire, snapshotMetaToWire } from "../../raft/codec";
import {
  applyConfChange, confStateOfSnapshot, decodeConfChangeEntry, encodeConfChangeEntry, makeConfState, type ConfChange, type ConfState,
} from "../../raft/core/conf-change";
import { makeRaftConfig } from "../../raft/core/config";
import { jointCommittedIndex, jointVoteResult } from "../../raft/core/quorum";
import { RawNode } from "../../raft/core/raw-node";
import type { Entry, SnapshotMeta } from "../../raft/core/types";
import { makeMessage } from "../../raft/core/types";
import { seededRng } from "../lib/raft-network";

const ids = (...xs: number[]) => xs as NodeId[];

/** Naive: the largest index i such that a majority of `vs` has match >= i (any i for no voters). */
function naiveCommitted(vs: readonly NodeId[], match: (id: NodeId) => number): number {
  if (vs.length === 0) return Infinity;
  let best = 0;
  for (const v of vs) {
    const i = match(v);
    if (vs.filter((w) => match(w) >= i).length > vs.length / 2) best = Math.max(best, i);
  }
  return best;
}

describe("joint quorums", () => {
  const voterSet = fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { maxLength: 7 }).map((a) => a as NodeId[]);
  it("commit index is the smaller of the two majorities' (never counting a non-voter)", () => {
    fc.assert(fc.property(voterSet, voterSet, fc.array(fc.nat(50), { minLength: 10, maxLength: 10 }), (inc, out, m) => {
      fc.pre(inc.length > 0);
      const match = (id: NodeId) => (m[id] ?? 0) as LogIndex;
      const want = Math.min(naiveCommitted(inc, match), naiveCommitted(out, match));
      expect(jointCommittedIndex({ voters: inc, votersOutgoing: out }, match)).toBe(want);
    }));
  });

  it("an election is won only if both halves won, lost if either lost", () => {
    fc.assert(fc.property(voterSet, voterSet, fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), { minLength: 10, maxLength: 10 }), (inc, out, v) => {
      fc.pre(inc.length > 0);
      const votes = new Map<NodeId, boolean>();
      v.forEach((x, i) => { if (x !== undefined) votes.set(i as NodeId, x); });
      const half = (vs: readonly NodeId[]) => {
        // Won with a strict majority of yes; lost when even every missing vote could not make one.
        const yes = vs.filter((x) => votes.get(x) === true).length;
        const open = vs.filter((x) => !votes.has(x)).length;
        return yes > vs.length / 2 ? "won" : yes + open <= vs.length / 2 ? "lost" : "pending";
      };
      const a = half(inc);
      const b = out.length === 0 ? "won" : half(out);
      const want = a === "won" && b === "won" ? "won" : a === "lost" || b === "lost" ? "lost" : "pending";
      expect(jointVoteResult({ voters: inc, votersOutgoing: out }, votes)).toBe(want);
    }));
  });

  it("a joint config needs both majorities: {1,2,3}&&{3,4,5} with 1,2 up does not commit", () => {
    const c = { voters: ids(1, 2, 3), votersOutgoing: ids(3, 4, 5) };
    const m: Record<number, number> = { 1: 9, 2: 9, 3: 0, 4: 0, 5: 0 };
    expect(jointCommittedIndex(c, (id) => m[id]! as LogIndex)).toBe(0);
    m[4] = 7;
    m[3] = 7;
    expect(jointCommittedIndex(c, (id) => m[id]! as LogIndex)).toBe(7);
  });
});

describe("applyConfChange", () => {
  const base = makeConfState(ids(1, 2, 3), ids(4));
  const refused = (c: ConfState, cc: ConfChange, why: RegExp) => {
    let err: unknown;
    try {
      applyConfChange(c, cc);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(why);
  };

  it("adds a learner, promotes it, removes a voter", () => {
    const a = applyConfChange(makeConfState(ids(1, 2, 3)), { kind: "simple", change: { type: "addLearner", node: 4 as NodeId } });
    expect(a).toEqual(base);
    expect(applyConfChange(a, { kind: "simple", change: { type: "promote", node: 4 as NodeId } })).toEqual(makeConfState(ids(1, 2, 3, 4)));
    expect(applyConfChange(a, { kind: "simple", change: { type: "remove", node: 1 as NodeId } })).toEqual(makeConfState(ids(2, 3), ids(4)));
  });

  it("a replacement is one joint change; leaving joint drops the outgoing voters", () => {
    const j = applyConfChange(base, { kind: "enterJoint", changes: [{ type: "promote", node: 4 as NodeId }, { type: "remove", node: 3 as NodeId }], autoLeave: true });
    expect(j).toEqual({ voters: ids(1, 2, 4), learners: [], votersOutgoing: ids(1, 2, 3), autoLeave: true });
    expect(applyConfChange(j, { kind: "leaveJoint" })).toEqual(makeConfState(ids(1, 2, 4)));
  });

  it("refuses what the configuration does not allow", () => {
    refused(base, { kind: "simple", change: { type: "promote", node: 5 as NodeId } }, /node 5 is not a learner/);
    refused(base, { kind: "simple", change: { type: "addLearner", node: 2 as NodeId } }, /already in the group/);
    refused(base, { kind: "simple", change: { type: "remove", node: 9 as NodeId } }, /not in the group/);
    refused(makeConfState(ids(1)), { kind: "simple", change: { type: "remove", node: 1 as NodeId } }, /last voter/);
    refused(base, { kind: "leaveJoint" }, /not in a joint configuration/);
    refused(base, { kind: "enterJoint", changes: [], autoLeave: true }, /no changes/);
    const j = applyConfChange(base, { kind: "enterJoint", changes: [{ type: "remove", node: 3 as NodeId }], autoLeave: false });
    refused(j, { kind: "simple", change: { type: "remove", node: 2 as NodeId } }, /joint configuration; leave it first/);
  });
});

describe("encodings", () => {
  it("a conf-change entry round-trips; malformed data is an InvalidArgumentError", () => {
    const e = { change: { kind: "enterJoint" as const, changes: [{ type: "promote" as const, node: 4 as NodeId }], autoLeave: true }, result: { voters: ids(1, 4), learners: ids(5), votersOutgoing: ids(1, 2), autoLeave: true } };
    expect(decodeConfChangeEntry(encodeConfChangeEntry(e))).toEqual(e);
    expect(() => decodeConfChangeEntry(new TextEncoder().encode("x"))).toThrow(InvalidArgumentError);
    expect(() => decodeConfChangeEntry(new TextEncoder().encode('{"change":{"kind":"simple","change":{"type":"grow","node":1}},"result":{}}'))).toThrow(InvalidArgumentError);
  });

  it("a snapshot's meta keeps learners and outgoing voters on the wire", () => {
    const s: SnapshotMeta = { index: 9 as LogIndex, term: 2 as Term, voters: ids(1, 4), learners: ids(5), votersOutgoing: ids(1, 2), autoLeave: true };
    expect(snapshotMetaFromWire(snapshotMetaToWire(s))).toEqual(s);
    const plain: SnapshotMeta = { index: 9 as LogIndex, term: 2 as Term, voters: ids(1, 2, 3) };
    expect(snapshotMetaFromWire(snapshotMetaToWire(plain))).toEqual(plain);
    const addressed: SnapshotMeta = { ...s, addresses: { 1: "h:1", 2: "h:2", 4: "h:4", 5: "h:5" } };
    expect(snapshotMetaFromWire(snapshotMetaToWire(addressed))).toEqual(addressed);
    expect(confStateOfSnapshot(addressed).addresses).toEqual(addressed.addresses);
  });

  it("addresses: addLearner brings one, a joint change keeps the outgoing voter's until leave-joint, an entry carries them", () => {
    const base = makeConfState(ids(1, 2, 3), [], { 1: "h:1", 2: "h:2", 3: "h:3", 9: "not a member" });
    expect(base.addresses).toEqual({ 1: "h:1", 2: "h:2", 3: "h:3" });
    const added = applyConfChange(base, { kind: "simple", change: { type: "addLearner", node: 4 as NodeId, address: "h:4" } });
    expect(added.addresses).toEqual({ 1: "h:1", 2: "h:2", 3: "h:3", 4: "h:4" });
    const joint = applyConfChange(added, { kind: "enterJoint", changes: [{ type: "promote", node: 4 as NodeId }, { type: "remove", node: 3 as NodeId }], autoLeave: true });
    expect(joint.addresses).toEqual(added.addresses);
    expect(applyConfChange(joint, { kind: "leaveJoint" }).addresses).toEqual({ 1: "h:1", 2: "h:2", 4: "h:4" });
    const e = { change: { kind: "simple" as const, change: { type: "addLearner" as const, node: 4 as NodeId, address: "h:4" } }, result: added };
    expect(decodeConfChangeEntry(encodeConfChangeEntry(e))).toEqual(e);
    expect(() => applyConfChange(base, { kind: "simple", change: { type: "addLearner", node: 5 as NodeId, address: "h:2" } }))
      .toThrow("invalid confChange: address h:2 is already node 2's");
    expect(() => applyConfChange(base, { kind: "simple", change: { type: "promote", node: 3 as NodeId, address: "h:7" } }))
      .toThrow("invalid confChange: only addLearner carries an address (promote 3 has h:7)");
  });
});

describe("restart", () => {
  const entry = (index: number, cc: ConfChange, result: ConfState): Entry => ({
    index: index as LogIndex, term: 1 as Term, type: "confChange", data: encodeConfChangeEntry({ change: cc, result }),
  });
  const addL4: ConfChange = { kind: "simple", change: { type: "addLearner", node: 4 as NodeId } };
  const joint: ConfChange = { kind: "enterJoint", changes: [{ type: "promote", node: 4 as NodeId }, { type: "remove", node: 3 as NodeId }], autoLeave: true };
  const afterAdd = makeConfState(ids(1, 2, 3), ids(4));
  const afterJoint = applyConfChange(afterAdd, joint);
  const log: Entry[] = [
    { index: 1 as LogIndex, term: 1 as Term, type: "noop", data: new Uint8Array(0) },
    entry(2, addL4, afterAdd),
    entry(3, joint, afterJoint),
  ];
  const start = (applied: number, snapshot: SnapshotMeta = { index: 0 as LogIndex, term: 0 as Term, voters: ids(1, 2, 3) }, entries = log) =>
    new RawNode(makeRaftConfig({ id: 1 as NodeId, voters: ids(1, 2, 3), rng: seededRng(1) }), {
      hardState: { term: 1 as Term, vote: 1 as NodeId, commit: 3 as LogIndex },
      snapshot, compacted: { index: snapshot.index, term: snapshot.term }, entries, applied: applied as LogIndex,
    });

  it("restores the configuration the applied conf-change entries made; later ones take effect when applied again", () => {
    expect(start(3).confState()).toEqual(afterJoint);
    const rn = start(2);
    expect(rn.confState()).toEqual(afterAdd);
    const rd = rn.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([3]);
    rn.advance(rd);
    expect(rn.confState()).toEqual(afterJoint);
  });

  it("restores a joint configuration from a snapshot's meta, not from the bootstrap voters", () => {
    const snap: SnapshotMeta = { index: 3 as LogIndex, term: 1 as Term, voters: ids(1, 2, 4), votersOutgoing: ids(1, 2, 3), autoLeave: true };
    expect(start(3, snap, []).confState()).toEqual(afterJoint);
  });
});

describe("a removed replica", () => {
  it("may campaign, counts only the voters' votes, and if elected leads as a lame duck handing over", () => {
    // Replica 1 applied a configuration {2,3} without itself (its removal), e.g. the voters
    // did not learn that the removal committed and need its longer log.
    const snap: SnapshotMeta = { index: 5 as LogIndex, term: 1 as Term, voters: ids(2, 3) };
    const rn = new RawNode(makeRaftConfig({ id: 1 as NodeId, voters: ids(1, 2, 3), rng: seededRng(1) }), {
      hardState: { term: 1 as Term, vote: 0 as NodeId, commit: 5 as LogIndex },
      snapshot: snap, compacted: { index: 5 as LogIndex, term: 1 as Term }, entries: [], applied: 5 as LogIndex,
    });
    const take = () => {
      const rd = rn.ready();
      rn.advance(rd);
      return rd.messages.map((m) => `${m.type}->${m.to}`);
    };
    const grant = (type: "preVoteResp" | "voteResp", from: number) =>
      rn.step(makeMessage({ type, from: from as NodeId, to: 1 as NodeId, term: 2 as Term }));
    rn.campaign();
    expect(take()).toEqual(["preVote->2", "preVote->3"]);
    grant("preVoteResp", 2);
    expect(rn.status().role).toBe("preCandidate"); // its own vote does not count: 1 of {2,3}
    grant("preVoteResp", 3);
    expect(rn.status().role).toBe("candidate");
    expect(take()).toEqual(["vote->2", "vote->3"]);
    grant("voteResp", 2);
    grant("voteResp", 3);
    expect(rn.status().role).toBe("leader");
    // Its noop goes out; it hands over to a voter and refuses proposals meanwhile.
    expect(take()).toEqual(["append->2", "append->3"]);
    expect(() => rn.propose([new Uint8Array([1])])).toThrow(/leadership transfer to node 2/);
    // Its own durable copy of the noop does not commit it: 1 is no voter.
    expect(rn.status().commit).toBe(5);
    rn.step(makeMessage({ type: "appendResp", from: 2 as NodeId, to: 1 as NodeId, term: 2 as Term, index: 6 as LogIndex }));
    expect(rn.status().commit).toBe(5); // 1 of {2,3}
    rn.step(makeMessage({ type: "appendResp", from: 3 as NodeId, to: 1 as NodeId, term: 2 as Term, index: 6 as LogIndex }));
    expect(rn.status().commit).toBe(6);
    // 2 is caught up: it gets timeoutNow (after the commit index).
    expect(take()).toContain("timeoutNow->2");
  });
});

describe("a voter behind on the configuration (finding of the BUGGIFY simulation, fixed)", () => {
  it("answers the campaign of a candidate its configuration does not know yet", () => {
    // Random Raft seed 88021856 with BUGGIFY: {3,4,5} committed the removal of 4, giving
    // {3,5}, while 3 lagged with {1,3,4}; 5 needs 3's vote, and 3 ignored it as a
    // non-member's message. No leader was ever elected again (3 learns the configuration
    // only from a leader).
    const snap: SnapshotMeta = { index: 5 as LogIndex, term: 1 as Term, voters: ids(1, 3, 4) };
    const rn = new RawNode(makeRaftConfig({ id: 3 as NodeId, voters: ids(1, 3, 4), rng: seededRng(1) }), {
      hardState: { term: 2 as Term, vote: 0 as NodeId, commit: 5 as LogIndex },
      snapshot: snap, compacted: { index: 5 as LogIndex, term: 1 as Term }, entries: [], applied: 5 as LogIndex,
    });
    const answers = (type: "preVote" | "vote") => {
      rn.step(makeMessage({ type, from: 5 as NodeId, to: 3 as NodeId, term: 3 as Term, index: 9 as LogIndex, logTerm: 2 as Term }));
      const rd = rn.ready();
      rn.advance(rd);
      return rd.messages.map((m) => `${m.type}->${m.to} term:${m.term}${m.reject ? " reject" : ""}`);
    };
    expect(answers("preVote")).toEqual(["preVoteResp->5 term:3"]);
    expect(rn.status().term).toBe(2); // a PreVote changes no term
    expect(answers("vote")).toEqual(["voteResp->5 term:3"]);
    // Other messages of a non-member are still ignored.
    rn.step(makeMessage({ type: "appendResp", from: 5 as NodeId, to: 3 as NodeId, term: 3 as Term }));
    expect(rn.ready().messages).toEqual([]);
  });
});
