/**
 * The durable Raft log on the storage seam (common/kv-store.ts): RocksDB in the daemons
 * (raft/storage/rocks-kv.ts), one database directory per replica.
 *
 * Key layout (binary keys; one-byte prefix per kind):
 *   0x01                  hard state          payload: HardState (protobuf)
 *   0x02                  latest snapshot     payload: SnapshotMeta (protobuf)
 *   0x03                  compacted point     payload: index u64 BE ++ term u64 BE (16 bytes)
 *   0x04 ++ u64 BE index  log entry           payload: Entry (protobuf); BE keeps index order
 *   0x05                  pending snapshot    payload: SnapshotMeta (protobuf)
 *   0x06                  voter set           payload: VoterSet (protobuf; written at bootstrap)
 *
 * Every value is a record of common/record.ts (the framing the state machines' values use too):
 * `StoredRecord { payload, crc32c }` where crc32c = CRC-32C of the key bytes followed by the
 * payload. Covering the key as well as the payload means a record copied to
 * the wrong key does not verify, and neither does an empty value: proto3 omits zero fields, so
 * a value truncated to nothing decodes as { payload: "", crc32c: 0 }, and CRC-32C("") is 0 --
 * a checksum over the payload alone would accept it as an all-zero hard state.
 *
 * Every change is one `db.write(ops, { sync: true })` (group commit: one fsync per Ready,
 * DESIGN §2.3). The store keeps the compacted point, the last index and term, the hard state
 * and the snapshot meta in memory, so `save` computes the deletions of a truncated suffix
 * without reading. Calls run one at a time in call order. After a failed write the store is
 * poisoned: what is on disk is unknown, so every later call rejects with that error (the
 * replica must restart from disk; etcd and PostgreSQL treat a failed fsync the same way).
 */
import { assert } from "../../common/assert";
import { CorruptionError, StoppedError } from "../../common/errors";
import type { LogIndex, Term } from "../../common/ids";
import { copySnapshotMeta } from "../core/conf-change";
import type { Entry, HardState, SnapshotMeta } from "../core/types";
import { decodeEntry, decodeHardState, decodeSnapshotMeta, decodeVoters, encodeEntry, encodeHardState, encodeSnapshotMeta, encodeVoters, type VoterRecord } from "../codec";
import type { KvOp, KvStorage, KvStore } from "../../common/kv-store";
import { encodeRecord, verifyRecord } from "../../common/record";
import { rocksStorage } from "./rocks-kv";
import { assertAppendable, emptyLogState } from "./log-store";
import type { LogState, LogStore, SaveBatch } from "./log-store";

// ---- key layout and records ---------------------------------------------------------------

const prefixHardState = 0x01;
const prefixSnapshot = 0x02;
const prefixCompacted = 0x03;
const prefixEntry = 0x04;
const prefixPendingSnapshot = 0x05;
const prefixVoters = 0x06;
const entryKeyBytes = 9;
const twoTo32 = 2 ** 32;

function writeU64(buf: Uint8Array, at: number, n: number): void {
  assert(Number.isSafeInteger(n) && n >= 0, () => `log store: ${n} is not a uint64 we can store`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setUint32(at, Math.floor(n / twoTo32));
  view.setUint32(at + 4, n >>> 0);
}

function readU64(buf: Uint8Array, at: number): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return view.getUint32(at) * twoTo32 + view.getUint32(at + 4);
}

/** The keys of the store's records (exported for tests). */
export const rocksKeys = {
  hardState: Buffer.from([prefixHardState]),
  snapshot: Buffer.from([prefixSnapshot]),
  compacted: Buffer.from([prefixCompacted]),
  pendingSnapshot: Buffer.from([prefixPendingSnapshot]),
  voters: Buffer.from([prefixVoters]),
  /** The key of the entry at `index`: prefix ++ u64 big-endian. */
  entry(index: number): Buffer {
    const k = Buffer.alloc(entryKeyBytes);
    k[0] = prefixEntry;
    writeU64(k, 1, index);
    return k;
  },
  /** Entry keys are in [entriesStart, entriesEnd). */
  entriesStart: Buffer.from([prefixEntry]),
  entriesEnd: Buffer.from([prefixEntry + 1]),
};

function encodeCompacted(p: Point): Uint8Array {
  const b = new Uint8Array(16);
  writeU64(b, 0, p.index);
  writeU64(b, 8, p.term);
  return b;
}

function decodeCompacted(b: Uint8Array): Point {
  if (b.length !== 16) throw new Error(`expected 16 bytes, got ${b.length}`);
  return { index: readU64(b, 0) as LogIndex, term: readU64(b, 8) as Term };
}

type Point = { readonly index: LogIndex; readonly term: Term };

// ---- payload decoding: raft/codec.ts (validating converters) -----------------------------

/** A decoded entry as a plain, independent Uint8Array (not a view into the read buffer). */
const ownEntry = (e: Entry): Entry => ({ index: e.index, term: e.term, type: e.type, data: new Uint8Array(e.data) });

// ---- the store ----------------------------------------------------------------------------

export class RocksLogStore implements LogStore {
  /** Set once closed (StoppedError) or after a failed write (that error). */
  private unusable: Error | undefined;
  /** Settles when the last call queued so far has settled (calls run one at a time). */
  private tail: Promise<unknown> = Promise.resolve();
  /** The promise of close(), once called. */
  private closed: Promise<void> | undefined;

  private constructor(
    /** The database directory; named in every CorruptionError. */
    readonly dir: string,
    private readonly db: KvStore,
    private hardState: HardState,
    private snapshot: SnapshotMeta,
    private compacted: Point,
    /** The last stored entry, or the compacted point when the log is empty. */
    private last: Point,
  ) {}

  /**
   * Opens (creating if missing) the log in `dir`. Reads and verifies the hard state, snapshot
   * meta, compacted point and last entry; the full verification is `load()`. Rejects with a
   * CorruptionError when one of those records does not verify.
   */
  static async open(dir: string, storage: KvStorage = rocksStorage): Promise<RocksLogStore> {
    const db = await storage.open(dir);
    try {
      const meta = await readMeta(dir, db);
      let last: Point = meta.compacted;
      for await (const [key, value] of db.iterator({ gte: rocksKeys.entriesStart, lt: rocksKeys.entriesEnd, reverse: true, limit: 1 })) {
        const e = decodeStoredEntry(dir, key, value);
        last = { index: e.index, term: e.term };
      }
      return new RocksLogStore(dir, db, meta.hardState, meta.snapshot, meta.compacted, last);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /**
   * Reads the whole state, verifying every record: checksum, decodability, entry key index ==
   * payload index, entries contiguous from compacted + 1 with non-decreasing terms, compacted
   * <= snapshot index, and hard state commit <= max(last index, snapshot index). Rejects with
   * CorruptionError (`corrupt data in <dir>: entry 17: checksum mismatch`) on the first failure.
   */
  load(): Promise<LogState> {
    return this.serial(async () => {
      const { dir, db } = this;
      const meta = await readMeta(dir, db);
      const entries: Entry[] = [];
      let prev: Point = meta.compacted;
      for await (const [key, value] of db.iterator({ gte: rocksKeys.entriesStart, lt: rocksKeys.entriesEnd })) {
        const e = decodeStoredEntry(dir, key, value);
        const want = prev.index + 1;
        if (e.index <= meta.compacted.index) {
          throw new CorruptionError(dir, `entry ${e.index}: stored at or below compacted index ${meta.compacted.index}`);
        }
        if (e.index !== want && entries.length === 0) {
          throw new CorruptionError(dir, `entry ${e.index}: log must start at ${want}, right after compacted index ${meta.compacted.index}`);
        }
        if (e.index !== want) throw new CorruptionError(dir, `entry ${want}: missing (next stored entry is ${e.index})`);
        if (e.term < prev.term) throw new CorruptionError(dir, `entry ${e.index}: term ${e.term} below previous term ${prev.term}`);
        entries.push(ownEntry(e));
        prev = e;
      }
      const lastIndex = prev.index;
      if (meta.compacted.index > meta.snapshot.index) {
        throw new CorruptionError(dir, `compacted point: index ${meta.compacted.index} beyond snapshot ${meta.snapshot.index}`);
      }
      if (meta.hardState.commit > Math.max(lastIndex, meta.snapshot.index)) {
        throw new CorruptionError(dir, `hard state: commit ${meta.hardState.commit} beyond last index ${lastIndex} and snapshot ${meta.snapshot.index}`);
      }
      this.hardState = meta.hardState;
      this.snapshot = meta.snapshot;
      this.compacted = meta.compacted;
      this.last = { index: prev.index, term: prev.term };
      // Copies, so that a caller mutating the result cannot change the store's bookkeeping.
      const snapshot = copySnapshotMeta(meta.snapshot);
      const pendingSnapshot = meta.pendingSnapshot ? copySnapshotMeta(meta.pendingSnapshot) : undefined;
      return {
        hardState: { ...meta.hardState }, snapshot, compacted: { ...meta.compacted }, entries, pendingSnapshot,
        ...(meta.voters ? { voters: meta.voters.voters } : {}),
        ...(meta.voters?.addresses ? { bootstrapAddresses: { ...meta.voters.addresses } } : {}),
        ...(meta.voters?.joined ? { joined: true } : {}),
      };
    });
  }

  /**
   * One synced batch: `installSnapshot` (snapshot meta, compacted = snapshot point, every
   * stored entry deleted), then `entries` (puts, plus deletions of stored entries after the
   * new last index), then `hardState`. Asserts (caller bugs): entries contiguous with
   * non-decreasing terms, entries[0] in (compacted, last + 1], a snapshot not older than the
   * recorded one, and the final commit within the log. Resolves once fsynced (once written,
   * for `sync: false`).
   */
  save(batch: SaveBatch): Promise<void> {
    return this.serial(async () => {
      const ops: KvOp[] = [];
      let { snapshot, compacted, last } = this;
      if (batch.installSnapshot) {
        const s = batch.installSnapshot;
        assert(s.index >= snapshot.index, () => `log store: installing snapshot ${s.index} older than snapshot ${snapshot.index}`);
        deleteEntries(ops, compacted.index + 1, last.index);
        snapshot = copySnapshotMeta(s);
        compacted = { index: s.index, term: s.term };
        last = compacted;
        ops.push(put(rocksKeys.snapshot, encodeSnapshotMeta(snapshot)), put(rocksKeys.compacted, encodeCompacted(compacted)));
        ops.push({ type: "del", key: rocksKeys.pendingSnapshot });
      } else if (batch.pendingSnapshot === null) {
        ops.push({ type: "del", key: rocksKeys.pendingSnapshot });
      } else if (batch.pendingSnapshot) {
        ops.push(put(rocksKeys.pendingSnapshot, encodeSnapshotMeta(batch.pendingSnapshot)));
      }
      if (batch.entries.length > 0) {
        const first = batch.entries[0].index;
        assert(first > compacted.index && first <= last.index + 1, () =>
          `log store: entries from ${first} do not fit a log holding ${compacted.index + 1}..${last.index}`);
        const prev = first === last.index + 1 ? last : first === compacted.index + 1 ? compacted : await this.readTerm(first - 1);
        assertAppendable(batch.entries, prev);
        const newLast = batch.entries[batch.entries.length - 1];
        deleteEntries(ops, Math.max(first, newLast.index + 1), last.index);
        for (const e of batch.entries) ops.push(put(rocksKeys.entry(e.index), encodeEntry(e)));
        last = { index: newLast.index, term: newLast.term };
      }
      const hardState = batch.hardState ? { term: batch.hardState.term, vote: batch.hardState.vote, commit: batch.hardState.commit } : this.hardState;
      assert(hardState.commit <= Math.max(last.index, snapshot.index), () =>
        `log store: commit ${hardState.commit} beyond last index ${last.index} and snapshot ${snapshot.index}`);
      if (batch.hardState) ops.push(put(rocksKeys.hardState, encodeHardState(hardState)));
      if (batch.voters) ops.push(put(rocksKeys.voters, encodeVoters({ voters: [...batch.voters].sort((a, b) => a - b), addresses: batch.bootstrapAddresses, joined: batch.joined })));
      if (ops.length === 0) return;
      await this.write(ops, batch.sync ?? true);
      this.snapshot = snapshot;
      this.compacted = compacted;
      this.last = last;
      this.hardState = hardState;
    });
  }

  /**
   * One synced batch: records `snapshot` (unless an equal or newer one is recorded) and
   * deletes entries at or below `compactIndex` (unless already compacted that far), so a call
   * that a concurrent InstallSnapshot overtook changes nothing. Asserts compactIndex <=
   * snapshot.index, compactIndex <= last index and the entry there having term `compactTerm`.
   */
  compact(snapshot: SnapshotMeta, compactIndex: LogIndex, compactTerm: Term): Promise<void> {
    return this.serial(async () => {
      assert(compactIndex <= snapshot.index, () => `log store: compact index ${compactIndex} beyond snapshot ${snapshot.index}`);
      const ops: KvOp[] = [];
      const newSnapshot = snapshot.index >= this.snapshot.index ? copySnapshotMeta(snapshot) : this.snapshot;
      if (newSnapshot !== this.snapshot) ops.push(put(rocksKeys.snapshot, encodeSnapshotMeta(newSnapshot)));
      let compacted = this.compacted;
      if (compactIndex > compacted.index) {
        assert(compactIndex <= this.last.index, () => `log store: compact index ${compactIndex} beyond last index ${this.last.index}`);
        const at = compactIndex === this.last.index ? this.last : await this.readTerm(compactIndex);
        assert(at.term === compactTerm, () => `log store: entry ${compactIndex} has term ${at.term}, compact said ${compactTerm}`);
        deleteEntries(ops, compacted.index + 1, compactIndex);
        compacted = { index: compactIndex, term: compactTerm };
        ops.push(put(rocksKeys.compacted, encodeCompacted(compacted)));
      }
      if (ops.length === 0) return;
      await this.write(ops);
      this.snapshot = newSnapshot;
      this.compacted = compacted;
    });
  }

  /**
   * Waits for the calls made before it, then releases the database. Calls made after it
   * reject with StoppedError. Idempotent: a second call returns the first one's promise.
   */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closed = this.tail.then(async () => {
      this.unusable = new StoppedError(`log store ${this.dir}`);
      await this.db.close();
    });
    this.tail = this.closed.catch(() => undefined);
    return this.closed;
  }

  /**
   * Runs `fn` after every earlier call settled. Rejects at once after close, and when its
   * turn comes if the store was poisoned by a failed write.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoppedError(`log store ${this.dir}`));
    const p = this.tail.then(() => {
      if (this.unusable) throw this.unusable;
      return fn();
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Writes `ops` in one batch, synced unless told; a failure poisons the store (see the module comment). */
  private async write(ops: KvOp[], sync = true): Promise<void> {
    try {
      await this.db.write(ops, { sync });
    } catch (err) {
      this.unusable = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  /** Reads and verifies the stored entry at `index`. */
  private async readTerm(index: number): Promise<Point> {
    const key = rocksKeys.entry(index);
    const value = await this.db.get(key);
    if (value === undefined) throw new CorruptionError(this.dir, `entry ${index}: missing`);
    const e = decodeStoredEntry(this.dir, key, value);
    return { index: e.index, term: e.term };
  }
}

// ---- helpers ------------------------------------------------------------------------------

function put(key: Buffer, payload: Uint8Array): KvOp {
  return { type: "put", key, value: encodeRecord(key, payload) };
}

/** Appends deletions of entries from..to (inclusive; nothing when from > to). */
function deleteEntries(ops: KvOp[], from: number, to: number): void {
  for (let i = from; i <= to; i++) ops.push({ type: "del", key: rocksKeys.entry(i) });
}


/** Verifies and decodes an entry record; the key must be a well-formed entry key matching the payload index. */
function decodeStoredEntry(dir: string, key: Buffer, value: Buffer): Entry {
  if (key.length !== entryKeyBytes) throw new CorruptionError(dir, `entry key ${key.toString("hex")}: expected ${entryKeyBytes} bytes`);
  const index = readU64(key, 1);
  const rec = verifyRecord(key, value);
  if (!rec.ok) throw new CorruptionError(dir, `entry ${index}: ${rec.reason}`);
  let e: Entry;
  try {
    e = decodeEntry(rec.payload);
  } catch (err) {
    throw new CorruptionError(dir, `entry ${index}: undecodable payload: ${(err as Error).message}`);
  }
  if (e.index !== index) throw new CorruptionError(dir, `entry ${index}: payload says index ${e.index}`);
  return e;
}

/** Reads and verifies one metadata record; `undefined` when absent. */
async function readRecord<T>(dir: string, db: KvStore, key: Buffer, what: string, decode: (b: Uint8Array) => T): Promise<T | undefined> {
  const value = await db.get(key);
  if (value === undefined) return undefined;
  const rec = verifyRecord(key, value);
  if (!rec.ok) throw new CorruptionError(dir, `${what}: ${rec.reason}`);
  try {
    return decode(rec.payload);
  } catch (err) {
    throw new CorruptionError(dir, `${what}: undecodable payload: ${(err as Error).message}`);
  }
}

async function readMeta(dir: string, db: KvStore): Promise<{
  hardState: HardState; snapshot: SnapshotMeta; compacted: Point; pendingSnapshot: SnapshotMeta | undefined; voters: VoterRecord | undefined;
}> {
  const empty = emptyLogState();
  const hardState = (await readRecord(dir, db, rocksKeys.hardState, "hard state", decodeHardState)) ?? empty.hardState;
  const snapshot = (await readRecord(dir, db, rocksKeys.snapshot, "snapshot meta", decodeSnapshotMeta)) ?? empty.snapshot;
  const compacted = (await readRecord(dir, db, rocksKeys.compacted, "compacted point", decodeCompacted)) ?? empty.compacted;
  const pendingSnapshot = await readRecord(dir, db, rocksKeys.pendingSnapshot, "pending snapshot", decodeSnapshotMeta);
  const voters = await readRecord(dir, db, rocksKeys.voters, "voter set", decodeVoters);
  return { hardState, snapshot, compacted, pendingSnapshot: pendingSnapshot ?? undefined, voters };
}
