/**
 * Every size limit of the system, in one place (docs/design.md#25-limits-on-everything-with-clear-errors and
 * #93-limits-are-properties-of-the-whole-path), and the one formatter of the messages that report them.
 *
 * The limits nest, so that whatever the front door accepts can also be stored, replicated
 * and moved:
 *
 *   key (4 KiB) + value (1 MiB)                  one put
 *   key + expected + new value <= write (3 MiB)  one write request: the key, value and expected
 *                                                bytes of all its ops; admits a CAS of a
 *                                                maximal key, expected and new value
 *   write + per-op framing (writeOpsMax ops)     < Raft entry (15 MiB)
 *   Raft entry + message header                  < transport message (16 MiB, gRPC's maximum)
 *
 * A value grows only by an append, which the state machine refuses when applied if the
 * result would exceed `valueBytesMax` (shard-server/state-machine.ts). Raft refuses to
 * propose an entry over `raftEntryBytesMax`, and the transport ships any single message up to
 * `transportMessageBytesMax` (alone in its frame when it exceeds the batch bound). Migration
 * chunks and snapshot chunks are cut by bytes with one oversized record alone in its chunk,
 * so a shard whose values are all at the limit moves, and so does data an earlier version
 * stored over the value limit (up to what a Raft entry holds). Saved replies move with a
 * shard too (its duplicate table): a write's reply is at most `writeReplyBytesMax` and a
 * client's saved replies at most `savedReplyBytesPerClientMax`, so each record fits as well.
 *
 * Replicas compare sizes with these constants when they apply entries, so every replica of a
 * group must run with the same values (they are not configurable for that reason).
 */
import { InvalidArgumentError, formatCount } from "./errors";
import { asBuffer } from "./bytes";

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Largest key, in bytes: 4 KiB. */
export const keyBytesMax = 4 * KiB;
/** Largest value, in bytes: 1 MiB (exactly 1 MiB is accepted). */
export const valueBytesMax = MiB;
/**
 * Largest write request (a put, append, delete, CAS, or one batch): the sum of its ops' key,
 * value and expected-value bytes, 3 MiB. It admits a CAS of a maximal key, expected and new
 * value (2 MiB + 4 KiB) and two maximal puts.
 */
export const writeBytesMax = 3 * MiB;
/** Most ops in one write request (bounds the framing a Raft entry adds per op). */
export const writeOpsMax = 100_000;
/**
 * Largest reply of one write request: the bytes of the values its gets and CASes return,
 * 4 MiB. Checked when the write is applied (the values are known only then); a write whose
 * reply would be larger is refused and changes nothing.
 */
export const writeReplyBytesMax = 4 * MiB;
/**
 * Bytes of saved replies a shard keeps per client for duplicate detection (the values
 * returned by gets and CASes, plus 8 bytes per op result), 8 MiB; beyond it the oldest saved
 * replies are forgotten (as beyond the count bound), so one client's duplicate record always
 * fits in a migration message.
 */
export const savedReplyBytesPerClientMax = 8 * MiB;

/** Largest gRPC message any shardkv server or client sends or accepts: 16 MiB. */
export const transportMessageBytesMax = 16 * MiB;
/**
 * Largest Raft log entry a leader accepts for proposal: 15 MiB, so that one entry with the
 * append message around it (term, index, commit: well under 1 MiB) fits in a transport message.
 */
export const raftEntryBytesMax = 15 * MiB;
/** Default bound of one Raft transport frame of several messages: 4 MiB (a larger single message goes alone). */
export const raftBatchBytesMax = 4 * MiB;
/**
 * Key and value bytes the client's Batch stream packs into one request message, and value
 * bytes a server packs into one answer message: 4 MiB; a larger single request or answer goes
 * alone (its size is bounded by the write and reply limits above).
 */
export const kvStreamBatchBytesMax = 4 * MiB;
/** Bytes of records per Raft snapshot chunk: 1 MiB; a larger single record goes alone. */
export const snapshotChunkBytesMax = MiB;
/**
 * Key, value and duplicate-record bytes in one migration chunk (one PullShard message and one
 * insert entry): 1 MiB; a single larger key/value or record gets a chunk of its own. (256 KiB
 * from 2026-11-21, when one chunk at a time went through the log and a 1 MiB entry held up the
 * other shards' writes behind it; with a window of chunks in flight, the bytes in flight and
 * the pace bound that, and a larger entry costs less per MiB: docs/benchmarks.md.)
 */
export const migrationChunkBytesMax = MiB;

/** "2,097,152 bytes" (one: "1 byte"). */
export function formatBytes(n: number): string {
  return `${formatCount(n)} ${n === 1 ? "byte" : "bytes"}`;
}

/** An approximate size for status tables and progress lines: "512 B", "4.0 KiB", "12.3 MiB", "2.1 GiB". */
export function formatSize(n: number): string {
  if (n < KiB) return `${n} B`;
  if (n < MiB) return `${(n / KiB).toFixed(1)} KiB`;
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / (1024 * MiB)).toFixed(1)} GiB`;
}

/** A limit in the unit it was chosen in: "1 MiB", "4 KiB", else "1,000 bytes". */
export function formatLimit(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return formatBytes(n);
}

/** "value is 2,097,152 bytes; the limit is 1 MiB". */
export function overLimit(what: string, bytes: number, limit: number): string {
  return `${what} is ${formatBytes(bytes)}; the limit is ${formatLimit(limit)}`;
}

/**
 * A size over its limit, refused before anything changed. An InvalidArgumentError (final,
 * never retried; InvalidArgument on the wire) whose reason is `overLimit(what, bytes, limit)`.
 */
export class LimitExceededError extends InvalidArgumentError {
  constructor(field: string, readonly what: string, readonly bytes: number, readonly limit: number) {
    super(field, overLimit(what, bytes, limit));
  }
}

/** Throws LimitExceededError when `bytes > limit`. */
export function checkLimit(field: string, what: string, bytes: number, limit: number): void {
  if (bytes > limit) throw new LimitExceededError(field, what, bytes, limit);
}

/** Throws InvalidArgumentError when a count is over its limit: "batch has 100,001 ops; the limit is 100,000". */
export function checkCount(field: string, what: string, count: number, limit: number, unit: string): void {
  if (count > limit) throw new InvalidArgumentError(field, `${what} has ${formatCount(count)} ${unit}; the limit is ${formatCount(limit)}`);
}

/**
 * A key as users wrote it, for messages: quoted when it is printable UTF-8, else hex; long
 * keys are cut to their first 40 characters.
 */
export function describeKey(key: Uint8Array): string {
  const s = asBuffer(key).toString("utf8");
  const printable = /^[\x20-\x7e\u00a0-\uffff]*$/.test(s) && !s.includes("\ufffd");
  const text = printable ? s : asBuffer(key).toString("hex");
  const cut = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return printable ? JSON.stringify(cut) : `0x${cut}`;
}
