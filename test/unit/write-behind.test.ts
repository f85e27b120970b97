/**
 * The shard state machine's applies written behind (shard-server/write-behind.ts,
 * docs/design.md §2.4): reads see an apply before it is written; the flush timer writes the
 * batches of several applies in one write with the newest applied index; everything that reads
 * the database itself or needs it durable flushes first (a snapshot synced, a pull, a shard
 * clear, an iterator, a snapshot install, close); a full layer is written before the apply
 * resolves; a crash before a flush sends the state back to the last flush, and re-applying the
 * log from there gives the same results and state, retried writes still recognized.
 * Over the simulated storage (test/sim/sim-kv.ts), which shows what the database holds and
 * crashes like kill -9 or a power loss, with a clock moved by hand.
 */
import { describe, expect, it } from "vitest";
import type { ConfigNum, GroupId, LogIndex, ShardId, Term } from "../../common/ids";
import type { KvStorage } from "../../common/kv-store";
import { shardOf } from "../../controller/shard-of";
import type { Entry } from "../../raft/core/types";
import { encodeCommand } from "../../shard-server/codec";
import { type ApplyResult, RocksShardStateMachine, type ShardStateOptions } from "../../shard-server/rocks-state";
import type { KvOp, ShardOp } from "../../shard-server/types";
import { ManualClock } from "../lib/manual-clock";
import { restoreInto } from "../lib/snapshot-restore";
import { keysOfShard, shardConfig } from "../lib/shard-fixtures";
import { peekPayloads } from "../sim/shard-replica";
import { SimRng } from "../sim/rng";
import { interceptWrites, SimKvStorage } from "../sim/sim-kv";
import { shardKeys } from "../../shard-server/state-keys";

const N = 4;
const TTL = 60_000;
const DIR = "/m/state";
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const g = (n: number) => n as GroupId;
const sh = (n: number) => n as ShardId;
const cn = (n: number) => n as ConfigNum;
const clientA = "aa".repeat(16);

const config = shardConfig;

/** The first `count` keys ("k<n>") of shard `s`. */
const keysOf = (s: number, count: number): string[] => keysOfShard(s, count, N);

const put = (key: string, v: string | Uint8Array): KvOp => ({ type: "put", key: enc(key), value: typeof v === "string" ? enc(v) : v });
const append = (key: string, v: string): KvOp => ({ type: "append", key: enc(key), value: enc(v) });

/** The log: entries made in order from commands, kept for a replay. */
function log() {
  const entries: Entry[] = [];
  const entry = (op: ShardOp): Entry => {
    const e: Entry = { index: (entries.length + 1) as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: 1_000 + 10 * entries.length, op }) };
    entries.push(e);
    return e;
  };
  const write = (seq: number, ops: KvOp[]) => entry({ kind: "write", write: { clientId: clientA, seq, ackedBelow: 0, shard: shardOf(ops[0]!.key, N) as ShardId, ops } });
  return { entries, entry, write };
}

/** Storage whose writes are counted (how many flushes reached the database). */
function counted(base: KvStorage): { storage: KvStorage; writes: { n: number; synced: number } } {
  const writes = { n: 0, synced: 0 };
  const storage = interceptWrites(base, (ops, wo, own) => {
    writes.n++;
    if (wo.sync) writes.synced++;
    return own(ops, wo);
  });
  return { storage, writes };
}

/** What the database holds: the applied index and user key -> value of the shard's data. */
function stored(sim: SimKvStorage, shard: number): { applied: number; data: Record<string, string> } {
  const m = peekPayloads(sim, DIR)!;
  const data: Record<string, string> = {};
  for (const [k, v] of m) if (k.charCodeAt(0) === 0x64 && ((k.charCodeAt(1) << 8) | k.charCodeAt(2)) === shard) data[k.slice(3)] = v.toString();
  return { applied: Number(m.get(shardKeys.applied.toString("latin1"))!.readBigUInt64BE(0)), data };
}

/** `x` with every byte array as hex (a result decoded from a stored duplicate record holds Buffers, a fresh one Uint8Arrays). */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : (v as { type?: string })?.type === "Buffer" ? Buffer.from((v as { data: number[] }).data).toString("hex") : v)));

async function openSm(sim: SimKvStorage, extra: Partial<ShardStateOptions> = {}) {
  const { storage, writes } = counted(sim.incarnation());
  const clock = new ManualClock();
  const sm = await RocksShardStateMachine.open(DIR, { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage, clock, ...extra });
  return { sm, writes, clock };
}

describe("applies written behind", () => {
  it("reads see an apply before it is written; the timer writes several applies in one batch with the newest applied index", async () => {
    const sim = new SimKvStorage(new SimRng(1));
    const { sm, writes, clock } = await openSm(sim, { applyFlushMs: 10 });
    const l = log();
    await sm.apply([l.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    const [a, b] = keysOf(2, 2) as [string, string];
    const opened = writes.n;
    const openedSynced = writes.synced;
    const results: ApplyResult[] = [];
    results.push(...(await sm.apply([l.write(1, [put(a, "x")])])));
    results.push(...(await sm.apply([l.write(2, [append(a, "y"), put(b, "z")])])));
    results.push(...(await sm.apply([l.write(3, [append(a, "!")])])));
    // Applied and read (the appends read the earlier, unwritten values), nothing written yet.
    expect(results.map((r) => r?.kind === "write" && r.outcome.ok && r.outcome.results.map((x) => x.found))).toEqual([[false], [true, false], [true]]);
    expect(sm.appliedIndex()).toBe(4);
    expect(dec(await sm.get(sh(2), enc(a)))).toBe("xy!");
    expect(dec(await sm.get(sh(2), enc(b)))).toBe("z");
    expect((await sm.shardStats())[2]).toMatchObject({ keys: 2, bytes: a.length + 3 + b.length + 1 });
    expect(writes.n).toBe(opened);
    expect(stored(sim, 2)).toEqual({ applied: 0, data: {} });
    // The timer: one unsynced write holds all three applies and their applied index.
    clock.advance(10);
    await sm.flush(); // waits for the write the timer issued
    expect(writes.n).toBe(opened + 1);
    expect(writes.synced).toBe(openedSynced);
    expect(stored(sim, 2)).toEqual({ applied: 4, data: { [a]: "xy!", [b]: "z" } });
    expect(clock.pending).toBe(0);
    await sm.close();
  });


  it("by default the timer writes 100 ms after the first unwritten apply: applies 40 ms apart share one write (a put at one client every few ms costs a replica a share of one write every 100 ms)", async () => {
    const sim = new SimKvStorage(new SimRng(3));
    const { sm, writes, clock } = await openSm(sim);
    const l = log();
    await sm.apply([l.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    await sm.flush();
    const [a] = keysOf(1, 1) as [string];
    const opened = writes.n;
    for (let seq = 1; seq <= 3; seq++) {
      await sm.apply([l.write(seq, [append(a, String(seq))])]);
      clock.advance(40);
      await Promise.resolve();
      expect(writes.n).toBe(seq < 3 ? opened : opened + 1);
    }
    await sm.flush();
    expect(writes.n).toBe(opened + 1);
    expect(stored(sim, 1)).toEqual({ applied: 4, data: { [a]: "123" } });
    await sm.close();
  });
  it("a snapshot writes the layer synced first (a power loss then keeps it); a pull, a shard clear and close flush too", async () => {
    const sim = new SimKvStorage(new SimRng(2));
    const { sm, writes } = await openSm(sim, { applyFlushMs: Infinity });
    const l = log();
    await sm.apply([l.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    const keys = keysOf(1, 5);
    for (const [i, k] of keys.entries()) await sm.apply([l.write(i + 1, [put(k, `v${i}`)])]);
    // Snapshot: synced, at the applied index, and holding every key.
    const synced = writes.synced;
    const src = await sm.snapshot();
    expect(src.index).toBe(sm.appliedIndex());
    expect(writes.synced).toBe(synced + 1);
    src.close();
    sim.crash({ powerLoss: true });
    const { sm: again } = await openSm(sim, { applyFlushMs: Infinity });
    expect(again.appliedIndex()).toBe(l.entries.length);
    expect(Object.keys(stored(sim, 1).data).sort()).toEqual([...keys].sort());
    // A pull of the handed-off shard ships the writes applied right before the handoff.
    const [late] = keysOf(1, 6).slice(5) as [string];
    await again.apply([l.write(9, [put(late, "late")]), l.entry({ kind: "reconfigure", config: config(2, [1, 2, 1, 1]) })]);
    expect(stored(sim, 1).data[late]).toBeUndefined();
    const pulled = new Map<string, string>();
    for await (const c of again.pullChunks(cn(2), sh(1), undefined, 1 << 20)) for (const kv of c.kvs) pulled.set(dec(kv.key)!, dec(kv.value)!);
    expect([...pulled.keys()].sort()).toEqual([...keys, late].sort());
    // A clear (the shard deleted here) deletes what the layer held of it too: written first,
    // so the clear finds every key in the database.
    const [fresh] = keysOf(3, 1) as [string];
    await again.apply([l.write(10, [put(fresh, "f")])]);
    await again.apply([l.entry({ kind: "deleteShard", configNum: cn(2), shard: sh(1) })]);
    await again.apply([l.entry({ kind: "reconfigure", config: config(3, [1, 1, 1, 1]) })]);
    await again.apply([l.entry({ kind: "insert", chunk: { configNum: cn(3), shard: sh(1), kvs: [], last: true, dedup: new Map() } })]);
    for (const k of [...keys, late]) expect(await again.get(sh(1), enc(k))).toBeUndefined();
    expect((await again.shardStats())[1]).toMatchObject({ keys: 0, bytes: 0 });
    // Close writes what is left.
    await again.apply([l.write(11, [put(late, "back")])]);
    await again.close();
    expect(stored(sim, 1)).toEqual({ applied: l.entries.length, data: { [late]: "back" } });
    expect(stored(sim, 3).data).toEqual({ [fresh]: "f" });
  });

  it("a snapshot install replaces what the layer held: reads see the snapshot, not the unwritten applies before it", async () => {
    const sim = new SimKvStorage(new SimRng(3));
    const { sm } = await openSm(sim, { applyFlushMs: Infinity });
    const l = log();
    await sm.apply([l.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    const [a, b] = keysOf(0, 2) as [string, string];
    await sm.apply([l.write(1, [put(a, "mine")])]);
    const other = await RocksShardStateMachine.open("/o/state", { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage: sim, applyFlushMs: Infinity });
    const lo = log();
    await other.apply([lo.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    for (let i = 0; i < 4; i++) await other.apply([lo.write(i + 1, [put(b, `theirs${i}`)])]);
    const src = await other.snapshot();
    await restoreInto(sm, src);
    expect(sm.appliedIndex()).toBe(5);
    expect(await sm.get(sh(0), enc(a))).toBeUndefined();
    expect(dec(await sm.get(sh(0), enc(b)))).toBe("theirs3");
    src.close();
    await other.close();
    await sm.close();
  });

  it("a full layer is written before the apply resolves (memory bounded), and a 1 MiB value applies and reads back", async () => {
    const sim = new SimKvStorage(new SimRng(4));
    const { sm, writes } = await openSm(sim, { applyFlushMs: Infinity, applyFlushBytesMax: 4096 });
    const l = log();
    await sm.apply([l.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    const keys = keysOf(2, 60);
    const before = writes.n;
    let most = 0;
    for (const [i, k] of keys.entries()) {
      await sm.apply([l.write(i + 1, [put(k, "v".repeat(200))])]);
      most = Math.max(most, sm["layer"].size);
    }
    // 60 applies of a new ~270-byte key each (the duplicate record, counters and applied index
    // are rewritten in place): written every ~15 applies, never more than the bound's worth held.
    expect(writes.n - before).toBeGreaterThanOrEqual(3);
    expect(writes.n - before).toBeLessThan(20);
    expect(most).toBeLessThan(4096 / 64 + 10);
    const big = new Uint8Array(1024 * 1024).fill(7);
    const { sm: big1, writes: w1 } = await (async () => {
      await sm.close();
      return openSm(sim);
    })();
    const n0 = w1.n;
    const [r] = await big1.apply([l.write(100, [put(keys[0]!, big)])]);
    expect(r?.kind === "write" && r.outcome.ok).toBe(true);
    // Over the default bound (1 MiB): written before the apply resolved.
    expect(w1.n).toBe(n0 + 1);
    expect(big1["layer"].size).toBe(0);
    expect(Buffer.from((await big1.get(sh(2), enc(keys[0]!)))!).equals(Buffer.from(big))).toBe(true);
    await big1.close();
  });

  it("a layer past half its bound is written at once while the applies go on (no apply waits while that write runs)", async () => {
    const sim = new SimKvStorage(new SimRng(5));
    let release: (() => void) | undefined;
    const held = { n: 0 };
    const storage = interceptWrites(sim.incarnation(), (ops, wo, own) => {
      if (release !== undefined || wo.sync) return own(ops, wo);
      held.n++;
      return new Promise<void>((resolve) => (release = () => void own(ops, wo).then(resolve)));
    });
    const sm = await RocksShardStateMachine.open(DIR, { gid: g(1), shardCount: N, dedupTtlMs: TTL, storage, clock: new ManualClock(), applyFlushMs: Infinity, applyFlushBytesMax: 4096 });
    const l = log();
    await sm.apply([l.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]);
    const keys = keysOf(2, 12);
    // ~270 bytes an apply: past 2048 bytes after the 8th; its write is issued and held
    // (never completes here), and the applies after it still resolve.
    for (const [i, k] of keys.entries()) await sm.apply([l.write(i + 1, [put(k, "v".repeat(200))])]);
    expect(held.n).toBe(1);
    expect(release).toBeDefined();
    expect(stored(sim, 2).data).toEqual({});
    for (const k of keys) expect(dec(await sm.get(sh(2), enc(k)))).toBe("v".repeat(200));
    release!();
    await sm.flush();
    expect(Object.keys(stored(sim, 2).data).length).toBe(keys.length);
    await sm.close();
  });

  for (const powerLoss of [false, true]) {
    it(`a crash (${powerLoss ? "power loss" : "kill -9"}) before a flush sends the state back to the last flush; re-applying the log from there gives the same results and state`, async () => {
      let wentBack = 0;
      for (let seed = 1; seed <= 12; seed++) {
        const rng = new SimRng(seed);
        const sim = new SimKvStorage(rng.fork("disk"));
        const { sm } = await openSm(sim, { applyFlushMs: Infinity });
        const l = log();
        const keys = keysOf(1, 4);
        const batches: Entry[][] = [[l.entry({ kind: "reconfigure", config: config(1, [1, 1, 1, 1]) })]];
        let seq = 0;
        for (let i = 0; i < 12; i++) {
          const batch: Entry[] = [];
          for (let j = rng.range(1, 3); j > 0; j--) {
            const k = rng.pick(keys);
            // A retry of the previous write now and then (same seq): a duplicate.
            const s = seq > 0 && rng.bool(0.2) ? seq : ++seq;
            batch.push(l.write(s, [rng.bool() ? append(k, `${i}${j}`) : put(k, `v${i}${j}`)]));
          }
          batches.push(batch);
        }
        const results: unknown[] = [];
        let flushedAt = 0;
        let syncedAt = 0;
        for (const batch of batches) {
          results.push(...(await sm.apply(batch)));
          if (rng.bool(0.2)) {
            await sm.flush();
            flushedAt = sm.appliedIndex();
          } else if (rng.bool(0.1)) {
            (await sm.snapshot()).close();
            flushedAt = syncedAt = sm.appliedIndex();
          }
        }
        const want = { stats: await sm.shardStats(), values: await Promise.all(keys.map(async (k) => dec(await sm.get(sh(1), enc(k))))) };
        sim.crash({ powerLoss });
        const { sm: again } = await openSm(sim, { applyFlushMs: Infinity });
        const start = again.appliedIndex();
        // kill -9 keeps every flush (written to the OS); a power loss every synced one.
        if (powerLoss) expect(start).toBeGreaterThanOrEqual(syncedAt);
        else expect(start).toBe(flushedAt);
        if (start < l.entries.length) wentBack++;
        // The replay: RaftNode hands the entries after the stored applied index again.
        const replayed = start < l.entries.length ? await again.apply(l.entries.slice(start)) : [];
        expect(plain(replayed)).toEqual(plain(results.slice(start)));
        expect({ stats: await again.shardStats(), values: await Promise.all(keys.map(async (k) => dec(await again.get(sh(1), enc(k))))) }).toEqual(want);
        await again.close();
      }
      expect(wentBack).toBeGreaterThan(6);
    });
  }
});
