/**
 * Creating, checking and loading a shard group's applied-state database
 * (shard-server/rocks-state.ts): what is in memory after an open or a snapshot install.
 */
import { assert } from "../common/assert";
import { InvalidArgumentError } from "../common/errors";
import type { GroupId, LogIndex, ShardId } from "../common/ids";
import type { KvOp, KvReader, KvStore } from "../common/kv-store";
import { decodeConfig, encodeConfig } from "../controller/codec";
import { type Config, initialConfig } from "../controller/config";
import { clientIdBytes, decodeDedupRecord, decodeShardMeta } from "./codec";
import { dataKeyPrefixBytes, encodeCount, groupRecord, readU64, type ShardCount, shardKeys, u64 } from "./state-keys";
import { ShardGroupCore } from "./state-machine";
import type { DedupRecord, ShardMeta } from "./types";

/** Which group's state a database holds; fixed when it is created. */
export interface GroupIdentity {
  readonly gid: GroupId;
  readonly shardCount: number;
  /** Inactivity (log time) after which a client's duplicate records are forgotten. */
  readonly dedupTtlMs: number;
}

export interface Loaded {
  applied: LogIndex;
  core: ShardGroupCore;
  /** Per shard, maintained at apply (Status reads them instead of scanning the data). */
  counts: ShardCount[];
}

/**
 * Initialises an empty database as group `g.gid`'s (config 0, applied 0), or checks that a
 * used one is that group's with that shard count: InvalidArgumentError naming both if not.
 */
export async function createOrCheck(db: KvStore, dir: string, g: GroupIdentity): Promise<void> {
  const stored = await db.get(shardKeys.group);
  if (stored === undefined) {
    await db.write([
      { type: "put", key: shardKeys.config, value: encodeConfig(initialConfig(g.shardCount)) },
      { type: "put", key: shardKeys.applied, value: u64(0) },
      // Written last in the batch (atomic anyway): its presence means "created".
      { type: "put", key: shardKeys.group, value: groupRecord(g.gid, g.shardCount) },
    ], { sync: true });
    return;
  }
  assert(stored.length === 12, `${dir}: group record has ${stored.length} bytes, want 12`);
  const gid = readU64(stored, 0);
  const shards = stored.readUInt32BE(8);
  if (gid !== g.gid || shards !== g.shardCount) {
    throw new InvalidArgumentError(
      "gid",
      `data dir ${dir} belongs to group ${gid} with ${shards} shards, but was opened as group ${g.gid} with ${g.shardCount} shards`,
    );
  }
}

/** Reads the applied index, config, metadata and duplicate tables into a core, and the counters. */
export async function load(db: KvStore, dir: string, g: GroupIdentity): Promise<Loaded> {
  const a = await db.get(shardKeys.applied);
  assert(a !== undefined && a.length === 8, `${dir}: applied index record missing or not 8 bytes`);
  const c = await db.get(shardKeys.config);
  assert(c !== undefined, `${dir}: no config stored`);
  const config: Config = decodeConfig(c);
  assert(config.shards.length === g.shardCount, `${dir}: config ${config.num} has ${config.shards.length} shards, want ${g.shardCount}`);
  const metas: ShardMeta[] = [];
  for await (const [k, v] of db.iterator(shardKeys.metasRange)) {
    const m = decodeShardMeta(v);
    assert(k.length === 3 && k.readUInt16BE(1) === m.shard && m.shard < g.shardCount, `${dir}: meta of shard ${m.shard} under ${k.toString("hex")}`);
    metas.push(m);
  }
  const dedup = new Map<ShardId, Map<string, DedupRecord>>();
  for await (const [k, v] of db.iterator(shardKeys.dedupsRange)) {
    const shard = k.readUInt16BE(1) as ShardId;
    const [id, r] = decodeDedupRecord(v);
    assert(k.length === 3 + clientIdBytes && k.subarray(3).toString("hex") === id && shard < g.shardCount, `${dir}: dedup record of ${id} under ${k.toString("hex")}`);
    let t = dedup.get(shard);
    if (!t) dedup.set(shard, (t = new Map()));
    t.set(id, r);
  }
  const core = new ShardGroupCore({ gid: g.gid, shardCount: g.shardCount, config, metas, dedup, dedupTtlMs: g.dedupTtlMs });
  return { applied: readU64(a) as LogIndex, core, counts: await loadCounts(db, dir, g.shardCount) };
}

/** Keys and key plus value bytes of `shard`'s data, counted on disk. */
export async function countShard(db: KvReader, shard: number): Promise<ShardCount> {
  const c: ShardCount = { keys: 0, bytes: 0 };
  for await (const [k, v] of db.iterator(shardKeys.dataRange(shard))) {
    c.keys++;
    c.bytes += k.length - dataKeyPrefixBytes + v.length;
  }
  return c;
}

/**
 * The per-shard counters: stored with every apply; a directory written before they existed
 * (no marker) is counted once by a scan, and the counts are stored with the marker.
 */
async function loadCounts(db: KvStore, dir: string, shardCount: number): Promise<ShardCount[]> {
  const counts = Array.from({ length: shardCount }, (): ShardCount => ({ keys: 0, bytes: 0 }));
  if ((await db.get(shardKeys.statsMarker)) !== undefined) {
    for await (const [k, v] of db.iterator(shardKeys.statsRange)) {
      const shard = k.readUInt16BE(1);
      assert(k.length === 3 && v.length === 16 && shard < shardCount, `${dir}: stats record ${k.toString("hex")} of ${v.length} bytes`);
      counts[shard] = { keys: readU64(v, 0), bytes: readU64(v, 8) };
    }
    return counts;
  }
  const ops: KvOp[] = [];
  for (let s = 0; s < shardCount; s++) {
    counts[s] = await countShard(db, s);
    ops.push({ type: "put", key: shardKeys.stats(s), value: encodeCount(counts[s]!) });
  }
  ops.push({ type: "put", key: shardKeys.statsMarker, value: Buffer.from([1]) });
  await db.write(ops, { sync: true });
  return counts;
}
