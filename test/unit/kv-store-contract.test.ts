/**
 * The storage seam's contract (common/kv-store.ts), run against every implementation: RocksDB
 * (raft/storage/rocks-kv.ts) and the simulator's (test/sim/sim-kv.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StoppedError } from "../../common/errors";
import type { KvIteratorOptions, KvReader, KvStorage } from "../../common/kv-store";
import { rocksStorage } from "../../raft/storage/rocks-kv";
import { SimRng } from "../sim/rng";
import { SimKvStorage } from "../sim/sim-kv";

const roots: string[] = [];
afterAll(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

interface Impl {
  readonly name: string;
  /** A fresh storage and a directory prefix in it. */
  make(): Promise<{ storage: KvStorage; root: string }>;
}

const rocksImpl: Impl = {
  name: "RocksDB",
  async make() {
    const root = await mkdtemp(join(tmpdir(), "shardkv-kv-"));
    roots.push(root);
    return { storage: rocksStorage, root };
  },
};

const b = (s: string): Buffer => Buffer.from(s);

async function pairs(db: KvReader, options: KvIteratorOptions = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of db.iterator(options)) out.push(`${k.toString()}=${v.toString()}`);
  return out;
}

/** The contract, for one implementation. */
function kvStoreContract(impl: Impl): void {
  describe(`KvStore contract: ${impl.name}`, () => {
    it("stores Uint8Array values and views byte for byte; get and getMany answer undefined where absent", async () => {
      const { storage, root } = await impl.make();
      const db = await storage.open(join(root, "a"));
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      await db.write([
        { type: "put", key: b("p"), value: new Uint8Array([1, 2, 3]) },
        { type: "put", key: b("v"), value: backing.subarray(2, 5) },
        { type: "put", key: b("gone"), value: new Uint8Array([7]) },
        { type: "del", key: b("gone") },
      ], { sync: true });
      expect([...(await db.get(b("p")))!]).toEqual([1, 2, 3]);
      expect(await db.get(b("absent"))).toBeUndefined();
      const [v, gone, absent] = await db.getMany([b("v"), b("gone"), b("absent")]);
      expect([...v!]).toEqual([1, 2, 3]);
      expect(gone).toBeUndefined();
      expect(absent).toBeUndefined();
      await db.close();
    });

    it("iterates in key order within bounds, in reverse, and up to a limit", async () => {
      const { storage, root } = await impl.make();
      const db = await storage.open(join(root, "a"));
      await db.write(["c", "a", "e", "b", "d"].map((k) => ({ type: "put" as const, key: b(k), value: b(k.toUpperCase()) })), { sync: false });
      expect(await pairs(db)).toEqual(["a=A", "b=B", "c=C", "d=D", "e=E"]);
      expect(await pairs(db, { gte: b("b"), lt: b("d") })).toEqual(["b=B", "c=C"]);
      expect(await pairs(db, { gte: b("b"), reverse: true })).toEqual(["e=E", "d=D", "c=C", "b=B"]);
      expect(await pairs(db, { lt: b("e"), reverse: true, limit: 2 })).toEqual(["d=D", "c=C"]);
      await db.close();
    });

    it("deletes a range inside a batch: stored keys and earlier puts of the batch go, later puts stay, nothing outside", async () => {
      const { storage, root } = await impl.make();
      const db = await storage.open(join(root, "a"));
      await db.write(["a", "b1", "b2", "b3", "c"].map((k) => ({ type: "put" as const, key: b(k), value: b("old") })), { sync: true });
      await db.write([
        { type: "put", key: b("b4"), value: b("early") },
        { type: "delRange", gte: b("b"), lt: b("c") },
        { type: "put", key: b("b2"), value: b("late") },
      ], { sync: true });
      expect(await pairs(db)).toEqual(["a=old", "b2=late", "c=old"]);
      await db.close();
    });

    it("an iterator reads the database as of its creation (a point-in-time snapshot)", async () => {
      const { storage, root } = await impl.make();
      const db = await storage.open(join(root, "a"));
      await db.write([{ type: "put", key: b("a"), value: b("1") }, { type: "put", key: b("b"), value: b("1") }], { sync: true });
      const it = db.iterator({})[Symbol.asyncIterator]();
      await db.write([
        { type: "put", key: b("a"), value: b("2") },
        { type: "del", key: b("b") },
        { type: "put", key: b("c"), value: b("2") },
      ], { sync: true });
      const seen: string[] = [];
      for (let r = await it.next(); !r.done; r = await it.next()) seen.push(`${r.value[0].toString()}=${r.value[1].toString()}`);
      expect(seen).toEqual(["a=1", "b=1"]);
      expect(await pairs(db)).toEqual(["a=2", "c=2"]);
      await db.close();
    });

    it("keeps what was written across close and open; a closed database rejects every call", async () => {
      const { storage, root } = await impl.make();
      const dir = join(root, "a");
      const db = await storage.open(dir);
      await db.write([{ type: "put", key: b("k"), value: b("v") }], { sync: true });
      await db.close();
      await db.close(); // idempotent
      await expect(db.get(b("k"))).rejects.toBeInstanceOf(StoppedError);
      await expect(db.getMany([b("k")])).rejects.toBeInstanceOf(StoppedError);
      await expect(db.write([{ type: "del", key: b("k") }], { sync: true })).rejects.toBeInstanceOf(StoppedError);
      expect(() => db.iterator({})).toThrow(StoppedError);
      const again = await storage.open(dir);
      expect((await again.get(b("k")))?.toString()).toBe("v");
      await again.close();
      const ro = await storage.open(dir, { readOnly: true });
      expect((await ro.get(b("k")))?.toString()).toBe("v");
      await ro.close();
      await expect(storage.open(join(root, "missing"), { readOnly: true })).rejects.toThrow();
      expect(await storage.exists(join(root, "missing"))).toBe(false);
    });

    it("renames and removes whole databases", async () => {
      const { storage, root } = await impl.make();
      const db = await storage.open(join(root, "staging"));
      await db.write([{ type: "put", key: b("k"), value: b("staged") }], { sync: true });
      await db.close();
      expect(await storage.exists(join(root, "staging"))).toBe(true);
      await storage.rename(join(root, "staging"), join(root, "live"));
      expect(await storage.exists(join(root, "staging"))).toBe(false);
      const live = await storage.open(join(root, "live"));
      expect((await live.get(b("k")))?.toString()).toBe("staged");
      await live.close();
      await storage.remove(join(root, "live"));
      expect(await storage.exists(join(root, "live"))).toBe(false);
      await storage.remove(join(root, "live")); // absent: nothing to do
    });
  });
}

const simImpl: Impl = {
  name: "simulated",
  async make() {
    return { storage: new SimKvStorage(new SimRng(7)), root: "/sim" };
  },
};

kvStoreContract(rocksImpl);
kvStoreContract(simImpl);
