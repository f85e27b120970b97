/**
 * The shard group's RocksDB state machine: durable apply (data, metas, dedup, config, applied
 * index in one batch), restart, duplicate detection across a restart, a shard migration
 * streamed with pullChunks into a second group, deleteShard garbage collection, snapshot and
 * restore, and the gid check.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError, StoppedError, WrongGroupError } from "../../common/errors";
import type { ConfigNum, GroupId, LogIndex, ShardId, Term } from "../../common/ids";
import { configsEqual, type Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import type { Entry } from "../../raft/core/types";
import { SnapshotRewindError } from "../../raft/state-machine";
import { decodeCommand, encodeCommand, decodeShardMeta, encodeShardMeta } from "../../shard-server/codec";
import { type ApplyResult, RocksShardStateMachine, ShardNotReadyError, shardKeys } from "../../shard-server/rocks-state";
import type { KvOp as StoreOp } from "../../common/kv-store";
import { openRocksKv, rocksStorage } from "../../raft/storage/rocks-kv";
import type { ShardGroupCore } from "../../shard-server/state-machine";
import { failingWrites, interceptWrites } from "../sim/sim-kv";
import { waitFor } from "../lib/wait";
import { restoreInto } from "../lib/snapshot-restore";
import { keysOfShard, shardConfig } from "../lib/shard-fixtures";
import type { KvOp, ShardCommand, ShardOp } from "../../shard-server/types";

const N = 4;
const TTL = 60_000;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const g = (n: number) => n as GroupId;
const sh = (n: number) => n as ShardId;
const cn = (n: number) => n as ConfigNum;
const clientA = "aa".repeat(16);
const clientB = "bb".repeat(16);

const config = shardConfig;

/** The first `count` keys ("k<n>") of shard `s`. */
const keysOf = (s: number, count: number): string[] => keysOfShard(s, count, N);

const put = (key: string, v: string): KvOp => ({ type: "put", key: enc(key), value: enc(v) });
const append = (key: string, v: string): KvOp => ({ type: "append", key: enc(key), value: enc(v) });

/** A state machine plus a log index counter and helpers to apply commands. */
function driver(sm: RocksShardStateMachine, startIndex = sm.appliedIndex()) {
  let index = startIndex as number;
  let now = 1_000;
  const entry = (op: ShardOp): Entry => ({
    index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: (now += 10), op }),
  });
  const noop = (): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "noop", data: new Uint8Array(0) });
  const apply = (...ops: ShardOp[]) => sm.apply(ops.map(entry));
  const write = async (clientId: string, seq: number, ops: KvOp[]) => {
    const [r] = await apply({ kind: "write", write: { clientId, seq, ackedBelow: 0, shard: shardOf(ops[0]!.key, N), ops } });
    if (r?.kind !== "write") throw new Error("not a write result");
    return r.outcome;
  };
  return { entry, noop, apply, write, sm };
}

function dedupSnapshot(core: ShardGroupCore) {
  const out: Record<string, unknown> = {};
  for (let s = 0; s < N; s++) {
    for (const [id, r] of core.dedupOf(sh(s))) out[`${s}/${id}`] = { ackedBelow: r.ackedBelow, lastSeenMs: r.lastSeenMs, replies: [...r.replies].map(([seq, rs]) => [seq, rs.map((x) => ({ ...x, value: Buffer.from(x.value).toString("hex") }))]) };
  }
  return out;
}

function metasOf(core: ShardGroupCore) {
  return core.allMetas().map((m) => ({ ...m, pulledAfterKey: m.pulledAfterKey ? Buffer.from(m.pulledAfterKey).toString("hex") : undefined }));
}

describe("RocksShardStateMachine", () => {
  let dir: string;
  const opened: RocksShardStateMachine[] = [];
  const open = async (sub: string, gid = 1, extra: { snapshotChunkBytes?: number; lengthCacheKeys?: number } = {}) => {
    const sm = await RocksShardStateMachine.open(join(dir, sub), { gid: g(gid), shardCount: N, dedupTtlMs: TTL, ...extra });
    opened.push(sm);
    return sm;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-shard-rocks-"));
  });
  afterEach(async () => {
    for (const sm of opened.splice(0)) await sm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("codec round-trips commands and metas, and names the bad field", () => {
    const cmd: ShardCommand = { timestampMs: 5, op: { kind: "write", write: { clientId: clientA, seq: 3, ackedBelow: 2, shard: sh(1), ops: [put("x", "y"), { type: "cas", key: enc("x"), value: enc("z"), expectAbsent: true }] } } };
    const bytes = encodeCommand(cmd);
    const back = decodeCommand(bytes);
    expect(Buffer.from(encodeCommand(back)).equals(Buffer.from(bytes))).toBe(true);
    const bw = (back.op as Extract<ShardOp, { kind: "write" }>).write;
    expect({ ...bw, ops: bw.ops.map((o) => ({ ...o, key: dec(o.key), value: dec(o.value) })) }).toEqual({
      clientId: clientA, seq: 3, ackedBelow: 2, shard: 1, ops: [{ type: "put", key: "x", value: "y" }, { type: "cas", key: "x", value: "z", expectAbsent: true }],
    });
    const del: ShardCommand = { timestampMs: 7, op: { kind: "deleteShard", configNum: cn(3), shard: sh(2) } };
    expect(decodeCommand(encodeCommand(del))).toEqual(del);
    const meta = { shard: sh(2), state: "pulling" as const, configNum: cn(4), pulledAfterKey: new Uint8Array(0), gcConfigNum: cn(0) };
    expect({ ...decodeShardMeta(encodeShardMeta(meta)), pulledAfterKey: new Uint8Array(0) }).toEqual(meta);
    expect(decodeShardMeta(encodeShardMeta(meta)).pulledAfterKey?.length).toBe(0);
    expect(decodeShardMeta(encodeShardMeta({ ...meta, pulledAfterKey: undefined })).pulledAfterKey).toBeUndefined();
    const w0 = (cmd.op as Extract<ShardOp, { kind: "write" }>).write;
    const bad: ShardCommand = { ...cmd, op: { kind: "write", write: { ...w0, seq: 0 } } };
    expect(() => decodeCommand(encodeCommand(bad))).toThrow(/invalid id\.seq: must be >= 1/);
    const badShard: ShardCommand = { timestampMs: 1, op: { kind: "gcDone", configNum: cn(1), shard: sh(70_000) } };
    expect(() => decodeCommand(encodeCommand(badShard))).toThrow(/invalid gc_done\.shard/);
    expect(() => encodeCommand({ ...cmd, op: { kind: "write", write: { ...w0, clientId: "abc" } } })).toThrow(InvalidArgumentError);
  });

  it("applies writes durably, resumes after a restart, and detects a retried write", async () => {
    let sm = await open("a");
    const d = driver(sm);
    const [r] = await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    expect(r).toEqual({ kind: "reconfigure", accepted: true });
    const [k1, k2] = keysOf(2, 2) as [string, string];
    expect((await d.write(clientA, 1, [put(k1, "x"), append(k1, "y")])).ok).toBe(true);
    // Two entries of one apply on the same key: the second reads the first's write.
    const res = await d.sm.apply([
      d.entry({ kind: "write", write: { clientId: clientB, seq: 1, ackedBelow: 0, shard: sh(2), ops: [append(k2, "a")] } }),
      d.noop(),
      d.entry({ kind: "write", write: { clientId: clientB, seq: 2, ackedBelow: 0, shard: sh(2), ops: [append(k2, "b")] } }),
    ]);
    expect(res[1]).toBeNull();
    expect(dec(await sm.get(sh(2), enc(k1)))).toBe("xy");
    expect(dec(await sm.get(sh(2), enc(k2)))).toBe("ab");
    expect(await sm.get(sh(2), enc(keysOf(2, 3)[2]!))).toBeUndefined();
    const applied = sm.appliedIndex();
    expect(applied).toBe(5);
    const metas = metasOf(sm.core);
    const dedup = dedupSnapshot(sm.core);

    await sm.close();
    sm = await open("a");
    expect(sm.appliedIndex()).toBe(applied);
    expect(configsEqual(sm.core.config, config(1, [1, 1, 1, 1]))).toBe(true);
    expect(metasOf(sm.core)).toEqual(metas);
    expect(dedupSnapshot(sm.core)).toEqual(dedup);
    expect(dec(await sm.get(sh(2), enc(k1)))).toBe("xy");
    // The retry of (clientA, 1) after the restart is a duplicate: the append is not re-applied.
    const d2 = driver(sm);
    const again = await d2.write(clientA, 1, [put(k1, "x"), append(k1, "y")]);
    expect(again.ok && again.duplicate).toBe(true);
    expect(dec(await sm.get(sh(2), enc(k1)))).toBe("xy");
    // A key of another shard in a read for shard 2 is refused.
    await expect(sm.get(sh(2), enc(keysOf(1, 1)[0]!))).rejects.toThrow(InvalidArgumentError);
  });

  it("moves a 5,000-key shard with pullChunks into another group, then garbage-collects it", async () => {
    const a = driver(await open("a", 1));
    const b = driver(await open("b", 2));
    await a.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    await b.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const keys = keysOf(0, 5000);
    for (let i = 0; i < keys.length; i += 500) {
      await a.sm.apply(keys.slice(i, i + 500).map((k, j) => a.entry({
        kind: "write", write: { clientId: clientB, seq: i + j + 1, ackedBelow: i + j + 1, shard: sh(0), ops: [put(k, `value-of-${k}`)] },
      })));
    }
    expect((await a.write(clientA, 1, [append(keys[0]!, "+")])).ok).toBe(true);

    // Shard 0 moves from gid 1 to gid 2 in config 2.
    const c2 = config(2, [2, 1, 1, 1]);
    await expect(a.sm.pullChunks(cn(2), sh(0), undefined, 4096).next()).rejects.toThrow(ShardNotReadyError);
    expect(await a.apply({ kind: "reconfigure", config: c2 })).toEqual([{ kind: "reconfigure", accepted: true }]);
    expect(a.sm.core.meta(sh(0)).state).toBe("handoff");
    await expect(a.sm.get(sh(0), enc(keys[1]!))).rejects.toThrow(WrongGroupError);
    const w = await a.write(clientA, 2, [put(keys[1]!, "nope")]);
    expect(!w.ok && w.error).toBeInstanceOf(WrongGroupError);
    await expect(a.sm.pullChunks(cn(2), sh(1), undefined, 4096).next()).rejects.toThrow(/shard 1 is not in handoff for config 2/);
    await b.apply({ kind: "reconfigure", config: c2 });
    expect(b.sm.core.meta(sh(0)).state).toBe("pulling");

    let chunks = 0;
    let sawLast = false;
    let kvCount = 0;
    for await (const chunk of a.sm.pullChunks(cn(2), sh(0), undefined, 4096)) {
      chunks++;
      const bytes = chunk.kvs.reduce((n, kv) => n + kv.key.length + kv.value.length, 0);
      expect(bytes).toBeLessThanOrEqual(4096);
      kvCount += chunk.kvs.length;
      if (chunk.last) {
        sawLast = true;
        expect(chunk.dedup.size).toBe(2);
      } else expect(chunk.dedup.size).toBe(0);
      // Through the log, as the server does (encode -> decode on apply).
      expect(await b.apply({ kind: "insert", chunk })).toEqual([{ kind: "insert", accepted: true }]);
    }
    expect(sawLast).toBe(true);
    expect(kvCount).toBe(5000);
    expect(chunks).toBeGreaterThan(20);
    // A duplicated (replayed) chunk is ignored.
    const first = await a.sm.pullChunks(cn(2), sh(0), undefined, 4096).next();
    expect(await b.apply({ kind: "insert", chunk: first.value! })).toEqual([{ kind: "insert", accepted: false }]);

    // B serves the shard with the same data and duplicate table.
    expect(b.sm.core.serves(sh(0))).toBe(true);
    for (const k of [keys[1]!, keys[2500]!, keys[4999]!]) expect(dec(await b.sm.get(sh(0), enc(k)))).toBe(`value-of-${k}`);
    expect(dec(await b.sm.get(sh(0), enc(keys[0]!)))).toBe(`value-of-${keys[0]}+`);
    const dup = await b.write(clientA, 1, [append(keys[0]!, "+")]);
    expect(dup.ok && dup.duplicate).toBe(true);
    expect(dec(await b.sm.get(sh(0), enc(keys[0]!)))).toBe(`value-of-${keys[0]}+`);
    const statsB = (await b.sm.shardStats())[0]!;
    expect(statsB).toMatchObject({ shard: 0, state: "gc", configNum: 2, keys: 5000, dedupClients: 2 });
    const statsA0 = (await a.sm.shardStats())[0]!;
    expect(statsA0).toMatchObject({ state: "handoff", keys: 5000, bytes: statsB.bytes });

    // The old owner deletes it: nothing of shard 0 is left in its RocksDB.
    expect(await a.apply({ kind: "deleteShard", configNum: cn(2), shard: sh(0) })).toEqual([{ kind: "deleteShard", result: "done" }]);
    expect((await a.sm.shardStats())[0]).toEqual({ shard: 0, state: "notOwned", configNum: 2, keys: 0, bytes: 0, dedupClients: 0 });
    expect((await a.sm.shardStats())[2]!.keys).toBe(0);
    expect(await b.apply({ kind: "gcDone", configNum: cn(2), shard: sh(0) })).toEqual([{ kind: "gcDone", accepted: true }]);
    expect((await b.sm.shardStats())[0]!.state).toBe("serving");
    // A deleteShard for a config not reached yet is "notReady".
    expect(await a.apply({ kind: "deleteShard", configNum: cn(3), shard: sh(1) })).toEqual([{ kind: "deleteShard", result: "notReady" }]);
  });

  it("a pull started during the apply that hands the shard off sees the writes of that apply", async () => {
    // The core runs ahead of RocksDB during an apply: a pull answered in that window saw the
    // shard in handoff before the writes applied in the same batch were on disk, and shipped
    // the shard without them (found by the shard server's integration test).
    const d = driver(await open("a", 1));
    await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const key = keysOf(2, 1)[0]!;
    const batch = d.apply(
      { kind: "write", write: { clientId: clientA, seq: 1, ackedBelow: 0, shard: sh(2), ops: [put(key, "last-write")] } },
      { kind: "reconfigure", config: config(2, [1, 1, 2, 1]) },
    );
    const chunks: { key: string; value: string }[] = [];
    const pulling = (async () => {
      for await (const c of d.sm.pullChunks(cn(2), sh(2), undefined, 1 << 20)) {
        for (const kv of c.kvs) chunks.push({ key: dec(kv.key)!, value: dec(kv.value)! });
      }
    })();
    await batch;
    await pulling;
    expect(chunks).toEqual([{ key, value: "last-write" }]);
  });

  it("pullChunks resumes after a key and builds chunks lazily", async () => {
    const a = driver(await open("a", 1));
    await a.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const keys = keysOf(3, 50).sort((x, y) => Buffer.compare(enc(x), enc(y)));
    await a.sm.apply(keys.map((k, i) => a.entry({ kind: "write", write: { clientId: clientA, seq: i + 1, ackedBelow: i + 1, shard: sh(3), ops: [put(k, "v")] } })));
    await a.apply({ kind: "reconfigure", config: config(2, [1, 1, 1, 2]) });
    const gen = a.sm.pullChunks(cn(2), sh(3), enc(keys[9]!), 1);
    const c1 = await gen.next();
    expect(dec(c1.value!.kvs[0]!.key)).toBe(keys[10]);
    expect(c1.value!.kvs.length).toBe(1);
    await gen.return(undefined);
  });

  it("snapshot then restore into a fresh directory gives identical state", async () => {
    const a = driver(await open("a", 1, { snapshotChunkBytes: 2048 }));
    await a.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const keys = [...keysOf(0, 300), ...keysOf(3, 300)];
    for (let i = 0; i < keys.length; i += 100) {
      await a.sm.apply(keys.slice(i, i + 100).map((k, j) => a.entry({
        kind: "write", write: { clientId: clientA, seq: i + j + 1, ackedBelow: i + j, shard: shardOf(k, N), ops: [put(k, `v${i + j}`)] },
      })));
    }
    await a.apply({ kind: "reconfigure", config: config(2, [1, 2, 1, 1]) });
    const src = await a.sm.snapshot();
    expect(src.index).toBe(a.sm.appliedIndex());
    // Writes after the snapshot are not in it.
    expect((await a.write(clientB, 1, [put(keys[0]!, "later")])).ok).toBe(true);

    const c = driver(await open("c", 1));
    await c.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    await c.write(clientB, 1, [put("junk", "x")]);
    const sink = c.sm.restore({ index: src.index, term: 1 as Term, voters: [] });
    let n = 0;
    for (;;) {
      const chunk = await src.readChunk(n);
      const again = await src.readChunk(n);
      expect(Buffer.from(again.data).equals(Buffer.from(chunk.data))).toBe(true);
      await sink.write(n, chunk.data);
      n++;
      if (chunk.last) break;
    }
    src.close();
    expect(n).toBeGreaterThan(5);
    await sink.finish();

    const check = async (sm: RocksShardStateMachine) => {
      expect(sm.appliedIndex()).toBe(src.index);
      expect(configsEqual(sm.core.config, config(2, [1, 2, 1, 1]))).toBe(true);
      expect(metasOf(sm.core)).toEqual(metasOf(a.sm.core));
      const dedupA = dedupSnapshot(a.sm.core);
      delete dedupA[`${shardOf(keys[0]!, N)}/${clientB}`];
      expect(dedupSnapshot(sm.core)).toEqual(dedupA);
      expect(dec(await sm.get(sh(0), enc(keys[0]!)))).toBe("v0");
      expect(dec(await sm.get(sh(3), enc(keys[599]!)))).toBe("v599");
      await expect(sm.get(sh(shardOf("junk", N)), enc("junk"))).resolves.toBeUndefined();
      const stats = await sm.shardStats();
      const statsA = await a.sm.shardStats();
      expect(stats.map((s) => s.keys)).toEqual(statsA.map((s) => s.keys));
      expect(stats[3]!.bytes).toBe(statsA[3]!.bytes);
      expect(stats[1]!.state).toBe("handoff");
    };
    await check(c.sm);
    await c.sm.close();
    const reopened = await open("c", 1);
    await check(reopened);
    expect(existsSync(join(dir, "c.restore")) || existsSync(join(dir, "c.old"))).toBe(false);
  });

  it("a snapshot source skips forward to a later chunk and refuses to go back", async () => {
    // A follower resuming, from a new leader, a transfer where the old leader left it asks
    // chunk k of a source that served only chunk 0 (found by the whole-cluster simulation:
    // the leader died on it). Going back is refused with SnapshotRewindError (RaftNode then
    // takes a fresh snapshot).
    const a = driver(await open("a", 1, { snapshotChunkBytes: 256 }));
    await a.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const keys = keysOf(0, 60);
    await a.sm.apply(keys.map((k, j) => a.entry({ kind: "write", write: { clientId: clientA, seq: j + 1, ackedBelow: j, shard: sh(0), ops: [put(k, `v${j}`)] } })));
    const inOrder: Buffer[] = [];
    const first = await a.sm.snapshot();
    for (let n = 0; ; n++) {
      const c = await first.readChunk(n);
      inOrder.push(Buffer.from(c.data));
      if (c.last) break;
    }
    first.close();
    expect(inOrder.length).toBeGreaterThan(4);
    const src = await a.sm.snapshot();
    expect(Buffer.from((await src.readChunk(0)).data).equals(inOrder[0]!)).toBe(true);
    expect(Buffer.from((await src.readChunk(3)).data).equals(inOrder[3]!)).toBe(true);
    expect(Buffer.from((await src.readChunk(4)).data).equals(inOrder[4]!)).toBe(true);
    await expect(src.readChunk(1)).rejects.toBeInstanceOf(SnapshotRewindError);
    src.close();
  });

  it("an aborted restore leaves the old state", async () => {
    const a = driver(await open("a", 1, { snapshotChunkBytes: 64 }));
    await a.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const src = await a.sm.snapshot();
    const c = driver(await open("c", 1));
    const sink = c.sm.restore({ index: src.index, term: 1 as Term, voters: [] });
    await sink.write(0, (await src.readChunk(0)).data);
    await sink.abort();
    src.close();
    expect(c.sm.appliedIndex()).toBe(0);
    expect(existsSync(join(dir, "c.restore"))).toBe(false);
    const results: ApplyResult[] = await c.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    expect(results).toEqual([{ kind: "reconfigure", accepted: true }]);
  });

  it("Status counts keys and bytes per shard without scanning, through overwrites, deletes, batches, a move, a restart and a restore", async () => {
    const sm = await open("counts");
    const d = driver(sm);
    await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    // A model of what each shard holds.
    const model = new Map<string, string>();
    const expected = (s: number) => {
      let keys = 0;
      let bytes = 0;
      for (const [k, v] of model) {
        if (shardOf(k, N) !== s) continue;
        keys++;
        bytes += enc(k).length + enc(v).length;
      }
      return { keys, bytes };
    };
    const counted = async (m: RocksShardStateMachine) => (await m.shardStats()).map((x) => ({ keys: x.keys, bytes: x.bytes }));
    let seq = 0;
    const keys = [0, 1, 2, 3].flatMap((s) => keysOf(s, 6));
    for (let round = 0; round < 5; round++) {
      for (const [i, k] of keys.entries()) {
        const ops: KvOp[] = [];
        if ((i + round) % 5 === 0 && model.has(k)) {
          ops.push({ type: "delete", key: enc(k), value: new Uint8Array(0) });
          model.delete(k);
        } else if ((i + round) % 3 === 0) {
          // Two ops on one key in one batch: the second sees the first.
          ops.push(put(k, `p${round}`), append(k, "-xyz"));
          model.set(k, `p${round}-xyz`);
        } else {
          ops.push(append(k, `a${round}`));
          model.set(k, (model.get(k) ?? "") + `a${round}`);
        }
        expect((await d.write(clientA, ++seq, ops)).ok).toBe(true);
      }
      expect(await counted(sm)).toEqual([0, 1, 2, 3].map(expected));
    }
    // Shard 3 moves away: counted on disk once this group deletes it (0 keys).
    await d.apply({ kind: "reconfigure", config: config(2, [1, 1, 1, 2]) });
    expect((await sm.shardStats())[3]).toMatchObject({ state: "handoff", ...expected(3) });
    await d.apply({ kind: "deleteShard", configNum: cn(2), shard: sh(3) });
    for (const k of [...model.keys()]) if (shardOf(k, N) === 3) model.delete(k);
    const after = await counted(sm);
    expect(after).toEqual([0, 1, 2, 3].map(expected));
    expect(after[3]).toEqual({ keys: 0, bytes: 0 });
    // The counters are stored with the applies: the same after a restart ...
    await sm.close();
    opened.splice(opened.indexOf(sm), 1);
    const again = await open("counts");
    expect(await counted(again)).toEqual(after);
    // ... and they travel with a snapshot.
    const src = await again.snapshot();
    const target = await open("counts-restored");
    await restoreInto(target, src);
    expect(await counted(target)).toEqual(after);
    // A directory written before the counters existed (no marker, no records) is counted once.
    await again.close();
    opened.splice(opened.indexOf(again), 1);
    const raw = await openRocksKv(join(dir, "counts"));
    const strip: StoreOp[] = [{ type: "del", key: Buffer.from("!s") }];
    for await (const [k] of raw.iterator(shardKeys.statsRange)) strip.push({ type: "del", key: k });
    expect(strip.length).toBe(1 + N);
    await raw.write(strip, { sync: true });
    await raw.close();
    expect(await counted(await open("counts"))).toEqual(after);
  });

  it("puts and deletes of keys whose length is cached read nothing, and results and counters stay exact (cache of 3 keys or the default; batches, a shard clear, a restore)", async () => {
    for (const lengthCacheKeys of [3, undefined]) {
      const sub = `lengths-${lengthCacheKeys ?? "default"}`;
      const sm = await open(sub, 1, { lengthCacheKeys });
      const d = driver(sm);
      await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
      const getMany = vi.spyOn(sm["layer"], "getMany");
      const model = new Map<string, string>();
      const expected = () => [0, 1, 2, 3].map((s) => {
        let keys = 0;
        let bytes = 0;
        for (const [k, v] of model) if (shardOf(k, N) === s) [keys, bytes] = [keys + 1, bytes + enc(k).length + enc(v).length];
        return { keys, bytes };
      });
      const counted = async () => (await sm.shardStats()).map((x) => ({ keys: x.keys, bytes: x.bytes }));
      const keys = [...keysOf(0, 4), ...keysOf(2, 4)];
      let seed = 7;
      const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
      let seq = 0;
      for (let round = 0; round < 40; round++) {
        // One batch of 1-4 commands, each one op on a random key; later commands see earlier ones.
        const cmds: { op: KvOp; want: { found: boolean; swapped?: boolean; value?: string } }[] = [];
        for (let c = 1 + rand(4); c > 0; c--) {
          const k = keys[rand(keys.length)]!;
          const cur = model.get(k);
          const v = "v".repeat(rand(20));
          switch (rand(4)) {
            case 0:
              cmds.push({ op: { type: "delete", key: enc(k), value: new Uint8Array(0) }, want: { found: cur !== undefined } });
              model.delete(k);
              break;
            case 1:
              cmds.push({ op: { type: "cas", key: enc(k), value: enc(v), expected: enc(cur ?? ""), expectAbsent: cur === undefined }, want: { found: cur !== undefined, swapped: true, value: cur ?? "" } });
              model.set(k, v);
              break;
            default:
              cmds.push({ op: put(k, v), want: { found: cur !== undefined } });
              model.set(k, v);
          }
        }
        const results = await sm.apply(cmds.map((c) => d.entry({ kind: "write", write: { clientId: clientA, seq: ++seq, ackedBelow: seq - 1, shard: shardOf(c.op.key, N), ops: [c.op] } })));
        results.forEach((r, i) => {
          if (r?.kind !== "write" || !r.outcome.ok) throw new Error(`round ${round}: not an ok write`);
          const got = r.outcome.results[0]!;
          const want = cmds[i]!.want;
          expect(got.found, `round ${round} command ${i}`).toBe(want.found);
          if (want.swapped !== undefined) expect({ swapped: got.swapped, value: dec(got.value) }).toEqual({ swapped: want.swapped, value: want.value });
        });
        expect(await counted(), `round ${round}`).toEqual(expected());
        for (const [k, v] of model) expect(dec(await sm.get(sh(shardOf(k, N)), enc(k)))).toBe(v);
      }
      // A put of a key just written reads nothing; with room for every key, neither do
      // deletes and puts of keys written before.
      getMany.mockClear();
      expect((await d.write(clientA, ++seq, [put(keys[0]!, "again")])).ok).toBe(true);
      model.set(keys[0]!, "again");
      expect(getMany).not.toHaveBeenCalled();
      if (lengthCacheKeys === undefined) {
        for (const k of keys) expect((await d.write(clientA, ++seq, [put(k, "written")])).ok).toBe(true);
        for (const k of keys) model.set(k, "written");
        getMany.mockClear();
        for (const k of [...keys, keys[0]!]) {
          const w = await d.write(clientA, ++seq, [{ type: "delete", key: enc(k), value: new Uint8Array(0) }]);
          expect(w.ok && w.results[0]!.found, k).toBe(model.delete(k));
        }
        for (const k of keys) expect((await d.write(clientA, ++seq, [put(k, "back")])).ok).toBe(true);
        for (const k of keys) model.set(k, "back");
        expect(getMany).not.toHaveBeenCalled();
        expect(await counted()).toEqual(expected());
      }
      // A shard clear forgets the cached lengths: shard 2 moves away and is deleted, then comes
      // back holding one key of the other group's (an inserted chunk), and counts from there.
      await d.apply({ kind: "reconfigure", config: config(2, [1, 1, 2, 1]) });
      await d.apply({ kind: "deleteShard", configNum: cn(2), shard: sh(2) });
      for (const k of [...model.keys()]) if (shardOf(k, N) === 2) model.delete(k);
      await d.apply({ kind: "reconfigure", config: config(3, [1, 1, 1, 1]) });
      const back = keysOf(2, 4);
      await d.apply({ kind: "insert", chunk: { configNum: cn(3), shard: sh(2), kvs: [{ key: enc(back[0]!), value: enc("moved back") }], last: true, dedup: new Map() } });
      model.set(back[0]!, "moved back");
      expect(await counted()).toEqual(expected());
      for (const k of back) {
        const w = await d.write(clientA, ++seq, [put(k, "new")]);
        expect(w.ok && w.results[0]!.found, k).toBe(k === back[0]);
        model.set(k, "new");
      }
      expect(await counted()).toEqual(expected());
      // A restore replaces every value: the cache must not answer with the old lengths (of two
      // keys written just before it, one of them not in the snapshot).
      for (const k of [keys[0]!, keys[1]!]) expect((await d.write(clientA, ++seq, [put(k, "cached")])).ok).toBe(true);
      const other = driver(await open(`${sub}-other`, 1));
      await other.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
      expect((await other.write(clientB, 1, [put(keys[0]!, "from the snapshot, longer")])).ok).toBe(true);
      const src = await other.sm.snapshot();
      await restoreInto(sm, src);
      const after = driver(sm, src.index);
      const r = await after.write(clientA, 1, [put(keys[0]!, "x")]);
      expect(r.ok && r.results[0]!.found).toBe(true);
      const r1 = await after.write(clientA, 2, [put(keys[1]!, "y")]);
      expect(r1.ok && !r1.results[0]!.found).toBe(true);
      const stats = await sm.shardStats();
      const s0 = shardOf(keys[0]!, N);
      expect(stats[s0]!.keys).toBe(2);
      expect(stats[s0]!.bytes).toBe(enc(keys[0]!).length + 1 + enc(keys[1]!).length + 1);
    }
  });

  it("a put of a new key reads nothing while its shard is complete in the LengthCache; an evicted key, a restart or a restore of a shard holding keys makes it read again", async () => {
    const sm = await open("complete", 1, { lengthCacheKeys: 4 });
    const d = driver(sm);
    await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const getMany = vi.spyOn(sm["layer"], "getMany");
    const [a, b, c, e, f, h] = keysOf(1, 6) as [string, string, string, string, string, string];
    const [z] = keysOf(3, 1) as [string];
    let seq = 0;
    const found = async (k: string, op: KvOp["type"] = "put") => {
      const w = await d.write(clientA, ++seq, [op === "put" ? put(k, "v") : op === "append" ? append(k, "+") : { type: "delete", key: enc(k), value: new Uint8Array(0) }]);
      if (!w.ok) throw new Error("not ok");
      return w.results[0]!.found;
    };
    // Every shard starts empty: new keys, an append and a delete of absent keys read nothing.
    expect([await found(a), await found(b), await found(c, "append"), await found(e, "delete")]).toEqual([false, false, false, false]);
    expect(getMany).not.toHaveBeenCalled();
    // Existing keys of a complete shard: known too (an append still reads its value).
    expect(await found(a)).toBe(true);
    expect(getMany).not.toHaveBeenCalled();
    expect(await found(a, "append")).toBe(true);
    expect(getMany).toHaveBeenCalledTimes(1);
    // Four entries fit (b, c, e, a): a fifth key (f) drops the oldest, b, which exists: shard 1
    // is no longer complete, so a new key of it reads (and is found absent), and so does b,
    // while shard 3 does not.
    expect(await found(f)).toBe(false);
    getMany.mockClear();
    expect(await found(z)).toBe(false);
    expect(getMany).not.toHaveBeenCalled();
    expect(await found(h)).toBe(false);
    expect(getMany).toHaveBeenCalledTimes(1);
    expect(await found(b)).toBe(true);
    expect(getMany).toHaveBeenCalledTimes(2);
    // A shard deleted (cleared) is complete again: shard 1 moves away and is deleted.
    await d.apply({ kind: "reconfigure", config: config(2, [1, 2, 1, 1]) });
    await d.apply({ kind: "deleteShard", configNum: cn(2), shard: sh(1) });
    await d.apply({ kind: "reconfigure", config: config(3, [1, 1, 1, 1]) });
    await d.apply({ kind: "insert", chunk: { configNum: cn(3), shard: sh(1), kvs: [], last: true, dedup: new Map() } });
    getMany.mockClear();
    expect(await found(a)).toBe(false);
    expect(getMany).not.toHaveBeenCalled();
    // A restart: shards holding keys (1 and 3) read, an empty one (0) does not.
    const applied = sm.appliedIndex();
    await sm.close();
    opened.splice(opened.indexOf(sm), 1);
    const again = await open("complete", 1, { lengthCacheKeys: 4 });
    const d2 = driver(again, applied);
    const reads = vi.spyOn(again["layer"], "getMany");
    const w1 = await d2.write(clientB, 1, [put(keysOf(1, 9)[8]!, "v")]);
    expect(w1.ok && w1.results[0]!.found).toBe(false);
    expect(reads).toHaveBeenCalledTimes(1);
    reads.mockClear();
    const w0 = await d2.write(clientB, 2, [put(keysOf(0, 1)[0]!, "v")]);
    expect(w0.ok && w0.results[0]!.found).toBe(false);
    expect(reads).not.toHaveBeenCalled();
    // A restore of a snapshot whose shard 0 holds a key this replica never saw: found.
    const other = driver(await open("complete-other", 1));
    await other.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const [y] = keysOf(0, 2).slice(1) as [string];
    expect((await other.write(clientB, 1, [put(y, "from the snapshot")])).ok).toBe(true);
    const src = await other.sm.snapshot();
    await restoreInto(again, src);
    const d3 = driver(again, src.index);
    const wy = await d3.write(clientA, 1, [put(y, "x")]);
    expect(wy.ok && wy.results[0]!.found).toBe(true);
    expect((await again.shardStats())[0]).toMatchObject({ keys: 1, bytes: y.length + 1 });
  });

  it("refuses a data dir of another gid, naming both", async () => {
    const sm = await open("a", 1);
    await sm.close();
    opened.splice(0);
    await expect(open("a", 2)).rejects.toThrow(/belongs to group 1 with 4 shards, but was opened as group 2 with 4 shards/);
  });

  for (const mode of ["write-through (applyFlushMs 0: the apply writes)", "written behind (the flush timer writes)"]) {
    it(`a batch whose write fails stops the state machine; reopened, core and disk agree on the state before it: ${mode}`, async () => {
      const through = mode.startsWith("write-through");
      const { storage, failing } = failingWrites(rocksStorage);
      const failures: Error[] = [];
      const sm = await RocksShardStateMachine.open(join(dir, "fail"), {
        gid: g(1), shardCount: N, dedupTtlMs: TTL, storage, applyFlushMs: through ? 0 : 5, onWriteFailed: (e) => failures.push(e),
      });
      opened.push(sm);
      const d = driver(sm);
      await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
      const [k1, k2] = keysOf(1, 2) as [string, string];
      expect((await d.write(clientA, 1, [put(k1, "x")])).ok).toBe(true);
      await sm.flush();
      const before = { applied: sm.appliedIndex(), metas: metasOf(sm.core), dedup: dedupSnapshot(sm.core), stats: await sm.shardStats() };
      failing.on = true;
      // One batch: writes to shard 1 (a cached length and a new key), then shard 1 handed off.
      const applying = d.apply(
        { kind: "write", write: { clientId: clientA, seq: 2, ackedBelow: 0, shard: sh(1), ops: [put(k1, "longer value"), put(k2, "y")] } },
        { kind: "reconfigure", config: config(2, [1, 2, 1, 1]) },
      );
      if (through) {
        await expect(applying).rejects.toThrow(/injected/);
        expect(sm.appliedIndex()).toBe(before.applied + 2);
      } else {
        // Applied (reads see it), then the timer's flush fails: the daemon hears of it.
        await applying;
        await waitFor(() => failures.length === 1, { timeoutMs: 10_000, what: "the timed flush to fail" });
        expect(failures[0]!.message).toMatch(/injected/);
      }
      // The core ran ahead (it decided the handoff); nothing answers from it any more.
      expect(sm.core.config.num).toBe(2);
      await expect(sm.get(sh(1), enc(k1))).rejects.toThrow(/after a failed write: injected.*is stopped/);
      await expect(sm.shardStats()).rejects.toBeInstanceOf(StoppedError);
      await expect(sm.pullChunks(cn(2), sh(1), undefined, 1024).next()).rejects.toBeInstanceOf(StoppedError);
      await expect(d.apply({ kind: "reconfigure", config: config(3, [1, 1, 1, 1]) })).rejects.toBeInstanceOf(StoppedError);
      await expect(sm.snapshot()).rejects.toBeInstanceOf(StoppedError);
      failing.on = false;
      await sm.close();
      opened.splice(opened.indexOf(sm), 1);
      // The restart: core, counters and data are the state before the failed batch.
      const again = await open("fail");
      expect(again.appliedIndex()).toBe(before.applied);
      expect(metasOf(again.core)).toEqual(before.metas);
      expect(dedupSnapshot(again.core)).toEqual(before.dedup);
      expect(again.core.config.num).toBe(1);
      expect(await again.shardStats()).toEqual(before.stats);
      expect(dec(await again.get(sh(1), enc(k1)))).toBe("x");
      expect(await again.get(sh(1), enc(k2))).toBeUndefined();
      // And it applies the same batch as if the failure never happened.
      const d2 = driver(again);
      const out = await d2.write(clientA, 2, [put(k1, "longer value"), put(k2, "y")]);
      expect(out.ok && out.results.map((r) => r.found)).toEqual([true, false]);
      const stats = await again.shardStats();
      expect(stats[1]).toMatchObject({ keys: 2, bytes: k1.length + "longer value".length + k2.length + 1 });
    });
  }

  it("answers a client write once its batch is applied (in the write-behind layer), other commands once the apply resolves; a full layer holds the apply until it is written", async () => {
    // Writes are held until released (the first, opening ones pass).
    const held: (() => void)[] = [];
    const gate = { on: false };
    const storage = interceptWrites(rocksStorage, async (ops, wo, own) => {
      if (gate.on) await new Promise<void>((r) => held.push(r));
      return own(ops, wo);
    });
    // A bound of 1 byte: every apply fills the layer and waits for its flush.
    const sm = await RocksShardStateMachine.open(join(dir, "early"), { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage, applyFlushMs: Infinity, applyFlushBytesMax: 1 });
    opened.push(sm);
    const d = driver(sm);
    await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const [k1] = keysOf(2, 1) as [string];
    const before = sm.appliedIndex();
    gate.on = true;
    const answers: [number, ApplyResult][] = [];
    const entries = [
      d.entry({ kind: "write", write: { clientId: clientA, seq: 1, ackedBelow: 0, shard: sh(2), ops: [put(k1, "v1")] } }),
      d.noop(),
      d.entry({ kind: "reconfigure", config: config(2, [1, 1, 1, 1]) }),
    ];
    let resolved = false;
    const applying = sm.apply(entries, (i, r) => answers.push([i, r])).then((rs) => {
      resolved = true;
      return rs;
    });
    await waitFor(() => held.length === 1, { timeoutMs: 10_000, what: "the batch's flush to be issued" });
    // The client write is answered (its result is final); the noop and the reconfigure are not.
    expect(answers.map(([i]) => i)).toEqual([0]);
    expect(answers[0]![1]).toMatchObject({ kind: "write", outcome: { ok: true, results: [{ found: false }] } });
    // Applied: reads see it before it is written; the apply resolves only once it is.
    expect(sm.appliedIndex()).toBe(before + 3);
    expect(dec(await sm.get(sh(2), enc(k1)))).toBe("v1");
    expect(resolved).toBe(false);
    held.shift()!();
    const results = await applying;
    expect(results[0]).toEqual(answers[0]![1]);
    expect(results[2]).toEqual({ kind: "reconfigure", accepted: true });
    expect(answers.length).toBe(1);
  });

  it("Status shows a shard frozen for an aborted join as held (with its keys), then serving when the abort config returns it", async () => {
    const d = driver(await open("held"));
    await d.apply({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) });
    const [k] = keysOf(2, 1) as [string];
    expect((await d.write(clientA, 1, [put(k, "kept")])).ok).toBe(true);
    // Config 2: group 7 joins and gets shards 2 and 3; config 3 aborts that join.
    await d.apply({ kind: "reconfigure", config: config(2, [1, 1, 7, 7]) });
    const aborted = { gid: g(7), joinNum: cn(2), abortNum: cn(3) };
    for (const shard of [2, 3]) {
      expect(await d.apply({ kind: "abortHandoff", configNum: cn(2), shard: sh(shard), aborted })).toEqual([{ kind: "abortHandoff", accepted: true }]);
    }
    const held = (await d.sm.shardStats())[2]!;
    expect(held).toMatchObject({ shard: 2, state: "held", configNum: 2, keys: 1, bytes: k.length + "kept".length });
    const c3: Config = { ...config(3, [1, 1, 1, 1]), abortedJoins: [aborted] };
    expect(await d.apply({ kind: "reconfigure", config: c3 })).toEqual([{ kind: "reconfigure", accepted: true }]);
    expect((await d.sm.shardStats())[2]).toMatchObject({ shard: 2, state: "serving", configNum: 3, keys: 1 });
    expect(dec(await d.sm.get(sh(2), enc(k)))).toBe("kept");
  });
});
