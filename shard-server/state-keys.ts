/**
 * The key layout of a shard group's applied-state database (shard-server/rocks-state.ts) and
 * the encodings of its small records.
 *
 * Binary keys; a one-byte ASCII prefix per kind; u16/u32/u64 are big-endian:
 *   "!a"                              applied index        u64
 *   "!c"                              current config       shardkv.controller.Config
 *   "!f"                              format marker        common/checked-kv.ts
 *   "!g"                              gid u64 ++ shardCount u32 (fixed when the dir is created)
 *   "!s"                              marker: the per-shard counters below are maintained
 *   "d" ++ u16 shard ++ key bytes     value of `key`       raw bytes
 *   "m" ++ u16 shard                  shard metadata       shardkv.kv.ShardMeta
 *   "s" ++ u16 shard                  shard counters       u64 keys ++ u64 bytes of its data
 *   "u" ++ u16 shard ++ 16-byte id    duplicate record     shardkv.kv.DedupRecord
 * Every value is stored as a record with a CRC-32C of key and value (common/checked-kv.ts:
 * the state machine reads and writes the payloads above through a CheckedKvStore, which
 * verifies every read). A shard's data is one contiguous key range ("d" ++ u16 shard ...), and so is its duplicate
 * table: clearing a shard deletes both ranges (in the apply's batch).
 */
import { assert } from "../common/assert";
import { clientIdToBytes, shardIdLimit } from "./codec";

const appliedKey = Buffer.from("!a");
const configKey = Buffer.from("!c");
const groupKey = Buffer.from("!g");
const statsMarkerKey = Buffer.from("!s");
const dataPrefix = 0x64; // 'd'
const statsPrefix = 0x73; // 's'
const metaPrefix = 0x6d; // 'm'
const dedupPrefix = 0x75; // 'u'

/** Bytes before the user key in a data key: the prefix and the u16 shard. */
export const dataKeyPrefixBytes = 3;

function shardPrefix(prefix: number, shard: number): Buffer {
  assert(Number.isInteger(shard) && shard >= 0 && shard < shardIdLimit, () => `shard ${shard} out of range`);
  const b = Buffer.alloc(dataKeyPrefixBytes);
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
  statsMarker: statsMarkerKey,
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
export interface ShardCount {
  keys: number;
  bytes: number;
}

export const encodeCount = (c: ShardCount): Buffer => Buffer.concat([u64(c.keys), u64(c.bytes)]);

export const u64 = (n: number): Buffer => {
  assert(Number.isSafeInteger(n) && n >= 0, () => `${n} is not a u64 we can store`);
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
};

export const readU64 = (b: Buffer, at = 0): number => Number(b.readBigUInt64BE(at));

/** The "!g" record: gid u64 ++ shard count u32. */
export function groupRecord(gid: number, shardCount: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeBigUInt64BE(BigInt(gid), 0);
  b.writeUInt32BE(shardCount, 8);
  return b;
}

/** A key of the layout in words, for CorruptionErrors ("data key 6b31 of shard 3"). */
export function describeShardKey(k: Buffer): string {
  const shard = k.length >= dataKeyPrefixBytes ? k.readUInt16BE(1) : -1;
  switch (k.length >= dataKeyPrefixBytes ? k[0] : -1) {
    case dataPrefix: return `data key ${k.subarray(dataKeyPrefixBytes).toString("hex")} of shard ${shard}`;
    case metaPrefix: return `metadata of shard ${shard}`;
    case statsPrefix: return `counters of shard ${shard}`;
    case dedupPrefix: return `duplicate record of client ${k.subarray(dataKeyPrefixBytes).toString("hex")} in shard ${shard}`;
  }
  const named: Record<string, string> = { "!a": "applied index", "!c": "config", "!g": "group record", "!s": "counters marker", "!f": "format marker" };
  return named[k.toString("latin1")] ?? `key ${k.toString("hex")}`;
}
