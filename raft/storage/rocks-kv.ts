/**
 * The RocksDB implementation of the storage seam (common/kv-store.ts), and the one module
 * that loads RocksDB. Databases are plain RocksDB directories with the keys and values the
 * callers give (no framing added), so directories written before the seam existed open and
 * read the same.
 *
 * level-rocksdb is levelup + encoding-down over the `rocksdb` binding (leveldown API). With
 * binary keys and values those two layers only add work on the hot path: levelup and
 * encoding-down each wrap every op of a batch in a new object, and the binding's array form of
 * batch looks up "type", "key" and "value" on every op through N-API (change 13 in
 * docs/benchmarks.md: about -13% of a replica's storage + apply CPU per put). So this module
 * talks to the binding level-rocksdb ships, resolved from level-rocksdb's own directory (the
 * same prebuilt RocksDB, no second copy), and writes batches through its chained-batch calls.
 * The packages ship no type declarations (TS7016), hence require and the interfaces below.
 *
 * The binding has no range deletion inside a batch: a `delRange` op becomes deletions of the
 * keys the range holds when the batch is written (read through an iterator) and of the keys
 * put earlier in the same batch, so the batch stays one atomic RocksDB write. Callers write
 * one batch at a time per database, so no write lands between that read and the batch.
 */
import { mkdir, open as openFile, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { CorruptionError, StoppedError } from "../../common/errors";
import type { KvIteratorOptions, KvOp, KvStorage, KvStore } from "../../common/kv-store";
import { asBuffer } from "../../common/bytes";

type Callback<T = void> = (err: Error | null | undefined, value?: T) => void;

/** The leveldown interface of the `rocksdb` package (abstract-leveldown 7). */
interface LevelDown {
  open(options: { createIfMissing: boolean; readOnly?: boolean }, cb: Callback): void;
  close(cb: Callback): void;
  get(key: Buffer, options: object, cb: Callback<Buffer>): void;
  getMany(keys: Buffer[], options: object, cb: Callback<(Buffer | undefined)[]>): void;
  batch(): LevelDownBatch;
  iterator(options: KvIteratorOptions): AsyncIterable<[Buffer, Buffer]>;
}

interface LevelDownBatch {
  put(key: Buffer, value: Uint8Array): void;
  del(key: Buffer): void;
  write(options: { sync: boolean }, cb: Callback): void;
}

const requireHere = createRequire(import.meta.url);
const rocksdb = createRequire(requireHere.resolve("level-rocksdb"))("rocksdb") as (location: string) => LevelDown;

/** A Buffer view of `v` (no copy): the binding stores anything but a Buffer as String(v). */

/** Runs a callback-style call as a promise. */
function call<T = void>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}

const inRange = (key: Buffer, gte: Buffer, lt: Buffer): boolean => Buffer.compare(key, gte) >= 0 && Buffer.compare(key, lt) < 0;

class RocksKv implements KvStore {
  private closed = false;

  constructor(private readonly dir: string, private readonly db: LevelDown) {}

  /** Calls into the binding only while open (it must not see a closed handle); maps RocksDB's corruption status. */
  private open<T>(fn: (cb: Callback<T>) => void): Promise<T> {
    if (this.closed) return Promise.reject(new StoppedError(`RocksDB at ${this.dir}`));
    return call(fn).catch((err: unknown) => {
      throw this.typed(err);
    });
  }

  /** RocksDB reports data failing its checksums as "Corruption: ..."; that is a CorruptionError. */
  private typed(err: unknown): unknown {
    const msg = (err as Error | null)?.message ?? "";
    return /^Corruption:/i.test(msg) ? new CorruptionError(this.dir, msg) : err;
  }

  /**
   * Gets issued in the same event-loop turn, read in one getMany once the turn's microtasks
   * have run (process.nextTick: after them). A leader answers a ReadIndex round's reads
   * together, each one `get`; one binding call per get was one libuv pool round trip each (a
   * work item, a pool thread's wake-up, a completion callback into JS) and a thrown NotFound
   * error per absent key: a quarter of a 3-group cluster's shard-server CPU under reads at 64
   * clients (docs/benchmarks.md). A get waits for nothing else: the batch goes out in the
   * turn that asked, and a read returns what is written when the batch is read, as a get
   * issued then would.
   */
  get(key: Buffer): Promise<Buffer | undefined> {
    if (this.closed) return Promise.reject(new StoppedError(`RocksDB at ${this.dir}`));
    return new Promise((resolve, reject) => {
      if (this.gets.push({ key, resolve, reject }) === 1) process.nextTick(() => this.readGets());
    });
  }

  private gets: { readonly key: Buffer; resolve(v: Buffer | undefined): void; reject(e: unknown): void }[] = [];

  private readGets(): void {
    const gets = this.gets;
    this.gets = [];
    if (gets.length === 1) {
      const g = gets[0]!;
      this.getOne(g.key).then(g.resolve, g.reject);
      return;
    }
    this.getMany(gets.map((g) => g.key)).then(
      (values) => gets.forEach((g, i) => g.resolve(values[i])),
      (err: unknown) => gets.forEach((g) => g.reject(err)),
    );
  }

  /** One key alone: the binding's get (a getMany of one costs more; measured in docs/benchmarks.md). */
  private async getOne(key: Buffer): Promise<Buffer | undefined> {
    try {
      return await this.open<Buffer>((cb) => this.db.get(key, {}, cb));
    } catch (err) {
      if (/notfound/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    return this.open((cb) => this.db.getMany(keys as Buffer[], {}, cb));
  }

  async write(ops: readonly KvOp[], options: { readonly sync: boolean }): Promise<void> {
    // Deletions of the ranges' stored keys, read before the batch is built.
    const rangeKeys = new Map<KvOp, Buffer[]>();
    for (const op of ops) {
      if (op.type !== "delRange") continue;
      const keys: Buffer[] = [];
      for await (const [k] of this.iterator({ gte: op.gte, lt: op.lt })) keys.push(k);
      rangeKeys.set(op, keys);
    }
    await this.open((cb) => {
      const b = this.db.batch();
      const puts: Buffer[] = [];
      for (const op of ops) {
        if (op.type === "put") {
          b.put(op.key, asBuffer(op.value));
          puts.push(op.key);
        } else if (op.type === "del") b.del(op.key);
        else {
          for (const k of rangeKeys.get(op)!) b.del(k);
          for (const k of puts) if (inRange(k, op.gte, op.lt)) b.del(k);
        }
      }
      b.write({ sync: options.sync }, cb);
    });
  }

  iterator(options: KvIteratorOptions): AsyncIterable<[Buffer, Buffer]> {
    if (this.closed) throw new StoppedError(`RocksDB at ${this.dir}`);
    const it = this.db.iterator(options);
    const typed = (err: unknown) => this.typed(err);
    return {
      async *[Symbol.asyncIterator]() {
        try {
          yield* it;
        } catch (err) {
          throw typed(err);
        }
      },
    };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return call((cb) => this.db.close(cb));
  }
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await openFile(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Opens (creating if missing) the RocksDB database in `dir`; with `readOnly`, an existing one
 * without writing anything (rejects when it is missing). A directory is used by one open
 * database at a time (RocksDB's LOCK file enforces it).
 */
export async function openRocksKv(dir: string, options: { readonly readOnly?: boolean } = {}): Promise<KvStore> {
  const readOnly = options.readOnly ?? false;
  if (!readOnly) await mkdir(dir, { recursive: true });
  const db = rocksdb(dir);
  await call((cb) => db.open({ createIfMissing: !readOnly, ...(readOnly ? { readOnly: true } : {}) }, cb));
  return new RocksKv(dir, db);
}

/** RocksDB databases in directories of the local file system: the daemons' storage. */
export const rocksStorage: KvStorage = {
  open: openRocksKv,
  async exists(dir) {
    try {
      await stat(dir);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
  },
  async remove(dir) {
    await rm(dir, { recursive: true, force: true });
  },
  async rename(from, to) {
    await rename(from, to);
    await fsyncDir(dirname(to));
  },
};
