/**
 * Reading a frozen shard for its new owner's pull (shard-server/rocks-state.ts decides whether
 * the shard may be shipped; this module reads it).
 */
import type { ConfigNum, ShardId } from "../common/ids";
import type { KvReader } from "../common/kv-store";
import { cutShardChunks } from "./chunks";
import { dataKeyPrefixBytes, shardKeys } from "./state-keys";
import type { DedupRecord, ShardChunkIn } from "./types";

export interface ShardPull {
  readonly configNum: ConfigNum;
  readonly shard: ShardId;
  /** Resume after this user key (undefined: from the start). */
  readonly afterKey: Uint8Array | undefined;
  readonly chunkBytesMax: number;
  /** The shard's duplicate table, frozen with it. */
  readonly dedup: ReadonlyMap<string, DedupRecord>;
}

/**
 * The keys of `p.shard` after `p.afterKey` in key order, then the duplicate table's records,
 * in chunks of at most `p.chunkBytesMax` bytes (chunks.ts). The records follow every key, so
 * a pull resumed after a key sends them all again (inserting them is idempotent). Only one
 * chunk is built at a time; the iterator reads a point-in-time view of the database.
 */
export async function* readShardChunks(db: KvReader, p: ShardPull): AsyncGenerator<ShardChunkIn> {
  const range = shardKeys.dataRange(p.shard);
  const afterKey = p.afterKey;
  const gte = afterKey === undefined ? range.gte : shardKeys.data(p.shard, afterKey);
  const pairs = async function* (): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
    for await (const [k, v] of db.iterator({ gte, lt: range.lt })) {
      const key = k.subarray(dataKeyPrefixBytes);
      if (afterKey === undefined || Buffer.compare(key, afterKey) !== 0) yield { key, value: v };
    }
  };
  yield* cutShardChunks({ configNum: p.configNum, shard: p.shard }, pairs(), new Map(p.dedup), p.chunkBytesMax);
}
