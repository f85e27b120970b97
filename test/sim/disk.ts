/**
 * The simulated disk of one node. It outlives the node's incarnations: what it holds is what
 * survived every crash so far. Each write completes after a seeded virtual fsync latency and
 * only then becomes durable; a crash discards every write not yet completed (the promise of
 * such a write never settles: the process that waited for it is gone, as with kill -9).
 *
 * - `SimLogStore`: the LogStore of one incarnation, over the disk's durable log (kept in a
 *   MemoryLogStore, whose asserts also validate what RaftNode asks of a log store).
 * - `SimKvStateMachine`: a state machine that appends each applied normal entry's text to a
 *   list; the list and the applied index become durable together, after a virtual delay.
 *   Snapshots are the serialized list, served in small chunks (multi-chunk InstallSnapshot).
 */
import { assert } from "../../common/assert";
import { StoppedError } from "../../common/errors";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Entry, HardState, SnapshotMeta } from "../../raft/core/types";
import { copySnapshotMeta } from "../../raft/core/conf-change";
import { bytesSnapshotSink, bytesSnapshotSource, type SnapshotSink, type SnapshotSource, type StateMachine } from "../../raft/state-machine";
import type { LogState, LogStore, SaveBatch } from "../../raft/storage/log-store";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import type { SimClock } from "./clock";
import { copyEntry } from "./network";
import type { SimRng } from "./rng";

export interface DiskLatency {
  /** fsync latency, uniform integer milliseconds in [minMs, maxMs]. */
  minMs: number;
  maxMs: number;
}

/** What the checkers see of durable writes (called when a write becomes durable). */
export interface DiskObserver {
  /** A log save became durable; `prevTerm` is the durable term just before batch.entries[0]. */
  logSaved(node: NodeId, batch: SaveBatch, prevTerm: Term | undefined, hardState: HardState): void;
  /** The state machine's list and applied index became durable. */
  smSaved(node: NodeId, applied: LogIndex, values: readonly string[], appended: readonly { value: string; index: LogIndex }[], restored: boolean): void;
}

/** Term of each durable log entry, mirrored cheaply for the checkers. */
class TermMirror {
  offsetIndex = 0;
  offsetTerm = 0 as Term;
  terms: Term[] = [];

  term(i: number): Term | undefined {
    if (i === this.offsetIndex) return this.offsetTerm;
    if (i < this.offsetIndex || i > this.offsetIndex + this.terms.length) return undefined;
    return this.terms[i - this.offsetIndex - 1];
  }

  lastIndex(): number {
    return this.offsetIndex + this.terms.length;
  }
}

export class SimDisk {
  /** Incremented by every crash; a write from an older epoch never completes. */
  epoch = 0;
  private readonly log = new MemoryLogStore();
  readonly mirror = new TermMirror();
  hardState: HardState = { term: 0 as Term, vote: 0 as NodeId, commit: 0 as LogIndex };
  snapshot: SnapshotMeta = { index: 0 as LogIndex, term: 0 as Term, voters: [] };
  /** The state machine's durable state: the applied index and the list it reflects. */
  smApplied = 0 as LogIndex;
  smValues: string[] = [];
  /** The snapshot the state machine last restored (durable with it), for the restart repair. */
  smRestored: SnapshotMeta | undefined;
  /**
   * Crash the node right after this many more writes complete (before the process sees the
   * last one complete): lands crashes between two writes of one step, e.g. between a snapshot
   * restore and the log save that records it. `onCrashPoint` does the crash.
   */
  crashAfterWrites: number | undefined;
  onCrashPoint: (() => void) | undefined;
  /** When the last queued write completes (writes complete in order). */
  private lastDoneMs = 0;
  writes = 0;
  lostWrites = 0;
  snapshotsTaken = 0;
  private pending = 0;

  constructor(
    readonly node: NodeId,
    private readonly clock: SimClock,
    private readonly rng: SimRng,
    public latency: DiskLatency,
    readonly observer?: DiskObserver,
    private readonly trace?: (line: string) => void,
  ) {}

  /** Called by every crash (the simulator crashes the node's other storage with it). */
  onCrash: (() => void) | undefined;

  /** Loses every write not yet completed. */
  crash(): void {
    this.epoch++;
    this.onCrash?.();
    this.lostWrites += this.pending;
    this.pending = 0;
    this.lostUnsynced += this.pendingUnsynced;
    this.pendingUnsynced = 0;
  }

  /** A deep copy of the durable log state (what a restarting node loads). */
  logState(): LogState {
    return this.log.snapshotState();
  }

  /**
   * Queues a write that runs `fn` (the mutation of durable state) once it completes; resolves
   * with its result then. A write of an older epoch (crash in between) never settles.
   */
  write<T>(epoch: number, what: string, fn: () => T | Promise<T>, lies = false): Promise<T> {
    if (epoch !== this.epoch) return new Promise<T>(() => {});
    if (this.unsyncedFailure) return Promise.reject(this.unsyncedFailure);
    if (lies) return this.lyingWrite(epoch, what, fn);
    const lat = this.rng.range(this.latency.minMs, this.latency.maxMs);
    const done = Math.max(this.clock.nowMs() + lat, this.lastDoneMs);
    this.lastDoneMs = done;
    this.pending++;
    return new Promise<T>((resolve, reject) => {
      this.clock.after(done - this.clock.nowMs(), () => {
        if (epoch !== this.epoch) return;
        this.pending--;
        this.writes++;
        this.trace?.(`n${this.node} disk ${what} done`);
        let v: T | Promise<T>;
        try {
          v = fn();
        } catch (e) {
          reject(e as Error);
          return;
        }
        if (this.crashAfterWrites !== undefined && --this.crashAfterWrites <= 0) {
          // The write is durable, but the process dies before it learns so. (A write that
          // failed its checks still reports the failure: that is a bug whatever happens next.)
          this.crashAfterWrites = undefined;
          if (v instanceof Promise) v.catch(reject);
          this.onCrashPoint?.();
          return;
        }
        resolve(v);
      });
    });
  }

  /**
   * A write the caller does not wait for (no fsync): resolves at once; the mutation becomes
   * durable in order with the other writes, after the disk's latency, unless a crash comes
   * first (then it is lost, like an unflushed page cache).
   */
  writeUnsynced(epoch: number, what: string, fn: () => void): Promise<void> {
    if (this.unsyncedFailure) return Promise.reject(this.unsyncedFailure);
    this.pendingUnsynced++;
    const e = this.epoch;
    // A mutation that fails its checks (a caller bug) fails the node's next write.
    void this.write(epoch, what, () => {
      if (e === this.epoch) this.pendingUnsynced--;
      fn();
    }).catch((err: Error) => (this.unsyncedFailure = err));
    return Promise.resolve();
  }

  private pendingUnsynced = 0;
  /** Writes made without waiting for fsync that a crash lost. */
  lostUnsynced = 0;

  private unsyncedFailure: Error | undefined;

  /**
   * A disk whose fsync lies (a volatile write cache that claims durability): the caller hears
   * "done" at once, the write becomes durable only after the latency, and a crash before that
   * loses it. Only for showing that the checkers catch what this breaks.
   */
  private lyingWrite<T>(epoch: number, what: string, fn: () => T | Promise<T>): Promise<T> {
    let settle!: (v: T | Promise<T>) => void;
    const p = new Promise<T>((resolve) => { settle = resolve; });
    const lat = this.rng.range(this.latency.minMs, this.latency.maxMs);
    const done = Math.max(this.clock.nowMs() + lat, this.lastDoneMs);
    this.lastDoneMs = done;
    this.pending++;
    this.clock.after(done - this.clock.nowMs(), () => {
      if (epoch !== this.epoch) return;
      this.pending--;
      this.writes++;
      this.trace?.(`n${this.node} disk ${what} done (late)`);
      try {
        const v = fn();
        if (v instanceof Promise) v.catch(() => {});
      } catch {
        // The caller was told it succeeded long ago.
      }
    });
    settle(undefined as T);
    return p;
  }

  /** The log store's fsync lies (see lyingWrite). */
  lyingFsync = false;

  // ------------------------------------------------------------------ durable log mutations

  /**
   * @internal Applies a save batch to the durable log (at completion). MemoryLogStore.save
   * mutates synchronously when its checks pass; when they fail (a RaftNode bug) the returned
   * promise rejects and the node dies with that assertion.
   */
  applySave(batch: SaveBatch): Promise<void> {
    const saved = this.log.save(batch);
    saved.catch(() => {}); // the caller sees the rejection; this only covers a throw below
    const m = this.mirror;
    if (batch.installSnapshot) {
      const s = batch.installSnapshot;
      m.offsetIndex = s.index;
      m.offsetTerm = s.term;
      m.terms = [];
      this.snapshot = s;
    }
    let prevTerm: Term | undefined;
    if (batch.entries.length > 0) {
      const first = batch.entries[0]!.index;
      if (first > m.offsetIndex && first <= m.lastIndex() + 1) {
        prevTerm = m.term(first - 1);
        m.terms.length = first - m.offsetIndex - 1;
        for (const e of batch.entries) m.terms.push(e.term);
      }
    }
    if (batch.hardState) this.hardState = batch.hardState;
    this.observer?.logSaved(this.node, batch, prevTerm, this.hardState);
    return saved;
  }

  /** @internal Applies a compaction to the durable log (at completion). */
  applyCompact(snapshot: SnapshotMeta, compactIndex: LogIndex, compactTerm: Term): Promise<void> {
    const compacted = this.log.compact(snapshot, compactIndex, compactTerm);
    compacted.catch(() => {});
    const m = this.mirror;
    const drop = compactIndex - m.offsetIndex;
    if (drop > 0) {
      m.terms = m.terms.slice(drop);
      m.offsetIndex = compactIndex;
      m.offsetTerm = compactTerm;
    }
    if (snapshot.index >= this.snapshot.index) this.snapshot = snapshot;
    return compacted;
  }

  /**
   * Whether the state machine finished restoring a snapshot that the log store never recorded
   * (a crash between RaftNode's `sink.finish()` and its `storage.save({ installSnapshot })`):
   * the state machine is at the snapshot's index while the log lacks that entry or has another
   * term there. RaftNode.start completes such an install from the log store's pending-snapshot
   * marker; the cluster counts these restarts (stats.interruptedInstalls).
   */
  restoreNotRecorded(): SnapshotMeta | undefined {
    const r = this.smRestored;
    if (!r || r.index !== this.smApplied) return undefined;
    return this.mirror.term(r.index) === r.term ? undefined : r;
  }

  /** Durable entries (deep copies). */
  entries(): readonly Entry[] {
    return this.log.snapshotState().entries;
  }
}

/**
 * The restore sink of a state machine that opens asynchronously (`sink`, once open): once the
 * restore finished, records it on `disk` (for the restart repair, restoreNotRecorded) and runs `after`.
 */
export function recordedRestoreSink(disk: SimDisk, meta: SnapshotMeta, sink: Promise<SnapshotSink>, after: () => void): SnapshotSink {
  return {
    write: async (chunk, data) => (await sink).write(chunk, data),
    abort: async () => (await sink).abort(),
    finish: async () => {
      await (await sink).finish();
      disk.smApplied = meta.index;
      disk.smRestored = copySnapshotMeta(meta);
      after();
    },
  };
}

// ------------------------------------------------------------------ log store

/** The LogStore of one incarnation of a node, over its SimDisk. */
export class SimLogStore implements LogStore {
  private readonly epoch: number;
  private closed = false;

  constructor(private readonly disk: SimDisk) {
    this.epoch = disk.epoch;
  }

  async load(): Promise<LogState> {
    this.assertOpen();
    return this.disk.logState();
  }

  save(batch: SaveBatch): Promise<void> {
    this.assertOpen();
    const copy: SaveBatch = {
      hardState: batch.hardState ? { ...batch.hardState } : undefined,
      entries: batch.entries.map(copyEntry),
      installSnapshot: batch.installSnapshot ? copySnapshotMeta(batch.installSnapshot) : undefined,
      pendingSnapshot: batch.pendingSnapshot ? copySnapshotMeta(batch.pendingSnapshot) : batch.pendingSnapshot,
      voters: batch.voters ? [...batch.voters] : undefined,
      bootstrapAddresses: batch.bootstrapAddresses ? { ...batch.bootstrapAddresses } : undefined,
      joined: batch.joined,
    };
    if (batch.sync === false) return this.disk.writeUnsynced(this.epoch, "save (no fsync)", () => this.disk.applySave(copy));
    return this.disk.write(this.epoch, "save", () => this.disk.applySave(copy), this.disk.lyingFsync);
  }

  compact(snapshot: SnapshotMeta, compactIndex: LogIndex, compactTerm: Term): Promise<void> {
    this.assertOpen();
    const s = copySnapshotMeta(snapshot);
    return this.disk.write(this.epoch, "compact", () => this.disk.applyCompact(s, compactIndex, compactTerm), this.disk.lyingFsync);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoppedError("sim log store");
  }
}

// ------------------------------------------------------------------ state machine

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Serialized form of the list at an applied index (the snapshot payload). */
interface SnapshotPayload {
  index: number;
  values: string[];
}

/**
 * The simulator's KV state machine: the list of applied values. `apply` resolves (with each
 * entry's 1-based position in the list, or 0 for a noop) once the new list and applied index
 * are durable together. In memory and durable are the same object: nothing is visible (to
 * reads, snapshots or proposers) before it is durable, and a crash loses only writes still
 * being synced.
 */
export class SimKvStateMachine implements StateMachine<number> {
  private readonly epoch: number;

  constructor(private readonly disk: SimDisk, private readonly chunkBytes: number) {
    this.epoch = disk.epoch;
  }

  appliedIndex(): LogIndex {
    return this.disk.smApplied;
  }

  /** The applied list (live view: do not mutate). */
  values(): readonly string[] {
    return this.disk.smValues;
  }

  apply(entries: readonly Entry[]): Promise<number[]> {
    const texts = entries.map((e) => (e.type === "normal" ? dec.decode(e.data) : null));
    const first = entries[0]!.index;
    const last = entries[entries.length - 1]!.index;
    return this.disk.write(this.epoch, "apply", () => {
      const d = this.disk;
      assert(first === d.smApplied + 1, () => `sm ${d.node}: applying ${first}..${last} at applied ${d.smApplied}`);
      const results: number[] = [];
      const appended: { value: string; index: LogIndex }[] = [];
      for (let i = 0; i < entries.length; i++) {
        assert(entries[i]!.index === first + i, () => `sm ${d.node}: entries not contiguous at ${entries[i]!.index}`);
        const t = texts[i];
        if (t === null || t === undefined) {
          results.push(0);
          continue;
        }
        d.smValues.push(t);
        results.push(d.smValues.length);
        appended.push({ value: t, index: entries[i]!.index });
      }
      d.smApplied = last;
      this.observerSaved(appended, false);
      return results;
    });
  }

  async snapshot(): Promise<SnapshotSource> {
    const d = this.disk;
    d.snapshotsTaken++;
    const payload: SnapshotPayload = { index: d.smApplied, values: d.smValues };
    return bytesSnapshotSource(d.smApplied, enc.encode(JSON.stringify(payload)), this.chunkBytes);
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    return bytesSnapshotSink(async (bytes) => {
      const payload = JSON.parse(dec.decode(bytes)) as SnapshotPayload;
      assert(payload.index === meta.index, () => `sm ${this.disk.node}: snapshot data is at ${payload.index}, meta says ${meta.index}`);
      await this.disk.write(this.epoch, "restore", () => {
        this.disk.smValues = payload.values;
        this.disk.smApplied = meta.index;
        this.disk.smRestored = copySnapshotMeta(meta);
        this.observerSaved([], true);
      });
    });
  }

  private observerSaved(appended: { value: string; index: LogIndex }[], restored: boolean): void {
    const d = this.disk;
    d.observer?.smSaved(d.node, d.smApplied, d.smValues, appended, restored);
  }
}
