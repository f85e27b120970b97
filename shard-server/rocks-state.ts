/**
 * A shard group's applied state (docs/design.md §2 "Applied state lives in RocksDB", §5): the
 * key/value data of every shard it holds, the per-shard metadata and duplicate tables, the
 * current config and the applied index, in the replica's own database (the Raft log lives in
 * another), over the storage seam (common/kv-store.ts; RocksDB in the daemons). RaftNode
 * drives it through the StateMachine contract; the pure ShardGroupCore decides, this class
 * orders the I/O around it and answers reads. The jobs live beside it:
 *   state-keys.ts       the key layout and record encodings
 *   state-load.ts       creating, checking and loading a database
 *   apply-batch.ts      one apply: the reads of its writes and its one batch
 *   write-behind.ts     the applied batches not yet written to the database, which every read consults
 *   pull-stream.ts      reading a frozen shard for its new owner
 *   state-snapshot.ts   snapshot streaming and restore (staging database and swap)
 *
 * apply() builds the effects of all its entries and the new applied index as ONE batch and
 * hands it to the write-behind layer (write-behind.ts), which every read consults first and
 * which writes the batches of several applies to the database in one (unsynced) write every
 * few milliseconds, and before anything reads the database itself or needs it durable: a
 * snapshot (synced), a pull, a scan, a shard clear, a snapshot install, close. The Raft log
 * (synced) holds every applied entry until a snapshot made the state durable; a restart
 * resumes at the applied index the database holds and RaftNode hands the rest again
 * (docs/design.md §2.4). Only the metadata, the config and the duplicate tables are in memory
 * (in the core); data is read (through the layer) on demand.
 *
 * Applied state and the core. The counters, the LengthCache and the applied index change only
 * once their batch is in the layer (ApplyBatch stages them): "applied" is what reads see, in
 * the layer or the database. The core cannot wait: it decides each command as the batch is
 * built (later commands of the batch depend on earlier ones), so it runs ahead of the applied
 * state while an apply reads. That is safe because:
 *   - readers never read the core directly: `get` checks ownership against `appliedServing`
 *     (updated with the applied index), and `pullChunks` waits for the apply in flight before
 *     it reads the core;
 *   - a failed write (an apply's flush, or one on the timer) leaves the core and the layer
 *     ahead of a database in an unknown state, so the state machine stops: the failing call
 *     rejects with the write's error and every later call with StoppedError; RaftNode stops
 *     too (its next apply fails; the daemon stops at once through `onWriteFailed`), and the
 *     restart reloads core and counters from the database, where they agree
 *     (test/unit/shard-rocks-state.test.ts fails a write);
 *   - a value that fails its checksum on any read (common/checked-kv.ts) stops the state
 *     machine the same way, and `onCorruption` stops the replica: an apply rejects with the
 *     CorruptionError (RaftNode dies with it), a read, a pull or a status with StoppedError
 *     (the caller tries another replica), and never with a value
 *     (test/unit/state-checksums.test.ts flips a bit in each kind of value);
 *   - a crash loses the core with the process; the same reload follows.
 */
import { assert } from "../common/assert";
import { buggify, buggifyAmount } from "../common/buggify";
import { CorruptionError, InvalidArgumentError, StoppedError, WrongGroupError } from "../common/errors";
import { type CheckedKvStore, openCheckedKv, StateStop } from "../common/checked-kv";
import type { Clock } from "../common/env";
import type { ConfigNum, GroupId, LogIndex, ShardId } from "../common/ids";
import type { KvStorage } from "../common/kv-store";
import { snapshotChunkBytesMax } from "../common/limits";
import { validateShardCount } from "../controller/config";
import { shardOf } from "../controller/shard-of";
import type { Entry, SnapshotMeta } from "../raft/core/types";
import type { SnapshotSink, SnapshotSource, StateMachine } from "../raft/state-machine";
import { rocksStorage } from "../raft/storage/rocks-kv";
import { realClock } from "../common/real-env";
import { type ApplyResult, ShardApplier } from "./apply";
import { ApplyBatch, LengthCache } from "./apply-batch";
import { shardIdLimit } from "./codec";
import { lengthCacheKeysDefault } from "./defaults";
import { ShardNotReadyError } from "./errors";
import { readShardChunks } from "./pull-stream";
import { describeShardKey, groupRecord, type ShardCount, shardKeys, u64 } from "./state-keys";
import { countShard, createOrCheck, load, type Loaded } from "./state-load";
import { type ShardGroupCore, type ShardStatusState, statusState } from "./state-machine";
import { recoverSwap, restoreSink, snapshotSource } from "./state-snapshot";
import type { ShardChunkIn } from "./types";
import { applyFlushBytesMaxDefault, applyFlushMsDefault, WriteBehind } from "./write-behind";

/** Bytes per snapshot chunk sent to a lagging follower (1 MiB; a larger record goes alone). */
export const shardSnapshotChunkBytes = snapshotChunkBytesMax;

export type { ApplyResult } from "./apply";

export { ShardNotReadyError } from "./errors";

export { shardKeys } from "./state-keys";

export interface ShardStats {
  readonly shard: ShardId;
  /** See statusState (shard-server/state-machine.ts). */
  readonly state: ShardStatusState;
  readonly configNum: ConfigNum;
  readonly keys: number;
  /** Key plus value bytes of the shard's data. */
  readonly bytes: number;
  readonly dedupClients: number;
}

export interface ShardStateOptions {
  readonly gid: GroupId;
  readonly shardCount: number;
  /** Inactivity (log time) after which a client's duplicate records are forgotten. */
  readonly dedupTtlMs: number;
  /** Snapshot chunk size (default shardSnapshotChunkBytes). */
  readonly snapshotChunkBytes?: number;
  /** Data keys whose value length the apply path remembers (default lengthCacheKeysDefault). */
  readonly lengthCacheKeys?: number;
  /** Where the database lives (default: RocksDB on the local file system). */
  readonly storage?: KvStorage;
  /**
   * Called once when a stored value fails its checksum (whatever read found it): the replica
   * must stop (the daemon exits with the error); the state machine already refuses every call.
   */
  readonly onCorruption?: (e: CorruptionError) => void;
  /**
   * Called once when a write of applied batches that no caller awaits (the flush timer's)
   * failed: the replica must stop (the daemon exits; a restart replays the log from the
   * applied index the database holds). The state machine already refuses every call.
   */
  readonly onWriteFailed?: (e: Error) => void;
  /** The flush timer's clock (default: real time). */
  readonly clock?: Clock;
  /**
   * Applied batches are written to the database at most this long after the first of them
   * (default applyFlushMsDefault; 0: each apply writes its batch and resolves once it is
   * written; Infinity: only when the layer is full or something needs the database).
   */
  readonly applyFlushMs?: number;
  /** ...and once they hold more than this many bytes (default applyFlushBytesMaxDefault). */
  readonly applyFlushBytesMax?: number;
}

export class RocksShardStateMachine implements StateMachine<ApplyResult> {
  private applied: LogIndex;
  private c: ShardGroupCore;
  /** Per shard, as of the applied state. */
  private counts: readonly ShardCount[];
  /** The shared apply path (decode, dispatch to the core, expire duplicates). */
  private readonly applier: ShardApplier;
  /** Per shard: whether it is served as of the applied state (what reads see), and a counter of its flips. */
  private readonly appliedServing: boolean[];
  private readonly servingEpoch: Uint32Array;
  private appliedConfigNum: ConfigNum;
  private applying = false;
  private closed = false;
  /** Set when a write failed (the core may be ahead of the database) or a read found a corrupt value. */
  private readonly stop: StateStop;
  private readonly lengths: LengthCache;
  private readonly storage: KvStorage;
  /** The applied batches not yet in the database; every read goes through it. */
  private readonly layer: WriteBehind;
  /** Settles when the state change in flight (apply, snapshot install) ends. */
  private inFlight: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    private db: CheckedKvStore,
    private readonly opts: ShardStateOptions,
    loaded: Loaded,
  ) {
    this.stop = new StateStop(`shard group ${opts.gid} state`, opts.onCorruption);
    db.onCorruption = (e) => this.stop.corrupted(e);
    this.applied = loaded.applied;
    this.c = loaded.core;
    this.counts = loaded.counts;
    this.applier = new ShardApplier({ who: `shard group ${opts.gid}`, shardCount: opts.shardCount, dedupTtlMs: opts.dedupTtlMs });
    this.appliedServing = new Array<boolean>(opts.shardCount).fill(false);
    this.servingEpoch = new Uint32Array(opts.shardCount);
    this.appliedConfigNum = this.c.config.num;
    this.lengths = new LengthCache(opts.lengthCacheKeys ?? lengthCacheKeysDefault);
    this.lengths.complete(this.counts);
    this.storage = opts.storage ?? rocksStorage;
    this.layer = new WriteBehind({
      db: () => this.db,
      clock: opts.clock ?? realClock,
      flushAfterMs: opts.applyFlushMs ?? applyFlushMsDefault,
      flushBytesMax: opts.applyFlushBytesMax ?? applyFlushBytesMaxDefault,
      onFailed: (e) => {
        this.stop.failed(e);
        opts.onWriteFailed?.(e);
      },
    });
    this.markApplied();
  }

  /**
   * Opens (creating if missing) group `gid`'s state in `dir`. A directory created for another
   * gid or shard count is an InvalidArgumentError naming both.
   */
  static async open(dir: string, opts: ShardStateOptions): Promise<RocksShardStateMachine> {
    validateShardCount(opts.shardCount);
    assert(opts.shardCount <= shardIdLimit, `shard count ${opts.shardCount} does not fit a u16 shard id`);
    assert(Number.isSafeInteger(opts.gid) && opts.gid > 0, `gid ${opts.gid} must be a positive integer`);
    assert(opts.dedupTtlMs > 0, `dedupTtlMs ${opts.dedupTtlMs} must be positive`);
    const storage = opts.storage ?? rocksStorage;
    await recoverSwap(storage, dir);
    const db = await openCheckedKv(storage, dir, describeShardKey);
    try {
      await createOrCheck(db, dir, opts);
      return new RocksShardStateMachine(dir, db, opts, await load(db, dir, opts));
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /**
   * The applied index: every entry up to it is in what reads see (the write-behind layer or
   * the database). At open, the one the database holds.
   */
  appliedIndex(): LogIndex {
    return this.applied;
  }

  /**
   * Whether this replica holds anything of a cluster: it has applied a config (its group was
   * joined once) or an owned shard holds keys. A group that never joined holds no data.
   */
  hasData(): boolean {
    return this.c.config.num > 0 || this.counts.some((c) => c.keys > 0);
  }

  /**
   * The config number of the applied state (reads see it): the one `get` checks ownership
   * against. (Named for what it was before applies were written behind: the database's.)
   */
  durableConfig(): ConfigNum {
    return this.appliedConfigNum;
  }

  /**
   * The pure core (metadata, config, duplicate tables): for decisions that go through the log
   * (the migration driver's proposals). It may run ahead of the database during an apply, and
   * after a failed write it is stale (see the module comment).
   */
  get core(): ShardGroupCore {
    return this.c;
  }

  /**
   * The newest log time this replica knows: of the commands it applied since it started, or
   * of the duplicate records it loaded (LogClock continues from it); undefined: none.
   */
  logTimeMs(): number | undefined {
    const applied = this.applier.newestLogTimeMs;
    const loaded = this.c.loadedLogTimeMs;
    if (applied === undefined) return loaded;
    return loaded === undefined || applied > loaded ? applied : loaded;
  }

  /**
   * Applies `entries` in one batch. With `answer`, the results of client writes are handed
   * over once the batch is in the write-behind layer (StateMachine.apply), before the apply
   * waits for a flush (when the layer is full, or writes through): their proposer, the
   * service's write, only answers the client, whose later reads pass a read barrier. The
   * results of the other commands (reconfigure, insert, deleteShard, gcDone, abortHandoff)
   * come when the apply resolves: their proposers (the migration driver, DeleteShard) act on
   * the state afterwards.
   */
  apply(entries: readonly Entry[], answer?: (i: number, result: ApplyResult) => void): Promise<ApplyResult[]> {
    return this.changing(this.applyNow(entries, answer));
  }

  /**
   * Marks a state change (apply, snapshot install) in flight: the core runs ahead of the
   * applied state until it ends, and readers that must see the applied state (pullChunks) wait for it.
   * A change that fails stops the state machine (see the module comment).
   */
  private changing<T>(p: Promise<T>): Promise<T> {
    const done = p.then(() => undefined, (e: unknown) => {
      this.stop.failed(e);
    });
    this.inFlight = done;
    void done.then(() => {
      if (this.inFlight === done) this.inFlight = undefined;
    });
    return p;
  }

  /** Throws unless the state machine can serve: not closed, no failed write, no corruption found. */
  private checkUsable(what: string): void {
    if (this.closed) throw new StoppedError(`shard group ${this.opts.gid} state (${what})`);
    this.stop.check(what);
  }

  private async applyNow(entries: readonly Entry[], answer?: (i: number, result: ApplyResult) => void): Promise<ApplyResult[]> {
    assert(entries.length > 0, "apply of no entries");
    this.checkUsable("apply");
    assert(!this.applying, "concurrent apply");
    this.applying = true;
    try {
      assert(entries[0]!.index > this.applied, () => `apply of entry ${entries[0]!.index} at applied ${this.applied}`);
      const batch = new ApplyBatch(this.layer, this.lengths, this.counts);
      const applied = await this.applier.applyBatch(this.c, entries, batch, (a) => (a.cmd === undefined ? undefined : batch.stage(a.fx)));
      const last = entries[entries.length - 1]!.index;
      // Written behind (write-behind.ts): reads see the batch from here on; the database gets
      // it with the next flush, unsynced. The Raft log (synced) holds every applied entry
      // until snapshot() makes the state durable, which comes before any compaction; a crash
      // or a power loss only sends the state back to an earlier applied index (the database's
      // last flush, or less), and the restart re-applies from the log.
      this.layer.add(batch.ops(last));
      this.counts = batch.commit().counts;
      this.applied = last;
      this.markApplied();
      // BUGGIFY: answering only when the apply resolves is the other correct order.
      if (answer !== undefined && !buggify("shard.apply.answer-late")) {
        applied.forEach((a, i) => {
          if (a.cmd?.op.kind === "write") answer(i, a.result);
        });
      }
      // Bounded memory: a full layer is written before this apply resolves (RaftNode waits
      // for it before the next). BUGGIFY: so is any layer, at times (write-through).
      if (this.layer.full || this.layer.throughEachApply) await this.layer.flush();
      return applied.map((a) => a.result);
    } catch (e) {
      // The cache may hold lengths read for a batch whose effects are now unknown.
      this.lengths.clear();
      throw e;
    } finally {
      this.applying = false;
    }
  }

  /** Records which shards are served as of the state now applied. */
  private markApplied(): void {
    for (let s = 0; s < this.opts.shardCount; s++) {
      const sv = this.c.serves(s as ShardId);
      if (sv !== this.appliedServing[s]) {
        this.appliedServing[s] = sv;
        this.servingEpoch[s]!++;
      }
    }
    this.appliedConfigNum = this.c.config.num;
  }

  private checkShard(shard: ShardId): void {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.opts.shardCount) {
      throw new InvalidArgumentError("shard", `must be in [0, ${this.opts.shardCount}), got ${shard}`);
    }
  }

  /**
   * Reads `key` of `shard` (after a ReadIndex barrier), from the applied state (the
   * write-behind layer, else the database). Ownership is checked at the read point against the
   * applied state: WrongGroupError unless the shard was served throughout the read.
   */
  async get(shard: ShardId, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkShard(shard);
    const s = shardOf(key, this.opts.shardCount);
    if (s !== shard) throw new InvalidArgumentError("key", `key of shard ${s} read as shard ${shard}`);
    this.checkUsable("read");
    if (!this.appliedServing[shard]) throw new WrongGroupError(shard, this.appliedConfigNum);
    const epoch = this.servingEpoch[shard];
    const v = await this.stop.reading("read", () => this.layer.get(shardKeys.data(shard, key)));
    if (this.servingEpoch[shard] !== epoch) throw new WrongGroupError(shard, this.appliedConfigNum);
    return v;
  }

  /**
   * Per shard, its key count and key plus value bytes as of the applied state (maintained at
   * apply: O(1) to read). Meaningful for the shards this group holds (not for a notOwned one
   * that is not held: shardStats counts those on disk).
   */
  shardCounts(): readonly ShardCount[] {
    return this.counts;
  }

  /** Per shard: state, config, and key/byte/duplicate-client counts. */
  shardStats(): Promise<ShardStats[]> {
    return this.stop.reading("status", () => this.readStats());
  }

  private async readStats(): Promise<ShardStats[]> {
    this.checkUsable("status");
    const out: ShardStats[] = [];
    for (let s = 0; s < this.opts.shardCount; s++) {
      const shard = s as ShardId;
      const m = this.c.meta(shard);
      const state = statusState(m);
      if (m.state !== "notOwned") {
        // The counters maintained at apply: O(1), whatever the shard holds.
        const c = this.counts[s]!;
        out.push({ shard, state, configNum: m.configNum, keys: c.keys, bytes: c.bytes, dedupClients: this.c.dedupOf(shard).size });
        continue;
      }
      // A shard this replica does not own is counted on disk: empty when garbage collection
      // worked (so the scan is cheap), and the count then shows what is really stored. (The
      // layer's iterators flush it first.)
      const { keys, bytes } = await countShard(this.layer, s);
      let dedupClients = 0;
      for await (const _ of this.layer.iterator(shardKeys.dedupRange(s))) dedupClients++;
      out.push({ shard, state, configNum: m.configNum, keys, bytes, dedupClients });
    }
    return out;
  }

  /**
   * Streams `shard` as of `configNum` to its new owner (pull-stream.ts). ShardNotReadyError
   * while this group has not reached `configNum`, InvalidArgumentError when the shard is not
   * in handoff for it here.
   */
  async *pullChunks(configNum: ConfigNum, shard: ShardId, afterKey: Uint8Array | undefined, chunkBytesMax: number): AsyncGenerator<ShardChunkIn> {
    this.checkShard(shard);
    assert(chunkBytesMax > 0, "chunkBytesMax must be positive");
    // The core runs ahead of the applied state during an apply: it could show the shard in
    // handoff while writes applied just before the switch (same batch) are not applied yet,
    // and the pull would ship the shard without them (found by the shard server's integration
    // test). Decide and start reading only while the core matches the applied state; the
    // stream's iterator flushes the layer first, so the database holds all of it.
    while (this.inFlight !== undefined) await this.inFlight;
    this.checkUsable("pull");
    const ready = this.c.canServePull(configNum, shard);
    if (ready === "notReady") throw new ShardNotReadyError(shard, configNum, this.c.config.num);
    if (ready === "gone") {
      const m = this.c.meta(shard);
      throw new InvalidArgumentError("config_num", `shard ${shard} is not in handoff for config ${configNum} in group ${this.opts.gid} (state ${m.state} at config ${m.configNum})`);
    }
    // The shard is frozen (handoff); the iterator also reads a point-in-time view.
    // BUGGIFY: any chunk size is correct (the puller resumes after the last key it inserted).
    const tiny = buggifyAmount("shard.pull.tiny-chunks", 64);
    try {
      yield* readShardChunks(this.layer, { configNum, shard, afterKey, chunkBytesMax: tiny > 0 ? tiny : chunkBytesMax, dedup: this.c.dedupOf(shard) });
    } catch (e) {
      if (e instanceof CorruptionError) this.stop.check("pull");
      throw e;
    }
  }

  async snapshot(): Promise<SnapshotSource> {
    assert(!this.closed, "snapshot after close");
    this.checkUsable("snapshot");
    // Applies are written behind and without fsync; RaftNode compacts the log up to this
    // snapshot once it returns, so everything applied must be durable first: the layer is
    // flushed with one synced write (the applied index at least), which flushes the RocksDB
    // WAL and with it every earlier write. RaftNode applies nothing while it takes a snapshot,
    // so the view below is at this.applied.
    this.layer.put(shardKeys.applied, u64(this.applied));
    await this.layer.flush(true);
    const src = await snapshotSource(this.layer, this.opts.snapshotChunkBytes ?? shardSnapshotChunkBytes);
    assert(src.index === this.applied, () => `snapshot at ${src.index}, applied ${this.applied}`);
    // Its size for Status, from the counters (reading the view would cost a pass over the
    // data): each data record's key and value bytes plus 8 bytes of framing; the metadata
    // and duplicate-table records (a small part) are not counted.
    const bytes = this.counts.reduce((n, c) => n + c.bytes + 8 * c.keys, 0);
    return { ...src, bytes };
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    const sink = restoreSink(meta, {
      storage: this.storage,
      dir: this.dir,
      groupRecord: groupRecord(this.opts.gid, this.opts.shardCount),
      install: (swap) => this.install(meta, swap),
    });
    return { ...sink, finish: () => this.changing(sink.finish()) };
  }

  /** Swaps a complete staged snapshot in and reloads from it. */
  private async install(meta: SnapshotMeta, swap: () => Promise<void>): Promise<void> {
    this.checkUsable("snapshot install");
    this.lengths.clear();
    // What the layer holds is older than the snapshot: written to the old database (so a
    // failed install leaves it consistent), which the snapshot then replaces.
    await this.layer.flush();
    this.layer.discard();
    await this.db.close();
    await swap();
    this.db = await openCheckedKv(this.storage, this.dir, describeShardKey);
    this.db.onCorruption = (e) => this.stop.corrupted(e);
    const loaded = await load(this.db, this.dir, this.opts);
    assert(loaded.applied === meta.index, `restore: applied ${loaded.applied} after installing snapshot ${meta.index}`);
    this.applied = loaded.applied;
    this.c = loaded.core;
    this.counts = loaded.counts;
    this.lengths.complete(this.counts);
    this.applier.reset();
    this.markApplied();
  }

  /**
   * Writes what the layer holds, then releases the database; the state machine is unusable
   * afterwards. Idempotent. (A stopped one writes nothing: the restart replays the log.)
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.layer.cancel();
    let usable = true;
    try {
      this.stop.check("close");
    } catch {
      usable = false;
    }
    if (usable) await this.layer.flush().catch(() => undefined);
    await this.db.close();
  }

  /** Writes the applied batches the layer holds to the database now (tests; the daemon never needs to). */
  flush(): Promise<void> {
    return this.layer.flush();
  }

  /** The applied writes not in the database yet, oldest first: for the simulator's checkers (what the replica holds). */
  unflushed(): Iterable<[Buffer, Buffer | undefined]> {
    return this.layer.unflushed();
  }
}
