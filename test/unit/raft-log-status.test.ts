/**
 * RaftNode.logStatus (raft/node.ts), what both daemons' Status replies are made of
 * (raft/replica-status.ts): the log's first and last index, entries and data bytes, the last
 * snapshot's index and size, and the highest commit index heard from a leader. One voter on a
 * hand-moved clock; a follower hears a leader's heartbeat by hand.
 */
import { describe, expect, it } from "vitest";
import type { GroupId, LogIndex, NodeId, Term } from "../../common/ids";
import { makeMessage } from "../../raft/core/types";
import { RaftNode } from "../../raft/node";
import { bytesSnapshotSource, type StateMachine } from "../../raft/state-machine";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import type { Transport } from "../../raft/transport/transport";
import { SimRng } from "../sim/rng";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";

const transport: Transport = { send: () => {}, setReceiver: () => {}, close: async () => {} };

/** A state machine whose snapshot is `snapshotBytes` bytes long. */
function sm(snapshotBytes: number): StateMachine<number> {
  let applied = 0 as LogIndex;
  return {
    appliedIndex: () => 0 as LogIndex,
    apply: async (entries) => {
      applied = entries[entries.length - 1]!.index;
      return entries.map(() => 0);
    },
    snapshot: async () => bytesSnapshotSource(applied, new Uint8Array(snapshotBytes), 1024),
    restore: () => { throw new Error("no restores here"); },
  };
}

describe("RaftNode.logStatus", () => {
  it("a leader: its own commit, the log's entries and bytes, the snapshot's index and size once it took one", async () => {
    const clock = new ManualClock();
    const node = await RaftNode.start<number>(
      { group: 1 as GroupId, raft: { id: 1 as NodeId, voters: [1 as NodeId] }, tickMs: 100, snapshotEveryEntries: 20, compactKeepEntries: 5, onFatal: () => {} },
      { clock, rng: new SimRng(1), transport, storage: new MemoryLogStore() },
      sm(777),
    );
    try {
      await waitFor(() => {
        clock.advance(100);
        return node.softState().role === "leader";
      }, { timeoutMs: 10_000, what: "the single voter to lead" });
      for (let i = 0; i < 10; i++) await node.propose(new Uint8Array(100));
      let s = node.logStatus();
      expect(s.leaderCommit).toBe(node.status().commit);
      expect(s.entries).toBe(s.lastIndex - s.firstIndex + 1);
      expect(s.bytes).toBe(10 * 100); // the leader's noop carries no data
      expect(s).toMatchObject({ firstIndex: 1, snapshotIndex: 0, snapshotBytes: 0 });
      for (let i = 0; i < 15; i++) await node.propose(new Uint8Array(10));
      await waitFor(() => node.logStatus().snapshotIndex > 0, { timeoutMs: 10_000, what: "a snapshot after 20 applied entries" });
      s = node.logStatus();
      expect(s.snapshotBytes).toBe(777);
      // Compacted to 5 entries below the snapshot: the log holds from there on.
      expect(s.firstIndex).toBe(s.snapshotIndex - 5 + 1);
      expect(s.entries).toBe(s.lastIndex - s.firstIndex + 1);
    } finally {
      await node.stop();
    }
  });

  it("a follower: the highest commit a leader's message carried, even beyond what it holds", async () => {
    const clock = new ManualClock();
    const node = await RaftNode.start<number>(
      { group: 1 as GroupId, raft: { id: 2 as NodeId, voters: [1, 2, 3] as NodeId[] }, tickMs: 100, onFatal: () => {} },
      { clock, rng: new SimRng(2), transport, storage: new MemoryLogStore() },
      sm(1),
    );
    try {
      expect(node.logStatus().leaderCommit).toBe(0);
      node.receive([makeMessage({ type: "heartbeat", from: 1 as NodeId, to: 2 as NodeId, term: 1 as Term, commit: 7 as LogIndex })]);
      await waitFor(() => node.logStatus().leaderCommit === 7, { timeoutMs: 5000, what: "the heartbeat's commit to be recorded" });
      // An older message does not move it back.
      node.receive([makeMessage({ type: "append", from: 1 as NodeId, to: 2 as NodeId, term: 1 as Term, commit: 3 as LogIndex })]);
      node.receive([makeMessage({ type: "heartbeat", from: 1 as NodeId, to: 2 as NodeId, term: 1 as Term, commit: 9 as LogIndex })]);
      await waitFor(() => node.logStatus().leaderCommit === 9, { timeoutMs: 5000, what: "the later heartbeat's commit" });
      expect(node.status().applied).toBe(0);
    } finally {
      await node.stop();
    }
  });
});
