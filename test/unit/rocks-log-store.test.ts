/**
 * RocksLogStore on damaged data: every test writes bad records straight into the database
 * (through the storage seam, between close and reopen) and checks that the store refuses to return
 * them, with a CorruptionError naming the directory and the record.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { CorruptionError } from "../../common/errors";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import { encodeEntry, encodeHardState, encodeSnapshotMeta, encodeVoters } from "../../raft/codec";
import type { Entry } from "../../raft/core/types";
import { crc32c } from "../../common/crc32c";
import { encodeRecord, verifyRecord } from "../../common/record";
import { RocksLogStore, rocksKeys } from "../../raft/storage/rocks-log-store";
import { openRocksKv } from "../../raft/storage/rocks-kv";

const ent = (index: number, term: number): Entry => ({
  index: index as LogIndex,
  term: term as Term,
  type: "normal",
  data: new TextEncoder().encode(`entry ${index} of term ${term}`),
});
const entries = (from: number, to: number, term = 2): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => ent(from + i, term));

const roots: string[] = [];
afterAll(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

let dir: string;
beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), "shardkv-rocks-"));
  roots.push(root);
  dir = join(root, "raft");
  const s = await RocksLogStore.open(dir);
  await s.save({ hardState: { term: 2 as Term, vote: 1 as NodeId, commit: 20 as LogIndex }, entries: entries(1, 30) });
  await s.close();
});

/** Runs `fn` on the raw database of `dir` (the store must be closed). */
async function raw(fn: (db: RawDb) => Promise<void>): Promise<void> {
  const db = await openRocksKv(dir);
  try {
    await fn({
      get: async (key) => {
        const v = await db.get(key);
        if (v === undefined) throw new Error(`no record at ${key.toString("hex")}`);
        return v;
      },
      put: (key, value) => db.write([{ type: "put", key, value }], { sync: true }),
      del: (key) => db.write([{ type: "del", key }], { sync: true }),
    });
  } finally {
    await db.close();
  }
}

/** Single-record reads and writes of the raw database (a record absent on `get` fails the test). */
interface RawDb {
  get(key: Buffer): Promise<Buffer>;
  put(key: Buffer, value: Uint8Array): Promise<void>;
  del(key: Buffer): Promise<void>;
}

/** Opens the store and loads it; the error either step rejects with. */
async function openAndLoadError(): Promise<unknown> {
  let store: RocksLogStore | undefined;
  try {
    store = await RocksLogStore.open(dir);
    await store.load();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await store?.close();
  }
}

/** Asserts that load() (after a successful open) rejects with a CorruptionError saying `detail`. */
async function expectLoadCorruption(detail: string | RegExp): Promise<CorruptionError> {
  const store = await RocksLogStore.open(dir);
  try {
    const err = await store.load().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CorruptionError);
    const c = err as CorruptionError;
    expect(c.file).toBe(dir);
    expect(c.message.startsWith(`corrupt data in ${dir}: `)).toBe(true);
    if (typeof detail === "string") expect(c.detail).toContain(detail);
    else expect(c.detail).toMatch(detail);
    return c;
  } finally {
    await store.close();
  }
}

describe("StoredRecord verification", () => {
  it("rejects every single-bit flip of every kind of record, framing included (the simulator flips bits past the storage's checks)", () => {
    const records: [Buffer, Uint8Array][] = [
      [rocksKeys.hardState, encodeHardState({ term: 7 as Term, vote: 2 as NodeId, commit: 300 as LogIndex })],
      [rocksKeys.hardState, encodeHardState({ term: 0 as Term, vote: 0 as NodeId, commit: 0 as LogIndex })],
      [rocksKeys.snapshot, encodeSnapshotMeta({ index: 40 as LogIndex, term: 3 as Term, voters: [1, 2, 3] as NodeId[] })],
      [rocksKeys.pendingSnapshot, encodeSnapshotMeta({ index: 0 as LogIndex, term: 0 as Term, voters: [] })],
      [rocksKeys.voters, encodeVoters({ voters: [1, 2, 3] as NodeId[], addresses: { 1: "h:1", 2: "h:2", 3: "h:3" } })],
      [rocksKeys.entry(5), encodeEntry(ent(5, 2))],
      [rocksKeys.entry(6), encodeEntry({ index: 6 as LogIndex, term: 2 as Term, type: "normal", data: new Uint8Array(0) })],
      [rocksKeys.entry(200), encodeEntry({ index: 200 as LogIndex, term: 2 as Term, type: "normal", data: new Uint8Array(300).fill(7) })],
    ];
    let flips = 0;
    for (const [key, payload] of records) {
      const stored = Buffer.from(encodeRecord(key, payload));
      expect(verifyRecord(key, stored).ok).toBe(true);
      for (let bit = 0; bit < stored.length * 8; bit++) {
        const bad = Buffer.from(stored);
        bad[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyRecord(key, bad).ok, `key ${key.toString("hex")} bit ${bit}`).toBe(false);
        flips++;
      }
    }
    expect(flips).toBeGreaterThan(3000);
  });
});

describe("RocksLogStore corruption detection", () => {
  it("loads the undamaged store (the baseline the other tests damage)", async () => {
    const s = await RocksLogStore.open(dir);
    const st = await s.load();
    await s.close();
    expect(st.entries.map((e) => e.index)).toEqual(entries(1, 30).map((e) => e.index));
    expect(st.hardState).toEqual({ term: 2, vote: 1, commit: 20 });
  });

  it("uses CRC-32C over key and payload, so a hand-made record verifies", async () => {
    const key = rocksKeys.entry(17);
    const payload = encodeEntry(ent(17, 2));
    await raw(async (db) => {
      const stored = await db.get(key);
      expect(Buffer.from(encodeRecord(key, payload)).equals(stored)).toBe(true);
    });
    expect(crc32c(payload, crc32c(key))).toBe(crc32c(Buffer.concat([key, payload])));
  });

  it("rejects a flipped byte at every position of an entry's value, naming dir and index", async () => {
    const key = rocksKeys.entry(17);
    let original: Buffer = Buffer.alloc(0);
    await raw(async (db) => {
      original = await db.get(key);
    });
    expect(original.length).toBeGreaterThan(10);
    for (let pos = 0; pos < original.length; pos++) {
      const bad = Buffer.from(original);
      bad[pos] ^= 0x40;
      await raw((db) => db.put(key, bad));
      await expectLoadCorruption(/^entry 17: /);
    }
    await raw((db) => db.put(key, original));
    const s = await RocksLogStore.open(dir);
    expect((await s.load()).entries.length).toBe(30); // restored: loads again
    await s.close();
  });

  it("says 'checksum mismatch' for a bit flip inside the entry data", async () => {
    const key = rocksKeys.entry(17);
    await raw(async (db) => {
      const v = Buffer.from(await db.get(key));
      const at = v.indexOf(Buffer.from("of term"));
      expect(at).toBeGreaterThan(0);
      v[at] ^= 0x01;
      await db.put(key, v);
    });
    const err = await expectLoadCorruption("entry 17: checksum mismatch");
    expect(err.message).toBe(`corrupt data in ${dir}: entry 17: checksum mismatch`);
  });

  it("rejects truncated records (shortened values, down to empty)", async () => {
    const key = rocksKeys.entry(17);
    let original: Buffer = Buffer.alloc(0);
    await raw(async (db) => {
      original = await db.get(key);
    });
    for (const len of [original.length - 1, original.length - 3, original.length - 5, 7, 2, 0]) {
      await raw((db) => db.put(key, original.subarray(0, len)));
      await expectLoadCorruption(/^entry 17: /);
    }
  });

  it("rejects an empty hard state record at open (a payload-only CRC would read it as term 0)", async () => {
    await raw((db) => db.put(rocksKeys.hardState, Buffer.alloc(0)));
    const err = await openAndLoadError();
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).message).toBe(`corrupt data in ${dir}: hard state: checksum mismatch`);
  });

  it("rejects a damaged last entry already at open", async () => {
    await raw(async (db) => {
      const key = rocksKeys.entry(30);
      const v = Buffer.from(await db.get(key));
      v[v.length - 1] ^= 0xff;
      await db.put(key, v);
    });
    const err = await openAndLoadError();
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptionError).detail).toBe("entry 30: checksum mismatch");
  });

  it("rejects a missing entry in the middle (a gap), naming the missing index", async () => {
    await raw((db) => db.del(rocksKeys.entry(12)));
    await expectLoadCorruption("entry 12: missing (next stored entry is 13)");
  });

  it("rejects an entry stored under another index's key, even with a valid checksum", async () => {
    const key = rocksKeys.entry(13);
    await raw((db) => db.put(key, Buffer.from(encodeRecord(key, encodeEntry(ent(14, 2))))));
    await expectLoadCorruption("entry 13: payload says index 14");
  });

  it("rejects a record copied to another key (the CRC covers the key)", async () => {
    await raw(async (db) => db.put(rocksKeys.entry(13), await db.get(rocksKeys.entry(14))));
    await expectLoadCorruption("entry 13: checksum mismatch");
  });

  it("rejects an undecodable payload with a valid checksum", async () => {
    const key = rocksKeys.entry(9);
    await raw((db) => db.put(key, Buffer.from(encodeRecord(key, Uint8Array.from([0x08, 0xff, 0xff])))));
    await expectLoadCorruption(/^entry 9: undecodable payload/);
  });

  it("rejects entries that do not start right after the compacted point", async () => {
    const s = await RocksLogStore.open(dir);
    await s.compact({ index: 10 as LogIndex, term: 2 as Term, voters: [1 as NodeId] }, 10 as LogIndex, 2 as Term);
    await s.close();
    await raw((db) => db.del(rocksKeys.entry(11)));
    await expectLoadCorruption("entry 12: log must start at 11, right after compacted index 10");
  });

  it("rejects a stale entry at or below the compacted point", async () => {
    const s = await RocksLogStore.open(dir);
    await s.compact({ index: 10 as LogIndex, term: 2 as Term, voters: [1 as NodeId] }, 10 as LogIndex, 2 as Term);
    await s.close();
    const key = rocksKeys.entry(4);
    await raw((db) => db.put(key, Buffer.from(encodeRecord(key, encodeEntry(ent(4, 2))))));
    await expectLoadCorruption("entry 4: stored at or below compacted index 10");
  });

  it("rejects a hard state whose commit is beyond the log", async () => {
    // Entries 21..30 vanish (commit 20 still fits), then the commit says 25.
    await raw(async (db) => {
      for (let i = 21; i <= 30; i++) await db.del(rocksKeys.entry(i));
      const payload = encodeHardState({ term: 2 as Term, vote: 1 as NodeId, commit: 25 as LogIndex });
      await db.put(rocksKeys.hardState, Buffer.from(encodeRecord(rocksKeys.hardState, payload)));
    });
    await expectLoadCorruption("hard state: commit 25 beyond last index 20 and snapshot 0");
  });

  it("rejects a decreasing term", async () => {
    const key = rocksKeys.entry(20);
    await raw((db) => db.put(key, Buffer.from(encodeRecord(key, encodeEntry(ent(20, 1))))));
    await expectLoadCorruption("entry 20: term 1 below previous term 2");
  });
});
