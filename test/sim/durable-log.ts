/**
 * The Raft log of one simulated node as its storage durably holds it: the records of the
 * production log store (raft/storage/rocks-log-store.ts, its key layout and StoredRecords)
 * decoded as each becomes durable (SimKvStorage.onDurable), so that the checkers see what
 * the storage holds, not what RaftNode meant to write. Every record must verify: the storage
 * keeps the bytes it was given (its faults are on the read path), so a record that does not
 * is a bug of the store or of the simulator.
 */
import { assert } from "../../common/assert";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import { decodeEntry, decodeHardState, decodeSnapshotMeta } from "../../raft/codec";
import type { Entry, HardState, SnapshotMeta } from "../../raft/core/types";
import { verifyRecord } from "../../common/record";
import { rocksKeys } from "../../raft/storage/rocks-log-store";
import type { WalRecord } from "./sim-kv";

const hardStateKey = rocksKeys.hardState.toString("latin1");
const snapshotKey = rocksKeys.snapshot.toString("latin1");
const compactedKey = rocksKeys.compacted.toString("latin1");
const entryPrefix = rocksKeys.entriesStart[0]!;

/** What one durable record did to the log, as the checkers take it. */
export interface DurableWrite {
  /** Entries the record stored, in index order. */
  readonly entries: readonly Entry[];
  /** The durable term just before entries[0] (undefined when unknown or no entries). */
  readonly prevTerm: Term | undefined;
  /** The durable hard state after the record. */
  readonly hardState: HardState;
}

export class DurableLog {
  hardState: HardState = { term: 0 as Term, vote: 0 as NodeId, commit: 0 as LogIndex };
  snapshot: SnapshotMeta = { index: 0 as LogIndex, term: 0 as Term, voters: [] };
  /** Entries at or below this point are compacted away. */
  compacted: { index: LogIndex; term: Term } = { index: 0 as LogIndex, term: 0 as Term };
  private readonly byIndex = new Map<number, Entry>();

  constructor(private readonly dir: string) {}

  /** The durable term at `i` (the compacted point's at it), undefined when not held. */
  term(i: number): Term | undefined {
    if (i === this.compacted.index) return this.compacted.term;
    return this.byIndex.get(i)?.term;
  }

  /** The log store keeps its entries contiguous from compacted + 1 (every record keeps it so). */
  lastIndex(): number {
    return this.compacted.index + this.byIndex.size;
  }

  /** The durable entries, in index order (the checker's full comparison). */
  entries(): Entry[] {
    return [...this.byIndex.values()].sort((a, b) => a.index - b.index);
  }

  /** Applies one record that became durable; returns what it wrote. */
  apply(rec: WalRecord): DurableWrite {
    const puts: Entry[] = [];
    const deletes: number[] = [];
    for (const [k, v] of rec) {
      const key = Buffer.from(k, "latin1");
      if (key[0] === entryPrefix) {
        if (v === undefined) deletes.push(Number(key.readBigUInt64BE(1)));
        else puts.push(decodeEntry(this.payload(key, v)));
      } else if (v !== undefined) {
        if (k === hardStateKey) this.hardState = decodeHardState(this.payload(key, v));
        else if (k === snapshotKey) this.snapshot = decodeSnapshotMeta(this.payload(key, v));
        else if (k === compactedKey) {
          const b = Buffer.from(this.payload(key, v));
          assert(b.length === 16, () => `durable log ${this.dir}: compacted point of ${b.length} bytes`);
          this.compacted = { index: Number(b.readBigUInt64BE(0)) as LogIndex, term: Number(b.readBigUInt64BE(8)) as Term };
        }
      }
    }
    for (const i of deletes) this.byIndex.delete(i);
    puts.sort((a, b) => a.index - b.index);
    const prevTerm = puts.length > 0 ? this.term(puts[0]!.index - 1) : undefined;
    for (const e of puts) this.byIndex.set(e.index, e);
    return { entries: puts, prevTerm, hardState: this.hardState };
  }

  private payload(key: Buffer, value: Buffer): Uint8Array {
    const r = verifyRecord(key, value);
    assert(r.ok, () => `durable log ${this.dir}: the stored record ${key.toString("hex")} does not verify: ${r.ok ? "" : r.reason}`);
    return r.payload;
  }
}
