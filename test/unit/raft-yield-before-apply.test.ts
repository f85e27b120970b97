/**
 * RaftNodeOptions.yieldBeforeApply: a Ready whose messages went to the transport after its
 * save (a follower's append response) awaits the hook before it applies, so the daemons' answer
 * leaves before the apply runs (Node's HTTP/2 writes a turn's data only in the event loop's
 * check phase). A follower of a hand-driven two-voter group, a transport and a state machine
 * that record what happens in order, and a hook the test releases.
 */
import { describe, expect, it } from "vitest";
import type { GroupId, LogIndex, NodeId, Term } from "../../common/ids";
import { nextTurn } from "../../common/real-env";
import { makeMessage, type Message } from "../../raft/core/types";
import { RaftNode, type RaftNodeOptions } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";
import { SimRng } from "../sim/rng";

/** One macrotask turn: I/O callbacks and the node's loop get to run. */
const turn = (): Promise<void> => new Promise((r) => nextTurn(r));

/** A node `id` of voters `voters` whose transport and state machine write what they see into `events`. */
async function recordingNode(id: number, voters: number[], events: string[], opts: Partial<RaftNodeOptions> = {}) {
  let receive: (msgs: Message[]) => void = () => {};
  const transport = {
    send: (msgs: readonly Message[]) => void events.push(`send ${msgs.map((m) => `${m.type} ${m.index}`).join(",")}`),
    setReceiver: (h: (msgs: Message[]) => void) => void (receive = h),
    close: async () => {},
  };
  const sm: StateMachine<string> = {
    appliedIndex: () => 0 as LogIndex,
    apply: async (entries) => {
      events.push(`apply ${entries.map((e) => e.index).join(",")}`);
      return entries.map(() => "ok");
    },
    snapshot: async () => { throw new Error("no snapshots here"); },
    restore: () => { throw new Error("no snapshots here"); },
  };
  const node = await RaftNode.start<string>(
    { group: 1 as GroupId, raft: { id: id as NodeId, voters: voters as NodeId[] }, tickMs: 100, onFatal: () => {}, ...opts },
    { clock: new ManualClock(), rng: new SimRng(1), transport, storage: new MemoryLogStore() },
    sm,
  );
  return { node, receive: (m: Message) => receive([m]) };
}

/** Leader 1's append of entry 1 (term 1) that also commits it. */
const appendCommitting1 = (): Message => makeMessage({
  type: "append", from: 1 as NodeId, to: 2 as NodeId, term: 1 as Term, index: 0 as LogIndex, logTerm: 0 as Term,
  entries: [{ index: 1 as LogIndex, term: 1 as Term, type: "normal", data: new Uint8Array([7]) }], commit: 1 as LogIndex,
});

describe("RaftNode: yieldBeforeApply", () => {
  it("a follower hands its append response to the transport, awaits the hook, and only then applies", async () => {
    const events: string[] = [];
    let release: () => void = () => {};
    const { node, receive } = await recordingNode(2, [1, 2], events, {
      yieldBeforeApply: () => {
        events.push("yield");
        return new Promise<void>((r) => (release = r));
      },
    });
    try {
      receive(appendCommitting1());
      await waitFor(() => events.includes("yield"), { timeoutMs: 10_000, what: "the hook to be called" });
      await turn();
      await turn();
      expect(events).toEqual(["send appendResp 1", "yield"]);
      release();
      await waitFor(() => node.status().applied === 1, { timeoutMs: 10_000, what: "entry 1 to be applied" });
      expect(events).toEqual(["send appendResp 1", "yield", "apply 1"]);
    } finally {
      await node.stop();
    }
  });

  it("without the hook the apply follows the send in the same turn", async () => {
    const events: string[] = [];
    const { node, receive } = await recordingNode(2, [1, 2], events);
    try {
      receive(appendCommitting1());
      await waitFor(() => node.status().applied === 1, { timeoutMs: 10_000, what: "entry 1 to be applied" });
      expect(events).toEqual(["send appendResp 1", "apply 1"]);
    } finally {
      await node.stop();
    }
  });

  it("a Ready that sent nothing applies without awaiting the hook (a lone voter's own entries)", async () => {
    const events: string[] = [];
    const { node } = await recordingNode(1, [1], events, {
      yieldBeforeApply: () => {
        events.push("yield");
        return Promise.resolve();
      },
    });
    try {
      node.campaign();
      await waitFor(() => node.softState().role === "leader" && node.status().applied >= 1, { timeoutMs: 10_000, what: "node 1 to lead and apply its noop" });
      expect(events).toEqual(["apply 1"]);
    } finally {
      await node.stop();
    }
  });
});
