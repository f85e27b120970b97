/**
 * How a frozen shard is cut into migration chunks (PullShard messages, then insert entries on
 * the new owner), shared by the RocksDB state machine and the simulator's: the keys in order,
 * then the duplicate table's records by client id, each chunk at most `chunkBytesMax` of key,
 * value and encoded record bytes, a single larger pair or record alone in its chunk. So a
 * shard whose values are all at the limit moves, a duplicate table larger than a message
 * moves, and so does a value an earlier version stored over the limit (common/limits.ts).
 * The last chunk is marked `last` (it may be empty).
 */
import type { ConfigNum, ShardId } from "../common/ids";
import { encodeDedupRecord } from "./codec";
import type { DedupRecord, PullPosition, ShardChunkIn } from "./types";

type Pair = { readonly key: Uint8Array; readonly value: Uint8Array };

export async function* cutShardChunks(
  at: { readonly configNum: ConfigNum; readonly shard: ShardId },
  pairs: AsyncIterable<Pair> | Iterable<Pair>,
  dedup: ReadonlyMap<string, DedupRecord>,
  chunkBytesMax: number,
): AsyncGenerator<ShardChunkIn> {
  let kvs: Pair[] = [];
  let records = new Map<string, DedupRecord>();
  let bytes = 0;
  const take = (last: boolean): ShardChunkIn => {
    const c = { configNum: at.configNum, shard: at.shard, kvs, last, dedup: records };
    kvs = [];
    records = new Map();
    bytes = 0;
    return c;
  };
  const full = (size: number): boolean => (kvs.length > 0 || records.size > 0) && bytes + size > chunkBytesMax;
  for await (const kv of pairs) {
    const size = kv.key.length + kv.value.length;
    if (full(size)) yield take(false);
    kvs.push(kv);
    bytes += size;
  }
  for (const [id, r] of [...dedup].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const size = encodeDedupRecord(id, r).length;
    if (full(size)) yield take(false);
    records.set(id, r);
    bytes += size;
  }
  yield take(true);
}

/**
 * The bytes of a chunk as they are counted when it is cut: its keys and values, and its
 * duplicate records encoded (the migration pacing and the migration metrics count these).
 */
export function chunkBytes(c: ShardChunkIn): number {
  let bytes = 0;
  for (const kv of c.kvs) bytes += kv.key.length + kv.value.length;
  for (const [id, r] of c.dedup) bytes += encodeDedupRecord(id, r).length;
  return bytes;
}

/**
 * Where a pull stands after chunk `c`, which continued from `before`: after its last key (the
 * records follow every key, so a chunk with keys leaves the records' pass unopened), and after
 * its last record's client when it carries records. The puller numbers the chunks it proposes
 * with it and the state machine stores it (state-machine.ts applyInsert), so both agree.
 */
export function positionAfter(before: PullPosition, c: ShardChunkIn): PullPosition {
  const key = c.kvs.length > 0 ? c.kvs[c.kvs.length - 1]!.key : before.key;
  let last: string | undefined;
  for (const id of c.dedup.keys()) if (last === undefined || id > last) last = id;
  return { key, client: last ?? (c.kvs.length > 0 ? undefined : before.client) };
}
