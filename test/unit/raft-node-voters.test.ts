/**
 * A replica's voter set comes from its Raft state, not from the command line: RaftNode.start
 * records the voters it is given when the log store has none (an empty directory, or one of an
 * earlier version whose snapshot voters, if any, agree), and refuses voters other than the
 * recorded ones with VoterSetMismatchError, writing nothing. The daemons' --peers over real
 * processes: test/integration/data-dir-identity.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { Clock } from "../../common/env";
import type { GroupId, LogIndex, NodeId, Term } from "../../common/ids";
import type { SnapshotMeta } from "../../raft/core/types";
import type { ConfState } from "../../raft/core/conf-change";
import { JoinNonEmptyError, RaftNode, VoterSetMismatchError } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import { emptyLogState, type LogState } from "../../raft/storage/log-store";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import type { Transport } from "../../raft/transport/transport";
import { SimRng } from "../sim/rng";

const ids = (...n: number[]) => n as NodeId[];
/** A state machine at applied index `applied` that needs no snapshots. */
const smAt = (applied: number): StateMachine<number> => ({
  appliedIndex: () => applied as LogIndex,
  apply: async (entries) => entries.map(() => 0),
  snapshot: async () => { throw new Error("no snapshots here"); },
  restore: () => { throw new Error("no snapshots here"); },
});
const transport: Transport = { send: () => {}, setReceiver: () => {}, close: async () => {} };
const clock: Clock = { nowMs: () => 0, after: () => () => {} }; // time stands still

/** Starts node 1 with `voters` on `storage`, and stops it again; returns the configuration it started with. */
async function startStop(
  storage: MemoryLogStore, voters: NodeId[], o: { join?: boolean; addresses?: Record<number, string> } = {},
): Promise<ConfState> {
  const state = storage.snapshotState();
  const node = await RaftNode.start<number>(
    { group: 1 as GroupId, raft: { id: 1 as NodeId, voters, addresses: o.addresses }, join: o.join, onFatal: () => {} },
    { clock, rng: new SimRng(1), transport, storage },
    smAt(state.snapshot.index),
  );
  const conf = node.confState();
  await node.stop();
  return conf;
}

describe("RaftNode voter set", () => {
  it("an empty store records the voters; the same set (any order) starts again; another set is refused, nothing written", async () => {
    const store = new MemoryLogStore();
    await startStop(store, ids(3, 1, 2));
    const saved = store.snapshotState();
    expect(saved.voters).toEqual([1, 2, 3]);
    await startStop(new MemoryLogStore(saved), ids(2, 3, 1));
    for (const other of [ids(1, 2, 4), ids(1, 2), ids(1, 2, 3, 4)]) {
      const again = new MemoryLogStore(saved);
      const e = await startStop(again, other).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(VoterSetMismatchError);
      expect((e as VoterSetMismatchError).message).toBe(
        `invalid voters: the Raft state records members {1,2,3}, but the node was started with {${[...other].sort().join(",")}}`);
      expect(again.snapshotState()).toEqual(saved);
    }
  });

  it("a store of an earlier version (no voter set) adopts the voters its snapshot agrees with, or those given when it has none", async () => {
    const snapshot: SnapshotMeta = { index: 5 as LogIndex, term: 2 as Term, voters: ids(1, 2, 3) };
    const old: LogState = { ...emptyLogState(), snapshot, compacted: { index: 5 as LogIndex, term: 2 as Term } };
    const refused = new MemoryLogStore(old);
    await expect(startStop(refused, ids(1, 2, 5))).rejects.toThrow(/records members \{1,2,3\}, but the node was started with \{1,2,5\}/);
    expect(refused.snapshotState().voters).toBeUndefined();
    const adopted = new MemoryLogStore(old);
    await startStop(adopted, ids(1, 2, 3));
    expect(adopted.snapshotState().voters).toEqual([1, 2, 3]);
    const noSnapshot = new MemoryLogStore({ ...emptyLogState(), entries: [{ index: 1 as LogIndex, term: 1 as Term, type: "noop", data: new Uint8Array(0) }] });
    await startStop(noSnapshot, ids(1, 7));
    expect(noSnapshot.snapshotState().voters).toEqual([1, 7]);
  });

  it("records the bootstrap addresses with the voters; a later start's flags change neither", async () => {
    const store = new MemoryLogStore();
    const conf = await startStop(store, ids(1, 2, 3), { addresses: { 1: "h:1", 2: "h:2", 3: "h:3" } });
    expect(conf.addresses).toEqual({ 1: "h:1", 2: "h:2", 3: "h:3" });
    expect(store.snapshotState().bootstrapAddresses).toEqual({ 1: "h:1", 2: "h:2", 3: "h:3" });
    const again = await startStop(new MemoryLogStore(store.snapshotState()), ids(1, 2, 3), { addresses: { 1: "h:1", 2: "moved:2", 3: "h:3" } });
    expect(again.addresses).toEqual({ 1: "h:1", 2: "h:2", 3: "h:3" });
    // No voters given: the stored configuration, unchecked.
    expect((await startStop(new MemoryLogStore(store.snapshotState()), [])).voters).toEqual(ids(1, 2, 3));
  });

  it("a joining replica records only that it joined and starts with no configuration; a join on a store holding a group is refused", async () => {
    const store = new MemoryLogStore();
    const conf = await startStop(store, [], { join: true });
    expect(conf.voters).toEqual([]);
    expect(store.snapshotState()).toMatchObject({ voters: [], joined: true });
    await startStop(new MemoryLogStore(store.snapshotState()), [], { join: true }); // a restart while joining
    const bootstrapped = new MemoryLogStore();
    await startStop(bootstrapped, ids(1, 2));
    const saved = bootstrapped.snapshotState();
    const again = new MemoryLogStore(saved);
    const e = await startStop(again, [], { join: true }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(JoinNonEmptyError);
    expect((e as Error).message).toBe("invalid join: the Raft state already holds a group (bootstrapped with replicas {1,2}); a replica joins only with an empty one");
    expect(again.snapshotState()).toEqual(saved);
  });
});
