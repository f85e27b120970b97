/**
 * The single-client write path of RaftNode (raft/node.ts): a leader's append that carries
 * nothing but a new commit index is held (RaftNodeOptions.commitHoldMs) and replaced by the
 * next write's append, which carries that commit too; unreplaced, it goes out after the hold.
 * A commit-only hard state is written at most once a tick, otherwise with the next save, and
 * at stop. Three voters on an in-memory network (each message delivered a microtask later)
 * and a hand-moved clock.
 */
import { describe, expect, it } from "vitest";
import type { GroupId, LogIndex, NodeId } from "../../common/ids";
import type { Message } from "../../raft/core/types";
import { RaftNode } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";
import { SimRng } from "../sim/rng";

const ids = [1, 2, 3] as NodeId[];

function sm(): StateMachine<number> {
  let applied = 0 as LogIndex;
  return {
    appliedIndex: () => 0 as LogIndex,
    apply: async (entries) => {
      applied = entries[entries.length - 1]!.index;
      return entries.map(() => applied);
    },
    snapshot: async () => { throw new Error("no snapshots here"); },
    restore: () => { throw new Error("no snapshots here"); },
  };
}

interface Group {
  readonly clock: ManualClock;
  readonly nodes: Map<NodeId, RaftNode<number>>;
  readonly stores: Map<NodeId, MemoryLogStore>;
  /** Every message handed to a transport, in order. */
  readonly sent: Message[];
}

async function startGroup(commitHoldMs?: number, onSend?: (m: Message) => void): Promise<Group> {
  const clock = new ManualClock();
  const nodes = new Map<NodeId, RaftNode<number>>();
  const stores = new Map<NodeId, MemoryLogStore>();
  const sent: Message[] = [];
  for (const id of ids) {
    const storage = new MemoryLogStore();
    stores.set(id, storage);
    const transport = {
      send: (msgs: readonly Message[]) => {
        for (const m of msgs) {
          sent.push(m);
          onSend?.(m);
          queueMicrotask(() => nodes.get(m.to)?.receive([m]));
        }
      },
      setReceiver: () => {},
      close: async () => {},
    };
    nodes.set(id, await RaftNode.start<number>(
      { group: 1 as GroupId, raft: { id, voters: ids }, tickMs: 100, ...(commitHoldMs !== undefined ? { commitHoldMs } : {}), onFatal: () => {} },
      { clock, rng: new SimRng(id), transport, storage },
      sm(),
    ));
  }
  nodes.get(1 as NodeId)!.campaign();
  await waitFor(() => nodes.get(1 as NodeId)!.softState().role === "leader", { timeoutMs: 10_000, what: "node 1 to lead" });
  // The leader's first entry (its term's noop) committed everywhere: start from a settled group.
  await waitFor(() => nodes.get(1 as NodeId)!.status().applied >= 1, { timeoutMs: 10_000, what: "the noop committed" });
  clock.advance(20);
  await waitFor(() => ids.every((id) => nodes.get(id)!.status().applied === nodes.get(1 as NodeId)!.status().lastIndex), { timeoutMs: 10_000, what: "the noop applied everywhere" });
  return { clock, nodes, stores, sent };
}

/** Appends from the leader with no entries whose previous index is `last`: commit carriers only. */
const commitOnly = (sent: readonly Message[], last: number): Message[] =>
  sent.filter((m) => m.type === "append" && m.entries.length === 0 && m.index === last);

async function stopAll(g: Group): Promise<void> {
  for (const n of g.nodes.values()) await n.stop();
}

describe("RaftNode: the commit-only appends of the single-client write path", () => {
  it("are held, and the next write's append carries the commit instead", async () => {
    const g = await startGroup();
    const leader = g.nodes.get(1 as NodeId)!;
    try {
      const from = g.sent.length;
      const first = await leader.propose(new Uint8Array([1]));
      // Committed and applied on the leader; the commit-only appends to the followers are held.
      expect(commitOnly(g.sent.slice(from), first)).toEqual([]);
      for (const id of [2, 3] as NodeId[]) expect(g.nodes.get(id)!.status().commit).toBe(first - 1);
      const second = await leader.propose(new Uint8Array([2]));
      expect(second).toBe(first + 1);
      // The second write's appends carried the first one's commit: the held ones were dropped.
      const appends = g.sent.slice(from).filter((m) => m.type === "append" && m.entries.length > 0 && m.entries[0]!.index === second);
      expect(appends.map((m) => m.commit)).toEqual([first, first]);
      expect(commitOnly(g.sent.slice(from), first)).toEqual([]);
      await waitFor(() => [2, 3].every((id) => g.nodes.get(id as NodeId)!.status().applied === first), { timeoutMs: 10_000, what: "the followers to apply the first write" });
      // With no later write, the held commit goes out after commitHoldMs (20 ms): no sooner.
      g.clock.advance(19); // the hold's timer is on this clock: due ones fire inside advance()
      expect(commitOnly(g.sent.slice(from), second)).toEqual([]);
      g.clock.advance(1);
      expect(commitOnly(g.sent.slice(from), second).map((m) => [m.to, m.commit])).toEqual([[2, second], [3, second]]);
      await waitFor(() => [2, 3].every((id) => g.nodes.get(id as NodeId)!.status().applied === second), { timeoutMs: 10_000, what: "the followers to apply the second write" });
    } finally {
      await stopAll(g);
    }
  });

  it("with writes in a pipeline, a commit reached while the next write's append is out is held and rides on a later append", async () => {
    // Each write is proposed as soon as the leader sends the previous one's append to node 2,
    // so a write commits while the next one is in flight to both followers (their match is
    // behind the leader's last index, as at many clients): the broadcast of that commit is an
    // empty append that says nothing the next append will not say.
    let leader: RaftNode<number> | undefined;
    let proposed = 0;
    const writes = 20;
    const results: Promise<number>[] = [];
    const g = await startGroup(undefined, (m) => {
      if (leader === undefined || m.from !== 1 || m.type !== "append" || m.entries.length === 0 || m.to !== 2) return;
      if (proposed < writes) results.push(leader.propose(new Uint8Array([++proposed])));
    });
    leader = g.nodes.get(1 as NodeId)!;
    try {
      const from = g.sent.length;
      const start = leader.status().lastIndex;
      results.push(leader.propose(new Uint8Array([++proposed])));
      await waitFor(() => results.length === writes, { timeoutMs: 10_000, what: "every write proposed" });
      const last = Math.max(...await Promise.all(results));
      expect(last).toBe(start + writes);
      const appends = g.sent.slice(from).filter((m) => m.type === "append" && m.from === 1);
      // Commits were reached with a later write's entries already sent (else this would not
      // test the pipelined case): an append carrying entries with a commit below its index.
      expect(appends.some((m) => m.entries.length > 0 && m.commit < m.index)).toBe(true);
      // No empty append went out: every commit rode on a later write's append or is held.
      expect(appends.filter((m) => m.entries.length === 0)).toEqual([]);
      g.clock.advance(20);
      expect(commitOnly(g.sent.slice(from), last).map((m) => [m.to, m.commit])).toEqual([[2, last], [3, last]]);
      await waitFor(() => [2, 3].every((id) => g.nodes.get(id as NodeId)!.status().applied === last), { timeoutMs: 10_000, what: "the followers to apply every write" });
    } finally {
      await stopAll(g);
    }
  });

  it("commitHoldMs 0: the commit goes out at once, in its own append", async () => {
    const g = await startGroup(0);
    const leader = g.nodes.get(1 as NodeId)!;
    try {
      const from = g.sent.length;
      const first = await leader.propose(new Uint8Array([1]));
      await waitFor(() => commitOnly(g.sent.slice(from), first).length === 2, { timeoutMs: 10_000, what: "the commit-only appends" });
      await waitFor(() => [2, 3].every((id) => g.nodes.get(id as NodeId)!.status().applied === first), { timeoutMs: 10_000, what: "the followers to apply" });
    } finally {
      await stopAll(g);
    }
  });

  it("a commit-only hard state waits for the next save within a tick, and is written at stop", async () => {
    const g = await startGroup();
    const leader = g.nodes.get(1 as NodeId)!;
    const store = g.stores.get(1 as NodeId)!;
    const stored = (): number => store.snapshotState().hardState.commit;
    try {
      g.clock.advance(100); // a new tick
      const first = await leader.propose(new Uint8Array([1]));
      const second = await leader.propose(new Uint8Array([2]));
      // A hard state was written in this tick (with first's log save, or its commit alone):
      // second's commit was left for the next save, which third's log save is; third's own
      // commit is left over in turn.
      const third = await leader.propose(new Uint8Array([3]));
      expect([first + 1, first + 2]).toEqual([second, third]);
      expect(stored()).toBe(second);
      await leader.stop();
      expect(stored()).toBe(third);
    } finally {
      await stopAll(g);
    }
  });
});
