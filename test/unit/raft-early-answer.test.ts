/**
 * A state machine may hand an entry's result to its proposer before its apply resolves
 * (StateMachine.apply's `answer`): RaftNode answers the proposal at once, but its applied
 * index, and with it every read barrier, moves only when the apply resolves. One voter, a
 * hand-moved clock, and a state machine whose apply answers the entries it is told to and then
 * waits for the test to let its write complete.
 */
import { describe, expect, it } from "vitest";
import type { GroupId, LogIndex, NodeId } from "../../common/ids";
import { nextTurn } from "../../common/real-env";
import { RaftNode } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";
import { SimRng } from "../sim/rng";

/** One macrotask turn: I/O callbacks and the node's loop get to run. */
const turn = (): Promise<void> => new Promise((r) => nextTurn(r));

const te = new TextEncoder();
const td = new TextDecoder();

/** Entries with data "early:..." are answered before the write; the write completes when `release` is called. */
function gatedSm() {
  const writes: (() => void)[] = [];
  let applied = 0 as LogIndex;
  const sm: StateMachine<string> = {
    appliedIndex: () => 0 as LogIndex,
    apply: async (entries, answer) => {
      const results = entries.map((e) => (e.type === "normal" ? `applied ${td.decode(e.data)} at ${e.index}` : "noop"));
      entries.forEach((e, i) => {
        if (e.type === "normal" && td.decode(e.data).startsWith("early:")) answer?.(i, results[i]!);
      });
      if (entries.some((e) => e.type === "normal")) await new Promise<void>((resolve) => writes.push(resolve));
      applied = entries[entries.length - 1]!.index;
      return results;
    },
    snapshot: async () => { throw new Error("no snapshots here"); },
    restore: () => { throw new Error("no snapshots here"); },
  };
  return { sm, writes, applied: () => applied };
}

describe("RaftNode: results answered before the apply resolves", () => {
  it("answers the proposal at once; the applied index and read barriers wait for the apply", async () => {
    const clock = new ManualClock();
    const { sm, writes, applied } = gatedSm();
    const transport = { send: () => {}, setReceiver: () => {}, close: async () => {} };
    const node = await RaftNode.start<string>(
      { group: 1 as GroupId, raft: { id: 1 as NodeId, voters: [1 as NodeId] }, tickMs: 100, onFatal: () => {} },
      { clock, rng: new SimRng(1), transport, storage: new MemoryLogStore() },
      sm,
    );
    try {
      node.campaign();
      await waitFor(() => node.softState().role === "leader" && node.status().applied >= 1, { timeoutMs: 10_000, what: "node 1 to lead and apply its noop" });
      const before = node.status().applied;

      // Answered early: the proposal resolves while the write is still pending.
      let answered: string | undefined;
      const p = node.propose(te.encode("early:a")).then((r) => (answered = r));
      await waitFor(() => answered !== undefined, { timeoutMs: 10_000, what: "the early answer" });
      expect(answered).toBe(`applied early:a at ${before + 1}`);
      expect(writes.length).toBe(1);
      expect(node.status().applied).toBe(before);
      // A read after the answer waits for the apply's write.
      let read = false;
      const barrier = node.readBarrier().then(() => (read = true));
      await turn();
      await turn();
      expect(read).toBe(false);
      writes.shift()!();
      await barrier;
      await p;
      expect(node.status().applied).toBe(before + 1);
      expect(applied()).toBe(before + 1);

      // Not answered early: the proposal resolves only once the apply did.
      let late: string | undefined;
      const q = node.propose(te.encode("late:b")).then((r) => (late = r));
      await waitFor(() => writes.length === 1, { timeoutMs: 10_000, what: "the second apply to start" });
      await turn();
      expect(late).toBeUndefined();
      writes.shift()!();
      await q;
      expect(late).toBe(`applied late:b at ${before + 2}`);
      expect(node.status().applied).toBe(before + 2);
    } finally {
      for (const w of writes.splice(0)) w();
      await node.stop();
    }
  });
});
