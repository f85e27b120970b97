/**
 * The key-to-shard function, shared by the client and every server (docs/design.md#4-controller).
 *
 *   shardOf(key, shardCount) = fnv1a32(utf8(key)) mod shardCount
 *
 * where fnv1a32 is 32-bit FNV-1a: h = 0x811c9dc5; for each byte b: h = (h XOR b) * 0x01000193
 * mod 2^32. The result is an unsigned 32-bit integer; a client in another language computes
 * the same shard from the same bytes (docs/controller.md lists test vectors). The function
 * never changes: a different hash would move every key.
 */
import type { ShardId } from "../common/ids";

const encoder = new TextEncoder();

/** 32-bit FNV-1a of `bytes`, as an unsigned integer. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard of a key (string keys are hashed as UTF-8). */
export function shardOf(key: string | Uint8Array, shardCount: number): ShardId {
  const bytes = typeof key === "string" ? encoder.encode(key) : key;
  return (fnv1a32(bytes) % shardCount) as ShardId;
}
