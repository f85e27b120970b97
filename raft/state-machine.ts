/**
 * The contract between RaftNode and the application state machine it drives (the controller,
 * a shard group, or a test KV).
 */
import { AssertionFailure } from "../common/assert";
import type { LogIndex } from "../common/ids";
import type { Entry, SnapshotMeta } from "./core/types";

export interface StateMachine<R = unknown> {
  /** The durable applied index at open; RaftNode hands out only entries after it. */
  appliedIndex(): LogIndex;
  /**
   * Applies committed entries in order (noop entries included, so the applied index moves).
   * Must store each entry's effects and the new applied index atomically together (one
   * batch), and reads must see them once apply resolves. The write need not be synced, nor
   * even issued (the shard group's state machine writes its applies behind, several in one
   * write): the log keeps every entry after the last snapshot, so a state machine that loses
   * its latest applies in a crash or a power loss restarts at an earlier applied index and is
   * handed those entries again (see snapshot(), and RaftNode's takeSnapshot).
   * Returns one result per entry, handed to the proposer.
   *
   * `answer` (optional): hands the result of `entries[i]` to its proposer before the apply
   * resolves. A state machine may call it once its effects are decided and stored or being
   * stored (issued, or in a write-behind layer), for results whose proposers read nothing but
   * through a read barrier (RaftNode.readBarrier): RaftNode advances its applied index only
   * when apply resolves, and a barrier waits for that index, so whoever learns of the result
   * and then reads sees its effects. The entry is already committed (in a majority's synced
   * logs): a write that fails after the answer stops the replica, and the entry is applied
   * again on restart (docs/design.md §2.4, "The answer leaves when the apply's write is issued").
   */
  apply(entries: readonly Entry[], answer?: (i: number, result: R) => void): Promise<R[]>;
  /**
   * A consistent, point-in-time snapshot at the current applied index. Everything applied so
   * far must be durable when it resolves: RaftNode then compacts the log up to that index.
   */
  snapshot(): Promise<SnapshotSource>;
  /** Starts receiving a snapshot from the leader; replaces all state once finished. */
  restore(meta: SnapshotMeta): SnapshotSink;
}

/**
 * A snapshot being served to followers, read chunk by chunk (each at most a few MiB). RaftNode
 * serves every follower from one source, at the chunk each follower asks for: mostly the next
 * one or the same again, but also a later one (a follower resuming, from a new leader, a
 * transfer where the old leader left it) or an earlier one (another follower starting, or one
 * starting over).
 */
export interface SnapshotSource {
  /** The applied index the snapshot reflects. */
  readonly index: LogIndex;
  /**
   * Its size in bytes, when known without reading it (for Status: RaftLogStatus.snapshotBytes);
   * undefined: not known.
   */
  readonly bytes?: number;
  /**
   * Chunk `n` (0-based) and whether it is the last one. A source that streams its view once
   * may refuse a chunk before the last one it read with SnapshotRewindError: RaftNode then
   * drops the source and takes a fresh snapshot.
   */
  readChunk(n: number): Promise<{ data: Uint8Array; last: boolean }>;
  /** Releases resources (e.g. a RocksDB snapshot). */
  close(): void;
}

/** A SnapshotSource cannot go back to an earlier chunk (see SnapshotSource.readChunk). */
export class SnapshotRewindError extends Error {
  override readonly name = "SnapshotRewindError";
}

export interface SnapshotSink {
  /** Chunks arrive in order, starting at 0. */
  write(chunk: number, data: Uint8Array): Promise<void>;
  /** Atomically replaces the state machine's state; durable before resolving. */
  finish(): Promise<void>;
  /** Discards what was received (a newer transfer started, or the node stops). */
  abort(): Promise<void>;
}

/** A SnapshotSource over an in-memory byte string, cut into `chunkBytes` pieces. */
export function bytesSnapshotSource(index: LogIndex, bytes: Uint8Array, chunkBytes: number): SnapshotSource {
  const count = Math.max(1, Math.ceil(bytes.length / chunkBytes));
  return {
    index,
    bytes: bytes.length,
    readChunk: async (n) => ({ data: bytes.subarray(n * chunkBytes, (n + 1) * chunkBytes), last: n >= count - 1 }),
    close() {},
  };
}

/** A SnapshotSink that collects chunks in memory and hands the whole to `install`. */
export function bytesSnapshotSink(install: (bytes: Uint8Array) => Promise<void>): SnapshotSink {
  let parts: Uint8Array[] = [];
  return {
    write: async (_chunk, data) => {
      parts.push(data);
    },
    finish: async () => {
      await install(Buffer.concat(parts));
      parts = [];
    },
    abort: async () => {
      parts = [];
    },
  };
}

/**
 * Decodes a committed entry's command. Only validated commands are proposed, so a committed
 * entry that does not decode is a bug (or disk corruption the log store's checksums missed):
 * asserted, never skipped (replicas must not diverge).
 */
export function decodeCommitted<T>(e: Entry, decode: (b: Uint8Array) => T, who: string): T {
  try {
    return decode(e.data);
  } catch (err) {
    throw new AssertionFailure(`${who}: committed entry ${e.index} does not decode: ${(err as Error).message}`);
  }
}
