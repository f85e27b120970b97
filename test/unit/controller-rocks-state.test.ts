/**
 * The controller's RocksDB state machine: durable apply (configs, duplicate table, applied
 * index in one batch), restart, snapshot and restore, the shard-count check, historical reads.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigNum, GroupId, LogIndex, ShardId, Term } from "../../common/ids";
import { configsEqual, type Config } from "../../controller/config";
import { encodeClusterInit, encodeCommand } from "../../controller/codec";
import { clusterInitResult, controllerKeys, noopResult, RocksControllerStateMachine } from "../../controller/rocks-state";
import type { ControllerOp } from "../../controller/state-machine";
import type { Entry } from "../../raft/core/types";
import type { SnapshotSource } from "../../raft/state-machine";
import { formatKey } from "../../common/checked-kv";
import { openRocksKv, rocksStorage } from "../../raft/storage/rocks-kv";
import { StoppedError } from "../../common/errors";
import { failingWrites } from "../sim/sim-kv";

const g = (n: number) => n as GroupId;
const joinOp = (...gids: number[]): ControllerOp => ({ kind: "join", groups: new Map(gids.map((x) => [g(x), [`10.0.0.${x}:7000`]])) });
const leaveOp = (...gids: number[]): ControllerOp => ({ kind: "leave", gids: gids.map(g) });
const moveOp = (shard: number, gid: number): ControllerOp => ({ kind: "move", shard: shard as ShardId, gid: g(gid) });
const clientA = "aa".repeat(16);
const clientB = "bb".repeat(16);

/** Shard count the entries below are proposed for: that of the state machine opened last. */
let entriesShardCount = 64;
const normal = (index: number, clientId: string, seq: number, op: ControllerOp): Entry => ({
  index: index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ clientId, seq, op, shardCount: entriesShardCount }),
});
const noop = (index: number): Entry => ({ index: index as LogIndex, term: 1 as Term, type: "noop", data: new Uint8Array(0) });
/** Group `gid` acknowledges its join in config `joinNum` (as its leader does; a pending group holds up later changes). */
const clientAck = "ee".repeat(16);
let ackSeq = 0;
const ack = (index: number, gid: number, joinNum: number): Entry =>
  normal(index, clientAck, ++ackSeq, { kind: "ackJoin", gid: g(gid), joinNum: joinNum as ConfigNum });

async function readAll(src: SnapshotSource): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let n = 0; ; n++) {
    const c = await src.readChunk(n);
    chunks.push(new Uint8Array(c.data));
    if (c.last) return chunks;
  }
}

async function history(sm: RocksControllerStateMachine): Promise<Config[]> {
  const out: Config[] = [];
  for (let n = 0; n <= sm.latestNum(); n++) out.push((await sm.config(n))!);
  return out;
}

describe("RocksControllerStateMachine", () => {
  let dir: string;
  const open: RocksControllerStateMachine[] = [];
  const openSm = async (sub: string, shards?: number) => {
    const sm = await RocksControllerStateMachine.open(join(dir, sub), shards);
    entriesShardCount = sm.shardCount();
    open.push(sm);
    return sm;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-ctl-rocks-"));
  });
  afterEach(async () => {
    for (const sm of open.splice(0)) await sm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts at config 0 with the default 64 shards, or the given count", async () => {
    const a = await openSm("a");
    expect(a.shardCount()).toBe(64);
    expect(a.appliedIndex()).toBe(0);
    expect(a.latest().num).toBe(0);
    expect(a.latest().shards).toEqual(new Array(64).fill(0));
    const b = await openSm("b", 10);
    expect(b.shardCount()).toBe(10);
    expect((await b.config(0))!.shards.length).toBe(10);
    await expect(RocksControllerStateMachine.open(join(dir, "c"), 0)).rejects.toThrow(/shard count must be an integer in \[1, 16384\], got 0/);
  });

  it("applies a batch durably and resumes at the latest config after a restart", async () => {
    let sm = await openSm("s", 10);
    const results = await sm.apply([
      noop(1), normal(2, clientA, 1, joinOp(1)), ack(3, 1, 1), normal(4, clientA, 2, joinOp(2, 3)), ack(5, 2, 2), ack(6, 3, 2),
      normal(7, clientB, 1, moveOp(0, 3)),
    ]);
    expect(results).toEqual([
      noopResult, { ok: true, configNum: 1 }, { ok: true, configNum: 1 }, { ok: true, configNum: 2 }, { ok: true, configNum: 2 },
      { ok: true, configNum: 2 }, { ok: true, configNum: 3 },
    ]);
    await sm.apply([noop(8)]); // a noop moves only the applied index
    const before = await history(sm);
    expect(sm.appliedIndex()).toBe(8);
    await sm.close();
    open.length = 0;

    sm = await openSm("s");
    expect(sm.appliedIndex()).toBe(8);
    expect(sm.latestNum()).toBe(3);
    expect(sm.latest().shards[0]).toBe(3);
    const after = await history(sm);
    expect(after.length).toBe(4);
    after.forEach((c, i) => expect(configsEqual(c, before[i]!)).toBe(true));
    // The history continues with the next number.
    expect(await sm.apply([normal(9, clientB, 2, leaveOp(1))])).toEqual([{ ok: true, configNum: 4 }]);
  });

  it("refused commands create no config but are remembered", async () => {
    const sm = await openSm("s", 4);
    const r = await sm.apply([normal(1, clientA, 1, leaveOp(9))]);
    expect(r[0]).toEqual({ ok: false, field: "gid", reason: "group 9 is not in config 0" });
    expect(sm.latestNum()).toBe(0);
    expect(sm.dedupEntry(clientA)?.seq).toBe(1);
  });

  it("the duplicate table survives a restart: a retried request is not executed again", async () => {
    let sm = await openSm("s", 10);
    await sm.apply([normal(1, clientA, 1, joinOp(1)), ack(2, 1, 1), normal(3, clientB, 5, joinOp(2))]);
    await sm.close();
    open.length = 0;
    sm = await openSm("s", 10);
    expect(sm.dedupEntry(clientA)).toEqual({ seq: 1, result: { ok: true, configNum: 1 }, lastIndex: 1 });
    // Group 2 never acknowledged its join: still pending after the restart, with the shards
    // group 1 handed to it.
    expect([...sm.pendingJoins().keys()]).toEqual([2]);
    expect([...sm.pendingJoins().get(g(2))!.handedFrom.values()].every((from) => from === 1)).toBe(true);
    // The same (client, seq) again: the first result, no new config.
    expect(await sm.apply([normal(4, clientA, 1, joinOp(1))])).toEqual([{ ok: true, configNum: 1 }]);
    expect(await sm.apply([normal(5, clientB, 5, joinOp(2))])).toEqual([{ ok: true, configNum: 2 }]);
    expect(sm.latestNum()).toBe(2);
  });

  it("the first InitCluster entry applied sets the cluster id for good: durable, in snapshots, and a snapshot of another cluster is refused", async () => {
    const init = (index: number, clusterId: string): Entry => ({
      index: index as LogIndex, term: 1 as Term, type: "normal", data: encodeClusterInit({ kind: "init-cluster", clusterId }),
    });
    let a = await openSm("a", 4);
    expect(a.clusterId()).toBeUndefined();
    const heard: string[] = [];
    a.subscribeClusterId((id) => heard.push(id));
    expect(await a.apply([noop(1), init(2, "aaaa"), init(3, "bbbb")])).toEqual([noopResult, clusterInitResult, clusterInitResult]);
    expect(a.clusterId()).toBe("aaaa");
    expect(heard).toEqual(["aaaa"]);
    await a.apply([normal(4, clientA, 1, joinOp(1)), init(5, "cccc")]);
    expect(a.clusterId()).toBe("aaaa");
    await a.close();
    a = await openSm("a", 4);
    expect(a.clusterId()).toBe("aaaa");
    expect(a.latest().num).toBe(1);
    const chunks = await readAll(await a.snapshot());

    const fresh = await openSm("fresh", 4);
    const sink = fresh.restore({ index: 5 as LogIndex, term: 1 as Term, voters: [] });
    for (let i = 0; i < chunks.length; i++) await sink.write(i, chunks[i]!);
    await sink.finish();
    expect(fresh.clusterId()).toBe("aaaa");

    const other = await openSm("other", 4);
    await other.apply([init(1, "dddd"), normal(2, clientB, 1, joinOp(7))]);
    const refused = other.restore({ index: 5 as LogIndex, term: 1 as Term, voters: [] });
    for (let i = 0; i < chunks.length; i++) await refused.write(i, chunks[i]!);
    await expect(refused.finish()).rejects.toThrow(
      `controller state ${join(dir, "other")} belongs to cluster dddd, but a snapshot of cluster aaaa was sent to it; check --peers`);
    expect(other.clusterId()).toBe("dddd");
    expect(other.latest().groups.has(7 as GroupId)).toBe(true);
  });

  it("snapshot -> restore into a fresh directory gives identical configs and duplicate table", async () => {
    const src = await openSm("src", 8);
    await src.apply([normal(1, clientA, 1, joinOp(1, 2)), ack(2, 1, 1), ack(3, 2, 1), normal(4, clientB, 1, joinOp(3)), ack(5, 3, 2)]);
    await src.apply([normal(6, clientA, 2, moveOp(7, 1)), noop(7), normal(8, clientB, 2, leaveOp(2))]);
    // Group 9 joins and stays pending: the snapshot carries it.
    await src.apply([normal(9, clientA, 3, joinOp(9))]);
    expect([...src.pendingJoins().keys()]).toEqual([9]);
    const snap = await src.snapshot();
    expect(snap.index).toBe(9);
    const chunks = await readAll(snap);

    // The destination has state of its own (another history), all of which must go.
    const dst = await openSm("dst");
    await dst.apply([normal(1, "cc".repeat(16), 1, joinOp(9)), normal(2, "cc".repeat(16), 2, joinOp(10))]);
    const seen: number[] = [];
    dst.subscribe((c) => seen.push(c.num));
    const sink = dst.restore({ index: 9 as LogIndex, term: 1 as Term, voters: [] });
    for (let i = 0; i < chunks.length; i++) await sink.write(i, chunks[i]!);
    await sink.finish();

    expect(dst.appliedIndex()).toBe(9);
    expect(dst.shardCount()).toBe(8);
    expect(seen).toEqual([5]);
    expect(dst.pendingJoins()).toEqual(src.pendingJoins());
    const want = await history(src);
    const got = await history(dst);
    expect(got.length).toBe(want.length);
    got.forEach((c, i) => expect(configsEqual(c, want[i]!)).toBe(true));
    expect(dst.dedupEntry(clientA)).toEqual(src.dedupEntry(clientA));
    expect(dst.dedupEntry(clientB)).toEqual(src.dedupEntry(clientB));
    expect(dst.dedupEntry("cc".repeat(16))).toBeUndefined();

    // Durable: a restart of the destination sees the restored state.
    await dst.close();
    const again = await RocksControllerStateMachine.open(join(dir, "dst"));
    entriesShardCount = again.shardCount();
    open.push(again);
    expect(again.appliedIndex()).toBe(9);
    expect(configsEqual(again.latest(), src.latest())).toBe(true);
    expect(again.dedupEntry(clientB)?.seq).toBe(2);
    expect(again.pendingJoins()).toEqual(src.pendingJoins());
    // A retry of the last request after the restore is still recognised.
    expect(await again.apply([normal(10, clientB, 2, leaveOp(2))])).toEqual([{ ok: true, configNum: 4 }]);
    expect(again.latestNum()).toBe(5);
  });

  it("a snapshot larger than a chunk is cut into several chunks", async () => {
    const sm = await openSm("s", 16384);
    const entries: Entry[] = [];
    let index = 0;
    for (let i = 1; i <= 100; i++) {
      entries.push(normal(++index, clientA, i, i % 2 === 1 ? joinOp(i) : moveOp(i, i - 1)));
      if (i % 2 === 1) entries.push(ack(++index, i, i)); // join i created config i
    }
    await sm.apply(entries);
    const chunks = await readAll(await sm.snapshot());
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.slice(0, -1).every((c) => c.length === 1024 * 1024)).toBe(true);
  });

  it("refuses a --shards that differs from the one the directory was created with", async () => {
    const sm = await openSm("s", 64);
    await sm.close();
    open.length = 0;
    const path = join(dir, "s");
    await expect(RocksControllerStateMachine.open(path, 32)).rejects.toThrow(
      `invalid shards: data dir ${path} was created with 64 shards, --shards says 32`,
    );
    // The same count, or none, is fine (and the failed open released the directory's lock).
    const ok = await openSm("s", 64);
    await ok.close();
    open.length = 0;
    expect((await openSm("s")).shardCount()).toBe(64);
  });

  it("reads historical configs from RocksDB, one record per config", async () => {
    const sm = await openSm("s", 6);
    await sm.apply([normal(1, clientA, 1, joinOp(1)), ack(2, 1, 1), normal(3, clientA, 2, joinOp(2)), ack(4, 2, 2), normal(5, clientA, 3, leaveOp(1))]);
    expect((await sm.config(0))!.groups.size).toBe(0);
    expect((await sm.config(1))!.shards).toEqual([1, 1, 1, 1, 1, 1]);
    expect((await sm.config(2))!.shards).toEqual([1, 1, 1, 2, 2, 2]);
    expect((await sm.config(3))!.shards).toEqual([2, 2, 2, 2, 2, 2]);
    expect(await sm.config(4)).toBeUndefined();
    expect(await sm.config(-1)).toBeUndefined();
    await sm.close();
    open.length = 0;
    // On disk: the format marker, configs 0..3 under their keys, one dedup record, the applied index.
    const db = await openRocksKv(join(dir, "s"));
    try {
      const keys: string[] = [];
      for await (const [k] of db.iterator({})) keys.push(k.toString("hex"));
      expect(keys).toEqual([
        formatKey, controllerKeys.config(0), controllerKeys.config(1), controllerKeys.config(2), controllerKeys.config(3),
        controllerKeys.dedup(clientA), controllerKeys.dedup(clientAck), controllerKeys.applied, controllerKeys.shardCount,
      ].map((k) => k.toString("hex")));
    } finally {
      await db.close();
    }
  });

  it("notifies subscribers of each new config once it is durable, in order", async () => {
    const sm = await openSm("s", 4);
    const seen: number[] = [];
    const off = sm.subscribe((c) => seen.push(c.num));
    await sm.apply([normal(1, clientA, 1, joinOp(1)), ack(2, 1, 1), normal(3, clientA, 2, leaveOp(5)), normal(4, clientA, 3, joinOp(2)), ack(5, 2, 2)]);
    expect(seen).toEqual([1, 2]);
    off();
    await sm.apply([normal(6, clientA, 4, joinOp(3))]);
    expect(seen).toEqual([1, 2]);
  });

  it("an apply whose write fails stops the state machine; reopened, it is the state before that apply", async () => {
    const { storage, failing } = failingWrites(rocksStorage);
    const sm = await RocksControllerStateMachine.open(join(dir, "f"), 8, storage);
    open.push(sm);
    entriesShardCount = 8;
    await sm.apply([normal(1, clientA, 1, joinOp(1))]);
    failing.on = true;
    expect([...sm.pendingJoins().keys()]).toEqual([1]);
    await expect(sm.apply([ack(2, 1, 1), normal(3, clientA, 2, joinOp(2))])).rejects.toThrow(/injected/);
    expect(sm.latestNum()).toBe(1); // readers never saw the config the core made
    await expect(sm.apply([normal(4, clientA, 3, moveOp(0, 1))])).rejects.toBeInstanceOf(StoppedError);
    await expect(sm.config(1)).rejects.toBeInstanceOf(StoppedError);
    await expect(sm.snapshot()).rejects.toBeInstanceOf(StoppedError);
    failing.on = false;
    await sm.close();
    open.splice(open.indexOf(sm), 1);
    const again = await openSm("f");
    expect(again.appliedIndex()).toBe(1);
    expect(again.latestNum()).toBe(1);
    expect(again.dedupEntry(clientA)?.seq).toBe(1);
    expect([...again.pendingJoins().keys()]).toEqual([1]);
    // The same entries apply as if the failure never happened.
    await again.apply([ack(2, 1, 1), normal(3, clientA, 2, joinOp(2))]);
    expect([...again.pendingJoins().keys()]).toEqual([2]);
    expect((await again.config(2))!.groups.size).toBe(2);
  });
});
