/**
 * The ReadIndex rounds of RaftNode (raft/node.ts): one round in flight at a time. Reads that
 * arrive while a round runs wait for it and then share the next round; a round whose
 * heartbeats were lost is confirmed by the next tick's heartbeat, so it never holds reads
 * back for good. And the reads and proposals made in one `pass` (a client's Batch message)
 * reach an idle leader's core together: one round, one append. Three voters on an
 * in-memory network whose delivery the test controls, and a hand-moved clock (no tick
 * happens unless the test advances it).
 */
import { describe, expect, it } from "vitest";
import { byteKey } from "../../common/bytes";
import { nextTurn } from "../../common/real-env";
import type { GroupId, LogIndex, NodeId } from "../../common/ids";
import type { Message } from "../../raft/core/types";
import { RaftNode } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";
import { SimRng } from "../sim/rng";

const ids = [1, 2, 3] as NodeId[];
const leaderId = 1 as NodeId;

function sm(): StateMachine<number> {
  return {
    appliedIndex: () => 0 as LogIndex,
    apply: async (entries) => entries.map((e) => e.index),
    snapshot: async () => { throw new Error("no snapshots here"); },
    restore: () => { throw new Error("no snapshots here"); },
  };
}

interface Group {
  readonly clock: ManualClock;
  readonly leader: RaftNode<number>;
  readonly nodes: Map<NodeId, RaftNode<number>>;
  /** Every message handed to a transport, in order. */
  readonly sent: Message[];
  /** While set, messages are kept in `held` instead of delivered. */
  hold: boolean;
  held: Message[];
  deliver(msgs: readonly Message[]): void;
}

async function startGroup(): Promise<Group> {
  const clock = new ManualClock();
  const nodes = new Map<NodeId, RaftNode<number>>();
  const g: Group = {
    clock, nodes, sent: [], hold: false, held: [],
    get leader() {
      return nodes.get(leaderId)!;
    },
    deliver: (msgs) => {
      for (const m of msgs) queueMicrotask(() => nodes.get(m.to)?.receive([m]));
    },
  };
  for (const id of ids) {
    const transport = {
      send: (msgs: readonly Message[]) => {
        for (const m of msgs) {
          g.sent.push(m);
          if (g.hold) g.held.push(m);
          else g.deliver([m]);
        }
      },
      setReceiver: () => {},
      close: async () => {},
    };
    nodes.set(id, await RaftNode.start<number>(
      { group: 1 as GroupId, raft: { id, voters: ids }, tickMs: 100, onFatal: () => {} },
      { clock, rng: new SimRng(id), transport, storage: new MemoryLogStore() },
      sm(),
    ));
  }
  nodes.get(leaderId)!.campaign();
  await waitFor(() => g.leader.softState().role === "leader", { timeoutMs: 10_000, what: "node 1 to lead" });
  // Its term's noop committed: a read is not queued behind the first commit of the term.
  await waitFor(() => g.leader.status().applied >= 1, { timeoutMs: 10_000, what: "the noop committed" });
  return g;
}

/** The distinct ReadIndex contexts the leader's heartbeats carried since `from`. */
function roundsSince(g: Group, from: number): string[] {
  const ctxs = new Set<string>();
  for (const m of g.sent.slice(from)) if (m.type === "heartbeat" && m.from === leaderId && m.context.length > 0) ctxs.add(byteKey(m.context));
  return [...ctxs];
}

/** Lets every queued microtask and the next macrotask run (the node's loop, the network). */
const turn = (): Promise<void> => new Promise((r) => nextTurn(r));

/** A read on the leader and whether it has resolved. */
function read(g: Group): { done: () => boolean; p: Promise<void> } {
  let done = false;
  const p = g.leader.readBarrier().then(() => void (done = true));
  return { done: () => done, p };
}

/** A first read whose round has gone out with every message held (in flight, unanswered). */
async function heldRound(g: Group): Promise<{ from: number; first: ReturnType<typeof read> }> {
  const from = g.sent.length;
  g.hold = true;
  const first = read(g);
  await waitFor(() => roundsSince(g, from).length === 1, { timeoutMs: 10_000, what: "the first round's heartbeats" });
  return { from, first };
}

async function stopAll(g: Group): Promise<void> {
  for (const n of g.nodes.values()) await n.stop();
}

describe("RaftNode: ReadIndex rounds", () => {
  it("reads arriving while a round is in flight wait for it, then share one round", async () => {
    const g = await startGroup();
    try {
      const { from, first } = await heldRound(g);
      // Three more reads, each in a turn of its own, while the first round is unanswered.
      const later = [];
      for (let i = 0; i < 3; i++) {
        later.push(read(g));
        await turn();
      }
      expect(roundsSince(g, from)).toHaveLength(1);
      expect([first, ...later].some((r) => r.done())).toBe(false);
      // The first round's answers come: it completes, and the three later reads go out as one round.
      g.hold = false;
      g.deliver(g.held.splice(0));
      await first.p;
      await Promise.all(later.map((r) => r.p));
      expect(roundsSince(g, from)).toHaveLength(2);
    } finally {
      await stopAll(g);
    }
  });

  it("a round whose heartbeats were lost is confirmed by the next tick's heartbeat, and the held reads follow", async () => {
    const g = await startGroup();
    try {
      const { from, first } = await heldRound(g);
      g.held.length = 0; // lost
      g.hold = false;
      const second = read(g);
      await turn();
      expect(first.done() || second.done()).toBe(false);
      expect(roundsSince(g, from)).toHaveLength(1);
      // The tick's heartbeat carries the pending context: the first round completes, then the second.
      g.clock.advance(100);
      await first.p;
      await second.p;
      expect(roundsSince(g, from)).toHaveLength(2);
    } finally {
      await stopAll(g);
    }
  });

  it("a round unanswered for two heartbeat intervals no longer holds the next one back", async () => {
    const g = await startGroup();
    try {
      const { from, first } = await heldRound(g);
      const second = read(g);
      await turn();
      expect(roundsSince(g, from)).toHaveLength(1);
      // Two ticks pass with every message still held (the followers hear nothing): the next
      // run of the loop starts the second round beside the first.
      g.clock.advance(100);
      g.clock.advance(100);
      await waitFor(() => roundsSince(g, from).length === 2, { timeoutMs: 10_000, what: "the second round's heartbeats" });
      expect(first.done() || second.done()).toBe(false);
      g.hold = false;
      g.deliver(g.held.splice(0));
      await first.p;
      await second.p;
    } finally {
      await stopAll(g);
    }
  });
});

describe("RaftNode: the requests of one pass reach an idle leader together", () => {
  it("reads made in one pass share one round", async () => {
    const g = await startGroup();
    try {
      const from = g.sent.length;
      const reads = g.leader.pass(() => [read(g), read(g), read(g), read(g)]);
      await Promise.all(reads.map((r) => r.p));
      // Kicked by the first read, an idle loop started a round for it alone, and the other
      // three waited for it and took a second round.
      expect(roundsSince(g, from)).toHaveLength(1);
    } finally {
      await stopAll(g);
    }
  });

  it("proposals made in one pass go out in one append; a nested pass leaves the kick to the outer one", async () => {
    const g = await startGroup();
    try {
      const from = g.sent.length;
      const ps = g.leader.pass(() => [
        g.leader.propose(new Uint8Array([1])),
        ...g.leader.pass(() => [g.leader.propose(new Uint8Array([2])), g.leader.propose(new Uint8Array([3]))]),
        g.leader.propose(new Uint8Array([4])),
      ]);
      await Promise.all(ps);
      const appends = g.sent.slice(from).filter((m) => m.type === "append" && m.from === leaderId && m.to === 2 && m.entries.length > 0);
      // Kicked by the first proposal, an idle loop took it alone into a Ready (a log save and
      // an append to each follower), and the other three went in the next one.
      expect(appends.map((m) => m.entries.length)).toEqual([4]);
    } finally {
      await stopAll(g);
    }
  });

  it("outside a pass a proposal kicks the loop at once: an idle leader takes it alone", async () => {
    const g = await startGroup();
    try {
      const from = g.sent.length;
      await Promise.all([1, 2].map((i) => g.leader.propose(new Uint8Array([i]))));
      const appends = g.sent.slice(from).filter((m) => m.type === "append" && m.from === leaderId && m.to === 2 && m.entries.length > 0);
      expect(appends.map((m) => m.entries.length)).toEqual([1, 1]);
    } finally {
      await stopAll(g);
    }
  });

  it("a pass whose function throws still kicks what it queued, and passes the error on", async () => {
    const g = await startGroup();
    try {
      let p: Promise<number> | undefined;
      expect(() => g.leader.pass(() => {
        p = g.leader.propose(new Uint8Array([9]));
        throw new Error("boom");
      })).toThrow("boom");
      await expect(p).resolves.toBeTypeOf("number");
    } finally {
      await stopAll(g);
    }
  });
});
