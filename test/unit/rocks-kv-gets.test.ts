/**
 * RocksKv's gets (raft/storage/rocks-kv.ts): the gets of one event-loop turn are read in one
 * binding call (getMany), each answered with its own key's value; a later turn's gets are a
 * new call; a get on a closed database rejects with StoppedError.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, expect, it, vi } from "vitest";
import { StoppedError } from "../../common/errors";
import { openRocksKv } from "../../raft/storage/rocks-kv";

const requireHere = createRequire(import.meta.url);
const LevelDown = createRequire(requireHere.resolve("level-rocksdb"))("rocksdb") as { prototype: Record<string, unknown> };

const roots: string[] = [];
afterAll(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const b = (s: string): Buffer => Buffer.from(s);

async function filled(n: number) {
  const root = await mkdtemp(join(tmpdir(), "shardkv-kv-gets-"));
  roots.push(root);
  const db = await openRocksKv(join(root, "db"));
  await db.write(Array.from({ length: n }, (_, i) => ({ type: "put" as const, key: b(`k${i}`), value: b(`v${i}`) })), { sync: false });
  return db;
}

it("reads the gets of one turn in one getMany, each answered with its own value (absent: undefined)", async () => {
  const db = await filled(20);
  const getMany = vi.spyOn(LevelDown.prototype as { _getMany(...a: unknown[]): void }, "_getMany");
  const get = vi.spyOn(LevelDown.prototype as { _get(...a: unknown[]): void }, "_get");
  const keys = [...Array.from({ length: 20 }, (_, i) => `k${i}`), "absent", "k3"];
  const values = await Promise.all(keys.map((k) => db.get(b(k))));
  expect(values.map((v) => v?.toString())).toEqual([...Array.from({ length: 20 }, (_, i) => `v${i}`), undefined, "v3"]);
  expect(getMany).toHaveBeenCalledTimes(1);
  expect(get).not.toHaveBeenCalled();

  // Gets of later turns (each after the previous answer) are calls of their own: a lone get, the binding's get.
  expect((await db.get(b("k1")))?.toString()).toBe("v1");
  expect(await db.get(b("nope"))).toBeUndefined();
  expect(getMany).toHaveBeenCalledTimes(1);
  expect(get).toHaveBeenCalledTimes(2);
  await db.close();
});

it("gets issued from the microtasks of one turn (awaits in between) share the call", async () => {
  const db = await filled(4);
  const getMany = vi.spyOn(LevelDown.prototype as { _getMany(...a: unknown[]): void }, "_getMany");
  const reader = async (k: string): Promise<string | undefined> => {
    await Promise.resolve(); // the way a read reaches the store: a few awaits after its barrier
    await Promise.resolve();
    return (await db.get(b(k)))?.toString();
  };
  expect(await Promise.all(["k0", "k1", "k2", "k3"].map(reader))).toEqual(["v0", "v1", "v2", "v3"]);
  expect(getMany).toHaveBeenCalledTimes(1);
  await db.close();
});

it("a get on a closed database rejects with StoppedError", async () => {
  const db = await filled(1);
  await db.close();
  await expect(db.get(b("k0"))).rejects.toBeInstanceOf(StoppedError);
});
