/**
 * One contract suite for every LogStore (STYLE: contract suites, as js-libp2p's
 * interface-compliance-tests): the same tests run against RocksLogStore (over RocksDB and over
 * the simulator's storage) and MemoryLogStore.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AssertionFailure } from "../../common/assert";
import { StoppedError } from "../../common/errors";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Entry, HardState, SnapshotMeta } from "../../raft/core/types";
import { emptyLogState } from "../../raft/storage/log-store";
import type { LogState, LogStore } from "../../raft/storage/log-store";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import { RocksLogStore } from "../../raft/storage/rocks-log-store";
import { SimRng } from "../sim/rng";
import { SimKvStorage } from "../sim/sim-kv";

/**
 * How the suite gets stores. `open` creates a store over fresh, empty storage; `reopen`
 * closes nothing itself: it opens a new store over the durable state of the store `open`
 * returned last (the test closes that one first, as a restarting replica would).
 */
export interface LogStoreFactory {
  readonly name: string;
  open(): Promise<LogStore>;
  reopen(): Promise<LogStore>;
}

const ent = (index: number, term: number, data = `e${index}t${term}`): Entry => ({
  index: index as LogIndex,
  term: term as Term,
  type: "normal",
  data: new TextEncoder().encode(data),
});
const hs = (term: number, vote: number, commit: number): HardState => ({ term: term as Term, vote: vote as NodeId, commit: commit as LogIndex });
const snap = (index: number, term: number, voters = [1, 2, 3]): SnapshotMeta => ({
  index: index as LogIndex,
  term: term as Term,
  voters: voters as NodeId[],
});
/** Entries from..to, with the term given per index. */
const range = (from: number, to: number, termOf: (i: number) => number = () => 1): Entry[] => {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(ent(i, termOf(i)));
  return out;
};
/** Compares entries as plain values (type, index, term and data bytes). */
const plain = (es: readonly Entry[]) => es.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) }));
const expectState = (got: LogState, want: LogState) => {
  expect(got.hardState).toEqual(want.hardState);
  expect(got.snapshot).toEqual(want.snapshot);
  expect(got.compacted).toEqual(want.compacted);
  expect(got.entries.length).toBe(want.entries.length);
  expect(plain(got.entries)).toEqual(plain(want.entries));
};

/** Runs the LogStore contract against the stores `factory` makes. */
export function logStoreContract(factory: LogStoreFactory): void {
  describe(`LogStore contract: ${factory.name}`, () => {
    const opened: LogStore[] = [];
    const open = async () => {
      const s = await factory.open();
      opened.push(s);
      return s;
    };
    const reopen = async () => {
      const s = await factory.reopen();
      opened.push(s);
      return s;
    };
    /** Closes `s` and returns a store reopened over its durable state. */
    const restart = async (s: LogStore) => {
      await s.close();
      return reopen();
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it("loads an empty state from fresh storage, and again after a reopen", async () => {
      const s = await open();
      expectState(await s.load(), emptyLogState());
      expectState(await (await restart(s)).load(), emptyLogState());
    });

    it("records the voter set (sorted) durably, replaced by the next one; none before the first", async () => {
      let s = await open();
      expect((await s.load()).voters).toBeUndefined();
      await s.save({ entries: [], voters: [3, 1, 2] as NodeId[] });
      s = await restart(s);
      expect((await s.load()).voters).toEqual([1, 2, 3]);
      await s.save({ hardState: hs(1, 1, 0), entries: [ent(1, 1)] });
      s = await restart(s);
      expect((await s.load()).voters).toEqual([1, 2, 3]);
      await s.save({ entries: [], voters: [5, 4] as NodeId[], bootstrapAddresses: { 4: "h:4", 5: "h:5" } });
      s = await restart(s);
      expect((await s.load()).voters).toEqual([4, 5]);
      expect((await s.load()).bootstrapAddresses).toEqual({ 4: "h:4", 5: "h:5" });
      expect((await s.load()).joined).toBeUndefined();
      await s.save({ entries: [], voters: [], joined: true });
      s = await restart(s);
      const joined = await s.load();
      expect([joined.voters, joined.bootstrapAddresses, joined.joined]).toEqual([[], undefined, true]);
    });

    it("saves hard state and entries durably", async () => {
      let s = await open();
      await s.save({ hardState: hs(2, 1, 2), entries: [ent(1, 1), ent(2, 2, "two")] });
      const want: LogState = { ...emptyLogState(), hardState: hs(2, 1, 2), entries: [ent(1, 1), ent(2, 2, "two")] };
      expectState(await s.load(), want);
      s = await restart(s);
      expectState(await s.load(), want);
      expect(new TextDecoder().decode((await s.load()).entries[1].data)).toBe("two");
    });

    it("keeps the stored hard state when a batch carries only entries, and the entries when it carries only hard state", async () => {
      let s = await open();
      await s.save({ hardState: hs(3, 2, 0), entries: [] });
      await s.save({ entries: [ent(1, 3)] });
      await s.save({ hardState: hs(4, 0, 1), entries: [] });
      s = await restart(s);
      expectState(await s.load(), { ...emptyLogState(), hardState: hs(4, 0, 1), entries: [ent(1, 3)] });
    });

    it("appends across batches, then truncates a conflicting suffix (Raft §5.3)", async () => {
      let s = await open();
      await s.save({ hardState: hs(2, 1, 0), entries: range(1, 3, () => 1) });
      await s.save({ entries: range(4, 5, () => 2) });
      expect((await s.load()).entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
      // A new leader of term 3 overwrites from index 3: 4 and 5 are dropped, not kept.
      await s.save({ hardState: hs(3, 2, 2), entries: [ent(3, 3, "new3")] });
      const want: LogState = { ...emptyLogState(), hardState: hs(3, 2, 2), entries: [ent(1, 1), ent(2, 1), ent(3, 3, "new3")] };
      expectState(await s.load(), want);
      s = await restart(s);
      expectState(await s.load(), want);
      // Appending after the truncation continues at 4 with fresh content.
      await s.save({ entries: [ent(4, 3, "new4")] });
      expect(plain((await s.load()).entries.slice(3))).toEqual(plain([ent(4, 3, "new4")]));
    });

    it("replaces a suffix with a longer one", async () => {
      let s = await open();
      await s.save({ entries: range(1, 5, () => 1) });
      await s.save({ entries: range(4, 8, () => 2) });
      s = await restart(s);
      const got = await s.load();
      expect(got.entries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 1], [3, 1], [4, 2], [5, 2], [6, 2], [7, 2], [8, 2]]);
    });

    it("installSnapshot discards the whole log and sets compacted to the snapshot point", async () => {
      let s = await open();
      await s.save({ hardState: hs(2, 1, 5), entries: range(1, 10, (i) => (i <= 5 ? 1 : 2)) });
      await s.save({ hardState: hs(4, 0, 20), installSnapshot: snap(20, 4), entries: [ent(21, 4), ent(22, 4)] });
      const want: LogState = { hardState: hs(4, 0, 20), snapshot: snap(20, 4), compacted: { index: 20 as LogIndex, term: 4 as Term }, entries: [ent(21, 4), ent(22, 4)] };
      expectState(await s.load(), want);
      s = await restart(s);
      expectState(await s.load(), want);
      // The log continues after the snapshot; an entry right after the snapshot point is accepted.
      await s.save({ entries: [ent(21, 5, "x")] });
      expect(plain((await s.load()).entries)).toEqual(plain([ent(21, 5, "x")]));
    });

    it("keeps a snapshot's whole configuration (learners, joint outgoing voters, addresses) through install, compact and reopen", async () => {
      const joint: SnapshotMeta = {
        ...snap(20, 4, [1, 2, 4]), learners: [5] as NodeId[], votersOutgoing: [1, 2, 3] as NodeId[], autoLeave: true,
        addresses: { 1: "h:1", 2: "h:2", 3: "h:3", 4: "h:4", 5: "h:5" },
      };
      let s = await open();
      await s.save({ hardState: hs(4, 0, 20), installSnapshot: joint, entries: range(21, 30, () => 4) });
      s = await restart(s);
      expect((await s.load()).snapshot).toEqual(joint);
      const left: SnapshotMeta = { ...snap(25, 4, [1, 2, 4]), learners: [5] as NodeId[] };
      await s.compact(left, 25 as LogIndex, 4 as Term);
      s = await restart(s);
      expect((await s.load()).snapshot).toEqual(left);
    });

    it("records a pending-snapshot marker durably; installSnapshot or null clears it", async () => {
      let s = await open();
      await s.save({ hardState: hs(2, 1, 5), entries: range(1, 5, () => 1) });
      await s.save({ entries: [], pendingSnapshot: snap(20, 4) });
      s = await restart(s);
      const st = await s.load();
      expect(st.pendingSnapshot).toEqual(snap(20, 4));
      expect(st.entries.length).toBe(5); // the marker alone changes nothing else
      await s.save({ entries: [], installSnapshot: snap(20, 4) });
      s = await restart(s);
      expect((await s.load()).pendingSnapshot).toBeUndefined();
      await s.save({ entries: [], pendingSnapshot: snap(30, 4) });
      await s.save({ entries: [], pendingSnapshot: null });
      s = await restart(s);
      expect((await s.load()).pendingSnapshot).toBeUndefined();
    });

    it("installSnapshot inside the stored log still discards every entry, even those above it", async () => {
      let s = await open();
      await s.save({ entries: range(1, 10, () => 1) });
      await s.save({ installSnapshot: snap(4, 1), entries: [] });
      s = await restart(s);
      let got = await s.load();
      expect(got.entries).toEqual([]);
      expect(got.compacted).toEqual({ index: 4, term: 1 });
      expect(got.snapshot).toEqual(snap(4, 1));
      // Same, with entries in the batch at indexes the snapshot discarded: they are kept, the rest is gone.
      await s.save({ entries: range(5, 10, () => 1) });
      await s.save({ installSnapshot: snap(6, 1), entries: [ent(7, 2, "new7"), ent(8, 2, "new8")] });
      s = await restart(s);
      got = await s.load();
      expect(plain(got.entries)).toEqual(plain([ent(7, 2, "new7"), ent(8, 2, "new8")]));
      expect(got.compacted).toEqual({ index: 6, term: 1 });
    });

    it("compact drops entries at or below the index and keeps the compacted term", async () => {
      let s = await open();
      await s.save({ hardState: hs(3, 1, 6), entries: range(1, 10, (i) => (i <= 4 ? 1 : i <= 6 ? 2 : 3)) });
      await s.compact(snap(6, 2), 5 as LogIndex, 2 as Term);
      const want: LogState = { hardState: hs(3, 1, 6), snapshot: snap(6, 2), compacted: { index: 5 as LogIndex, term: 2 as Term }, entries: range(6, 10, (i) => (i <= 6 ? 2 : 3)) };
      expectState(await s.load(), want);
      s = await restart(s);
      expectState(await s.load(), want);
      // Appending and truncating (above the commit index) still work relative to the compacted point.
      await s.save({ hardState: hs(4, 1, 7), entries: [ent(7, 4, "t4")] });
      expect(plain((await s.load()).entries)).toEqual(plain([ent(6, 2), ent(7, 4, "t4")]));
      // Compacting the whole log leaves it empty at the compacted point.
      await s.compact(snap(7, 4), 7 as LogIndex, 4 as Term);
      s = await restart(s);
      const got = await s.load();
      expect(got.entries).toEqual([]);
      expect(got.compacted).toEqual({ index: 7, term: 4 });
      expect(got.snapshot).toEqual(snap(7, 4));
      await s.save({ entries: [ent(8, 4)] });
      expect((await s.load()).entries.map((e) => e.index)).toEqual([8]);
    });

    it("a stale compact (overtaken by a newer snapshot) changes nothing", async () => {
      const s = await open();
      await s.save({ entries: range(1, 10, () => 1) });
      await s.save({ installSnapshot: snap(20, 2), entries: [ent(21, 2)] });
      const before = await s.load();
      await s.compact(snap(8, 1), 8 as LogIndex, 1 as Term);
      expectState(await s.load(), before);
      expect((await s.load()).snapshot.index).toBe(20);
    });

    it("rejects batches that would break the log (caller bugs) without changing it", async () => {
      const s = await open();
      await s.save({ hardState: hs(2, 1, 3), entries: range(1, 3, () => 2) });
      const before = await s.load();
      // A gap after the last index.
      await expect(s.save({ entries: [ent(5, 2)] })).rejects.toBeInstanceOf(AssertionFailure);
      // Entries that are not contiguous.
      await expect(s.save({ entries: [ent(4, 2), ent(6, 2)] })).rejects.toBeInstanceOf(AssertionFailure);
      // A term below the entry before it.
      await expect(s.save({ entries: [ent(4, 1)] })).rejects.toBeInstanceOf(AssertionFailure);
      // A commit beyond the log (truncating committed entries).
      await expect(s.save({ entries: [ent(2, 3)] })).rejects.toBeInstanceOf(AssertionFailure);
      // Compacting beyond the log, or with the wrong term.
      await expect(s.compact(snap(5, 2), 5 as LogIndex, 2 as Term)).rejects.toBeInstanceOf(AssertionFailure);
      await expect(s.compact(snap(2, 2), 2 as LogIndex, 1 as Term)).rejects.toBeInstanceOf(AssertionFailure);
      expectState(await s.load(), before);
    });

    it("reopen after close returns identical state after a mix of operations", async () => {
      let s = await open();
      await s.save({ hardState: hs(1, 1, 0), entries: range(1, 50, () => 1) });
      await s.save({ hardState: hs(2, 2, 30), entries: range(40, 60, () => 2) });
      await s.compact(snap(25, 1, [1, 2]), 20 as LogIndex, 1 as Term);
      await s.save({ hardState: hs(3, 3, 55), entries: range(56, 70, () => 3) });
      const before = await s.load();
      s = await restart(s);
      expectState(await s.load(), before);
      s = await restart(s);
      expectState(await s.load(), before);
      expect(before.entries[0].index).toBe(21);
      expect(before.entries[before.entries.length - 1].index).toBe(70);
      expect(before.snapshot.voters).toEqual([1, 2]);
    });

    it("stores large batches (10k entries) and truncates inside them", async () => {
      let s = await open();
      const n = 10_000;
      const big = range(1, n, (i) => 1 + Math.floor(i / 1000)).map((e) => ({ ...e, data: new Uint8Array(e.index % 300).fill(e.index & 0xff) }));
      await s.save({ hardState: hs(11, 1, 4000), entries: big });
      s = await restart(s);
      let got = await s.load();
      expect(got.entries.length).toBe(n);
      expect(plain(got.entries)).toEqual(plain(big));
      // Truncate in the middle, above the commit index (only uncommitted entries are replaced).
      await s.save({ hardState: hs(12, 1, 4000), entries: range(5001, 5010, () => 12) });
      s = await restart(s);
      got = await s.load();
      expect(got.entries.length).toBe(5010);
      expect(got.entries[5009]).toMatchObject({ index: 5010, term: 12 });
      expect(plain(got.entries.slice(0, 5000))).toEqual(plain(big.slice(0, 5000)));
      // Compacting most of it.
      await s.compact(snap(5005, 12), 4999 as LogIndex, big[4998].term);
      s = await restart(s);
      got = await s.load();
      expect(got.entries.map((e) => e.index)).toEqual(range(5000, 5010).map((e) => e.index));
      expect(got.compacted).toEqual({ index: 4999, term: big[4998].term });
    });

    it("keeps its own copies: mutating saved or loaded objects changes nothing stored", async () => {
      const s = await open();
      const e = ent(1, 1, "abc");
      const voters = [1, 2, 3] as NodeId[];
      await s.save({ installSnapshot: { index: 0 as LogIndex, term: 0 as Term, voters }, entries: [e] });
      e.data[0] = 0x7a;
      voters.push(9 as NodeId);
      const loaded = await s.load();
      expect(new TextDecoder().decode(loaded.entries[0].data)).toBe("abc");
      expect(loaded.snapshot.voters).toEqual([1, 2, 3]);
      loaded.entries[0].data[1] = 0x7a;
      (loaded.snapshot.voters as NodeId[]).push(7 as NodeId);
      const again = await s.load();
      expect(new TextDecoder().decode(again.entries[0].data)).toBe("abc");
      expect(again.snapshot.voters).toEqual([1, 2, 3]);
    });

    it("rejects calls after close with StoppedError", async () => {
      const s = await open();
      await s.save({ entries: [ent(1, 1)] });
      await s.close();
      await s.close(); // idempotent
      await expect(s.load()).rejects.toBeInstanceOf(StoppedError);
      await expect(s.save({ entries: [ent(2, 1)] })).rejects.toBeInstanceOf(StoppedError);
      await expect(s.compact(snap(1, 1), 1 as LogIndex, 1 as Term)).rejects.toBeInstanceOf(StoppedError);
      const r = await reopen();
      expect((await r.load()).entries.map((x) => x.index)).toEqual([1]);
    });
  });
}

// ---- the implementations ------------------------------------------------------------------

const tmpRoots: string[] = [];
afterAll(async () => {
  for (const d of tmpRoots) await rm(d, { recursive: true, force: true });
});

function rocksFactory(): LogStoreFactory {
  let dir: string | undefined;
  return {
    name: "RocksLogStore",
    async open() {
      dir = await mkdtemp(join(tmpdir(), "shardkv-logstore-"));
      tmpRoots.push(dir);
      return RocksLogStore.open(join(dir, "raft"));
    },
    async reopen() {
      if (!dir) throw new Error("reopen before open");
      return RocksLogStore.open(join(dir, "raft"));
    },
  };
}

function memoryFactory(): LogStoreFactory {
  let last: MemoryLogStore | undefined;
  return {
    name: "MemoryLogStore",
    async open() {
      last = new MemoryLogStore();
      return last;
    },
    async reopen() {
      if (!last) throw new Error("reopen before open");
      last = new MemoryLogStore(last.snapshotState());
      return last;
    },
  };
}

/** The production log store over the simulator's storage (a crash-free machine). */
function simFactory(): LogStoreFactory {
  let storage: SimKvStorage | undefined;
  return {
    name: "RocksLogStore over SimKvStorage",
    async open() {
      storage = new SimKvStorage(new SimRng(5));
      return RocksLogStore.open("/sim/raft", storage);
    },
    async reopen() {
      if (!storage) throw new Error("reopen before open");
      return RocksLogStore.open("/sim/raft", storage);
    },
  };
}

logStoreContract(rocksFactory());
logStoreContract(memoryFactory());
logStoreContract(simFactory());
