/**
 * A follower's append responses (raft/node.ts coalesceAppendResps): of the accepting
 * responses to one leader in one term that a Ready holds, only the highest goes out (the
 * leader keeps the maximum match anyway); rejections and other messages are kept. The pure
 * function, then a follower RaftNode that steps several appends in one Ready.
 */
import { describe, expect, it } from "vitest";
import type { GroupId, LogIndex, NodeId, Term } from "../../common/ids";
import { makeMessage, type Message } from "../../raft/core/types";
import { coalesceAppendResps, RaftNode } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";
import { SimRng } from "../sim/rng";

const accept = (to: number, term: number, index: number): Message =>
  makeMessage({ type: "appendResp", from: 2 as NodeId, to: to as NodeId, term: term as Term, index: index as LogIndex });

describe("coalesceAppendResps", () => {
  it("returns the same array when no two accepts could merge", () => {
    const out = [accept(1, 1, 5), makeMessage({ type: "heartbeatResp", from: 2 as NodeId, to: 1 as NodeId })];
    expect(coalesceAppendResps(out)).toBe(out);
    const twoLeaders = [accept(1, 1, 5), accept(3, 1, 2)];
    expect(coalesceAppendResps(twoLeaders)).toBe(twoLeaders);
  });

  it("keeps the highest accept per recipient and term, in the place of the last one", () => {
    const hb = makeMessage({ type: "heartbeatResp", from: 2 as NodeId, to: 1 as NodeId, term: 1 as Term });
    const reject = makeMessage({ type: "appendResp", from: 2 as NodeId, to: 1 as NodeId, term: 1 as Term, index: 9 as LogIndex, reject: true });
    const a5 = accept(1, 1, 5);
    const a7 = accept(1, 1, 7);
    // A response to an old append answers with the commit index: lower, though later.
    const a6 = accept(1, 1, 6);
    const newTerm = accept(1, 2, 3);
    const got = coalesceAppendResps([a5, hb, a7, reject, a6, newTerm]);
    expect(got).toEqual([hb, reject, a7, newTerm]);
    expect(got[2]).toBe(a7);
  });
});

describe("RaftNode: a follower stepping several appends in one Ready", () => {
  it("answers them with one response, of the highest index", async () => {
    const clock = new ManualClock();
    const sent: Message[] = [];
    const sm: StateMachine<number> = {
      appliedIndex: () => 0 as LogIndex,
      apply: async (entries) => entries.map((e) => e.index),
      snapshot: async () => { throw new Error("no snapshots here"); },
      restore: () => { throw new Error("no snapshots here"); },
    };
    const node = await RaftNode.start<number>(
      { group: 1 as GroupId, raft: { id: 2 as NodeId, voters: [1, 2, 3] as NodeId[] }, tickMs: 100, onFatal: () => {} },
      {
        clock, rng: new SimRng(2), storage: new MemoryLogStore(),
        transport: { send: (msgs: readonly Message[]) => void sent.push(...msgs), setReceiver: () => {}, close: async () => {} },
      },
      sm,
    );
    try {
      const entry = (index: number) => ({ index: index as LogIndex, term: 1 as Term, type: "normal" as const, data: new Uint8Array([index]) });
      const append = (prev: number, entries: number[]) => makeMessage({
        type: "append", from: 1 as NodeId, to: 2 as NodeId, term: 1 as Term,
        index: prev as LogIndex, logTerm: (prev === 0 ? 0 : 1) as Term, entries: entries.map(entry), commit: 0 as LogIndex,
      });
      // Three appends of the leader's pipeline, and one that does not fit (a gap): rejected.
      node.receive([append(0, [1]), append(1, [2]), append(2, [3]), append(7, [8])]);
      await waitFor(() => sent.some((m) => m.type === "appendResp" && m.reject), { timeoutMs: 10_000, what: "the follower's answers" });
      const answers = sent.filter((m) => m.type === "appendResp");
      expect(answers.map((m) => [m.to, m.index, m.reject])).toEqual([[1, 3, false], [1, 7, true]]);
      expect(node.status().lastIndex).toBe(3);
    } finally {
      await node.stop();
    }
  });
});
