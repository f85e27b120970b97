/**
 * The simulated storage (test/sim/sim-kv.ts) and the production log store and state machines
 * over it: a power loss loses only unsynced batches, whole ones, never part of one; a
 * kill -9 loses nothing written; a detected corruption is a clean stop (CorruptionError),
 * never a wrong answer. (The contract shared with RocksDB: kv-store-contract.test.ts.)
 *
 * Checksums: the log store's records carry CRC-32C over key and payload, so a flip past
 * RocksDB's checks is caught. The state machines' values carry none (their format is
 * RocksDB's own: its block and WAL checksums catch corruption on disk, as readCorruptionRate
 * models); a flip between RocksDB and the process (readFlipRate) would reach them unchecked,
 * which is why only the log store is run under readFlipRate here.
 */
import { describe, expect, it } from "vitest";
import { CorruptionError, StoppedError } from "../../common/errors";
import type { KvReader, KvStorage } from "../../common/kv-store";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId, Term } from "../../common/ids";
import type { Config } from "../../controller/config";
import { RocksControllerStateMachine } from "../../controller/rocks-state";
import { shardOf } from "../../controller/shard-of";
import type { Entry } from "../../raft/core/types";
import { RocksLogStore } from "../../raft/storage/rocks-log-store";
import { encodeCommand } from "../../shard-server/codec";
import { RocksShardStateMachine } from "../../shard-server/rocks-state";
import type { ShardOp } from "../../shard-server/types";
import { SimClock } from "../sim/clock";
import { SimRng } from "../sim/rng";
import { SimKvStorage } from "../sim/sim-kv";

const b = (s: string): Buffer => Buffer.from(s);

async function dump(storage: SimKvStorage, dir: string): Promise<Record<string, string>> {
  const db = await storage.open(dir);
  const out = await dumpOpen(db);
  await db.close();
  return out;
}

describe("SimKvStorage crashes", () => {
  it("a power loss keeps every synced batch and a prefix of the unsynced ones, each whole; kill -9 keeps everything written", async () => {
    let lostSome = 0;
    let torn = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rng = new SimRng(seed);
      const storage = new SimKvStorage(rng.fork("disk"));
      const db = await storage.open("/m/db");
      // States after each batch; batches touch overlapping keys so a partial one would show.
      const states: Record<string, string>[] = [{}];
      let lastSynced = 0;
      for (let i = 1; i <= 12; i++) {
        const sync = rng.bool(0.3);
        await db.write([
          { type: "put", key: b(`k${rng.int(5)}`), value: b(`v${i}`) },
          { type: "put", key: b(`k${rng.int(5)}`), value: b(`w${i}`) },
          { type: "put", key: b("batch"), value: b(`${i}`) },
          ...(rng.bool(0.2) ? [{ type: "delRange" as const, gte: b("k3"), lt: b("k5") }] : []),
        ], { sync });
        states.push(await dumpOpen(db));
        if (sync) lastSynced = i;
      }
      const powerLoss = seed % 4 !== 0;
      storage.crash({ powerLoss });
      await expect(db.get(b("batch"))).rejects.toThrow(/stopped/);
      const after = await dump(storage, "/m/db");
      const survived = after.batch === undefined ? 0 : Number(after.batch);
      expect(after).toEqual(states[survived]);
      expect(survived).toBeGreaterThanOrEqual(lastSynced);
      if (!powerLoss) expect(survived).toBe(12);
      if (survived < 12) lostSome++;
      torn += storage.stats.tornRecords;
    }
    expect(lostSome).toBeGreaterThan(5);
    expect(torn).toBeGreaterThan(0); // a torn last record was dropped whole: the states above match

  });

  it("an fsync in flight when the power fails never completes, and its batch may be lost; one completed before is kept", async () => {
    const clock = new SimClock();
    const storage = new SimKvStorage(new SimRng(3), { syncLatencyMs: { min: 5, max: 5 } }, clock);
    const db = await storage.open("/m/db");
    let firstDone = false;
    void db.write([{ type: "put", key: b("a"), value: b("1") }], { sync: true }).then(() => (firstDone = true));
    while (!firstDone && clock.runNext()) await Promise.resolve();
    await Promise.resolve();
    expect(firstDone).toBe(true);
    let secondDone = false;
    void db.write([{ type: "put", key: b("b"), value: b("2") }], { sync: true }).then(() => (secondDone = true));
    expect((await db.get(b("b")))?.toString()).toBe("2"); // visible before it is durable
    // Every seed of the power loss: "a" stays; "b" is there or not, and its write never resolves.
    storage.crash({ powerLoss: true });
    while (clock.runNext()) await Promise.resolve();
    expect(secondDone).toBe(false);
    const after = await dump(storage, "/m/db");
    expect(after.a).toBe("1");
    expect(Object.keys(after).every((k) => k === "a" || k === "b")).toBe(true);
  });
});

async function dumpOpen(db: KvReader): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const [k, v] of db.iterator({})) out[k.toString()] = v.toString();
  return out;
}

const ent = (index: number, term: number): Entry => ({
  index: index as LogIndex, term: term as Term, type: "normal", data: new TextEncoder().encode(`entry ${index} of term ${term}`),
});

describe("RocksLogStore over the simulated disk", () => {
  it("bit flips past the storage's checks are caught by the records' CRC: every load is the true log or a CorruptionError", async () => {
    let detected = 0;
    let clean = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const storage = new SimKvStorage(new SimRng(seed));
      const s = await RocksLogStore.open("/m/raft", storage);
      await s.save({ hardState: { term: 2 as Term, vote: 1 as NodeId, commit: 15 as LogIndex }, entries: Array.from({ length: 20 }, (_, i) => ent(i + 1, 2)) });
      const truth = await s.load();
      await s.close();
      storage.faults.readFlipRate = 0.02;
      for (let attempt = 0; attempt < 5; attempt++) {
        let store: RocksLogStore | undefined;
        try {
          store = await RocksLogStore.open("/m/raft", storage);
          const got = await store.load();
          expect(got).toEqual(truth);
          clean++;
        } catch (err) {
          expect(err).toBeInstanceOf(CorruptionError);
          expect((err as Error).message).toMatch(/^corrupt data in \/m\/raft: /);
          detected++;
        } finally {
          await store?.close();
        }
      }
    }
    // Both outcomes happened, and no load returned anything but the truth.
    expect(detected).toBeGreaterThan(10);
    expect(clean).toBeGreaterThan(10);
  });

  it("a power loss keeps every synced save; an unsynced commit-only save may go, and the log still loads", async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const storage = new SimKvStorage(new SimRng(seed));
      const s = await RocksLogStore.open("/m/raft", storage);
      await s.save({ hardState: { term: 2 as Term, vote: 1 as NodeId, commit: 5 as LogIndex }, entries: Array.from({ length: 10 }, (_, i) => ent(i + 1, 2)) });
      await s.save({ hardState: { term: 2 as Term, vote: 1 as NodeId, commit: 9 as LogIndex }, entries: [], sync: false });
      storage.crash({ powerLoss: true });
      const again = await RocksLogStore.open("/m/raft", storage);
      const got = await again.load();
      expect(got.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect([5, 9]).toContain(got.hardState.commit);
      await again.close();
    }
  });
});

const N = 4;
const TTL = 60_000;
const enc = (s: string) => new TextEncoder().encode(s);
const g = (n: number) => n as GroupId;

function config(num: number, shards: number[]): Config {
  const gids = [...new Set(shards.filter((x) => x !== 0))];
  return { num: num as ConfigNum, shards: shards.map(g), groups: new Map(gids.map((x) => [g(x), [`127.0.0.1:${9000 + x}`]])) };
}

const keys = Array.from({ length: 12 }, (_, i) => `key${i}`);

/** What a shard state machine answers: applied index, every key's value, the Status counters. */
async function observe(sm: RocksShardStateMachine): Promise<{ applied: number; values: Record<string, string | undefined>; stats: unknown; core: unknown }> {
  const values: Record<string, string | undefined> = {};
  for (const k of keys) {
    const v = await sm.get(shardOf(k, N) as ShardId, enc(k));
    values[k] = v === undefined ? undefined : Buffer.from(v).toString();
  }
  const core = { config: sm.core.config.num, metas: sm.core.allMetas().map((m) => `${m.shard}:${m.state}@${m.configNum}`), dedup: sm.core.dedupOf(0 as ShardId).size };
  return { applied: sm.appliedIndex(), values, stats: await sm.shardStats(), core };
}

describe("RocksShardStateMachine over the simulated disk", () => {
  it("a power loss sends it back to an earlier applied index, never before its last snapshot, with data, counters and core as they were there; kill -9 loses nothing written (a write-through state machine, or one flushed by hand)", async () => {
    let wentBack = 0;
    for (let seed = 1; seed <= 15; seed++) {
      const rng = new SimRng(seed);
      const storage = new SimKvStorage(rng.fork("disk"));
      // Every apply written (applyFlushMs 0), or written behind and flushed after each apply
      // here (the layer itself: write-behind.test.ts).
      const through = seed % 2 === 0;
      const opts = { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage, applyFlushMs: through ? 0 : Infinity };
      const sm = await RocksShardStateMachine.open("/m/state", opts);
      let index = 0;
      const entry = (op: ShardOp): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: 1_000 + index, op }) });
      await sm.apply([entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
      if (!through) await sm.flush();
      const seen = new Map<number, Awaited<ReturnType<typeof observe>>>([[sm.appliedIndex(), await observe(sm)]]);
      let snapshotAt = 0;
      for (let i = 0; i < 10; i++) {
        const batch: Entry[] = [];
        for (let j = rng.range(1, 3); j > 0; j--) {
          const k = rng.pick(keys);
          const op = rng.bool(0.2)
            ? { type: "delete" as const, key: enc(k), value: new Uint8Array(0) }
            : { type: rng.bool() ? "put" as const : "append" as const, key: enc(k), value: enc(`v${index}-${rng.int(1000)}`) };
          batch.push(entry({ kind: "write", write: { clientId: "ab".repeat(16), seq: index, ackedBelow: 0, shard: shardOf(k, N) as ShardId, ops: [op] } }));
        }
        await sm.apply(batch);
        if (!through) await sm.flush();
        seen.set(sm.appliedIndex(), await observe(sm));
        if (rng.bool(0.25)) {
          const src = await sm.snapshot(); // makes everything applied durable
          src.close();
          snapshotAt = sm.appliedIndex();
        }
      }
      const powerLoss = seed % 3 !== 0;
      storage.crash({ powerLoss });
      const again = await RocksShardStateMachine.open("/m/state", opts);
      const got = await observe(again);
      expect(got.applied).toBeGreaterThanOrEqual(powerLoss ? snapshotAt : index);
      expect(got).toEqual(seen.get(got.applied));
      if (got.applied < index) wentBack++;
      await again.close();
    }
    expect(wentBack).toBeGreaterThan(3);
  });

  it("a read failing the storage's checksum is a CorruptionError, from a read, an apply or an open, never a value", async () => {
    const storage = new SimKvStorage(new SimRng(11));
    const opts = { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage };
    const sm = await RocksShardStateMachine.open("/m/state", opts);
    let index = 0;
    const entry = (op: ShardOp): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: 1_000 + index, op }) });
    await sm.apply([entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    const k = keys[0]!;
    const shard = shardOf(k, N) as ShardId;
    await sm.apply([entry({ kind: "write", write: { clientId: "ab".repeat(16), seq: 1, ackedBelow: 0, shard, ops: [{ type: "put", key: enc(k), value: enc("v") }] } })]);
    await sm.flush(); // in the storage, where the faults are (applies are written behind)
    storage.faults.readCorruptionRate = 1;
    await expect(sm.get(shard, enc(k))).rejects.toBeInstanceOf(CorruptionError);
    // An append needs the value: its read fails, the apply fails, and the state machine stops.
    await expect(sm.apply([entry({ kind: "write", write: { clientId: "ab".repeat(16), seq: 2, ackedBelow: 0, shard, ops: [{ type: "append", key: enc(k), value: enc("w") }] } })]))
      .rejects.toBeInstanceOf(CorruptionError);
    await sm.close();
    await expect(RocksShardStateMachine.open("/m/state", opts)).rejects.toBeInstanceOf(CorruptionError);
    await expect(RocksControllerStateMachine.open("/m/controller", 4, storage)).rejects.toBeInstanceOf(CorruptionError);
    storage.faults.readCorruptionRate = 0;
    const again = await RocksShardStateMachine.open("/m/state", opts);
    expect(Buffer.from((await again.get(shard, enc(k)))!).toString()).toBe("v");
    await again.close();
  });

  it("a snapshot install that crashes anywhere in its directory swap leaves the old state or the whole snapshot", async () => {
    const makeGroup = async (storage: KvStorage, dir: string, prefix: string) => {
      const sm = await RocksShardStateMachine.open(dir, { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage });
      let index = 0;
      const entry = (op: ShardOp): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: 1_000 + index, op }) });
      await sm.apply([entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
      for (const [i, k] of keys.entries()) {
        if (prefix === "old" && i % 2 === 0) continue;
        await sm.apply([entry({ kind: "write", write: { clientId: "ab".repeat(16), seq: i + 1, ackedBelow: 0, shard: shardOf(k, N) as ShardId, ops: [{ type: "put", key: enc(k), value: enc(`${prefix}${i}`) }] } })]);
      }
      return sm;
    };
    const source = await makeGroup(new SimKvStorage(new SimRng(1)), "/src/state", "new");
    const want = await observe(source);
    const src = await source.snapshot();
    const outcomes = new Set<string>();
    // Crash point p: before (p even) or after (p odd) the swap's (p >> 1) + 1-th rename or
    // removal (there are three); p = 6 crashes nowhere.
    for (let p = 0; p <= 6; p++) {
      const sim = new SimKvStorage(new SimRng(p));
      const crashAt = (p >> 1) + 1;
      const before = p % 2 === 0;
      let renames = 0;
      let counting = false;
      // Renames and removals of the install, with the machine crashing around the crashAt-th.
      const storage: KvStorage = {
        ...sim,
        open: (d, o) => sim.open(d, o),
        exists: (d) => sim.exists(d),
        remove: async (d) => {
          if (counting && before && renames + 1 === crashAt) crash();
          await sim.remove(d);
          if (counting && ++renames === crashAt && !before) crash();
        },
        rename: async (from, to) => {
          if (counting && before && renames + 1 === crashAt) crash();
          await sim.rename(from, to);
          if (counting && ++renames === crashAt && !before) crash();
        },
      };
      const crash = () => {
        sim.crash({ powerLoss: false });
        throw new Error("crashed");
      };
      const target = await makeGroup(storage, "/m/state", "old");
      const old = await observe(target);
      const sink = target.restore({ index: src.index, term: 1 as Term, voters: [] });
      for (let n = 0; ; n++) {
        const c = await src.readChunk(n);
        await sink.write(n, c.data);
        if (c.last) break;
      }
      counting = true;
      const finished = await sink.finish().then(() => "finished", (e: Error) => e.message);
      await target.close();
      const again = await RocksShardStateMachine.open("/m/state", { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage: sim });
      const got = await observe(again);
      if (finished === "finished") expect(got).toEqual(want);
      else expect([old, want]).toContainEqual(got);
      outcomes.add(`${finished}:${got.applied === want.applied ? "snapshot" : "old"}`);
      await again.close();
    }
    src.close();
    // Crashes before and after the point of no return, and one install that completed.
    expect([...outcomes].sort()).toEqual(["crashed:old", "crashed:snapshot", "finished:snapshot"]);
  });
});

describe("SimKvStorage.incarnation", () => {
  it("a crashed incarnation can no longer open anything, so a late open of it cannot hold the lock against the restarted one", async () => {
    const storage = new SimKvStorage(new SimRng(7));
    const gen1 = storage.incarnation();
    const db = await gen1.open("/d");
    await db.write([{ type: "put", key: Buffer.from("k"), value: Buffer.from("v") }], { sync: true });
    storage.crash({ powerLoss: false });
    // gen 1's chain resumes after the crash (as an open that was in flight would).
    await expect(gen1.open("/d")).rejects.toBeInstanceOf(StoppedError);
    await expect(gen1.exists("/d")).rejects.toThrow(/storage of a crashed incarnation \(exists \/d\) is stopped/);
    const gen2 = storage.incarnation();
    const again = await gen2.open("/d");
    expect(Buffer.from((await again.get(Buffer.from("k")))!).toString()).toBe("v");
    await again.close();
  });
});
