/**
 * ShardApplier.applyBatch, the apply path shared by the RocksDB state machine and the
 * simulator: the same entries give the same results and effects whether the store answers
 * reads synchronously (prefetched, the daemon's common case) or with promises, and whether
 * `stage` is synchronous or not. Later commands must see what earlier ones staged.
 */
import { describe, expect, it } from "vitest";
import type { ConfigNum, GroupId, LogIndex, ShardId, Term } from "../../common/ids";
import { initialConfig, type Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import type { Entry } from "../../raft/core/types";
import { type AppliedCommand, type ApplyStore, ShardApplier } from "../../shard-server/apply";
import { encodeCommand } from "../../shard-server/codec";
import { ShardGroupCore } from "../../shard-server/state-machine";
import type { KvOp, ShardOp } from "../../shard-server/types";

const N = 4;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** A key of the same shard as "a" that is stored before the batch. */
const pre = Array.from({ length: 100 }, (_, i) => `pre${i}`).find((k) => shardOf(enc(k), N) === shardOf(enc("a"), N))!;

const config: Config = { num: 1 as ConfigNum, shards: Array.from({ length: N }, () => 1 as GroupId), groups: new Map([[1 as GroupId, ["127.0.0.1:9001"]]]) };

function entries(): Entry[] {
  let index = 0;
  const entry = (op: ShardOp): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: 1_000 + index, op }) });
  const write = (seq: number, ops: KvOp[]) => entry({ kind: "write", write: { clientId: "ab".repeat(16), seq, ackedBelow: 0, shard: shardOf(ops[0]!.key, N) as ShardId, ops } });
  const put = (k: string, v: string): KvOp => ({ type: "put", key: enc(k), value: enc(v) });
  const append = (k: string, v: string): KvOp => ({ type: "append", key: enc(k), value: enc(v) });
  const get = (k: string): KvOp => ({ type: "get", key: enc(k), value: new Uint8Array(0) });
  return [
    entry({ kind: "reconfigure", config }),
    write(1, [put("a", "1")]),
    write(2, [append("a", "2")]), // reads what command 1 staged
    write(3, [append("b", "x"), append("b", "y"), get("b")]), // later ops see earlier ones
    write(2, [append("a", "2")]), // a retry: the saved reply, nothing written
    { index: 6 as LogIndex, term: 1 as Term, type: "noop", data: new Uint8Array(0) },
    write(4, [get("a"), get(pre)]),
  ];
}

/** Applies entries() to a fresh core over a map store, `async` choosing promise answers. */
async function run(async: boolean) {
  const core = new ShardGroupCore({ gid: 1 as GroupId, shardCount: N, config: initialConfig(N), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
  const data = new Map<string, Uint8Array>([[pre, enc("stored")]]);
  let reads = 0;
  const store: ApplyStore = {
    read: (_shard, key) => {
      reads++;
      const v = data.get(dec(key)!);
      return async ? Promise.resolve(v) : v;
    },
  };
  const stage = (a: AppliedCommand): void | Promise<void> => {
    for (const w of a.fx.writes) {
      if (w.value === undefined) data.delete(dec(w.key)!);
      else data.set(dec(w.key)!, w.value);
    }
    return async ? Promise.resolve() : undefined;
  };
  const applied = await new ShardApplier({ who: "test", shardCount: N, dedupTtlMs: 60_000 }).applyBatch(core, entries(), store, stage);
  return {
    reads,
    results: applied.map((a) => (a.result?.kind === "write" && a.result.outcome.ok
      ? { duplicate: a.result.outcome.duplicate, values: a.result.outcome.results.map((r) => [r.found, dec(r.value)]) }
      : a.result)),
    writes: applied.map((a) => a.fx.writes.map((w) => [dec(w.key), dec(w.value)])),
    data: Object.fromEntries([...data].map(([k, v]) => [k, dec(v)])),
  };
}

describe("ShardApplier.applyBatch", () => {
  it("gives the same results and effects with synchronous and promise-returning stores", async () => {
    const sync = await run(false);
    const promised = await run(true);
    expect(promised).toEqual(sync);
    expect(sync.results).toEqual([
      { kind: "reconfigure", accepted: true },
      { duplicate: false, values: [[false, ""]] },
      { duplicate: false, values: [[true, ""]] },
      { duplicate: false, values: [[false, ""], [true, ""], [true, "xy"]] },
      { duplicate: true, values: [[true, ""]] },
      null,
      { duplicate: false, values: [[true, "12"], [true, "stored"]] },
    ]);
    expect(sync.writes[4]).toEqual([]); // the retry wrote nothing
    expect(sync.data).toEqual({ [pre]: "stored", a: "12", b: "xy" });
    // One read per distinct key of a write: a batch reads "b" once; the retry reads too (the
    // applier reads before the core finds the saved reply).
    expect(sync.reads).toBe(1 + 1 + 1 + 1 + 2);
  });

  it("a put or a delete decides on a key's {exists, length} alone; an op that needs the value refuses one", async () => {
    const core = new ShardGroupCore({ gid: 1 as GroupId, shardCount: N, config: initialConfig(N), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
    const applier = new ShardApplier({ who: "test", shardCount: N, dedupTtlMs: 60_000 });
    const lengths = new Map<string, { exists: boolean; length: number }>([["a", { exists: true, length: 3 }], [pre, { exists: false, length: 0 }]]);
    const store: ApplyStore = { read: (_shard, key) => lengths.get(dec(key)!) };
    let index = 0;
    const entry = (op: ShardOp): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: 1_000 + index, op }) });
    const write = (seq: number, ops: KvOp[]) => entry({ kind: "write", write: { clientId: "cd".repeat(16), seq, ackedBelow: 0, shard: shardOf(ops[0]!.key, N) as ShardId, ops } });
    const del = (k: string): KvOp => ({ type: "delete", key: enc(k), value: new Uint8Array(0) });
    const applied = await applier.applyBatch(core, [
      entry({ kind: "reconfigure", config }),
      write(1, [{ type: "put", key: enc("a"), value: enc("new") }]),
      write(2, [del("a")]),
      write(3, [del(pre)]),
    ], store, () => undefined);
    const found = applied.slice(1).map((a) => (a.result?.kind === "write" && a.result.outcome.ok ? a.result.outcome.results.map((r) => r.found) : a.result));
    // The reads answer "exists" for "a" both times (the store is not updated by this test),
    // "absent" for pre: the delete of an absent key writes nothing.
    expect(found).toEqual([[true], [true], [false]]);
    expect(applied[3]!.fx.writes).toEqual([]);
    // A get of a key the store knows only by length is a bug of the store: asserted, never
    // answered with made-up bytes.
    await expect(applier.applyBatch(core, [write(4, [{ type: "get", key: enc("a"), value: new Uint8Array(0) }])], store, () => undefined))
      .rejects.toThrow(/a get read a key of which the storage gave only the length/);
  });
});
