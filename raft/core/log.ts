/**
 * The Raft log as the core sees it: every entry after the compaction point, in memory
 * (etcd-io/raft log.go + log_unstable.go folded together: the core never reads storage).
 *
 * Invariants: offset.index <= snapshot point; stable <= lastIndex;
 *             applied <= committed <= lastIndex; entries[i].index == offset.index + 1 + i.
 */
import { assert } from "../../common/assert";
import type { LogIndex, Term } from "../../common/ids";
import type { Entry, SnapshotMeta } from "./types";

export function entryBytes(e: Entry): number {
  return e.data.length + 24;
}

export class RaftLog {
  /** The entry just before entries[0] (compacted, or the snapshot point). */
  private offsetIndex: LogIndex;
  private offsetTerm: Term;
  private entries: Entry[];
  /** The latest snapshot this replica has (index 0 = none). */
  snapshot: SnapshotMeta;
  committed: LogIndex;
  applied: LogIndex;
  /** Entries up to here are durable in the log store. */
  stable: LogIndex;

  constructor(init: {
    compacted: { index: LogIndex; term: Term };
    snapshot: SnapshotMeta;
    entries: readonly Entry[];
    committed: LogIndex;
    applied: LogIndex;
  }) {
    this.offsetIndex = init.compacted.index;
    this.offsetTerm = init.compacted.term;
    this.entries = [...init.entries];
    this.snapshot = init.snapshot;
    this.stable = this.lastIndex();
    for (let i = 0; i < this.entries.length; i++) {
      assert(this.entries[i]!.index === this.offsetIndex + 1 + i, () => `log gap at ${this.offsetIndex + 1 + i}`);
    }
    const applied = Math.max(init.applied, this.offsetIndex) as LogIndex;
    assert(init.committed <= this.lastIndex(), `committed ${init.committed} > last index ${this.lastIndex()}`);
    this.committed = Math.max(init.committed, applied) as LogIndex;
    this.applied = applied;
    assert(this.committed <= this.lastIndex(), `applied ${applied} > last index ${this.lastIndex()}`);
  }

  firstIndex(): LogIndex {
    return (this.offsetIndex + 1) as LogIndex;
  }

  lastIndex(): LogIndex {
    return (this.offsetIndex + this.entries.length) as LogIndex;
  }

  lastTerm(): Term {
    return this.term(this.lastIndex())!;
  }

  /** Term of the entry at `i`; undefined when compacted away or beyond the end. */
  term(i: LogIndex): Term | undefined {
    if (i === this.offsetIndex) return this.offsetTerm;
    if (i < this.offsetIndex || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offsetIndex - 1]!.term;
  }

  matchTerm(i: LogIndex, t: Term): boolean {
    return this.term(i) === t;
  }

  /** Raft §5.4.1: is a log ending at (index, term) at least as up-to-date as ours? */
  isUpToDate(index: LogIndex, t: Term): boolean {
    const lt = this.lastTerm();
    return t > lt || (t === lt && index >= this.lastIndex());
  }

  /**
   * Follower side of AppendEntries: if our entry at `prevIndex` has `prevTerm`, append
   * `ents` (truncating at the first conflict) and commit up to min(commit, last new index).
   * Returns the last index known to match the leader, or null on mismatch.
   */
  maybeAppend(prevIndex: LogIndex, prevTerm: Term, commit: LogIndex, ents: readonly Entry[]): LogIndex | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = (prevIndex + ents.length) as LogIndex;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(ci > this.committed, () => `entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(ci - ents[0]!.index));
    }
    this.commitTo(Math.min(commit, lastNew) as LogIndex);
    return lastNew;
  }

  /** First index in `ents` whose term differs from ours or that we lack; 0 if none. */
  private findConflict(ents: readonly Entry[]): LogIndex {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0 as LogIndex;
  }

  /**
   * The largest index <= `index` whose term is <= `t` (conflict hint for fast backtracking,
   * etcd-io/raft findConflictByTerm). Returns the compaction point if nothing better is known.
   */
  findConflictByTerm(index: LogIndex, t: Term): LogIndex {
    let i = Math.min(index, this.lastIndex()) as LogIndex;
    for (; i > this.offsetIndex; i--) {
      if (this.term(i)! <= t) return i;
    }
    return this.offsetIndex;
  }

  /** Appends `ents`, replacing any entries at or after ents[0].index. */
  append(ents: readonly Entry[]): LogIndex {
    if (ents.length === 0) return this.lastIndex();
    const first = ents[0]!.index;
    assert(first > this.committed, () => `append at ${first} would overwrite committed ${this.committed}`);
    assert(first >= this.firstIndex() && first <= this.lastIndex() + 1, () => `append at ${first} outside [${this.firstIndex()}, ${this.lastIndex() + 1}]`);
    this.entries.length = first - this.offsetIndex - 1;
    for (const e of ents) this.entries.push(e);
    if (this.stable >= first) this.stable = (first - 1) as LogIndex;
    return this.lastIndex();
  }

  /** Entries in [lo, hi] (inclusive), at most `bytesMax` bytes but at least one entry. */
  slice(lo: LogIndex, hi: LogIndex, bytesMax: number): Entry[] {
    if (lo > hi) return [];
    assert(lo > this.offsetIndex && hi <= this.lastIndex(), () => `slice [${lo}, ${hi}] outside log (${this.offsetIndex}, ${this.lastIndex()}]`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= hi; i++) {
      const e = this.entries[i - this.offsetIndex - 1]!;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(e);
    }
    return out;
  }

  commitTo(i: LogIndex): void {
    if (i > this.committed) {
      assert(i <= this.lastIndex(), () => `commit ${i} beyond last index ${this.lastIndex()}`);
      this.committed = i;
    }
  }

  appliedTo(i: LogIndex): void {
    assert(i <= this.committed && i >= this.applied, () => `applied ${i} outside [${this.applied}, ${this.committed}]`);
    this.applied = i;
  }

  stableTo(i: LogIndex, t: Term): void {
    if (this.term(i) === t && i > this.stable) this.stable = i;
  }

  unstableEntries(): Entry[] {
    if (this.stable >= this.lastIndex()) return [];
    return this.entries.slice(this.stable - this.offsetIndex);
  }

  /** Committed entries not yet applied, at most `bytesMax` bytes (at least one). */
  nextCommitted(bytesMax: number): Entry[] {
    if (this.committed <= this.applied) return [];
    return this.slice((this.applied + 1) as LogIndex, this.committed, bytesMax);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(s: SnapshotMeta): void {
    assert(s.index > this.committed, () => `restore to ${s.index} at or below committed ${this.committed}`);
    this.entries = [];
    this.offsetIndex = s.index;
    this.offsetTerm = s.term;
    this.snapshot = s;
    this.committed = s.index;
    this.applied = s.index;
    this.stable = s.index;
  }

  /**
   * Records a snapshot taken locally at `s.index` (<= applied) and drops entries at or below
   * `compactIndex` (<= s.index).
   */
  compact(s: SnapshotMeta, compactIndex: LogIndex): void {
    assert(s.index <= this.applied, () => `snapshot ${s.index} beyond applied ${this.applied}`);
    assert(this.term(s.index) === s.term || s.index === this.snapshot.index, () => `snapshot term ${s.term} does not match log at ${s.index}`);
    assert(compactIndex <= s.index, () => `compact ${compactIndex} beyond snapshot ${s.index}`);
    if (s.index > this.snapshot.index) this.snapshot = s;
    if (compactIndex <= this.offsetIndex) return;
    const t = this.term(compactIndex)!;
    this.entries = this.entries.slice(compactIndex - this.offsetIndex);
    this.offsetIndex = compactIndex;
    this.offsetTerm = t;
  }

  /** Number of entries held in memory (for compaction policy and status). */
  size(): number {
    return this.entries.length;
  }
}
