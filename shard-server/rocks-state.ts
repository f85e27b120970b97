/**
 * A shard group's applied state on RocksDB (DESIGN.md §2.4, §5): the key/value data of every
 * shard it holds, the per-shard metadata and duplicate tables, the current config and the
 * applied index, in the replica's own database directory (the Raft log lives in another).
 * RaftNode drives it through the StateMachine contract; the pure ShardGroupCore decides, this
 * module reads the keys a write touches and stores the Effects.
 *
 * Key layout (binary keys; a one-byte ASCII prefix per kind; u16/u32/u64 are big-endian):
 *   "!a"                              applied index        u64
 *   "!c"                              current config       shardkv.controller.Config
 *   "!g"                              gid u64 ++ shardCount u32 (fixed when the dir is created)
 *   "d" ++ u16 shard ++ key bytes     value of `key`       raw bytes
 *   "m" ++ u16 shard                  shard metadata       shardkv.kv.ShardMeta
 *   "u" ++ u16 shard ++ 16-byte id    duplicate record     shardkv.kv.DedupRecord
 * A shard's data is one contiguous key range ("d" ++ u16 shard ...), and so is its duplicate
 * table: clearing a shard deletes both ranges (in the apply's batch); per-shard key and byte
 * counts iterate the data range.
 *
 * apply() writes the effects of all its entries and the new applied index in ONE batch (not
 * synced: the Raft log is, see applyNow).
 * Within an apply, an overlay of the batch being built serves reads of later entries (and a
 * clear deletes both the stored keys and the overlay's). Only the metadata, the config and
 * the duplicate tables are in memory (in the core); data is read from RocksDB on demand, but
 * for the value lengths of recently written keys (LengthCache), which spare a put or a delete
 * of such a key its read.
 *
 * Snapshots stream the whole database (but the applied index, which is the snapshot's index)
 * from a RocksDB iterator, i.e. an implicit RocksDB snapshot taken when snapshot() is called,
 * as chunks of records `u32 keyLen ++ key ++ u32 valueLen ++ value`. A restore writes the
 * chunks as they arrive into a staging database `${dir}.restore`; finish() stores the applied
 * index there (synced), then swaps directories (dir -> `${dir}.old`, staging -> dir, fsync of
 * the parent) and reloads. open() completes or discards an interrupted swap, so a restore is
 * atomic across crashes: the state is either the old one or the whole snapshot.
 */
import { assert } from "../common/assert";
import { InternalError, InvalidArgumentError, WrongGroupError } from "../common/errors";
import type { ConfigNum, GroupId, LogIndex, ShardId } from "../common/ids";
import { decodeConfig, encodeConfig } from "../controller/codec";
import { type Config, initialConfig, validateShardCount } from "../controller/config";
import { shardOf } from "../controller/shard-of";
import type { Entry, SnapshotMeta } from "../raft/core/types";
import { type SnapshotSink, type SnapshotSource, type StateMachine } from "../raft/state-machine";
import type { KvOp, KvStorage, KvStore } from "../common/kv-store";
import { rocksStorage } from "../raft/storage/rocks-kv";
import { clientIdBytes, clientIdToBytes, decodeDedupRecord, decodeShardMeta, encodeDedupRecord, encodeShardMeta, shardIdLimit } from "./codec";
import { type ApplyResult, type ApplyStore, type PrefetchKey, ShardApplier } from "./apply";
import { lengthCacheKeysDefault } from "./defaults";
import { cutShardChunks } from "./chunks";
import { ShardNotReadyError } from "./errors";
import { type Effects, ShardGroupCore } from "./state-machine";
import type { DedupRecord, ShardChunkIn, ShardMeta, ShardState } from "./types";
import { snapshotChunkBytesMax } from "../common/limits";

/** Bytes per snapshot chunk sent to a lagging follower (1 MiB; a larger record goes alone). */
export const shardSnapshotChunkBytes = snapshotChunkBytesMax;

export type { ApplyResult } from "./apply";

export { ShardNotReadyError } from "./errors";

export interface ShardStats {
  readonly shard: ShardId;
  /** "gc": serving, waiting for the previous owner's delete acknowledgement. */
  readonly state: ShardState | "gc";
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
}

const appliedKey = Buffer.from("!a");
const configKey = Buffer.from("!c");
const groupKey = Buffer.from("!g");
/** Present once the per-shard counters (statsPrefix records) are maintained in this directory. */
const statsMarkerKey = Buffer.from("!s");
const dataPrefix = 0x64; // 'd'
const statsPrefix = 0x73; // 's': per shard, u64 keys ++ u64 bytes of its data
const metaPrefix = 0x6d; // 'm'
const dedupPrefix = 0x75; // 'u'

function shardPrefix(prefix: number, shard: number): Buffer {
  assert(Number.isInteger(shard) && shard >= 0 && shard < shardIdLimit, () => `shard ${shard} out of range`);
  const b = Buffer.alloc(3);
  b[0] = prefix;
  b.writeUInt16BE(shard, 1);
  return b;
}

/** [gte, lt) of every key of `prefix` for `shard`. */
function shardRange(prefix: number, shard: number): { gte: Buffer; lt: Buffer } {
  const gte = shardPrefix(prefix, shard);
  const lt = shard + 1 < shardIdLimit ? shardPrefix(prefix, shard + 1) : Buffer.from([prefix + 1]);
  return { gte, lt };
}

/** The keys of the store's records (exported for tests). */
export const shardKeys = {
  applied: appliedKey,
  config: configKey,
  group: groupKey,
  data: (shard: number, key: Uint8Array): Buffer => Buffer.concat([shardPrefix(dataPrefix, shard), key]),
  meta: (shard: number): Buffer => shardPrefix(metaPrefix, shard),
  dedup: (shard: number, clientId: string): Buffer => Buffer.concat([shardPrefix(dedupPrefix, shard), clientIdToBytes(clientId)]),
  dataRange: (shard: number) => shardRange(dataPrefix, shard),
  dedupRange: (shard: number) => shardRange(dedupPrefix, shard),
  metasRange: { gte: Buffer.from([metaPrefix]), lt: Buffer.from([metaPrefix + 1]) },
  dedupsRange: { gte: Buffer.from([dedupPrefix]), lt: Buffer.from([dedupPrefix + 1]) },
  stats: (shard: number): Buffer => shardPrefix(statsPrefix, shard),
  statsRange: { gte: Buffer.from([statsPrefix]), lt: Buffer.from([statsPrefix + 1]) },
};

/** A shard's data size: key count and key plus value bytes. */
interface ShardCount {
  keys: number;
  bytes: number;
}

const encodeCount = (c: ShardCount): Buffer => Buffer.concat([u64(c.keys), u64(c.bytes)]);

const u64 = (n: number): Buffer => {
  assert(Number.isSafeInteger(n) && n >= 0, () => `${n} is not a u64 we can store`);
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
};
const readU64 = (b: Buffer, at = 0): number => Number(b.readBigUInt64BE(at));

function groupRecord(gid: number, shardCount: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeBigUInt64BE(BigInt(gid), 0);
  b.writeUInt32BE(shardCount, 8);
  return b;
}


const stagingDir = (dir: string) => `${dir}.restore`;
const oldDir = (dir: string) => `${dir}.old`;

/** Completes or discards a restore's directory swap interrupted by a crash (see the header). */
async function recoverSwap(storage: KvStorage, dir: string): Promise<void> {
  const [hasDir, hasOld, hasStaging] = await Promise.all([storage.exists(dir), storage.exists(oldDir(dir)), storage.exists(stagingDir(dir))]);
  if (!hasDir && hasOld) {
    // Crashed between the two renames: the staging database is complete (finish() synced it
    // before the first rename).
    assert(hasStaging, `${dir}: missing, with ${oldDir(dir)} but no ${stagingDir(dir)}`);
    await storage.rename(stagingDir(dir), dir);
  } else if (hasStaging) {
    // An unfinished (or aborted) restore: the old state stands.
    await storage.remove(stagingDir(dir));
  }
  if (hasOld) await storage.remove(oldDir(dir));
}

/** The pending writes of one apply: key (latin1) -> final value (undefined = delete). */
class Overlay {
  private readonly m = new Map<string, { key: Buffer; value: Uint8Array | undefined }>();
  has(k: DataKey): boolean {
    return this.m.has(k.str);
  }
  get(k: DataKey): Uint8Array | undefined {
    return this.m.get(k.str)?.value;
  }
  set(key: Buffer, value: Uint8Array | undefined, str = key.toString("latin1")): void {
    this.m.set(str, { key, value });
  }
  /** Deletes every pending key in [gte, lt). */
  clearRange(gte: Buffer, lt: Buffer): void {
    for (const e of this.m.values()) if (Buffer.compare(e.key, gte) >= 0 && Buffer.compare(e.key, lt) < 0) e.value = undefined;
  }
  ops(): KvOp[] {
    return [...this.m.values()].map((e) => (e.value === undefined ? { type: "del", key: e.key } : { type: "put", key: e.key, value: e.value }));
  }
}

/** Values longer than this are not in the LengthCache (a put of one reads the old value). */
const lengthCacheValueMax = 64 * 1024;
/** Zero bytes standing in for a value of which only the length is known (see LengthCache). */
let lengthOnlyZeros: Buffer | undefined;
const lengthOnly = (n: number): Buffer => (lengthOnlyZeros ??= Buffer.alloc(lengthCacheValueMax)).subarray(0, n);

/**
 * The value length (-1: absent) of data keys recently read or written by the apply path, as
 * of the last applied command: a put or a delete of a key found here needs no RocksDB read
 * before it applies, since its result and the per-shard counters need only whether the key
 * exists and the length of its value (a put's "found" is unspecified to clients; a delete's
 * is whether the key existed). Writes update it as they are staged; a shard clear, a snapshot
 * install or a failed apply empties it. Bounded: a new key past the bound drops the key
 * written or read longest ago.
 */
class LengthCache {
  private readonly m = new Map<string, number>();
  constructor(private readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 0, () => `length cache of ${capacity} keys`);
  }
  get(k: string): number | undefined {
    return this.m.get(k);
  }
  /** Records the value of `k` (undefined: absent); one too long to cache forgets the key. */
  set(k: string, value: Uint8Array | undefined): void {
    this.m.delete(k);
    if (value !== undefined && value.length > lengthCacheValueMax) return;
    this.m.set(k, value === undefined ? -1 : value.length);
    if (this.m.size > this.capacity) this.m.delete(this.m.keys().next().value!);
  }
  clear(): void {
    this.m.clear();
  }
}

/** A data key ("d" ++ shard ++ user key) and its latin1 string (the maps' key). */
interface DataKey {
  readonly buf: Buffer;
  readonly str: string;
}

/**
 * The data keys of one apply, built once per user-key object: the prefetch, the reads of the
 * writes and their effects all see the same key objects (the decoded ops' keys).
 */
class DataKeys {
  private readonly byKey = new Map<Uint8Array, { shard: number; k: DataKey }>();
  of(shard: number, key: Uint8Array): DataKey {
    const hit = this.byKey.get(key);
    if (hit !== undefined && hit.shard === shard) return hit.k;
    const buf = shardKeys.data(shard, key);
    const k = { buf, str: buf.toString("latin1") };
    this.byKey.set(key, { shard, k });
    return k;
  }
}

interface Loaded {
  applied: LogIndex;
  core: ShardGroupCore;
  /** Per shard, maintained at apply (Status reads them instead of scanning the data). */
  counts: ShardCount[];
}

export class RocksShardStateMachine implements StateMachine<ApplyResult> {
  private applied: LogIndex;
  private c: ShardGroupCore;
  private counts: ShardCount[];
  /** The shared apply path (decode, dispatch to the core, expire duplicates). */
  private readonly applier: ShardApplier;
  /** Per shard: whether it is served as of the last durable batch, and a counter of its flips. */
  private readonly durableServing: boolean[];
  private readonly servingEpoch: Uint32Array;
  private durableConfigNum: ConfigNum;
  private applying = false;
  private closed = false;
  private readonly lengths: LengthCache;
  private readonly storage: KvStorage;

  private constructor(
    readonly dir: string,
    private db: KvStore,
    private readonly opts: ShardStateOptions,
    loaded: Loaded,
  ) {
    this.applied = loaded.applied;
    this.c = loaded.core;
    this.counts = loaded.counts;
    this.applier = new ShardApplier({ who: `shard group ${opts.gid}`, shardCount: opts.shardCount, dedupTtlMs: opts.dedupTtlMs });
    this.durableServing = new Array<boolean>(opts.shardCount).fill(false);
    this.servingEpoch = new Uint32Array(opts.shardCount);
    this.durableConfigNum = this.c.config.num;
    this.lengths = new LengthCache(opts.lengthCacheKeys ?? lengthCacheKeysDefault);
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
    const db = await storage.open(dir);
    try {
      const stored = await db.get(groupKey);
      if (stored === undefined) {
        await db.write([
          { type: "put", key: configKey, value: encodeConfig(initialConfig(opts.shardCount)) },
          { type: "put", key: appliedKey, value: u64(0) },
          // Written last in the batch (atomic anyway): its presence means "created".
          { type: "put", key: groupKey, value: groupRecord(opts.gid, opts.shardCount) },
        ], { sync: true });
      } else {
        assert(stored.length === 12, `${dir}: group record has ${stored.length} bytes, want 12`);
        const gid = readU64(stored, 0);
        const shards = stored.readUInt32BE(8);
        if (gid !== opts.gid || shards !== opts.shardCount) {
          throw new InvalidArgumentError(
            "gid",
            `data dir ${dir} belongs to group ${gid} with ${shards} shards, but was opened as group ${opts.gid} with ${opts.shardCount} shards`,
          );
        }
      }
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

  /** The pure core (metadata, config, duplicate tables); may run ahead of disk during an apply. */
  get core(): ShardGroupCore {
    return this.c;
  }

  apply(entries: readonly Entry[]): Promise<ApplyResult[]> {
    return this.changing(this.applyNow(entries));
  }

  /**
   * Marks a state change (apply, snapshot install) in flight: the core runs ahead of RocksDB
   * until it ends, and readers that must see durable state (pullChunks) wait for it.
   */
  private changing<T>(p: Promise<T>): Promise<T> {
    const done = p.then(() => undefined, () => undefined);
    this.inFlight = done;
    void done.then(() => {
      if (this.inFlight === done) this.inFlight = undefined;
    });
    return p;
  }

  private inFlight: Promise<void> | undefined;

  private async applyNow(entries: readonly Entry[]): Promise<ApplyResult[]> {
    assert(entries.length > 0, "apply of no entries");
    assert(!this.closed, "apply after close");
    assert(!this.applying, "concurrent apply");
    this.applying = true;
    try {
      assert(entries[0]!.index > this.applied, () => `apply of entry ${entries[0]!.index} at applied ${this.applied}`);
      const overlay = new Overlay();
      const dataKeys = new DataKeys();
      // Values as of the state before this batch, fetched in one getMany; the overlay (this
      // batch's writes and cleared shards) takes precedence.
      const before = new Map<string, Uint8Array | undefined>();
      const store: ApplyStore = {
        read: (shard, key) => {
          const k = dataKeys.of(shard, key);
          if (overlay.has(k)) return overlay.get(k);
          return before.has(k.str) ? before.get(k.str) : this.db.get(k.buf);
        },
        prefetch: (keys) => this.prefetch(keys, dataKeys, before),
      };
      // Shards whose counters changed: stored once, after the last command.
      const touched = new Set<ShardId>();
      const applied = await this.applier.applyBatch(this.c, entries, store, (a) =>
        a.cmd === undefined ? undefined : this.stage(a.fx, overlay, before, dataKeys, touched));
      const results = applied.map((a) => a.result);
      const last = entries[entries.length - 1]!.index;
      for (const shard of touched) overlay.set(shardKeys.stats(shard), encodeCount(this.counts[shard]!));
      overlay.set(appliedKey, u64(last));
      // Not synced: the Raft log (synced) holds every applied entry until snapshot() below
      // makes this state durable, which comes before any compaction; a power loss only sends
      // the state back to an earlier applied index, and the restart re-applies from the log.
      // (A process crash loses nothing: RocksDB has written its WAL to the OS.)
      await this.db.write(overlay.ops(), { sync: false });
      this.applied = last;
      this.markDurable();
      return results;
    } catch (e) {
      // The cache may hold lengths of writes that never reached RocksDB.
      this.lengths.clear();
      throw e;
    } finally {
      this.applying = false;
    }
  }

  /**
   * Fills `before` with the values of `keys` as of the batch's start: in one getMany, but for
   * keys only put or deleted in the batch whose length the LengthCache knows (their stand-in
   * is that many zero bytes, which nothing reads but the length).
   */
  private prefetch(keys: readonly PrefetchKey[], dataKeys: DataKeys, before: Map<string, Uint8Array | undefined>): void | Promise<void> {
    const fetch = new Map<string, DataKey>();
    const cached: DataKey[] = [];
    for (const x of keys) {
      const k = dataKeys.of(x.shard, x.key);
      if (x.valueNeeded || this.lengths.get(k.str) === undefined) fetch.set(k.str, k);
      else cached.push(k);
    }
    for (const k of cached) {
      if (fetch.has(k.str)) continue; // another op of the batch needs the value
      const n = this.lengths.get(k.str)!;
      before.set(k.str, n < 0 ? undefined : lengthOnly(n));
    }
    if (fetch.size === 0) return;
    const ks = [...fetch.values()];
    return this.db.getMany(ks.map((k) => k.buf)).then((values) => {
      ks.forEach((k, i) => {
        before.set(k.str, values[i]);
        this.lengths.set(k.str, values[i]);
      });
    });
  }

  /**
   * Adds one command's effects to the batch being built, in the order Effects prescribes, and
   * updates the per-shard counters, adding their shards to `touched` (applyNow stores those
   * counters once, in the same batch). `before`: values as of the batch's start, by latin1
   * data key (filled here for written keys not known yet). Synchronous unless it must read
   * RocksDB (a cleared shard, or written keys the prefetch did not know: inserted chunks).
   */
  private stage(fx: Effects, overlay: Overlay, before: Map<string, Uint8Array | undefined>, dataKeys: DataKeys, touched: Set<ShardId>): void | Promise<void> {
    if (fx.clearShards.length > 0) return this.stageClears(fx, overlay, before, dataKeys, touched);
    return this.stageWrites(fx, overlay, before, dataKeys, touched);
  }

  private async stageClears(fx: Effects, overlay: Overlay, before: Map<string, Uint8Array | undefined>, dataKeys: DataKeys, touched: Set<ShardId>): Promise<void> {
    for (const shard of fx.clearShards) {
      for (const range of [shardKeys.dataRange(shard), shardKeys.dedupRange(shard)]) {
        for await (const [k] of this.db.iterator(range)) overlay.set(k, undefined);
        overlay.clearRange(range.gte, range.lt);
      }
      this.counts[shard] = { keys: 0, bytes: 0 };
      touched.add(shard);
    }
    this.lengths.clear();
    await this.stageWrites(fx, overlay, before, dataKeys, touched);
  }

  private stageWrites(fx: Effects, overlay: Overlay, before: Map<string, Uint8Array | undefined>, dataKeys: DataKeys, touched: Set<ShardId>): void | Promise<void> {
    // The previous value of each written key (for the counters): this batch's overlay, else
    // the state before the batch; fetch the ones not known yet (inserted chunks) in one trip.
    const keys = fx.writes.map((w) => dataKeys.of(w.shard, w.key));
    const missing = keys.filter((k) => !overlay.has(k) && !before.has(k.str));
    if (missing.length === 0) return this.stageKnown(fx, overlay, before, keys, touched);
    return this.db.getMany(missing.map((k) => k.buf)).then((values) => {
      missing.forEach((k, i) => before.set(k.str, values[i]));
      this.stageKnown(fx, overlay, before, keys, touched);
    });
  }

  /** Stages `fx` once the previous value of every written key (`keys`) is known. */
  private stageKnown(fx: Effects, overlay: Overlay, before: Map<string, Uint8Array | undefined>, keys: readonly DataKey[], touched: Set<ShardId>): void {
    fx.writes.forEach((w, i) => {
      const k = keys[i]!;
      const old = overlay.has(k) ? overlay.get(k) : before.get(k.str);
      const c = this.counts[w.shard]!;
      if (old !== undefined) {
        c.keys--;
        c.bytes -= w.key.length + old.length;
      }
      if (w.value !== undefined) {
        c.keys++;
        c.bytes += w.key.length + w.value.length;
      }
      overlay.set(k.buf, w.value, k.str);
      this.lengths.set(k.str, w.value);
      touched.add(w.shard);
    });
    for (const m of fx.metas) overlay.set(shardKeys.meta(m.shard), encodeShardMeta(m));
    for (const d of fx.dedup) overlay.set(shardKeys.dedup(d.shard, d.clientId), d.record === undefined ? undefined : encodeDedupRecord(d.clientId, d.record));
    if (fx.config) overlay.set(configKey, encodeConfig(fx.config));
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

  /**
   * Reads `key` of `shard` (after a ReadIndex barrier). Ownership is checked at the read point
   * against the durable state: WrongGroupError unless the shard was served throughout the read.
   */
  async get(shard: ShardId, key: Uint8Array): Promise<Uint8Array | undefined> {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.opts.shardCount) {
      throw new InvalidArgumentError("shard", `must be in [0, ${this.opts.shardCount}), got ${shard}`);
    }
    const s = shardOf(key, this.opts.shardCount);
    if (s !== shard) throw new InvalidArgumentError("key", `key of shard ${s} read as shard ${shard}`);
    if (!this.durableServing[shard]) throw new WrongGroupError(shard, this.durableConfigNum);
    const epoch = this.servingEpoch[shard];
    const v = await this.db.get(shardKeys.data(shard, key));
    if (this.servingEpoch[shard] !== epoch) throw new WrongGroupError(shard, this.durableConfigNum);
    return v;
  }

  /** Per shard: state, config, and key/byte/duplicate-client counts from RocksDB. */
  async shardStats(): Promise<ShardStats[]> {
    const out: ShardStats[] = [];
    for (let s = 0; s < this.opts.shardCount; s++) {
      const shard = s as ShardId;
      const m = this.c.meta(shard);
      const state = m.state === "serving" && m.gcConfigNum !== 0 ? "gc" : m.state;
      if (m.state !== "notOwned") {
        // The counters maintained at apply: O(1), whatever the shard holds.
        const c = this.counts[s]!;
        out.push({ shard, state, configNum: m.configNum, keys: c.keys, bytes: c.bytes, dedupClients: this.c.dedupOf(shard).size });
        continue;
      }
      // A shard this replica does not own is counted on disk: empty when garbage collection
      // worked (so the scan is cheap), and the count then shows what is really stored.
      let keys = 0;
      let bytes = 0;
      for await (const [k, v] of this.db.iterator(shardKeys.dataRange(s))) {
        keys++;
        bytes += k.length - 3 + v.length;
      }
      let dedupClients = 0;
      for await (const _ of this.db.iterator(shardKeys.dedupRange(s))) dedupClients++;
      out.push({ shard, state, configNum: m.configNum, keys, bytes, dedupClients });
    }
    return out;
  }

  /**
   * Streams `shard` as of `configNum` to its new owner: the keys after `afterKey` (all when
   * undefined) in key order, then the duplicate table's records, in chunks of at most
   * `chunkBytesMax` bytes (chunks.ts). The records follow every key, so a pull resumed after
   * a key sends them all again (inserting them is idempotent). Only one chunk is built at a
   * time. ShardNotReadyError while this group has not reached `configNum`,
   * InvalidArgumentError when the shard is not in handoff for it here.
   */
  async *pullChunks(configNum: ConfigNum, shard: ShardId, afterKey: Uint8Array | undefined, chunkBytesMax: number): AsyncGenerator<ShardChunkIn> {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.opts.shardCount) {
      throw new InvalidArgumentError("shard", `must be in [0, ${this.opts.shardCount}), got ${shard}`);
    }
    assert(chunkBytesMax > 0, "chunkBytesMax must be positive");
    // The core runs ahead of RocksDB during an apply: it could show the shard in handoff while
    // writes applied just before the switch (same batch) are not on disk yet, and the pull
    // would ship the shard without them (found by the shard server's integration test). Decide
    // and start reading only while the core matches the disk.
    while (this.inFlight !== undefined) await this.inFlight;
    const ready = this.c.canServePull(configNum, shard);
    if (ready === "notReady") throw new ShardNotReadyError(shard, configNum, this.c.config.num);
    if (ready === "gone") {
      const m = this.c.meta(shard);
      throw new InvalidArgumentError("config_num", `shard ${shard} is not in handoff for config ${configNum} in group ${this.opts.gid} (state ${m.state} at config ${m.configNum})`);
    }
    // The shard is frozen (handoff); the iterator also reads an implicit RocksDB snapshot.
    const dedup = new Map(this.c.dedupOf(shard));
    const range = shardKeys.dataRange(shard);
    const gte = afterKey === undefined ? range.gte : shardKeys.data(shard, afterKey);
    const db = this.db;
    const pairs = async function* (): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
      for await (const [k, v] of db.iterator({ gte, lt: range.lt })) {
        const key = k.subarray(3);
        if (afterKey === undefined || Buffer.compare(key, afterKey) !== 0) yield { key, value: v };
      }
    };
    yield* cutShardChunks({ configNum, shard }, pairs(), dedup, chunkBytesMax);
  }

  async snapshot(): Promise<SnapshotSource> {
    assert(!this.closed, "snapshot after close");
    // Applies are written without fsync; RaftNode compacts the log up to this snapshot once it
    // returns, so everything applied must be durable first. One synced write flushes the
    // RocksDB WAL, and with it every earlier write.
    await this.db.write([{ type: "put", key: appliedKey, value: u64(this.applied) }], { sync: true });
    const chunkBytes = this.opts.snapshotChunkBytes ?? shardSnapshotChunkBytes;
    // The iterator pins a RocksDB snapshot now; the applied index is its first key.
    const it = this.db.iterator({})[Symbol.asyncIterator]();
    const first = await it.next();
    assert(!first.done && first.value[0].equals(appliedKey), "snapshot: applied index is not the first key");
    const index = readU64(first.value[1]) as LogIndex;
    let pending = await it.next();
    let lastN = -1;
    let lastChunk: { data: Uint8Array; last: boolean } | undefined;
    let queue: Promise<unknown> = Promise.resolve();
    // A chunk holds records up to chunkBytes; a larger record goes alone, so a snapshot
    // message is never much larger than its largest record (a value at its limit, a
    // duplicate record at its bound, or a value an earlier version stored over the limit).
    const build = async (): Promise<{ data: Uint8Array; last: boolean }> => {
      const parts: Buffer[] = [];
      let size = 0;
      while (!pending.done) {
        const [k, v] = pending.value;
        if (size > 0 && size + 8 + k.length + v.length > chunkBytes) break;
        const hdr = Buffer.alloc(4);
        hdr.writeUInt32BE(k.length);
        const vhdr = Buffer.alloc(4);
        vhdr.writeUInt32BE(v.length);
        parts.push(hdr, k, vhdr, v);
        size += 8 + k.length + v.length;
        pending = await it.next();
      }
      return { data: Buffer.concat(parts), last: pending.done === true };
    };
    const readChunk = async (n: number): Promise<{ data: Uint8Array; last: boolean }> => {
      if (n === lastN) return lastChunk!;
      if (n !== lastN + 1) throw new InternalError(`snapshot ${index}: chunk ${n} asked after chunk ${lastN} (only the same or the next)`);
      if (lastChunk?.last) throw new InternalError(`snapshot ${index}: chunk ${n} asked after the last chunk ${lastN}`);
      lastChunk = await build();
      lastN = n;
      return lastChunk;
    };
    return {
      index,
      // Serialized: chunks are built from one iterator.
      readChunk: (n) => {
        const p = queue.then(() => readChunk(n));
        queue = p.catch(() => undefined);
        return p;
      },
      close: () => {
        void it.return?.(undefined).catch(() => undefined);
      },
    };
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    const staging = stagingDir(this.dir);
    let sdb: KvStore | undefined;
    let next = 0;
    let sawGroup = false;
    const discard = async () => {
      if (sdb) await sdb.close();
      sdb = undefined;
      await this.storage.remove(staging);
    };
    const finishRestore = async (): Promise<void> => {
      assert(sdb !== undefined, `snapshot ${meta.index}: finish without chunks`);
      assert(sawGroup, `snapshot ${meta.index}: no group record`);
      await sdb.write([{ type: "put", key: appliedKey, value: u64(meta.index) }], { sync: true });
      await sdb.close();
      sdb = undefined;
      // Swap directories (see the header); open() completes a swap a crash interrupted.
      this.lengths.clear();
      await this.db.close();
      await this.storage.rename(this.dir, oldDir(this.dir));
      await this.storage.rename(staging, this.dir);
      await this.storage.remove(oldDir(this.dir));
      this.db = await this.storage.open(this.dir);
      const loaded = await load(this.db, this.dir, this.opts);
      assert(loaded.applied === meta.index, `restore: applied ${loaded.applied} after installing snapshot ${meta.index}`);
      this.applied = loaded.applied;
      this.c = loaded.core;
      this.counts = loaded.counts;
      this.applier.reset();
      this.markDurable();
    };
    return {
      write: async (chunk, data) => {
        if (chunk === 0) {
          await discard();
          sdb = await this.storage.open(staging);
          next = 0;
          sawGroup = false;
        }
        assert(sdb !== undefined && chunk === next, `snapshot ${meta.index}: chunk ${chunk}, want ${next}`);
        next++;
        const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        const ops: KvOp[] = [];
        for (let at = 0; at < buf.length;) {
          assert(at + 4 <= buf.length, `snapshot ${meta.index} chunk ${chunk}: truncated record`);
          const kl = buf.readUInt32BE(at);
          const key = Buffer.from(buf.subarray(at + 4, at + 4 + kl));
          const vl = buf.readUInt32BE(at + 4 + kl);
          const value = Buffer.from(buf.subarray(at + 8 + kl, at + 8 + kl + vl));
          assert(at + 8 + kl + vl <= buf.length && key.length === kl && value.length === vl, `snapshot ${meta.index} chunk ${chunk}: truncated record`);
          at += 8 + kl + vl;
          if (key.equals(groupKey)) {
            // A snapshot of another group (or shard count) must never replace ours.
            assert(value.equals(groupRecord(this.opts.gid, this.opts.shardCount)), `snapshot ${meta.index}: group record ${value.toString("hex")} is not group ${this.opts.gid} with ${this.opts.shardCount} shards`);
            sawGroup = true;
          }
          assert(!key.equals(appliedKey), `snapshot ${meta.index}: contains an applied index record`);
          ops.push({ type: "put", key, value });
        }
        if (ops.length > 0) await sdb.write(ops, { sync: false });
      },
      finish: () => this.changing(finishRestore()),
      abort: discard,
    };
  }

  /** Releases the database; the state machine is unusable afterwards. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}

/** Reads the applied index, config, metadata and duplicate tables into a core. */
async function load(db: KvStore, dir: string, opts: ShardStateOptions): Promise<Loaded> {
  const a = await db.get(appliedKey);
  assert(a !== undefined && a.length === 8, `${dir}: applied index record missing or not 8 bytes`);
  const c = await db.get(configKey);
  assert(c !== undefined, `${dir}: no config stored`);
  const config: Config = decodeConfig(c);
  assert(config.shards.length === opts.shardCount, `${dir}: config ${config.num} has ${config.shards.length} shards, want ${opts.shardCount}`);
  const metas: ShardMeta[] = [];
  for await (const [k, v] of db.iterator(shardKeys.metasRange)) {
    const m = decodeShardMeta(v);
    assert(k.length === 3 && k.readUInt16BE(1) === m.shard && m.shard < opts.shardCount, `${dir}: meta of shard ${m.shard} under ${k.toString("hex")}`);
    metas.push(m);
  }
  const dedup = new Map<ShardId, Map<string, DedupRecord>>();
  for await (const [k, v] of db.iterator(shardKeys.dedupsRange)) {
    const shard = k.readUInt16BE(1) as ShardId;
    const [id, r] = decodeDedupRecord(v);
    assert(k.length === 3 + clientIdBytes && k.subarray(3).toString("hex") === id && shard < opts.shardCount, `${dir}: dedup record of ${id} under ${k.toString("hex")}`);
    let t = dedup.get(shard);
    if (!t) dedup.set(shard, (t = new Map()));
    t.set(id, r);
  }
  const core = new ShardGroupCore({ gid: opts.gid, shardCount: opts.shardCount, config, metas, dedup, dedupTtlMs: opts.dedupTtlMs });
  return { applied: readU64(a) as LogIndex, core, counts: await loadCounts(db, dir, opts.shardCount) };
}

/**
 * The per-shard counters: stored with every apply; a directory written before they existed
 * (no marker) is counted once by a scan, and the counts are stored with the marker.
 */
async function loadCounts(db: KvStore, dir: string, shardCount: number): Promise<ShardCount[]> {
  const counts = Array.from({ length: shardCount }, (): ShardCount => ({ keys: 0, bytes: 0 }));
  if ((await db.get(statsMarkerKey)) !== undefined) {
    for await (const [k, v] of db.iterator(shardKeys.statsRange)) {
      const shard = k.readUInt16BE(1);
      assert(k.length === 3 && v.length === 16 && shard < shardCount, `${dir}: stats record ${k.toString("hex")} of ${v.length} bytes`);
      counts[shard] = { keys: readU64(v, 0), bytes: readU64(v, 8) };
    }
    return counts;
  }
  const ops: KvOp[] = [];
  for (let s = 0; s < shardCount; s++) {
    for await (const [k, v] of db.iterator(shardKeys.dataRange(s))) {
      counts[s]!.keys++;
      counts[s]!.bytes += k.length - 3 + v.length;
    }
    ops.push({ type: "put", key: shardKeys.stats(s), value: encodeCount(counts[s]!) });
  }
  ops.push({ type: "put", key: statsMarkerKey, value: Buffer.from([1]) });
  await db.write(ops, { sync: true });
  return counts;
}
