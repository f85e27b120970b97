/**
 * The applies written behind (docs/design.md §2.4, "Applies written behind"): the writes of
 * applied batches that are not in the database yet, in memory, flushed to it in one batch
 * every `flushAfterMs`, when they exceed half of `flushBytesMax` (the apply waits only past
 * all of it), and whenever something must read
 * the database itself or find it durable (a snapshot, a pull, a scan, a restore, a close).
 *
 * Every read of the shard state machine goes through this layer (a KvReader): a point read
 * (`get`, `getMany`) answers from the newest of the unflushed writes, the writes being
 * flushed, and the database, in that order; an iterator first flushes everything and then
 * reads the database. So a read sees an apply as soon as the apply put its batch here, as it
 * saw the database once the apply's write completed.
 *
 * Why nothing is lost: an apply's batch holds the applied index with its effects, and each
 * flush writes the merged batches atomically with the newest applied index among them, so the
 * database always holds the state after some applied index, and a restart resumes there. The
 * entries applied after it are in the Raft log: they are committed (in a majority's synced
 * logs) before they are applied, and RaftNode compacts its log only below a snapshot, which
 * flushes this layer with a synced write first (RocksShardStateMachine.snapshot).
 *
 * Flushes run one at a time, in order (two RocksDB writes issued together may complete in any
 * order). A flush that fails leaves the database in an unknown state: every later flush rejects
 * with the same error and `onFailed` hears of it once (the state machine stops).
 */
import { assert } from "../common/assert";
import { buggify } from "../common/buggify";
import { asBuffer } from "../common/bytes";
import type { Cancel, Clock } from "../common/env";
import type { KvIteratorOptions, KvOp, KvReader, KvStore } from "../common/kv-store";

/**
 * Default: unflushed applies are written after at most this many milliseconds. 100 ms, as
 * etcd's backend commits its batch: at one client a group applies a put every 1.3-8 ms (the
 * quiet full run, 1 and 3 groups), so a flush then carries 12-75 applies (10 ms carried 1-8).
 * What it bounds is only how much a restart replays from the log (about this long of
 * applies, or up to twice flushBytesMax: a write in flight and a full layer behind it).
 */
export const applyFlushMsDefault = 100;
/** Default: unflushed applies are written once they hold this many bytes (keys, values, 64 per key). */
export const applyFlushBytesMaxDefault = 1024 * 1024;

/** Bookkeeping bytes counted per unflushed key, beside its key and value. */
const keyOverheadBytes = 64;

export interface WriteBehindOptions {
  /** The database (a function: a snapshot install swaps it). */
  readonly db: () => KvStore;
  readonly clock: Clock;
  /** Flush this long after the first unflushed write (0: the caller flushes every apply; Infinity: only when asked or full). */
  readonly flushAfterMs: number;
  /** Flush when the unflushed writes hold more than this many bytes. */
  readonly flushBytesMax: number;
  /** A flush failed (once): the database is in an unknown state. */
  readonly onFailed: (e: Error) => void;
}

/** Unflushed writes: key (latin1) -> key and value (undefined: deleted). */
type Writes = Map<string, { readonly key: Buffer; readonly value: Buffer | undefined }>;

export class WriteBehind implements KvReader {
  /** The newest writes, not yet handed to the database. */
  private pending: Writes = new Map();
  private pendingBytes = 0;
  /** The writes of the flush in flight (reads see them until it completed). */
  private flushing: Writes | undefined;
  /** Settles when the last flush queued ends. */
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private cancelTimer: Cancel | undefined;
  /** Flushes written (for tests and the benchmarks' counts). */
  flushes = 0;

  constructor(private readonly opts: WriteBehindOptions) {
    assert(opts.flushAfterMs >= 0, () => `flushAfterMs ${opts.flushAfterMs} must not be negative`);
    assert(opts.flushBytesMax > 0, () => `flushBytesMax ${opts.flushBytesMax} must be positive`);
  }

  /** Whether every apply flushes before it resolves (write-through; flushAfterMs 0, or BUGGIFY). */
  get throughEachApply(): boolean {
    return this.opts.flushAfterMs === 0 || buggify("shard.flush.each-apply");
  }

  /** Whether the unflushed writes reached the bound: the apply waits for a flush. */
  get full(): boolean {
    return this.pendingBytes > this.opts.flushBytesMax;
  }

  /** The number of unflushed keys (written or being written). */
  get size(): number {
    return this.pending.size + (this.flushing?.size ?? 0);
  }

  /**
   * Takes an applied batch's writes (puts and deletes, the applied index among them); reads
   * see them at once. Starts the flush timer unless one runs.
   */
  add(ops: readonly KvOp[]): void {
    for (const op of ops) {
      assert(op.type !== "delRange", "write-behind: a range deletion in an apply batch");
      this.put(op.key, op.type === "put" ? op.value : undefined);
    }
    // Past half the bound with no write in flight: written now, and the apply does not wait
    // for it. A fast stream of applies (a fill of large values) is then written while it
    // runs, as the timer wrote it when it fired every 10 ms, instead of filling the layer and
    // making an apply wait for the write at the bound (`full`) every time. (BUGGIFY: at any
    // size, since no simulated load reaches half a MiB in 100 ms.) A failure reaches onFailed.
    if ((this.pendingBytes > this.opts.flushBytesMax / 2 || buggify("shard.flush.early")) && this.flushing === undefined) this.flush().catch(() => undefined);
    else this.schedule();
  }

  /** One write (undefined: a delete). */
  put(key: Buffer, value: Uint8Array | undefined): void {
    const str = key.toString("latin1");
    const old = this.pending.get(str);
    if (old !== undefined) this.pendingBytes -= sizeOf(old.key, old.value);
    const v = value === undefined ? undefined : asBuffer(value);
    this.pending.set(str, { key, value: v });
    this.pendingBytes += sizeOf(key, v);
  }

  /** The unflushed writes, oldest first (a key may appear twice: the newer is later). For the simulator's checkers. */
  *unflushed(): Generator<[Buffer, Buffer | undefined]> {
    for (const m of [this.flushing, this.pending]) if (m) for (const e of m.values()) yield [e.key, e.value];
  }

  /** The layer's value of `key`: a write's value, null for a deleted key, undefined when the layer does not hold it. */
  private lookup(key: Buffer): Buffer | null | undefined {
    if (this.pending.size === 0 && this.flushing === undefined) return undefined;
    const str = key.toString("latin1");
    const e = this.pending.get(str) ?? this.flushing?.get(str);
    if (e === undefined) return undefined;
    return e.value ?? null;
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    const v = this.lookup(key);
    if (v !== undefined) return Promise.resolve(v ?? undefined);
    return this.opts.db().get(key);
  }

  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    const out: (Buffer | undefined)[] = new Array(keys.length);
    const missing: number[] = [];
    keys.forEach((k, i) => {
      const v = this.lookup(k);
      if (v === undefined) missing.push(i);
      else out[i] = v ?? undefined;
    });
    if (missing.length === 0) return Promise.resolve(out);
    return this.opts.db().getMany(missing.map((i) => keys[i]!)).then((vs) => {
      missing.forEach((i, j) => (out[i] = vs[j]));
      return out;
    });
  }

  /**
   * Flushes, then iterates the database: a point-in-time view as of the first step, which
   * holds every write applied before it (and any applied while the flush ran).
   */
  iterator(options: KvIteratorOptions): AsyncIterable<[Buffer, Buffer]> {
    const self = this;
    return (async function* () {
      await self.flush();
      yield* self.opts.db().iterator(options);
    })();
  }

  /**
   * Writes every unflushed write to the database in one batch (`sync`: an fsync too, which
   * makes every earlier write durable with it), after the flush in flight. Resolves once it
   * is written; with nothing to write, once the flush in flight (if any) ended.
   */
  flush(sync = false): Promise<void> {
    this.cancel();
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending.size === 0 && this.flushing === undefined) return Promise.resolve();
    const p = this.tail.then(() => this.writeOut(sync));
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Stops the timer (close, install): nothing flushes on its own afterwards until the next add. */
  cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** Drops every unflushed write (a snapshot install replaced the database they were for). */
  discard(): void {
    assert(this.flushing === undefined, "write-behind: discard during a flush");
    this.cancel();
    this.pending = new Map();
    this.pendingBytes = 0;
  }

  private async writeOut(sync: boolean): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    this.flushing = batch;
    const ops: KvOp[] = [];
    for (const { key, value } of batch.values()) ops.push(value === undefined ? { type: "del", key } : { type: "put", key, value });
    try {
      await this.opts.db().write(ops, { sync });
    } catch (e) {
      // Reads keep seeing the batch (the state machine refuses them anyway from now on).
      this.failure = e instanceof Error ? e : new Error(String(e));
      this.opts.onFailed(this.failure);
      throw this.failure;
    }
    this.flushes++;
    this.flushing = undefined;
  }

  private schedule(): void {
    if (this.cancelTimer !== undefined || this.pending.size === 0) return;
    const ms = this.opts.flushAfterMs;
    if (ms === 0 || ms === Infinity) return;
    this.cancelTimer = this.opts.clock.after(ms, () => {
      this.cancelTimer = undefined;
      // BUGGIFY: a flush may come any time later (writes wait for the next timer, or for a
      // snapshot, a pull, a scan, the bound, or close).
      if (buggify("shard.flush.late")) {
        this.schedule();
        return;
      }
      // A failure reached onFailed; nobody awaits this flush.
      this.flush().catch(() => undefined);
    });
  }
}

const sizeOf = (key: Buffer, value: Buffer | undefined): number => key.length + (value?.length ?? 0) + keyOverheadBytes;
