/**
 * An in-memory LogStore with the same semantics as RocksLogStore, for unit tests (the
 * simulator runs RocksLogStore itself, over test/sim/sim-kv.ts). Everything a call stores is
 * "durable" once the call returns; `snapshotState()` is that durable state, and
 * `new MemoryLogStore(old.snapshotState())` is the replica restarting from it.
 *
 * The store keeps its own deep copies: a caller mutating an entry (or its data) after `save`,
 * or mutating what `load` returned, changes nothing stored.
 */
import { assert } from "../../common/assert";
import { StoppedError } from "../../common/errors";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Entry, HardState, SnapshotMeta } from "../core/types";
import { copySnapshotMeta } from "../core/conf-change";
import { assertAppendable, emptyLogState } from "./log-store";
import type { LogState, LogStore, SaveBatch } from "./log-store";

type Point = { readonly index: LogIndex; readonly term: Term };

const copyEntry = (e: Entry): Entry => ({ index: e.index, term: e.term, type: e.type, data: new Uint8Array(e.data) });
const copyHardState = (h: HardState): HardState => ({ term: h.term, vote: h.vote, commit: h.commit });
const copySnapshot = copySnapshotMeta;


export class MemoryLogStore implements LogStore {
  private hardState: HardState;
  private snapshot: SnapshotMeta;
  private compacted: Point;
  private pending: SnapshotMeta | undefined;
  private voters: readonly NodeId[] | undefined;
  private bootstrapAddresses: Readonly<Record<number, string>> | undefined;
  private joined = false;
  /** Entries compacted.index + 1 .. lastIndex, owned by the store (deep copies). */
  private entries: Entry[];
  private closed = false;

  /** A store over `initial` (default: empty), e.g. what `snapshotState()` of a crashed store returned. */
  constructor(initial: LogState = emptyLogState()) {
    assert(initial.compacted.index <= initial.snapshot.index, "log store: compacted beyond snapshot");
    assertAppendable(initial.entries, initial.compacted);
    this.hardState = copyHardState(initial.hardState);
    this.snapshot = copySnapshot(initial.snapshot);
    this.compacted = { index: initial.compacted.index, term: initial.compacted.term };
    this.entries = initial.entries.map(copyEntry);
    this.pending = initial.pendingSnapshot ? copySnapshot(initial.pendingSnapshot) : undefined;
    this.voters = initial.voters ? [...initial.voters] : undefined;
    this.bootstrapAddresses = initial.bootstrapAddresses ? { ...initial.bootstrapAddresses } : undefined;
    this.joined = initial.joined === true;
    this.assertCommitInLog(this.hardState, this.lastIndex(), this.snapshot);
  }

  /** A deep copy of the durable state; callable after close (the simulator's crashed disk). */
  snapshotState(): LogState {
    return {
      hardState: copyHardState(this.hardState),
      snapshot: copySnapshot(this.snapshot),
      compacted: { ...this.compacted },
      entries: this.entries.map(copyEntry),
      ...(this.pending ? { pendingSnapshot: copySnapshot(this.pending) } : {}),
      ...(this.voters ? { voters: [...this.voters] } : {}),
      ...(this.bootstrapAddresses ? { bootstrapAddresses: { ...this.bootstrapAddresses } } : {}),
      ...(this.joined ? { joined: true } : {}),
    };
  }

  /** A deep copy of the state; memory cannot rot, so there is nothing to verify. */
  async load(): Promise<LogState> {
    this.assertOpen();
    return this.snapshotState();
  }

  /**
   * Applies `installSnapshot` (discarding the whole log), then `entries` (dropping every
   * stored entry at or after entries[0].index), then `hardState`. Asserts (caller bugs):
   * entries contiguous with non-decreasing terms, entries[0] in (compacted, last + 1], a
   * snapshot not older than the recorded one, and the final commit within the log.
   */
  async save(batch: SaveBatch): Promise<void> {
    this.assertOpen();
    let snapshot = this.snapshot;
    let compacted = this.compacted;
    let entries: Entry[] = this.entries;
    let pending = this.pending;
    if (batch.pendingSnapshot !== undefined) pending = batch.pendingSnapshot === null ? undefined : copySnapshot(batch.pendingSnapshot);
    if (batch.installSnapshot) {
      pending = undefined;
      const s = batch.installSnapshot;
      assert(s.index >= snapshot.index, () => `log store: installing snapshot ${s.index} older than snapshot ${snapshot.index}`);
      snapshot = copySnapshot(s);
      compacted = { index: s.index, term: s.term };
      entries = [];
    }
    if (batch.entries.length > 0) {
      const first = batch.entries[0].index;
      const last = compacted.index + entries.length;
      assert(first > compacted.index && first <= last + 1, () =>
        `log store: entries from ${first} do not fit a log holding ${compacted.index + 1}..${last}`);
      const kept = entries.slice(0, first - compacted.index - 1);
      assertAppendable(batch.entries, kept.length > 0 ? kept[kept.length - 1] : compacted);
      entries = kept.concat(batch.entries.map(copyEntry));
    }
    const hardState = batch.hardState ? copyHardState(batch.hardState) : this.hardState;
    this.assertCommitInLog(hardState, compacted.index + entries.length, snapshot);
    this.snapshot = snapshot;
    this.compacted = compacted;
    this.entries = entries;
    this.hardState = hardState;
    this.pending = pending;
    if (batch.voters) {
      this.voters = [...batch.voters].sort((a, b) => a - b);
      this.bootstrapAddresses = batch.bootstrapAddresses ? { ...batch.bootstrapAddresses } : undefined;
      this.joined = batch.joined === true;
    }
  }

  /**
   * Records `snapshot` (unless an equal or newer one is recorded) and drops entries at or
   * below `compactIndex` (unless already compacted that far): a call that a concurrent
   * InstallSnapshot overtook changes nothing. Asserts compactIndex <= snapshot.index,
   * compactIndex <= last index, and that the entry at compactIndex has term `compactTerm`.
   */
  async compact(snapshot: SnapshotMeta, compactIndex: LogIndex, compactTerm: Term): Promise<void> {
    this.assertOpen();
    assert(compactIndex <= snapshot.index, () => `log store: compact index ${compactIndex} beyond snapshot ${snapshot.index}`);
    const drop = compactIndex - this.compacted.index;
    if (drop > 0) {
      assert(compactIndex <= this.lastIndex(), () => `log store: compact index ${compactIndex} beyond last index ${this.lastIndex()}`);
      const at = this.entries[drop - 1];
      assert(at.term === compactTerm, () => `log store: entry ${compactIndex} has term ${at.term}, compact said ${compactTerm}`);
      this.entries = this.entries.slice(drop);
      this.compacted = { index: compactIndex, term: compactTerm };
    }
    if (snapshot.index >= this.snapshot.index) this.snapshot = copySnapshot(snapshot);
  }

  /** Further calls (but `snapshotState`) throw StoppedError. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private lastIndex(): LogIndex {
    return (this.compacted.index + this.entries.length) as LogIndex;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoppedError("memory log store");
  }

  private assertCommitInLog(h: HardState, last: number, snapshot: SnapshotMeta): void {
    assert(h.commit <= Math.max(last, snapshot.index), () =>
      `log store: commit ${h.commit} beyond last index ${last} and snapshot ${snapshot.index}`);
  }
}
