/**
 * The storage seam under every state machine and the Raft log store: an ordered key/value
 * database with binary keys and values, atomic write batches with a sync flag, range
 * deletion, and iterators that read a point-in-time snapshot. Implementations:
 * raft/storage/rocks-kv.ts (RocksDB, the daemons) and test/sim/sim-kv.ts (the simulator: it
 * loses unsynced writes on a crash and can corrupt what a read returns).
 * test/unit/kv-store-contract.test.ts runs one suite against both.
 *
 * A database lives in a directory; `KvStorage` opens databases by directory and moves whole
 * databases (a snapshot restore writes a staging database and swaps it in).
 *
 * Errors: a read or write the storage cannot do rejects with the storage's error; data that
 * fails the storage's own verification (RocksDB's block and WAL checksums) rejects with
 * CorruptionError. A value that the storage returns is not otherwise checked: a record that
 * must not be trusted blindly carries its own checksum (the log store's records do).
 */

/** One operation of an atomic batch. */
export type KvOp =
  | { readonly type: "put"; readonly key: Buffer; readonly value: Uint8Array }
  | { readonly type: "del"; readonly key: Buffer }
  /** Deletes every key in [gte, lt), as of the batch (a later put in the batch survives). */
  | { readonly type: "delRange"; readonly gte: Buffer; readonly lt: Buffer };

/** Range and direction of an iterator; bounds are keys (absent: unbounded). */
export interface KvIteratorOptions {
  readonly gte?: Buffer;
  readonly lt?: Buffer;
  readonly reverse?: boolean;
  /** At most this many pairs. */
  readonly limit?: number;
}

/** The reads of a database. */
export interface KvReader {
  /** The value at `key`, or undefined when absent. */
  get(key: Buffer): Promise<Buffer | undefined>;
  /** The values at `keys`, in order; undefined where absent (one trip to storage for all). */
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  /**
   * Yields [key, value] pairs of the range in key order (descending with `reverse`), as of the
   * call: the iterator reads a point-in-time snapshot, and writes made after the call are
   * invisible to it. Ending the loop early (break, return) releases the snapshot.
   */
  iterator(options: KvIteratorOptions): AsyncIterable<[Buffer, Buffer]>;
}

/** An open database. Calls after close reject with StoppedError. */
export interface KvStore extends KvReader {
  /**
   * Applies `ops` atomically, in order: after a crash either every op is there or none is.
   * `sync: true` resolves once the batch (and every batch before it) is durable (fsync);
   * `sync: false` once it is written to the OS: a process crash keeps it, a power loss may
   * lose it and any later unsynced batch, never an earlier synced one.
   */
  write(ops: readonly KvOp[], options: { readonly sync: boolean }): Promise<void>;
  /** Releases the database (waits for nothing: callers finish their calls first). Idempotent. */
  close(): Promise<void>;
}

/** Where databases live: opens them by directory and moves whole (closed) databases. */
export interface KvStorage {
  /**
   * Opens the database in `dir`, creating it (and missing parent directories) if absent;
   * with `readOnly`, opens an existing one without writing anything (rejects when absent).
   */
  open(dir: string, options?: { readonly readOnly?: boolean }): Promise<KvStore>;
  /** Whether a database (or anything) exists at `dir`. */
  exists(dir: string): Promise<boolean>;
  /** Removes the database at `dir`, if any (it must be closed). */
  remove(dir: string): Promise<void>;
  /** Renames the closed database `from` to `to` (absent), durably: a crash after it resolves keeps it. */
  rename(from: string, to: string): Promise<void>;
}

