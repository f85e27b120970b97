import { describe, expect, it } from "vitest";
import type { ConfigNum, GroupId, ShardId } from "../../common/ids";
import { InvalidArgumentError, WrongGroupError } from "../../common/errors";
import { initialConfig, type Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import { ShardGroupCore, emptyEffects, type Effects } from "../../shard-server/state-machine";
import type { ClientWrite, KvOp } from "../../shard-server/types";

const N = 4;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const g = (n: number) => n as GroupId;

/** A key of shard `s` (searching k0, k1, ...). */
function keyOf(s: number, i = 0): string {
  let found = 0;
  for (let n = 0; ; n++) if (shardOf(`k${n}`, N) === s && found++ === i) return `k${n}`;
}

function config(num: number, shards: number[]): Config {
  const gids = [...new Set(shards.filter((x) => x !== 0))];
  return { num: num as ConfigNum, shards: shards.map(g), groups: new Map(gids.map((x) => [g(x), [`127.0.0.1:${9000 + x}`]])) };
}

/** A group core plus an in-memory store that applies its Effects. */
function group(gid: number) {
  const core = new ShardGroupCore({ gid: g(gid), shardCount: N, config: initialConfig(N), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
  const data = new Map<string, Uint8Array>();
  const k = (shard: number, key: Uint8Array) => `${shard}/${dec(key)}`;
  const commit = (fx: Effects) => {
    for (const s of fx.clearShards) for (const key of [...data.keys()]) if (key.startsWith(`${s}/`)) data.delete(key);
    for (const w of fx.writes) if (w.value === undefined) data.delete(k(w.shard, w.key)); else data.set(k(w.shard, w.key), w.value);
  };
  let seqs = 0;
  const write = (ops: KvOp[], opts: { clientId?: string; seq?: number; ackedBelow?: number; now?: number } = {}) => {
    const fx = emptyEffects();
    const w: ClientWrite = {
      clientId: opts.clientId ?? "c1", seq: opts.seq ?? ++seqs, ackedBelow: opts.ackedBelow ?? 0,
      shard: shardOf(ops[0]!.key, N), ops,
    };
    const out = core.applyWrite(w, opts.now ?? 1000, (s, key) => data.get(k(s, key)), fx);
    commit(fx);
    return out;
  };
  const reconf = (c: Config) => {
    const fx = emptyEffects();
    const ok = core.applyReconfigure(c, fx);
    commit(fx);
    return ok;
  };
  const get = (key: string) => {
    const v = data.get(`${shardOf(key, N)}/${key}`);
    return v === undefined ? undefined : dec(v);
  };
  const keysOf = (shard: number) => [...data.keys()].filter((x) => x.startsWith(`${shard}/`));
  return { core, data, commit, write, reconf, get, keysOf };
}

const put = (key: string, v: string): KvOp => ({ type: "put", key: enc(key), value: enc(v) });
const append = (key: string, v: string): KvOp => ({ type: "append", key: enc(key), value: enc(v) });

describe("shard group state machine", () => {
  it("serves shards assigned from nobody at once; put/append/get/delete/cas", () => {
    const a = group(1);
    expect(a.reconf(config(1, [1, 1, 1, 1]))).toBe(true);
    expect(a.core.serves(0 as ShardId)).toBe(true);
    const key = keyOf(2);
    expect(a.write([put(key, "x"), append(key, "y")]).ok).toBe(true);
    expect(a.get(key)).toBe("xy");
    const cas = a.write([{ type: "cas", key: enc(key), value: enc("z"), expected: enc("nope") }]);
    expect(cas.ok && cas.results[0]!.swapped).toBe(false);
    const cas2 = a.write([{ type: "cas", key: enc(key), value: enc("z"), expected: enc("xy") }]);
    expect(cas2.ok && cas2.results[0]!.swapped).toBe(true);
    const absent = a.write([{ type: "cas", key: enc(keyOf(2, 1)), value: enc("new"), expectAbsent: true }]);
    expect(absent.ok && absent.results[0]!.swapped).toBe(true);
    const del = a.write([{ type: "delete", key: enc(key), value: enc("") }]);
    expect(del.ok && del.results[0]!.found).toBe(true);
    expect(a.get(key)).toBeUndefined();
  });

  it("a retried request executes once and returns the saved reply; concurrent seqs all execute", () => {
    const a = group(1);
    a.reconf(config(1, [1, 1, 1, 1]));
    const key = keyOf(1);
    a.write([append(key, "a")], { seq: 7 });
    const again = a.write([append(key, "a")], { seq: 7 });
    expect(again.ok && again.duplicate).toBe(true);
    expect(a.get(key)).toBe("a");
    // seq 9 then 8 (reordered in flight): both execute.
    a.write([append(key, "c")], { seq: 9 });
    a.write([append(key, "b")], { seq: 8 });
    expect(a.get(key)).toBe("acb");
    // acked_below drops saved replies; an acknowledged seq is refused, not re-executed.
    const r = a.write([append(key, "d")], { seq: 10, ackedBelow: 10 });
    expect(r.ok).toBe(true);
    const stale = a.write([append(key, "a")], { seq: 7 });
    expect(!stale.ok && stale.error).toBeInstanceOf(InvalidArgumentError);
    expect(a.get(key)).toBe("acbd");
  });

  it("WrongGroup for a shard not served changes nothing, not even the duplicate table", () => {
    const a = group(1);
    a.reconf(config(1, [1, 2, 1, 2]));
    const out = a.write([put(keyOf(1), "x")], { seq: 1 });
    expect(!out.ok && out.error).toBeInstanceOf(WrongGroupError);
    expect(a.core.dedupOf(1 as ShardId).size).toBe(0);
    expect(a.keysOf(1)).toEqual([]);
  });

  it("ownership is checked at apply: a reconfiguration between arrival and apply refuses the write", () => {
    const a = group(1);
    a.reconf(config(1, [1, 1, 1, 1]));
    const key = keyOf(3);
    // The write was accepted at the gateway under config 1; config 2 is applied first.
    a.reconf(config(2, [1, 1, 1, 2]));
    const out = a.write([put(key, "late")]);
    expect(!out.ok && out.error instanceof WrongGroupError && out.error.configNum).toBe(2);
    expect(a.get(key)).toBeUndefined();
  });

  it("moves a shard with its duplicate table: a retry after the move returns the saved reply", () => {
    const a = group(1);
    const b = group(2);
    a.reconf(config(1, [1, 1, 1, 1]));
    b.reconf(config(1, [1, 1, 1, 1]));
    const key = keyOf(2);
    a.write([append(key, "v1")], { clientId: "cx", seq: 5 });
    const c2 = config(2, [1, 1, 2, 1]);
    expect(a.reconf(c2)).toBe(true);
    expect(b.reconf(c2)).toBe(true);
    expect(a.core.meta(2 as ShardId).state).toBe("handoff");
    expect(b.core.meta(2 as ShardId).state).toBe("pulling");
    // Neither serves the shard during the move.
    expect(a.write([append(key, "no")]).ok).toBe(false);
    expect(b.write([append(key, "no")]).ok).toBe(false);
    // Next config must wait for the migration on both sides.
    expect(a.reconf(config(3, [1, 1, 2, 2]))).toBe(false);
    expect(a.core.canServePull(2 as ConfigNum, 2 as ShardId)).toBe("ready");
    expect(a.core.canServePull(3 as ConfigNum, 2 as ShardId)).toBe("notReady");
    // Pull: two chunks; a duplicate of the first is ignored.
    const kvs = a.keysOf(2).map((x) => ({ key: enc(x.slice(2)), value: a.data.get(x)! }));
    const fx = emptyEffects();
    const chunk1 = { configNum: 2 as ConfigNum, shard: 2 as ShardId, kvs, last: false, dedup: new Map() };
    expect(b.core.applyInsert(chunk1, 1000, fx)).toBe(true);
    expect(b.core.applyInsert(chunk1, 1000, emptyEffects())).toBe(false);
    expect(b.core.applyInsert({ ...chunk1, kvs: [], last: true, dedup: a.core.dedupOf(2 as ShardId) }, 1000, fx)).toBe(true);
    b.commit(fx);
    expect(b.core.serves(2 as ShardId)).toBe(true);
    expect(b.core.meta(2 as ShardId).gcConfigNum).toBe(2);
    expect(b.get(key)).toBe("v1");
    // The client's retry reaches the new owner: not executed twice.
    const retry = b.write([append(key, "v1")], { clientId: "cx", seq: 5 });
    expect(retry.ok && retry.duplicate).toBe(true);
    expect(b.get(key)).toBe("v1");
    // Delete at the old owner: not before it reached the config, then done and idempotent.
    const del = emptyEffects();
    expect(a.core.applyDeleteShard(2 as ConfigNum, 2 as ShardId, del)).toBe("done");
    a.commit(del);
    expect(a.keysOf(2)).toEqual([]);
    expect(a.core.meta(2 as ShardId).state).toBe("notOwned");
    expect(a.core.applyDeleteShard(2 as ConfigNum, 2 as ShardId, emptyEffects())).toBe("done");
    expect(a.core.applyDeleteShard(9 as ConfigNum, 1 as ShardId, emptyEffects())).toBe("notReady");
    expect(b.core.applyGcDone(2 as ConfigNum, 2 as ShardId, emptyEffects())).toBe(true);
    expect(b.core.meta(2 as ShardId).gcConfigNum).toBe(0);
    // Both settled: the next config applies.
    expect(a.reconf(config(3, [1, 1, 2, 2]))).toBe(true);
  });

  it("counts a moved duplicate record as seen at the insert, in the new group's log time", () => {
    // Each group's log time runs on its own replicas' monotonic clocks (shard-server/log-clock.ts):
    // group 2's may be hours ahead of group 1's. A record moved with its old time would be
    // expired at once and the client's retry applied twice.
    const a = group(1);
    const b = group(2);
    for (const x of [a, b]) x.reconf(config(1, [1, 1, 1, 1]));
    const key = keyOf(2);
    expect(a.write([append(key, "v1")], { clientId: "cx", seq: 5, now: 1000 }).ok).toBe(true);
    const c2 = config(2, [1, 1, 2, 1]);
    a.reconf(c2);
    b.reconf(c2);
    const kvs = a.keysOf(2).map((x) => ({ key: enc(x.slice(2)), value: a.data.get(x)! }));
    const fx = emptyEffects();
    const hours = 5 * 3_600_000;
    expect(b.core.applyInsert({ configNum: 2 as ConfigNum, shard: 2 as ShardId, kvs, last: true, dedup: a.core.dedupOf(2 as ShardId) }, hours, fx)).toBe(true);
    b.commit(fx);
    expect(b.core.dedupOf(2 as ShardId).get("cx")?.lastSeenMs).toBe(hours);
    const retry = b.write([append(key, "v1")], { clientId: "cx", seq: 5, now: hours + 59_000 });
    expect(retry.ok && retry.duplicate).toBe(true);
    expect(b.get(key)).toBe("v1");
  });

  it("does not give a shard away while its previous owner has not confirmed deleting it", () => {
    const a = group(1);
    const b = group(2);
    for (const x of [a, b]) x.reconf(config(1, [1, 1, 1, 1]));
    const c2 = config(2, [1, 1, 2, 1]);
    a.reconf(c2);
    b.reconf(c2);
    const fx = emptyEffects();
    expect(b.core.applyInsert({ configNum: 2 as ConfigNum, shard: 2 as ShardId, kvs: [], last: true, dedup: new Map() }, 1000, fx)).toBe(true);
    // Group 2 serves shard 2, gc pending toward group 1. Config 3 gives shard 2 back to 1:
    // refused until the delete is confirmed (the obligation would be lost with the shard).
    const c3 = config(3, [1, 1, 1, 1]);
    expect(b.reconf(c3)).toBe(false);
    expect(b.core.applyGcDone(2 as ConfigNum, 2 as ShardId, emptyEffects())).toBe(true);
    expect(b.reconf(c3)).toBe(true);
  });

  it("keeps the duplicate table bounded with many short-lived clients (TTL in log time)", () => {
    const a = group(1);
    a.reconf(config(1, [1, 1, 1, 1]));
    for (let i = 0; i < 500; i++) a.write([put(keyOf(0), `v${i}`)], { clientId: `client-${i}`, seq: 1, now: i * 1000 });
    const fx = emptyEffects();
    const expired = a.core.expireDedup(500 * 1000, fx);
    expect(expired).toBeGreaterThan(400);
    expect(a.core.dedupOf(0 as ShardId).size).toBeLessThanOrEqual(61);
    // An expired record counts as absent: same behaviour whether or not expiry ran.
    const b = group(1);
    b.reconf(config(1, [1, 1, 1, 1]));
    b.write([append(keyOf(0), "x")], { clientId: "old", seq: 1, now: 0 });
    const late = b.write([append(keyOf(0), "x")], { clientId: "old", seq: 1, now: 120_000 });
    expect(late.ok && late.duplicate).toBe(false);
  });

  it("refuses keys of another shard in one request", () => {
    const a = group(1);
    a.reconf(config(1, [1, 1, 1, 1]));
    const fx = emptyEffects();
    const out = a.core.applyWrite({ clientId: "c", seq: 1, ackedBelow: 0, shard: 0 as ShardId, ops: [put(keyOf(0), "a"), put(keyOf(1), "b")] }, 0, () => undefined, fx);
    expect(!out.ok && out.error).toBeInstanceOf(InvalidArgumentError);
    expect(fx.writes).toEqual([]);
  });
});

describe("shard group state machine: a handoff to a group whose join was aborted", () => {
  const withAborts = (c: Config, abortedJoins: { gid: number; joinNum: number; abortNum: number }[]): Config => ({
    ...c,
    abortedJoins: abortedJoins.map((a) => ({ gid: g(a.gid), joinNum: a.joinNum as ConfigNum, abortNum: a.abortNum as ConfigNum })),
  });
  const aborted7 = { gid: g(7), joinNum: 2 as ConfigNum, abortNum: 3 as ConfigNum };

  it("stops waiting, keeps the data frozen (not served), and serves it again, unchanged, when the abort returns it", () => {
    const a = group(1);
    a.reconf(config(1, [1, 1, 1, 1]));
    const key = keyOf(2);
    expect(a.write([put(key, "kept")]).ok).toBe(true);
    // Config 2: group 7 joins and is handed shards 2 and 3; group 1 is in handoff for them.
    expect(a.reconf(config(2, [1, 1, 7, 7]))).toBe(true);
    expect(a.core.meta(2 as ShardId).state).toBe("handoff");
    expect(a.core.settled()).toBe(false);
    // Config 3 (the abort) cannot be applied while in handoff...
    const c3 = withAborts(config(3, [1, 1, 1, 1]), [aborted7]);
    expect(a.reconf(c3)).toBe(false);
    // ...until the log says the handoff ends: the shard is held, not served, data kept.
    const fx = emptyEffects();
    expect(a.core.applyAbortHandoff(2 as ConfigNum, 2 as ShardId, aborted7, fx)).toBe(true);
    a.commit(fx);
    expect(fx.clearShards).toEqual([]);
    expect(a.core.meta(2 as ShardId)).toMatchObject({ state: "notOwned", held: true });
    expect(a.write([put(key, "x")])).toMatchObject({ ok: false, error: expect.any(WrongGroupError) });
    const fx3 = emptyEffects();
    expect(a.core.applyAbortHandoff(2 as ConfigNum, 3 as ShardId, aborted7, fx3)).toBe(true);
    a.commit(fx3);
    expect(a.core.settled()).toBe(true);
    // The abort config returns both shards: serving at once, without a pull, data unchanged.
    expect(a.reconf(c3)).toBe(true);
    expect(a.core.meta(2 as ShardId)).toMatchObject({ state: "serving", configNum: 3 });
    expect(a.core.meta(2 as ShardId).held).toBeUndefined();
    expect(a.get(key)).toBe("kept");
    expect(a.write([append(key, "+1")]).ok).toBe(true);
    expect(a.get(key)).toBe("kept+1");
  });

  it("refuses an abort that does not cover the handoff (other gid, config outside the aborted range, not in handoff)", () => {
    const a = group(1);
    a.reconf(config(1, [1, 1, 1, 1]));
    a.reconf(config(2, [1, 1, 7, 7]));
    const fx = emptyEffects();
    expect(a.core.applyAbortHandoff(2 as ConfigNum, 2 as ShardId, { ...aborted7, gid: g(8) }, fx)).toBe(false);
    expect(a.core.applyAbortHandoff(2 as ConfigNum, 2 as ShardId, { ...aborted7, joinNum: 3 as ConfigNum, abortNum: 4 as ConfigNum }, fx)).toBe(false);
    expect(a.core.applyAbortHandoff(2 as ConfigNum, 0 as ShardId, aborted7, fx)).toBe(false);
    expect(a.core.applyAbortHandoff(1 as ConfigNum, 2 as ShardId, aborted7, fx)).toBe(false);
    expect(fx.metas).toEqual([]);
    expect(a.core.meta(2 as ShardId).state).toBe("handoff");
  });

  it("a shard the abort hands on from the aborted group (nobody held it before) serves at once, empty, without a pull", () => {
    const a = group(1);
    // Config 1: the first join, of groups 1 and 7 (7 never acknowledges); config 2 aborts 7's
    // join and hands its shards, which nobody held before, to group 1.
    expect(a.reconf(config(1, [1, 1, 7, 7]))).toBe(true);
    expect(a.reconf(withAborts(config(2, [1, 1, 1, 1]), [{ gid: 7, joinNum: 1, abortNum: 2 }]))).toBe(true);
    for (const s of [2, 3]) expect(a.core.meta(s as ShardId)).toMatchObject({ state: "serving", configNum: 2, gcConfigNum: 0 });
    expect(a.core.settled()).toBe(true);
    expect(a.keysOf(2)).toEqual([]);
    expect(a.write([put(keyOf(2), "new")]).ok).toBe(true);
    expect(a.get(keyOf(2))).toBe("new");
    // From a group whose join was not aborted in that config, the shard is pulled as always.
    const b = group(1);
    b.reconf(config(1, [1, 1, 8, 8]));
    expect(b.reconf(withAborts(config(2, [1, 1, 1, 8]), [{ gid: 7, joinNum: 1, abortNum: 2 }]))).toBe(true);
    expect(b.core.meta(2 as ShardId).state).toBe("pulling");
  });

  it("the aborted group skips from before its join straight to the abort config, owning nothing", () => {
    const b = group(7);
    b.reconf(config(1, [1, 1, 1, 1]));
    // Config 2 would give it shards; its join was aborted in config 4: it jumps from 1 to 4.
    const c4 = withAborts(config(4, [1, 1, 1, 1]), [{ gid: 7, joinNum: 2, abortNum: 4 }]);
    expect(b.reconf(c4)).toBe(true);
    expect(b.core.config.num).toBe(4);
    expect(b.core.allMetas().every((m) => m.state === "notOwned")).toBe(true);
    // Any other jump is refused.
    const other = group(7);
    other.reconf(config(1, [1, 1, 1, 1]));
    expect(other.reconf(withAborts(config(4, [1, 1, 1, 1]), [{ gid: 8, joinNum: 2, abortNum: 4 }]))).toBe(false);
    expect(other.reconf(config(3, [1, 1, 1, 1]))).toBe(false);
  });
});
