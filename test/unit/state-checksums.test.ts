/**
 * Checksums on the state machines' values (common/record.ts, common/checked-kv.ts): a bit
 * flipped past the storage's own checks in each kind of stored value (data key, duplicate
 * record, config, metadata, applied index, pending join) is detected on each read path
 * (point get, the apply's getMany, the LengthCache fill, a pull, a snapshot stream, a
 * restore, a startup load, Status), stops the state machine and calls onCorruption once,
 * and never comes back as a value. And: the framing is byte for byte the log store's
 * StoredRecord; a directory of format 1 (values without checksums) is migrated on open,
 * resuming after a crash; a format this version does not know is refused.
 */
import { describe, expect, it } from "vitest";
import { shardkv } from "../../proto/gen/raft.js";
import { checkedFormat, formatKey, openCheckedKv } from "../../common/checked-kv";
import { crc32c } from "../../common/crc32c";
import { CorruptionError, StoppedError } from "../../common/errors";
import type { ConfigNum, GroupId, LogIndex, ShardId, Term } from "../../common/ids";
import type { KvStorage, KvStore } from "../../common/kv-store";
import { encodeRecord, recordPayload, verifyRecord } from "../../common/record";
import { encodeConfig } from "../../controller/codec";
import type { Config } from "../../controller/config";
import { controllerKeys, RocksControllerStateMachine } from "../../controller/rocks-state";
import type { ControllerOp } from "../../controller/state-machine";
import { shardOf } from "../../controller/shard-of";
import type { Entry } from "../../raft/core/types";
import { encodeCommand as encodeShardCommand, encodeDedupRecord, encodeShardMeta } from "../../shard-server/codec";
import { RocksShardStateMachine, shardKeys } from "../../shard-server/rocks-state";
import { groupRecord, u64 } from "../../shard-server/state-keys";
import type { ShardOp } from "../../shard-server/types";
import { encodeCommand as encodeControllerCommand } from "../../controller/codec";
import { SimRng } from "../sim/rng";
import { SimKvStorage } from "../sim/sim-kv";
import { restoreInto } from "../lib/snapshot-restore";

const N = 4;
const TTL = 60_000;
const enc = (s: string) => Buffer.from(s);
const g = (n: number) => n as GroupId;
const clientA = "aa".repeat(16);

function config(num: number, shards: number[]): Config {
  const gids = [...new Set(shards.filter((x) => x !== 0))];
  return { num: num as ConfigNum, shards: shards.map(g), groups: new Map(gids.map((x) => [g(x), [`127.0.0.1:${9000 + x}`]])) };
}

/** A key of shard `s`. */
function keyOf(s: number, skip = 0): string {
  for (let n = 0; ; n++) if (shardOf(`k${n}`, N) === s && skip-- === 0) return `k${n}`;
}

/**
 * `base` whose reads of the keys in `flip` come back with one bit flipped (past the storage's
 * own checks, as SimKvStorage's readFlipRate does, but aimed).
 */
function flipping(base: KvStorage): { storage: KvStorage; flip: Set<string> } {
  const flip = new Set<string>();
  const bent = (k: Buffer, v: Buffer | undefined): Buffer | undefined => {
    if (v === undefined || !flip.has(k.toString("hex"))) return v;
    const c = Buffer.from(v);
    c[c.length >> 1] ^= 0x10;
    return c;
  };
  const wrap = (db: KvStore): KvStore => ({
    get: async (k) => bent(k, await db.get(k)),
    getMany: async (ks) => (await db.getMany(ks)).map((v, i) => bent(ks[i]!, v)),
    iterator: (o) => ({
      async *[Symbol.asyncIterator]() {
        for await (const [k, v] of db.iterator(o)) yield [k, bent(k, v)!];
      },
    }),
    write: (ops, o) => db.write(ops, o),
    close: () => db.close(),
  });
  return {
    flip,
    storage: {
      open: async (d, o) => wrap(await base.open(d, o)),
      exists: (d) => base.exists(d),
      remove: (d) => base.remove(d),
      rename: (a, b) => base.rename(a, b),
    },
  };
}

/** A shard group with data in shards 0 and 1, a duplicate record, over a flipping storage. */
async function shardGroup(dir = "/g1/state") {
  const sim = new SimKvStorage(new SimRng(1));
  const { storage, flip } = flipping(sim);
  const corruptions: CorruptionError[] = [];
  const open = () => RocksShardStateMachine.open(dir, { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage, onCorruption: (e) => corruptions.push(e) });
  const sm = await open();
  let index = 0;
  let seq = 0;
  const entry = (op: ShardOp): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeShardCommand({ timestampMs: 1_000 + index, op }) });
  const write = (key: string, type: "put" | "append", value: string): Entry =>
    entry({ kind: "write", write: { clientId: clientA, seq: ++seq, ackedBelow: 0, shard: shardOf(key, N) as ShardId, ops: [{ type, key: enc(key), value: enc(value) }] } });
  await sm.apply([entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
  await sm.apply([write(keyOf(0), "put", "zero"), write(keyOf(1), "put", "one")]);
  // In the database, where the flips are (applies are written behind: shard-server/write-behind.ts).
  await sm.flush();
  const hex = (k: Buffer) => k.toString("hex");
  return { sim, storage, flip, corruptions, sm, open, entry, write, hex };
}

/** Expects exactly one detection so far, naming `what`. */
function expectDetected(corruptions: CorruptionError[], what: RegExp): void {
  expect(corruptions.length).toBe(1);
  expect(corruptions[0]).toBeInstanceOf(CorruptionError);
  expect(corruptions[0]!.message).toMatch(what);
}

describe("record framing (common/record.ts)", () => {
  it("is byte for byte the StoredRecord protobufjs writes, and decodes what protobufjs writes", () => {
    const key = Buffer.from("k1");
    for (const len of [0, 1, 127, 128, 300, 16_384, 2_100_000]) {
      const payload = Buffer.alloc(len, 0xab);
      const crc = crc32c(payload, crc32c(key));
      const pb = Buffer.from(shardkv.raft.StoredRecord.encode({ payload, crc32c: crc }).finish());
      expect(encodeRecord(key, payload).equals(pb)).toBe(true);
      const back = verifyRecord(key, pb);
      expect(back.ok && Buffer.from(back.payload).equals(payload)).toBe(true);
    }
    // Fields in the other order are the same message.
    const payload = Buffer.from("xyz");
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32c(payload, crc32c(Buffer.from("k"))));
    expect(recordPayload(Buffer.from("k"), Buffer.concat([Buffer.from([0x15]), crc, Buffer.from([0x0a, 3]), payload]))?.toString()).toBe("xyz");
  });

  it("rejects a flipped bit anywhere, a value under another key, a truncated or empty value", () => {
    const key = Buffer.from("d\x00\x01key");
    const rec = encodeRecord(key, Buffer.from("some value"));
    for (let bit = 0; bit < rec.length * 8; bit++) {
      const c = Buffer.from(rec);
      c[bit >> 3] ^= 1 << (bit & 7);
      expect(verifyRecord(key, c).ok).toBe(false);
    }
    expect(verifyRecord(Buffer.from("d\x00\x01kez"), rec)).toEqual({ ok: false, reason: "checksum mismatch" });
    for (let n = 0; n < rec.length; n++) expect(verifyRecord(key, rec.subarray(0, n)).ok).toBe(false);
  });
});

describe("shard state machine: a flipped bit in a stored value", () => {
  it("data key, point get: StoppedError to the reader, onCorruption once naming the key, the state machine stops", async () => {
    const t = await shardGroup();
    const key = keyOf(0);
    t.flip.add(t.hex(shardKeys.data(0, enc(key))));
    await expect(t.sm.get(0 as ShardId, enc(key))).rejects.toThrow(StoppedError);
    expectDetected(t.corruptions, new RegExp(`corrupt data in /g1/state: data key ${enc(key).toString("hex")} of shard 0: checksum mismatch`));
    // Stopped for good: other keys, applies and status refuse too, and nothing is reported again.
    await expect(t.sm.get(1 as ShardId, enc(keyOf(1)))).rejects.toThrow(/the replica stopped: corrupt data/);
    await expect(t.sm.apply([t.write(keyOf(1), "put", "x")])).rejects.toBeInstanceOf(StoppedError);
    await expect(t.sm.shardStats()).rejects.toBeInstanceOf(StoppedError);
    expect(t.corruptions.length).toBe(1);
    await t.sm.close();
  });

  it("data key, apply path (the getMany of an append, and of a put whose length is not cached): the apply rejects with the CorruptionError", async () => {
    for (const type of ["append", "put"] as const) {
      const t = await shardGroup();
      const key = keyOf(0);
      // A fresh open has an empty LengthCache: even a put reads the old value for the counters.
      await t.sm.close();
      const sm = await t.open();
      t.flip.add(t.hex(shardKeys.data(0, enc(key))));
      await expect(sm.apply([t.write(key, type, "more")])).rejects.toBeInstanceOf(CorruptionError);
      expectDetected(t.corruptions, /data key .* of shard 0: checksum mismatch/);
      await expect(sm.get(1 as ShardId, enc(keyOf(1)))).rejects.toBeInstanceOf(StoppedError);
      await sm.close();
      // Nothing of the failed apply was written: without the fault the value is intact.
      t.flip.clear();
      const again = await t.open();
      expect(Buffer.from((await again.get(0 as ShardId, enc(key)))!).toString()).toBe("zero");
      await again.close();
    }
  });

  it("data key, pull: the pull stream fails with StoppedError and the replica stops", async () => {
    const t = await shardGroup();
    await t.sm.apply([t.entry({ kind: "reconfigure", config: config(2, [2, 1, 1, 1]) })]);
    t.flip.add(t.hex(shardKeys.data(0, enc(keyOf(0)))));
    const it = t.sm.pullChunks(2 as ConfigNum, 0 as ShardId, undefined, 1 << 20);
    await expect(it.next()).rejects.toBeInstanceOf(StoppedError);
    expectDetected(t.corruptions, /data key .* of shard 0/);
    await t.sm.close();
  });

  it("data key and duplicate record, snapshot stream: reading the chunk fails with the CorruptionError", async () => {
    for (const [key, what] of [[shardKeys.data(1, enc(keyOf(1))), /data key .* of shard 1/], [shardKeys.dedup(1, clientA), /duplicate record of client a+ in shard 1/]] as const) {
      const t = await shardGroup();
      t.flip.add(t.hex(key));
      const src = await t.sm.snapshot();
      await expect(src.readChunk(0)).rejects.toBeInstanceOf(CorruptionError);
      expectDetected(t.corruptions, what);
      src.close();
      await t.sm.close();
    }
  });

  it("a restored snapshot is stored with checksums again, and a flip in it is caught", async () => {
    const from = await shardGroup("/src/state");
    const to = await shardGroup("/dst/state");
    const src = await from.sm.snapshot();
    await restoreInto(to.sm, src);
    const key = keyOf(1);
    expect(Buffer.from((await to.sm.get(1 as ShardId, enc(key)))!).toString()).toBe("one");
    for (const [k, v] of to.sim.peek("/dst/state")!) expect(recordPayload(Buffer.from(k, "latin1"), v)).toBeDefined();
    to.flip.add(to.hex(shardKeys.data(1, enc(key))));
    await expect(to.sm.get(1 as ShardId, enc(key))).rejects.toBeInstanceOf(StoppedError);
    expectDetected(to.corruptions, /corrupt data in \/dst\/state: data key/);
    await from.sm.close();
    await to.sm.close();
  });

  it("data key of a shard not owned, Status (counted on disk): StoppedError", async () => {
    const t = await shardGroup();
    // Shard 3 given away and deleted: not owned, so Status counts what the disk holds of it.
    await t.sm.apply([t.entry({ kind: "reconfigure", config: config(2, [1, 1, 1, 2]) })]);
    await t.sm.apply([t.entry({ kind: "deleteShard", configNum: 2 as ConfigNum, shard: 3 as ShardId })]);
    await t.sm.close();
    const db = await t.sim.open("/g1/state");
    const stray = shardKeys.data(3, enc(keyOf(3)));
    await db.write([{ type: "put", key: stray, value: encodeRecord(stray, enc("stray")) }], { sync: true });
    await db.close();
    const sm = await t.open();
    expect((await sm.shardStats())[3]).toMatchObject({ state: "notOwned", keys: 1 });
    t.flip.add(t.hex(stray));
    await expect(sm.shardStats()).rejects.toBeInstanceOf(StoppedError);
    expectDetected(t.corruptions, /data key .* of shard 3/);
    await sm.close();
  });

  it("metadata, duplicate record, config, applied index: the startup load rejects with a CorruptionError naming it", async () => {
    const cases: [Buffer, RegExp][] = [
      [shardKeys.meta(1), /metadata of shard 1: checksum mismatch/],
      [shardKeys.dedup(1, clientA), /duplicate record of client a{32} in shard 1: checksum mismatch/],
      [shardKeys.config, /config: checksum mismatch/],
      [shardKeys.applied, /applied index: checksum mismatch/],
      [shardKeys.group, /group record: checksum mismatch/],
      [formatKey, /format marker: checksum mismatch/],
    ];
    for (const [key, what] of cases) {
      const t = await shardGroup();
      await t.sm.close();
      t.flip.add(t.hex(key));
      const err = await t.open().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(CorruptionError);
      expect((err as Error).message).toMatch(what);
    }
  });
});

describe("controller state machine: a flipped bit in a stored value", () => {
  const cmd = (index: number, seq: number, op: ControllerOp): Entry => ({
    index: index as LogIndex, term: 1 as Term, type: "normal", data: encodeControllerCommand({ clientId: clientA, seq, op, shardCount: 4 }),
  });
  async function controller() {
    const sim = new SimKvStorage(new SimRng(2));
    const { storage, flip } = flipping(sim);
    const corruptions: CorruptionError[] = [];
    const open = () => RocksControllerStateMachine.open("/c/state", 4, storage, (e) => corruptions.push(e));
    const sm = await open();
    await sm.apply([cmd(1, 1, { kind: "join", groups: new Map([[g(1), ["a:1"]]]) })]);
    await sm.apply([cmd(2, 2, { kind: "ackJoin", gid: g(1), joinNum: 1 as ConfigNum })]);
    // Group 2's join stays pending (a pending-join record).
    await sm.apply([cmd(3, 3, { kind: "join", groups: new Map([[g(2), ["b:1"]]]) })]);
    return { sm, open, flip, corruptions, sim };
  }

  it("a historical config read: StoppedError to the reader, onCorruption once, the state machine stops", async () => {
    const t = await controller();
    expect(t.sm.latestNum()).toBe(2);
    t.flip.add(controllerKeys.config(1).toString("hex"));
    await expect(t.sm.config(1)).rejects.toBeInstanceOf(StoppedError);
    expectDetected(t.corruptions, /corrupt data in \/c\/state: config 1: checksum mismatch/);
    await expect(t.sm.config(0)).rejects.toThrow(/the replica stopped: corrupt data/);
    await expect(t.sm.apply([cmd(4, 4, { kind: "leave", gids: [g(1)] })])).rejects.toBeInstanceOf(StoppedError);
    await t.sm.close();
  });

  it("a snapshot: the CorruptionError; a startup load: the CorruptionError naming the record", async () => {
    const t = await controller();
    t.flip.add(controllerKeys.config(0).toString("hex"));
    await expect(t.sm.snapshot()).rejects.toBeInstanceOf(CorruptionError);
    expectDetected(t.corruptions, /config 0: checksum mismatch/);
    await t.sm.close();
    for (const [key, what] of [
      [controllerKeys.config(2), /config 2: checksum mismatch/],
      [controllerKeys.dedup(clientA), /duplicate entry of client a{32}: checksum mismatch/],
      [controllerKeys.applied, /applied index: checksum mismatch/],
      [controllerKeys.shardCount, /shard count: checksum mismatch/],
      [controllerKeys.pending(2), /pending join of group 2: checksum mismatch/],
    ] as const) {
      t.flip.clear();
      t.flip.add(key.toString("hex"));
      await expect(t.open()).rejects.toThrow(what);
    }
  });
});

describe("data directories of format 1 (values without checksums)", () => {
  /** A shard group's database as the previous version wrote it. */
  async function formatOne(storage: KvStorage, dir: string): Promise<{ key: string }> {
    const db = await storage.open(dir);
    const key = keyOf(2);
    const meta = { shard: 2 as ShardId, state: "serving" as const, configNum: 1 as ConfigNum, gcConfigNum: 0 as ConfigNum };
    await db.write([
      { type: "put", key: shardKeys.config, value: encodeConfig(config(1, [1, 1, 1, 1])) },
      { type: "put", key: shardKeys.applied, value: u64(7) },
      { type: "put", key: shardKeys.group, value: groupRecord(1, N) },
      { type: "put", key: shardKeys.meta(2), value: encodeShardMeta(meta) },
      { type: "put", key: shardKeys.data(2, enc(key)), value: enc("old value") },
      { type: "put", key: shardKeys.dedup(2, clientA), value: encodeDedupRecord(clientA, { ackedBelow: 0, lastSeenMs: 5, replies: new Map() }) },
    ], { sync: true });
    await db.close();
    return { key };
  }

  it("is migrated on open: every value gets its checksum, the marker says format 2, the state is the same", async () => {
    const sim = new SimKvStorage(new SimRng(3));
    const { key } = await formatOne(sim, "/old/state");
    const sm = await RocksShardStateMachine.open("/old/state", { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage: sim });
    expect(sm.appliedIndex()).toBe(7);
    expect(sm.core.config.num).toBe(1);
    expect(sm.core.dedupOf(2 as ShardId).has(clientA)).toBe(true);
    expect(Buffer.from((await sm.get(2 as ShardId, enc(key)))!).toString()).toBe("old value");
    await sm.close();
    const stored = sim.peek("/old/state")!;
    for (const [k, v] of stored) expect(recordPayload(Buffer.from(k, "latin1"), v), k).toBeDefined();
    expect(recordPayload(formatKey, stored.get(formatKey.toString("latin1"))!)).toEqual(Buffer.from([checkedFormat]));
  });

  it("a migration interrupted by a crash resumes after the last key it recorded, and frames no value twice", async () => {
    const sim = new SimKvStorage(new SimRng(4));
    const { key } = await formatOne(sim, "/old/state");
    // As a crash after the first batch leaves it: the keys up to "!c" framed, the marker
    // recording "!c", the rest of format 1.
    const db = await sim.open("/old/state");
    const raw = new Map<string, Buffer>();
    for await (const [k, v] of db.iterator({})) raw.set(k.toString("latin1"), v);
    await db.write([
      ...["!a", "!c"].map((k) => ({ type: "put" as const, key: Buffer.from(k, "latin1"), value: encodeRecord(Buffer.from(k, "latin1"), raw.get(k)!) })),
      { type: "put", key: formatKey, value: encodeRecord(formatKey, Buffer.concat([Buffer.from([checkedFormat, 1]), Buffer.from("!c")])) },
    ], { sync: true });
    await db.close();
    const store = await openCheckedKv(sim, "/old/state");
    expect(Buffer.from((await store.get(shardKeys.data(2, enc(key))))!).toString()).toBe("old value");
    expect((await store.get(shardKeys.applied))!.equals(u64(7))).toBe(true);
    expect((await store.get(formatKey))!.equals(Buffer.from([checkedFormat]))).toBe(true);
    await store.close();
  });

  it("a format this version does not know is refused with a CorruptionError, nothing changed", async () => {
    const sim = new SimKvStorage(new SimRng(5));
    const db = await sim.open("/new/state");
    await db.write([{ type: "put", key: formatKey, value: encodeRecord(formatKey, Buffer.from([3])) }], { sync: true });
    await db.close();
    await expect(openCheckedKv(sim, "/new/state")).rejects.toThrow(/corrupt data in \/new\/state: format marker 03: not a format this version reads \(2\)/);
    expect(sim.peek("/new/state")!.size).toBe(1);
  });
});
