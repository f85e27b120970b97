/**
 * The state machines' databases (shard-server/rocks-state.ts, controller/rocks-state.ts) as
 * the storage seam (common/kv-store.ts) with a checksum on every value: a CheckedKvStore
 * stores each value as a record of common/record.ts (payload and CRC-32C of key and payload)
 * and verifies every value it reads back, by get, getMany or an iterator, so every read path
 * of a state machine (reads, applies, pulls, snapshots, loads) is checked in one place.
 *
 * A value that does not verify is never returned: the read rejects with a CorruptionError
 * naming the database, the key and why, and the store calls its `onCorruption` first (the
 * state machine stops its replica: docs/design.md#24-applied-state-lives-in-rocksdb-not-in-a-map).
 *
 * Format. A database holds the marker `!f` (a record like any other) from its creation on: its
 * payload is the format, 2 (1 = the values without checksums of earlier versions, which had
 * no marker). `openCheckedKv` creates the marker in an empty database and migrates a database
 * of format 1 on open: it rewrites every value as a record, in key order, in synced batches of
 * about 4 MiB, each also recording in the marker the last key it rewrote (payload 2, 1, key),
 * so a crash resumes after it and no value is framed twice; the last batch sets the marker
 * to format 2.
 */
import { CorruptionError, StoppedError } from "./errors";
import type { KvIteratorOptions, KvOp, KvStorage, KvStore } from "./kv-store";
import { encodeRecord, verifyRecord } from "./record";

/** The key of the format marker (no state machine's key layout uses "!f"). */
export const formatKey = Buffer.from("!f");
/** The format of a database whose values are records. */
export const checkedFormat = 2;
const formatDone = Buffer.from([checkedFormat]);
/** Bytes of values rewritten per batch by a migration. */
const migrationBatchBytes = 4 * 1024 * 1024;

/** Names a key for a CorruptionError ("data key 'a' of shard 3"); default: its hex. */
export type DescribeKey = (key: Buffer) => string;

export class CheckedKvStore implements KvStore {
  /** Called with every corruption detected, before the read rejects with it. */
  onCorruption: ((e: CorruptionError) => void) | undefined;

  constructor(
    private readonly db: KvStore,
    /** The database directory, named in every CorruptionError. */
    readonly dir: string,
    private readonly describeKey: DescribeKey = (k) => `key ${k.toString("hex")}`,
  ) {}

  /** The verified payload of `value` stored under `key` (a view into it). */
  private open(key: Buffer, value: Buffer): Buffer {
    const rec = verifyRecord(key, value);
    if (rec.ok) return Buffer.from(rec.payload.buffer, rec.payload.byteOffset, rec.payload.byteLength);
    const e = new CorruptionError(this.dir, `${this.describeKey(key)}: ${rec.reason}`);
    this.onCorruption?.(e);
    throw e;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    const v = await this.db.get(key);
    return v === undefined ? undefined : this.open(key, v);
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    const vs = await this.db.getMany(keys);
    return vs.map((v, i) => (v === undefined ? undefined : this.open(keys[i]!, v)));
  }

  iterator(options: KvIteratorOptions): AsyncIterable<[Buffer, Buffer]> {
    const inner = this.db.iterator(options);
    const open = (k: Buffer, v: Buffer) => this.open(k, v);
    return {
      async *[Symbol.asyncIterator]() {
        for await (const [k, v] of inner) yield [k, open(k, v)];
      },
    };
  }

  write(ops: readonly KvOp[], options: { readonly sync: boolean }): Promise<void> {
    return this.db.write(ops.map((op) => (op.type === "put" ? { type: "put", key: op.key, value: encodeRecord(op.key, op.value) } : op)), options);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * Opens (creating if missing) the database in `dir` of `storage` as a CheckedKvStore: marks
 * an empty one as format 2, migrates one of format 1 (see the module comment), and rejects
 * with a CorruptionError when the marker does not verify or names a format this version does
 * not know.
 */
export async function openCheckedKv(storage: KvStorage, dir: string, describeKey?: DescribeKey): Promise<CheckedKvStore> {
  const db = await storage.open(dir);
  try {
    const store = new CheckedKvStore(db, dir, describeKey);
    const marker = await store.get(formatKey);
    if (marker === undefined) {
      let empty = true;
      for await (const _ of db.iterator({ limit: 1 })) empty = false;
      if (empty) await db.write([putMarker(formatDone)], { sync: true });
      else await migrate(db, undefined);
    } else if (marker.length === 1 && marker[0] === checkedFormat) {
      // Format 2.
    } else if (marker.length >= 2 && marker[0] === checkedFormat && marker[1] === 1) {
      await migrate(db, Buffer.from(marker.subarray(2)));
    } else {
      throw new CorruptionError(dir, `format marker ${marker.toString("hex")}: not a format this version reads (${checkedFormat})`);
    }
    return store;
  } catch (e) {
    await db.close();
    throw e;
  }
}

function putMarker(payload: Buffer): KvOp {
  return { type: "put", key: formatKey, value: encodeRecord(formatKey, payload) };
}

/** Rewrites the values of format 1 after `after` (all when undefined) as records (module comment). */
async function migrate(db: KvStore, after: Buffer | undefined): Promise<void> {
  for (;;) {
    const ops: KvOp[] = [];
    let bytes = 0;
    let last: Buffer | undefined;
    // The smallest key after `after` is `after` ++ 0x00.
    const gte = after === undefined ? undefined : Buffer.concat([after, Buffer.from([0])]);
    for await (const [k, v] of db.iterator(gte === undefined ? {} : { gte })) {
      if (k.equals(formatKey)) continue;
      ops.push({ type: "put", key: k, value: encodeRecord(k, v) });
      bytes += k.length + v.length;
      last = k;
      if (bytes >= migrationBatchBytes) break;
    }
    if (last === undefined) {
      await db.write([putMarker(formatDone)], { sync: true });
      return;
    }
    ops.push(putMarker(Buffer.concat([Buffer.from([checkedFormat, 1]), last])));
    await db.write(ops, { sync: true });
    after = last;
  }
}

/**
 * A daemon's `onCorruption` for its state machine: the replica stops through `onFatal` (the
 * daemon exits with the error's one line), or, without one, by crashing.
 */
export function corruptionStops(onFatal: ((e: Error) => void) | undefined): (e: CorruptionError) => void {
  return (e) => {
    if (onFatal) onFatal(e);
    else {
      queueMicrotask(() => {
        throw e;
      });
    }
  };
}

/**
 * Why a state machine stopped serving, once it has: a state change whose write failed (what
 * is stored is unknown; a restart reloads it) or a read that found a corrupt value (the
 * replica stops; `onCorruption` is called once). Shared by the controller's and the shard
 * groups' state machines (docs/design.md#24-applied-state-lives-in-rocksdb-not-in-a-map).
 */
export class StateStop {
  private cause: Error | undefined;

  constructor(
    /** Names the state in errors ("controller state", "shard group 2 state"). */
    private readonly who: string,
    private readonly onCorruption?: (e: CorruptionError) => void,
  ) {}

  /** A state change failed (its write, or a read it needed). */
  failed(e: unknown): void {
    this.cause ??= e instanceof Error ? e : new Error(String(e));
  }

  /** A read found a corrupt value: stopped for good; `onCorruption` hears of the first one. */
  corrupted(e: CorruptionError): void {
    if (this.cause instanceof CorruptionError) return;
    this.cause = e;
    this.onCorruption?.(e);
  }

  /** Throws StoppedError, naming why, once stopped. */
  check(what: string): void {
    if (this.cause instanceof CorruptionError) throw new StoppedError(`${this.who} (${what}: the replica stopped: ${this.cause.message})`);
    if (this.cause) throw new StoppedError(`${this.who} (${what} after a failed write: ${this.cause.message}; a restart reloads it from disk)`);
  }

  /**
   * Runs a read that answers a caller: a corrupt value it found rejects with StoppedError (the
   * replica stops; the caller tries another), never with a value.
   */
  async reading<T>(what: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      if (e instanceof CorruptionError) this.check(what);
      throw e;
    }
  }
}
