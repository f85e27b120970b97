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
 *   pull-stream.ts      reading a frozen shard for its new owner
 *   state-snapshot.ts   snapshot streaming and restore (staging database and swap)
 *
 * apply() writes the effects of all its entries and the new applied index in ONE batch (not
 * synced: the Raft log is, see applyNow). Only the metadata, the config and the duplicate
 * tables are in memory (in the core); data is read from the database on demand.
 *
 * Durable state and the core. The counters, the LengthCache and the applied index change only
 * once their batch is written (ApplyBatch stages them). The core cannot wait: it decides each
 * command as the batch is built (later commands of the batch depend on earlier ones), so it
 * runs ahead of the database until the write ends. That is safe because:
 *   - readers that answer from durable state never read the core directly: `get` checks
 *     ownership against `durableServing` (updated after the write), and `pullChunks` waits for
 *     the write in flight before it reads the core;
 *   - a failed write leaves the core ahead of a database in an unknown state, so the state
 *     machine stops: the failing call rejects with the write's error and every later call
 *     with StoppedError; RaftNode stops too, and the restart reloads core and counters from
 *     the database, where they agree (test/unit/shard-rocks-state.test.ts fails a write);
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
import type { ConfigNum, GroupId, LogIndex, ShardId } from "../common/ids";
import type { KvStorage } from "../common/kv-store";
import { snapshotChunkBytesMax } from "../common/limits";
import { validateShardCount } from "../controller/config";
import { shardOf } from "../controller/shard-of";
import type { Entry, SnapshotMeta } from "../raft/core/types";
import type { SnapshotSink, SnapshotSource, StateMachine } from "../raft/state-machine";
import { rocksStorage } from "../raft/storage/rocks-kv";
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
}

export class RocksShardStateMachine implements StateMachine<ApplyResult> {
  private applied: LogIndex;
  private c: ShardGroupCore;
  /** Per shard, as of the durable state. */
  private counts: readonly ShardCount[];
  /** The shared apply path (decode, dispatch to the core, expire duplicates). */
  private readonly applier: ShardApplier;
  /** Per shard: whether it is served as of the last durable batch, and a counter of its flips. */
  private readonly durableServing: boolean[];
  private readonly servingEpoch: Uint32Array;
  private durableConfigNum: ConfigNum;
  private applying = false;
  private closed = false;
  /** Set when a write failed (the core may be ahead of the database) or a read found a corrupt value. */
  private readonly stop: StateStop;
  private readonly lengths: LengthCache;
  private readonly storage: KvStorage;
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
    this.durableServing = new Array<boolean>(opts.shardCount).fill(false);
    this.servingEpoch = new Uint32Array(opts.shardCount);
    this.durableConfigNum = this.c.config.num;
    this.lengths = new LengthCache(opts.lengthCacheKeys ?? lengthCacheKeysDefault);
    this.lengths.complete(this.counts);
    this.storage = opts.storage ?? rocksStorage;
    this.markDurable();
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

  /** The config number of the durable state: the one `get` checks ownership against. */
  durableConfig(): ConfigNum {
    return this.durableConfigNum;
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
   * over once the batch's write is issued (StateMachine.apply): their proposer, the service's
   * write, only answers the client, whose later reads pass a read barrier. The results of the
   * other commands (reconfigure, insert, deleteShard, gcDone, abortHandoff) wait for the write:
   * their proposers (the migration driver, DeleteShard) act on the state afterwards.
   */
  apply(entries: readonly Entry[], answer?: (i: number, result: ApplyResult) => void): Promise<ApplyResult[]> {
    return this.changing(this.applyNow(entries, answer));
  }

  /**
   * Marks a state change (apply, snapshot install) in flight: the core runs ahead of the
   * database until it ends, and readers that must see durable state (pullChunks) wait for it.
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
      const batch = new ApplyBatch(this.db, this.lengths, this.counts);
      const applied = await this.applier.applyBatch(this.c, entries, batch, (a) => (a.cmd === undefined ? undefined : batch.stage(a.fx)));
      const last = entries[entries.length - 1]!.index;
      // Not synced: the Raft log (synced) holds every applied entry until snapshot() below
      // makes this state durable, which comes before any compaction; a power loss only sends
      // the state back to an earlier applied index, and the restart re-applies from the log.
      // (A process crash loses nothing: RocksDB has written its WAL to the OS.)
      const writing = this.db.write(batch.ops(last), { sync: false });
      // BUGGIFY: answering only after the write is the other correct order.
      if (answer !== undefined && !buggify("shard.apply.answer-late")) {
        applied.forEach((a, i) => {
          if (a.cmd?.op.kind === "write") answer(i, a.result);
        });
      }
      await writing;
      this.counts = batch.commit().counts;
      this.applied = last;
      this.markDurable();
      return applied.map((a) => a.result);
    } catch (e) {
      // The cache may hold lengths read for a batch whose effects are now unknown.
      this.lengths.clear();
      throw e;
    } finally {
      this.applying = false;
    }
  }

  /** Records which shards are served as of the state now durable. */
  private markDurable(): void {
    for (let s = 0; s < this.opts.shardCount; s++) {
      const sv = this.c.serves(s as ShardId);
      if (sv !== this.durableServing[s]) {
        this.durableServing[s] = sv;
        this.servingEpoch[s]!++;
      }
    }
    this.durableConfigNum = this.c.config.num;
  }

  private checkShard(shard: ShardId): void {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.opts.shardCount) {
      throw new InvalidArgumentError("shard", `must be in [0, ${this.opts.shardCount}), got ${shard}`);
    }
  }

  /**
   * Reads `key` of `shard` (after a ReadIndex barrier). Ownership is checked at the read point
   * against the durable state: WrongGroupError unless the shard was served throughout the read.
   */
  async get(shard: ShardId, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkShard(shard);
    const s = shardOf(key, this.opts.shardCount);
    if (s !== shard) throw new InvalidArgumentError("key", `key of shard ${s} read as shard ${shard}`);
    this.checkUsable("read");
    if (!this.durableServing[shard]) throw new WrongGroupError(shard, this.durableConfigNum);
    const epoch = this.servingEpoch[shard];
    const v = await this.stop.reading("read", () => this.db.get(shardKeys.data(shard, key)));
    if (this.servingEpoch[shard] !== epoch) throw new WrongGroupError(shard, this.durableConfigNum);
    return v;
  }

  /**
   * Per shard, its key count and key plus value bytes as of the durable state (maintained at
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
      // worked (so the scan is cheap), and the count then shows what is really stored.
      const { keys, bytes } = await countShard(this.db, s);
      let dedupClients = 0;
      for await (const _ of this.db.iterator(shardKeys.dedupRange(s))) dedupClients++;
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
    // The core runs ahead of the database during an apply: it could show the shard in handoff
    // while writes applied just before the switch (same batch) are not on disk yet, and the
    // pull would ship the shard without them (found by the shard server's integration test).
    // Decide and start reading only while the core matches the disk.
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
      yield* readShardChunks(this.db, { configNum, shard, afterKey, chunkBytesMax: tiny > 0 ? tiny : chunkBytesMax, dedup: this.c.dedupOf(shard) });
    } catch (e) {
      if (e instanceof CorruptionError) this.stop.check("pull");
      throw e;
    }
  }

  async snapshot(): Promise<SnapshotSource> {
    assert(!this.closed, "snapshot after close");
    this.checkUsable("snapshot");
    // Applies are written without fsync; RaftNode compacts the log up to this snapshot once it
    // returns, so everything applied must be durable first. One synced write flushes the
    // RocksDB WAL, and with it every earlier write.
    await this.db.write([{ type: "put", key: shardKeys.applied, value: u64(this.applied) }], { sync: true });
    const src = await snapshotSource(this.db, this.opts.snapshotChunkBytes ?? shardSnapshotChunkBytes);
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
    this.markDurable();
  }

  /** Releases the database; the state machine is unusable afterwards. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}
