/**
 * The durable log of one Raft replica. Implementations: rocks-log-store.ts (over the storage
 * seam, common/kv-store.ts: RocksDB in the daemons, test/sim/sim-kv.ts in simulation; synced
 * writes, CRC-32C per record) and memory-log-store.ts (unit tests).
 * test/unit/log-store-contract.test.ts runs one suite against them.
 */
import { assert } from "../../common/assert";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Entry, HardState, SnapshotMeta } from "../core/types";

/** Everything a replica needs to restart. */
export interface LogState {
  readonly hardState: HardState;
  /** The latest snapshot recorded (index 0 = none). */
  readonly snapshot: SnapshotMeta;
  /** Entries at or below this point were compacted away; `entries` start right after it. */
  readonly compacted: { readonly index: LogIndex; readonly term: Term };
  /** Contiguous entries from compacted.index + 1. */
  readonly entries: readonly Entry[];
  /**
   * A snapshot whose install was started and not recorded (see SaveBatch.pendingSnapshot):
   * on restart, RaftNode completes the install if the state machine has it, else drops it.
   */
  readonly pendingSnapshot?: SnapshotMeta;
  /**
   * The group's voters as recorded when this replica was bootstrapped (SaveBatch.voters),
   * sorted; undefined when none were recorded (an empty store, or one written by an earlier
   * version, which kept voters only in snapshot metadata).
   */
  readonly voters?: readonly NodeId[];
  /** The addresses recorded with `voters` (the bootstrap --peers; empty when none were given). */
  readonly bootstrapAddresses?: Readonly<Record<number, string>>;
  /** Recorded with empty `voters`: the replica joined an existing group (no bootstrap configuration). */
  readonly joined?: boolean;
}

/** One synced write, as a Ready asks for it. */
export interface SaveBatch {
  readonly hardState?: HardState;
  /** Appended; any stored entry with index >= entries[0].index is replaced or dropped. */
  readonly entries: readonly Entry[];
  /**
   * An installed snapshot (a follower caught up by InstallSnapshot): recorded as the latest
   * snapshot, and the whole log before `entries` is discarded (compacted = snapshot point).
   * Applied before `entries` in the same batch. Clears any pending snapshot marker.
   */
  readonly installSnapshot?: SnapshotMeta;
  /**
   * Records (meta) or clears (null) the marker of a snapshot install in progress. RaftNode
   * records it before the state machine's restore finishes and clears it with the
   * installSnapshot save after: a crash between the two leaves the marker, so the restart
   * knows the snapshot's term and can complete the install (docs/design.md#24-applied-state-lives-in-rocksdb-not-in-a-map).
   */
  readonly pendingSnapshot?: SnapshotMeta | null;
  /**
   * Records the group's voter set (replacing any recorded one). RaftNode writes it when it
   * bootstraps an empty store (or adopts one from an earlier version), before anything else.
   */
  readonly voters?: readonly NodeId[];
  /** Recorded with `voters` (replacing what was recorded with them). */
  readonly bootstrapAddresses?: Readonly<Record<number, string>>;
  readonly joined?: boolean;
  /**
   * false: the batch changes only the commit index of the hard state (no entries, term and
   * vote unchanged, no snapshot): it is written without waiting for fsync (etcd's MustSync).
   * A power loss may lose it; the restart then takes commit = max(stored commit, the state
   * machine's applied index), and the leader tells the rest again. Default true.
   */
  readonly sync?: boolean;
}

export interface LogStore {
  /** Reads the whole state, verifying every record; throws CorruptionError naming file and index. */
  load(): Promise<LogState>;
  /** Writes the batch atomically and durably (fsync) before resolving. */
  save(batch: SaveBatch): Promise<void>;
  /**
   * Records a local snapshot (taken by this replica's state machine) and drops entries at or
   * below `compactIndex` (compactIndex <= snapshot.index, and the term of the entry there is
   * `compactTerm`). Durable before resolving.
   */
  compact(snapshot: SnapshotMeta, compactIndex: LogIndex, compactTerm: Term): Promise<void>;
  close(): Promise<void>;
}

export const emptyLogState = (): LogState => ({
  hardState: { term: 0 as Term, vote: 0 as never, commit: 0 as LogIndex },
  snapshot: { index: 0 as LogIndex, term: 0 as Term, voters: [] },
  compacted: { index: 0 as LogIndex, term: 0 as Term },
  entries: [],
});

/**
 * Asserts that `entries` are contiguous (each index one more than the previous) with
 * non-decreasing terms (Raft §5.3: a log's terms never decrease), starting after `prev`.
 * The shared precondition of every store's `save`.
 */
export function assertAppendable(entries: readonly Entry[], prev: { readonly index: LogIndex; readonly term: Term }): void {
  let last = prev;
  for (const e of entries) {
    assert(e.index === last.index + 1, () => `log store: entry ${e.index} does not follow ${last.index}`);
    assert(e.term >= last.term, () => `log store: entry ${e.index} has term ${e.term} below previous term ${last.term}`);
    last = e;
  }
}
