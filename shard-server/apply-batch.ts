/**
 * One apply of a shard group's state machine (shard-server/rocks-state.ts): the reads the
 * writes make (ApplyStore) and the one batch that stores the Effects of every entry with the
 * per-shard counters and the new applied index.
 *
 * Within an apply, an overlay of the batch being built serves reads of later entries (and a
 * shard clear deletes both the stored keys and the overlay's). Data is read on demand (from the
 * state machine's write-behind layer, else the database), but for the value lengths of recently written keys (LengthCache), which spare a
 * put or a delete of such a key its read: the apply path then sees a ValueLength
 * (`{exists, length}`), never bytes standing in for a value.
 *
 * Applied before mutated: an ApplyBatch changes nothing of its state machine's. The counters
 * and the LengthCache updates it computes are staged here and taken over by `commit()`, which
 * the state machine calls only once the batch is applied (in its write-behind layer, which
 * the reads of later batches consult; "durable state" below means this applied state). (The ShardGroupCore is the
 * exception: the pure core decides as it goes; see rocks-state.ts for how that stays safe.)
 */
import { assert } from "../common/assert";
import type { LogIndex, ShardId } from "../common/ids";
import type { KvOp, KvReader } from "../common/kv-store";
import { encodeConfig } from "../controller/codec";
import type { ApplyStore, PrefetchKey } from "./apply";
import { encodeDedupRecord, encodeShardMeta } from "./codec";
import { type ShardCount, encodeCount, shardKeys, u64 } from "./state-keys";
import type { Effects } from "./state-machine";
import { type CurrentValue, currentLength, type ValueLength } from "./types";

/** Values longer than this are not in the LengthCache (a put of one reads the old value). */
const lengthCacheValueMax = 64 * 1024;

const absent: ValueLength = { exists: false, length: 0 };

/**
 * The `{exists, length}` of data keys recently read or written by the apply path, as of the
 * last durable apply: a put or a delete of a key found here needs no read before it applies,
 * since its result and the per-shard counters need only those two. A shard clear, a snapshot
 * install or a failed apply empties it. Bounded: a new key past the bound drops the key
 * written or read longest ago.
 *
 * Complete shards. For some shards the cache also knows which keys are absent: a shard is
 * complete when every key it holds (as of the last durable apply) is in the cache, so a key of
 * it that is not in the cache is absent and needs no read either (a put of a new key, the
 * common case of a store filling up, whose read was the only one left). A shard is complete
 * when the durable state holds no key of it (`complete(counts)`: at open, after a clear, a
 * restore, or a batch that leaves it empty) and stays complete while every key it gains is
 * cached: it stops being complete when the bound drops one of its existing keys, when a value
 * too long to cache is stored in it, or when the cache is emptied.
 */
export class LengthCache {
  private readonly m = new Map<string, ValueLength>();
  /** Per shard: whether every key it holds is in `m` (see the class comment). */
  private readonly whole: boolean[] = [];
  constructor(private readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 0, () => `length cache of ${capacity} keys`);
  }
  /** What the cache knows of data key `k` of `shard`: its entry, absent in a complete shard, else undefined. */
  get(k: string, shard: number): ValueLength | undefined {
    return this.m.get(k) ?? (this.whole[shard] === true ? absent : undefined);
  }
  /** Records the value of `k` (undefined: absent); one too long to cache forgets the key. */
  set(k: string, value: Uint8Array | undefined): void {
    this.m.delete(k);
    if (value !== undefined && value.length > lengthCacheValueMax) {
      this.whole[shardOfDataKey(k)] = false;
      return;
    }
    this.m.set(k, value === undefined ? absent : { exists: true, length: value.length });
    if (this.m.size > this.capacity) {
      const [oldest, v] = this.m.entries().next().value!;
      this.m.delete(oldest);
      if (v.exists) this.whole[shardOfDataKey(oldest)] = false;
    }
  }
  /** Marks complete every shard whose durable state holds no key (`counts`: per shard, as of the last durable apply). */
  complete(counts: readonly ShardCount[]): void {
    counts.forEach((c, s) => {
      if (c.keys === 0) this.whole[s] = true;
    });
  }
  clear(): void {
    this.m.clear();
    this.whole.length = 0;
  }
}

/** The shard of a data key's latin1 string ("d" ++ u16 shard ++ user key). */
const shardOfDataKey = (k: string): number => (k.charCodeAt(1) << 8) | k.charCodeAt(2);

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

/** What the state machine takes over once the batch is applied (see ApplyBatch.commit). */
export interface StagedState {
  /** The counters as the batch leaves them. */
  readonly counts: readonly ShardCount[];
}

export class ApplyBatch implements ApplyStore {
  private readonly overlay = new Overlay();
  private readonly dataKeys = new DataKeys();
  /** Values (or ValueLengths) as of the state before this batch; the overlay takes precedence. */
  private readonly before = new Map<string, CurrentValue>();
  /** Copies of the counters of the shards this batch changed. */
  private readonly counts = new Map<ShardId, ShardCount>();
  /** LengthCache updates, applied by commit (after a clear of the cache when `clearsLengths`). */
  private readonly lengthUpdates = new Map<string, Uint8Array | undefined>();
  private clearsLengths = false;

  constructor(
    private readonly db: KvReader,
    private readonly lengths: LengthCache,
    /** The counters as of the durable state; read, never written. */
    private readonly durableCounts: readonly ShardCount[],
  ) {}

  read(shard: ShardId, key: Uint8Array): CurrentValue | Promise<CurrentValue> {
    const k = this.dataKeys.of(shard, key);
    if (this.overlay.has(k)) return this.overlay.get(k);
    return this.before.has(k.str) ? this.before.get(k.str) : this.db.get(k.buf);
  }

  /**
   * Fills `before` with the values of `keys` as of the batch's start: in one getMany, but for
   * keys only put or deleted in the batch whose `{exists, length}` the LengthCache knows.
   */
  prefetch(keys: readonly PrefetchKey[]): void | Promise<void> {
    const fetch = new Map<string, DataKey>();
    const cached: { k: DataKey; known: ValueLength }[] = [];
    for (const x of keys) {
      const k = this.dataKeys.of(x.shard, x.key);
      const known = this.lengths.get(k.str, x.shard);
      // A value is needed only of a key that exists (absent is undefined, as a read gives it).
      if (known === undefined || (x.valueNeeded && known.exists)) fetch.set(k.str, k);
      else cached.push({ k, known });
    }
    for (const { k, known } of cached) {
      if (fetch.has(k.str)) continue; // another op of the batch needs the value
      this.before.set(k.str, known.exists ? known : undefined);
    }
    if (fetch.size === 0) return;
    const ks = [...fetch.values()];
    return this.db.getMany(ks.map((k) => k.buf)).then((values) => {
      ks.forEach((k, i) => {
        this.before.set(k.str, values[i]);
        // Read from the applied state (the layer, else the database): true of it whatever this batch becomes.
        this.lengths.set(k.str, values[i]);
      });
    });
  }

  /**
   * Adds one command's effects to the batch, in the order Effects prescribes, and updates the
   * staged counters. Synchronous unless it must read the database (a cleared shard, or written
   * keys the prefetch did not know: inserted chunks).
   */
  stage(fx: Effects): void | Promise<void> {
    if (fx.clearShards.length > 0) return this.stageClears(fx);
    return this.stageWrites(fx);
  }

  /** The batch's ops: the staged effects, the changed counters and `applied`. */
  ops(applied: LogIndex): KvOp[] {
    for (const [shard, c] of this.counts) this.overlay.set(shardKeys.stats(shard), encodeCount(c));
    this.overlay.set(shardKeys.applied, u64(applied));
    return this.overlay.ops();
  }

  /** Once the batch is applied: the LengthCache takes its updates, and the counters are returned. */
  commit(): StagedState {
    if (this.clearsLengths) this.lengths.clear();
    for (const [k, v] of this.lengthUpdates) this.lengths.set(k, v);
    const counts = [...this.durableCounts];
    for (const [shard, c] of this.counts) counts[shard] = c;
    this.lengths.complete(counts);
    return { counts };
  }

  private count(shard: ShardId): ShardCount {
    let c = this.counts.get(shard);
    if (c === undefined) {
      const d = this.durableCounts[shard]!;
      this.counts.set(shard, (c = { keys: d.keys, bytes: d.bytes }));
    }
    return c;
  }

  private async stageClears(fx: Effects): Promise<void> {
    for (const shard of fx.clearShards) {
      for (const range of [shardKeys.dataRange(shard), shardKeys.dedupRange(shard)]) {
        for await (const [k] of this.db.iterator(range)) this.overlay.set(k, undefined);
        this.overlay.clearRange(range.gte, range.lt);
      }
      this.counts.set(shard, { keys: 0, bytes: 0 });
    }
    this.clearsLengths = true;
    this.lengthUpdates.clear();
    await this.stageWrites(fx);
  }

  private stageWrites(fx: Effects): void | Promise<void> {
    // The previous value of each written key (for the counters): this batch's overlay, else
    // the state before the batch; fetch the ones not known yet (inserted chunks) in one trip.
    const keys = fx.writes.map((w) => this.dataKeys.of(w.shard, w.key));
    const missing = keys.filter((k) => !this.overlay.has(k) && !this.before.has(k.str));
    if (missing.length === 0) return this.stageKnown(fx, keys);
    return this.db.getMany(missing.map((k) => k.buf)).then((values) => {
      missing.forEach((k, i) => this.before.set(k.str, values[i]));
      this.stageKnown(fx, keys);
    });
  }

  /** Stages `fx` once the previous value of every written key (`keys`) is known. */
  private stageKnown(fx: Effects, keys: readonly DataKey[]): void {
    fx.writes.forEach((w, i) => {
      const k = keys[i]!;
      const oldLength = currentLength(this.overlay.has(k) ? this.overlay.get(k) : this.before.get(k.str));
      const c = this.count(w.shard);
      if (oldLength !== undefined) {
        c.keys--;
        c.bytes -= w.key.length + oldLength;
      }
      if (w.value !== undefined) {
        c.keys++;
        c.bytes += w.key.length + w.value.length;
      }
      this.overlay.set(k.buf, w.value, k.str);
      this.lengthUpdates.set(k.str, w.value);
    });
    for (const m of fx.metas) this.overlay.set(shardKeys.meta(m.shard), encodeShardMeta(m));
    for (const d of fx.dedup) this.overlay.set(shardKeys.dedup(d.shard, d.clientId), d.record === undefined ? undefined : encodeDedupRecord(d.clientId, d.record));
    if (fx.config) this.overlay.set(shardKeys.config, encodeConfig(fx.config));
  }
}
