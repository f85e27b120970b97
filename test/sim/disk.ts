/**
 * The simulated disk of one node. It outlives the node's incarnations: what it holds is what
 * survived every crash so far.
 *
 * - `storage`: the node's SimKvStorage (the storage seam, common/kv-store.ts), laid out as a
 *   daemon's data directory: the Raft log is the production RocksLogStore in `<dataDir>/raft`,
 *   a production state machine (controller, shard) lives in `<dataDir>/state`. Synced writes
 *   complete after a seeded fsync latency, in order; a crash is a kill -9 or, one time in two,
 *   a power loss (sim-kv.ts says what each keeps).
 * - `log`: the Raft log as the storage durably holds it (durable-log.ts), fed to the checkers
 *   record by record as records become durable.
 * - The durable state of `SimKvStateMachine` (the Raft runs' list of applied values): each
 *   write of it completes after a seeded latency and only then becomes durable; a crash
 *   discards every write not yet completed (the promise of such a write never settles: the
 *   process that waited for it is gone, as with kill -9).
 * - Crash points: the node can crash right after the k-th next durable write (a synced write
 *   of the storage or a state machine write), before the process hears of it.
 */
import { assert } from "../../common/assert";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Entry, HardState, SnapshotMeta } from "../../raft/core/types";
import { copySnapshotMeta } from "../../raft/core/conf-change";
import { bytesSnapshotSink, bytesSnapshotSource, type SnapshotSink, type SnapshotSource, type StateMachine } from "../../raft/state-machine";
import type { SaveBatch } from "../../raft/storage/log-store";
import { RocksLogStore } from "../../raft/storage/rocks-log-store";
import type { SimClock } from "./clock";
import { DurableLog } from "./durable-log";
import type { SimRng } from "./rng";
import { SimKvStorage } from "./sim-kv";

export interface DiskLatency {
  /** fsync latency, uniform integer milliseconds in [minMs, maxMs]. */
  minMs: number;
  maxMs: number;
}

/** What the checkers see of durable writes (called when a write becomes durable). */
export interface DiskObserver {
  /** A log record became durable; `prevTerm` is the durable term just before batch.entries[0]. */
  logSaved(node: NodeId, batch: SaveBatch, prevTerm: Term | undefined, hardState: HardState): void;
  /** The state machine's list and applied index became durable. */
  smSaved(node: NodeId, applied: LogIndex, values: readonly string[], appended: readonly { value: string; index: LogIndex }[], restored: boolean): void;
}

/** Read faults of the log store's database (per value read; see SimKvFaults). */
export interface LogReadFaults {
  readonly corruptionRate: number;
  readonly flipRate: number;
}

/**
 * A seed's log store read faults for one group, drawn from `rng` (a stream of their own, so
 * the seed's other parameters stay what they were): with probability `p` when the group is
 * `eligible` (it can lose a node: 3 or more), each value read fails the storage's checksum
 * with probability 0-0.2 % and comes back with a bit flipped with probability 0-0.2 %.
 */
export function drawLogReadFaults(rng: SimRng, eligible: boolean, p: number): LogReadFaults | undefined {
  return eligible && rng.bool(p) ? { corruptionRate: rng.between(0, 0.002), flipRate: rng.between(0, 0.002) } : undefined;
}

export class SimDisk {
  /** Incremented by every crash; a write from an older epoch never completes. */
  epoch = 0;
  /** The node's storage: its databases, across incarnations. */
  readonly storage: SimKvStorage;
  /** The node's data directory (a daemon's `--data-dir`). */
  readonly dataDir: string;
  /** The Raft log's database: `<dataDir>/raft`, as the daemons open it. */
  readonly logDir: string;
  /** The Raft log as the storage durably holds it. */
  readonly log: DurableLog;
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
  /** When the last queued state machine write completes (writes complete in order). */
  private lastDoneMs = 0;
  writes = 0;
  /** State machine writes a crash lost (the storage counts its own: storage.stats.lostSyncs). */
  lostWrites = 0;
  snapshotsTaken = 0;
  private pending = 0;
  private readonly powerRng: SimRng;

  constructor(
    readonly node: NodeId,
    private readonly clock: SimClock,
    private readonly rng: SimRng,
    public latency: DiskLatency,
    readonly observer?: DiskObserver,
    private readonly trace?: (line: string) => void,
  ) {
    this.dataDir = `/sim/n${node}`;
    this.logDir = `${this.dataDir}/raft`;
    this.log = new DurableLog(this.logDir);
    this.storage = new SimKvStorage(rng.fork("storage"), { syncLatencyMs: { min: latency.minMs, max: latency.maxMs } }, clock);
    this.powerRng = rng.fork("power");
    this.storage.onDurable = (dir, rec) => {
      if (dir !== this.logDir) return;
      const w = this.log.apply(rec);
      this.observer?.logSaved(node, { entries: w.entries }, w.prevTerm, w.hardState);
    };
    this.storage.afterSync = () => this.completed("sync");
  }

  /** The durable hard state of the log. */
  get hardState(): HardState {
    return this.log.hardState;
  }

  /** Turns read faults on (or off, with zero rates) for the log's database. */
  setLogReadFaults(f: LogReadFaults): void {
    const faults = this.storage.faults;
    faults.readCorruptionRate = f.corruptionRate;
    faults.readFlipRate = f.flipRate;
  }

  /**
   * Read faults apply to the log's database only (state machine values carry no checksum),
   * and only while `allowed()` says so.
   */
  logReadFaultsOnly(allowed: () => boolean): void {
    Object.assign(this.storage.faults, { readFaultsIn: (dir: string) => dir === this.logDir && allowed() });
  }

  /** The log store of one incarnation (over `storage`, that incarnation's view of the storage). */
  openLog(storage = this.storage.incarnation()): Promise<RocksLogStore> {
    return RocksLogStore.open(this.logDir, storage);
  }

  /**
   * The process dies: the state machine loses every write not yet completed, the storage
   * crashes (kill -9, or one time in two a power loss).
   */
  crash(): void {
    this.epoch++;
    const powerLoss = this.powerRng.bool();
    this.trace?.(`n${this.node} storage ${powerLoss ? "power loss" : "kill -9"}`);
    this.storage.crash({ powerLoss });
    this.lostWrites += this.pending;
    this.pending = 0;
  }

  /** A durable write completed; true when the crash point is reached (the crash happened). */
  private completed(what: string): boolean {
    this.writes++;
    this.trace?.(`n${this.node} disk ${what} done`);
    if (this.crashAfterWrites === undefined || --this.crashAfterWrites > 0) return false;
    // The write is durable, but the process dies before it learns so.
    this.crashAfterWrites = undefined;
    this.onCrashPoint?.();
    return true;
  }

  /**
   * Queues a state machine write that runs `fn` (the mutation of durable state) once it
   * completes; resolves with its result then. A write of an older epoch (crash in between)
   * never settles.
   */
  write<T>(epoch: number, what: string, fn: () => T): Promise<T> {
    if (epoch !== this.epoch) return new Promise<T>(() => {});
    const lat = this.rng.range(this.latency.minMs, this.latency.maxMs);
    const done = Math.max(this.clock.nowMs() + lat, this.lastDoneMs);
    this.lastDoneMs = done;
    this.pending++;
    return new Promise<T>((resolve, reject) => {
      this.clock.after(done - this.clock.nowMs(), () => {
        if (epoch !== this.epoch) return;
        this.pending--;
        let v: T;
        try {
          v = fn();
        } catch (e) {
          reject(e as Error);
          return;
        }
        if (!this.completed(what)) resolve(v);
      });
    });
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
    return this.log.term(r.index) === r.term ? undefined : r;
  }

  /** Durable entries. */
  entries(): readonly Entry[] {
    return this.log.entries();
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
