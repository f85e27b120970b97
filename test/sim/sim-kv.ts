/**
 * The simulator's implementation of the storage seam (common/kv-store.ts): the databases of
 * one simulated machine, in memory, with the faults of a real disk under RocksDB, driven by
 * the run's SimRng (and SimClock, for fsync latency). The production log store and state
 * machines run over it unchanged (they take a KvStorage).
 *
 * What it models, and why that is what RocksDB does:
 * - Every write batch is applied at once to what reads see (RocksDB's memtable) and appended
 *   as one record to the database's write-ahead log. A synced write resolves once the log is
 *   flushed up to its record (after a seeded latency when a clock is given); flushing a record
 *   flushes every record before it (the WAL is one file, written in order).
 * - `crash({ powerLoss: false })` (kill -9): what was written survives, synced or not (RocksDB
 *   has handed its WAL to the OS). `crash({ powerLoss: true })`: the synced records survive,
 *   and of the unsynced ones a seeded prefix (the OS wrote back some pages, in file order).
 * - A torn write. The first record lost by a power loss may have been half written: its tail
 *   fails the record's CRC, and RocksDB's recovery (kPointInTimeRecovery, the default) stops
 *   replay there, so the torn batch is dropped whole, never applied in part. A write batch is
 *   atomic in RocksDB's WAL; a batch partly applied after a crash is not something RocksDB
 *   does, so it is not modelled. `stats.tornRecords` counts the tears that recovery dropped.
 * - Bit flips on the way back, two kinds: `readCorruptionRate`, a stored block failing
 *   RocksDB's own checksum (reads verify them by default), which rejects the read with
 *   CorruptionError; and `readFlipRate`, a flip past RocksDB's checks (memory, a bad path
 *   between), which returns a wrong value that only the record's own checksum can catch (the
 *   log store's records carry CRC-32C; the state machines' values do not, see
 *   test/unit/sim-kv.test.ts).
 * - Directory renames and removals are durable when they resolve (RocksKv fsyncs the parent).
 */
import { CorruptionError, StoppedError } from "../../common/errors";
import type { KvIteratorOptions, KvOp, KvStorage, KvStore } from "../../common/kv-store";
import type { SimClock } from "./clock";
import type { SimRng } from "./rng";

/** The disk faults of a SimKvStorage (all default off). */
export interface SimKvFaults {
  /** Per value read: probability it fails the storage's own checksum (CorruptionError). */
  readCorruptionRate?: number;
  /** Per value read: probability one bit of it is flipped past the storage's checks. */
  readFlipRate?: number;
  /** The databases the read faults apply to (default: every one). */
  readFaultsIn?: (dir: string) => boolean;
  /** fsync latency of a synced write, uniform integer ms in [min, max] (needs a clock). */
  readonly syncLatencyMs?: { readonly min: number; readonly max: number };
  /**
   * Sabotage (checker tests only): a synced write resolves at once and is flushed only after
   * the latency, as with a volatile write cache that claims durability; a power loss before
   * that may lose it.
   */
  lyingFsync?: boolean;
}

/** What the faults did, for a run's summary. */
export interface SimKvStats {
  crashes: number;
  /** Unsynced batches a power loss dropped (torn ones included). */
  lostRecords: number;
  /** Of those, the ones that were half written (dropped whole by recovery). */
  tornRecords: number;
  /** Synced writes whose fsync a crash interrupted (their callers never heard back). */
  lostSyncs: number;
  corruptReads: number;
  flippedReads: number;
}

/**
 * One WAL record: a batch resolved to puts (value) and deletes (undefined), keyed by latin1
 * strings of the key bytes.
 */
export type WalRecord = ReadonlyMap<string, Buffer | undefined>;

/** A database directory's contents. Keys are latin1 strings of the key bytes (code unit order = byte order). */
class DbState {
  constructor(
    /** The directory the database is in (renames move it). */
    public dir: string,
  ) {}

  /** What survives any crash. */
  durable = new Map<string, Buffer>();
  /** Records not yet flushed, in write order. */
  wal: WalRecord[] = [];
  /** What reads see: durable with `wal` applied. */
  visible = new Map<string, Buffer>();
  handle: SimKv | undefined;
  /** When the last fsync issued completes (fsyncs complete in order). */
  lastSyncMs = 0;
}

function applyRecord(m: Map<string, Buffer>, r: WalRecord): void {
  for (const [k, v] of r) {
    if (v === undefined) m.delete(k);
    else m.set(k, v);
  }
}

const str = (b: Buffer): string => b.toString("latin1");
const buf = (s: string): Buffer => Buffer.from(s, "latin1");

export class SimKvStorage implements KvStorage {
  private readonly dbs = new Map<string, DbState>();
  /** Incremented by every crash: an fsync issued before it never completes. */
  private epoch = 0;
  readonly stats: SimKvStats = { crashes: 0, lostRecords: 0, tornRecords: 0, lostSyncs: 0, corruptReads: 0, flippedReads: 0 };
  /** fsyncs issued and not yet complete. */
  private syncsInFlight = 0;
  /** Flipped values returned, and unsynced records a power loss dropped, per database directory. */
  private readonly flipsByDir = new Map<string, number>();
  private readonly lostByDir = new Map<string, number>();
  /**
   * Called with every record as it becomes durable (flushed by an fsync, or kept by a crash),
   * in write order per database: what a checker of durable state reads.
   */
  onDurable: ((dir: string, rec: WalRecord) => void) | undefined;
  /**
   * Called when a synced write's fsync completes, before its caller hears of it; returning
   * true crashes the machine right there (the callback crashes it: the write is durable, its
   * caller never learns so).
   */
  afterSync: (() => boolean) | undefined;

  constructor(
    private readonly rng: SimRng,
    /** Mutable: a test may turn faults on once the data is written. */
    readonly faults: SimKvFaults = {},
    private readonly clock?: SimClock,
  ) {}

  async open(dir: string, options: { readonly readOnly?: boolean } = {}): Promise<KvStore> {
    let s = this.dbs.get(dir);
    if (s === undefined) {
      if (options.readOnly) throw new Error(`IO error: ${dir}/CURRENT: No such file or directory`);
      this.dbs.set(dir, (s = new DbState(dir)));
    }
    if (s.handle !== undefined) throw new Error(`IO error: lock ${dir}/LOCK: already held by process`);
    s.handle = new SimKv(dir, s, this);
    return s.handle;
  }

  async exists(dir: string): Promise<boolean> {
    return this.dbs.has(dir);
  }

  /**
   * This storage as one incarnation of its process sees it: once the next crash has happened,
   * every call rejects with StoppedError. A killed process does nothing more, but in the
   * simulator the promise chains of a dead incarnation still run: without this, an open that
   * a crash interrupted could complete afterwards and hold the database's lock against the
   * restarted incarnation.
   */
  incarnation(): KvStorage {
    const epoch = this.epoch;
    const alive = (what: string): void => {
      if (this.epoch !== epoch) throw new StoppedError(`storage of a crashed incarnation (${what})`);
    };
    return {
      open: async (dir, options) => (alive(`open ${dir}`), this.open(dir, options)),
      exists: async (dir) => (alive(`exists ${dir}`), this.exists(dir)),
      remove: async (dir) => (alive(`remove ${dir}`), this.remove(dir)),
      rename: async (from, to) => (alive(`rename ${from}`), this.rename(from, to)),
    };
  }

  async remove(dir: string): Promise<void> {
    const s = this.dbs.get(dir);
    if (s?.handle !== undefined) throw new Error(`remove ${dir}: the database is open`);
    this.dbs.delete(dir);
  }

  async rename(from: string, to: string): Promise<void> {
    const s = this.dbs.get(from);
    if (s === undefined) throw new Error(`rename ${from}: no such directory`);
    if (s.handle !== undefined) throw new Error(`rename ${from}: the database is open`);
    if (this.dbs.has(to)) throw new Error(`rename ${from} -> ${to}: target exists`);
    this.dbs.delete(from);
    s.dir = to;
    this.dbs.set(to, s);
  }

  /**
   * The machine stops: every open database is gone (calls on it reject with StoppedError;
   * fsyncs in flight never complete). With `powerLoss`, each database keeps its synced
   * records and a seeded prefix of its unsynced ones (see the header).
   */
  crash(options: { readonly powerLoss: boolean }): void {
    this.epoch++;
    this.stats.crashes++;
    this.stats.lostSyncs += this.syncsInFlight;
    this.syncsInFlight = 0;
    for (const s of this.dbs.values()) {
      s.handle?.kill();
      s.handle = undefined;
      let keep = s.wal.length;
      if (options.powerLoss && s.wal.length > 0) {
        keep = this.rng.int(s.wal.length + 1);
        const lost = s.wal.length - keep;
        this.stats.lostRecords += lost;
        this.lostByDir.set(s.dir, this.lost(s.dir) + lost);
        if (lost > 0 && this.rng.bool()) this.stats.tornRecords++;
      }
      this.flush(s, keep);
      s.wal = [];
      s.visible = new Map(s.durable);
    }
  }

  /** Makes the first `n` unflushed records of `s` durable, in order. */
  private flush(s: DbState, n: number): void {
    for (const r of s.wal.splice(0, n)) {
      applyRecord(s.durable, r);
      this.onDurable?.(s.dir, r);
    }
  }

  /** Unsynced records of the database in `dir` that power losses dropped. */
  lost(dir: string): number {
    return this.lostByDir.get(dir) ?? 0;
  }

  /** Flipped values returned so far by reads of the database in `dir`. */
  flips(dir: string): number {
    return this.flipsByDir.get(dir) ?? 0;
  }

  /**
   * What reads of the database in `dir` would see now (latin1 key strings, no read faults),
   * undefined when absent: for the simulator's checkers, which compare what a state machine
   * stored with what it answered. Do not mutate.
   */
  peek(dir: string): ReadonlyMap<string, Buffer> | undefined {
    return this.dbs.get(dir)?.visible;
  }

  /**
   * @internal Resolves once `rec` of `s` is flushed (at once without a latency). fsyncs of
   * one database complete in the order issued, each after a seeded latency.
   */
  fsync(s: DbState, rec: WalRecord): Promise<void> {
    const flushThrough = (): void => {
      const i = s.wal.indexOf(rec);
      if (i >= 0) this.flush(s, i + 1);
    };
    const lat = this.faults.syncLatencyMs;
    const clock = this.clock;
    if (lat === undefined || clock === undefined) {
      flushThrough();
      return Promise.resolve();
    }
    const done = Math.max(clock.nowMs() + this.rng.range(lat.min, lat.max), s.lastSyncMs);
    s.lastSyncMs = done;
    const epoch = this.epoch;
    if (this.faults.lyingFsync) {
      clock.after(done - clock.nowMs(), () => {
        if (epoch === this.epoch) flushThrough();
      });
      return Promise.resolve();
    }
    this.syncsInFlight++;
    return new Promise((resolve) => {
      clock.after(done - clock.nowMs(), () => {
        if (epoch !== this.epoch) return; // the machine crashed: nobody is waiting
        this.syncsInFlight--;
        flushThrough();
        if (this.afterSync?.() === true) return;
        resolve();
      });
    });
  }

  /** @internal A value on its way back to a reader, through the read faults. */
  deliver(dir: string, key: string, v: Buffer | undefined): Buffer | undefined {
    if (v === undefined) return undefined;
    const f = this.faults;
    if (f.readFaultsIn !== undefined && !f.readFaultsIn(dir)) return v;
    if (f.readCorruptionRate && this.rng.bool(f.readCorruptionRate)) {
      this.stats.corruptReads++;
      throw new CorruptionError(dir, `Corruption: block checksum mismatch reading key ${buf(key).toString("hex")} (simulated)`);
    }
    if (f.readFlipRate && v.length > 0 && this.rng.bool(f.readFlipRate)) {
      this.stats.flippedReads++;
      this.flipsByDir.set(dir, this.flips(dir) + 1);
      const bit = this.rng.int(v.length * 8);
      const copy = Buffer.from(v);
      copy[bit >> 3] ^= 1 << (bit & 7);
      return copy;
    }
    return v;
  }
}

/** One open database of a SimKvStorage. */
class SimKv implements KvStore {
  private closed = false;

  constructor(private readonly dir: string, private readonly s: DbState, private readonly storage: SimKvStorage) {}

  /** The machine crashed: this handle is dead. */
  kill(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new StoppedError(`simulated database ${this.dir}`);
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.check();
    const k = str(key);
    return this.storage.deliver(this.dir, k, this.s.visible.get(k));
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    this.check();
    return keys.map((key) => {
      const k = str(key);
      return this.storage.deliver(this.dir, k, this.s.visible.get(k));
    });
  }

  async write(ops: readonly KvOp[], options: { readonly sync: boolean }): Promise<void> {
    this.check();
    const rec = new Map<string, Buffer | undefined>();
    const visible = this.s.visible;
    for (const op of ops) {
      if (op.type === "put") {
        const k = str(op.key);
        const v = Buffer.from(op.value); // the store's own copy, as RocksDB keeps its own bytes
        visible.set(k, v);
        rec.set(k, v);
      } else if (op.type === "del") {
        const k = str(op.key);
        visible.delete(k);
        rec.set(k, undefined);
      } else {
        const gte = str(op.gte);
        const lt = str(op.lt);
        for (const k of [...visible.keys()]) {
          if (k >= gte && k < lt) {
            visible.delete(k);
            rec.set(k, undefined);
          }
        }
      }
    }
    this.s.wal.push(rec);
    if (options.sync) await this.storage.fsync(this.s, rec);
  }

  iterator(options: KvIteratorOptions): AsyncIterable<[Buffer, Buffer]> {
    this.check();
    const gte = options.gte === undefined ? undefined : str(options.gte);
    const lt = options.lt === undefined ? undefined : str(options.lt);
    // The point-in-time view: the keys in range and their values now.
    let pairs = [...this.s.visible].filter(([k]) => (gte === undefined || k >= gte) && (lt === undefined || k < lt));
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (options.reverse) pairs.reverse();
    if (options.limit !== undefined && options.limit >= 0) pairs = pairs.slice(0, options.limit);
    const { dir, storage } = this;
    return {
      async *[Symbol.asyncIterator]() {
        for (const [k, v] of pairs) yield [buf(k), storage.deliver(dir, k, v)!];
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.s.handle === this) this.s.handle = undefined;
  }
}

/** `base` whose databases' writes go through `write` (given the database's own write). */
export function interceptWrites(base: KvStorage, write: (ops: readonly KvOp[], options: { readonly sync: boolean }, own: KvStore["write"]) => Promise<void>): KvStorage {
  return {
    exists: (d) => base.exists(d),
    remove: (d) => base.remove(d),
    rename: (from, to) => base.rename(from, to),
    async open(d, o) {
      const db = await base.open(d, o);
      return {
        get: (k) => db.get(k),
        getMany: (ks) => db.getMany(ks),
        iterator: (io) => db.iterator(io),
        close: () => db.close(),
        write: (ops, wo) => write(ops, wo, (x, y) => db.write(x, y)),
      };
    },
  };
}

/**
 * `base` with writes that fail while `failing.on` is set (as a full disk or a failed fsync
 * does): for tests of what a store does after a failed write.
 */
export function failingWrites(base: KvStorage): { readonly storage: KvStorage; readonly failing: { on: boolean } } {
  const failing = { on: false };
  const storage = interceptWrites(base, (ops, wo, own) => (failing.on ? Promise.reject(new Error("injected: No space left on device")) : own(ops, wo)));
  return { storage, failing };
}
