/**
 * The continuity check of pulled chunks' inserts (shard-server/state-machine.ts continuesPull,
 * shard-server/chunks.ts positionAfter): with several chunks in flight, a lost, reordered or
 * duplicated chunk is refused, never skipped, and a puller that resumes from the stored
 * position ends with the whole shard; entries written before positions existed keep the old
 * check. Also the codec of the positions (insert entries, shard metadata) and the set of
 * shards in migration the driver walks.
 */
import { describe, expect, it } from "vitest";
import type { ConfigNum, GroupId, ShardId } from "../../common/ids";
import { InvalidArgumentError } from "../../common/errors";
import { SimRng } from "../../common/seeded-rng";
import { initialConfig, type Config } from "../../controller/config";
import { cutShardChunks, positionAfter } from "../../shard-server/chunks";
import { decodeCommand, decodeShardMeta, encodeCommand, encodeShardMeta, shardPb } from "../../shard-server/codec";
import { ShardGroupCore, emptyEffects } from "../../shard-server/state-machine";
import type { DedupRecord, PullPosition, ShardChunkIn, ShardMeta } from "../../shard-server/types";

const N = 4;
const shard = 1 as ShardId;
const cn = (n: number) => n as ConfigNum;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const client = (i: number) => i.toString(16).padStart(32, "0");
const record = (seq: number): DedupRecord => ({ ackedBelow: 0, replies: new Map([[seq, [{ found: false, value: new Uint8Array(0), swapped: false }]]]), lastSeenMs: 5 });

function config(num: number, shards: number[]): Config {
  const gids = [...new Set(shards.filter((x) => x !== 0))];
  return { num: cn(num), shards: shards.map((x) => x as GroupId), groups: new Map(gids.map((x) => [x as GroupId, [`127.0.0.1:${9000 + x}`]])) };
}

/** Group 2, pulling shard 1 from group 1 in config 2, with an in-memory store of what it inserted. */
function puller() {
  const core = new ShardGroupCore({ gid: 2 as GroupId, shardCount: N, config: initialConfig(N), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
  expect(core.applyReconfigure(config(1, [1, 1, 1, 1]), emptyEffects())).toBe(true);
  expect(core.applyReconfigure(config(2, [1, 2, 1, 1]), emptyEffects())).toBe(true);
  expect(core.meta(shard).state).toBe("pulling");
  const data = new Map<string, string>();
  const insert = (c: ShardChunkIn): boolean => {
    const fx = emptyEffects();
    const ok = core.applyInsert(c, 1000, fx);
    if (!ok) expect(fx.writes.length + fx.metas.length + fx.dedup.length).toBe(0);
    for (const w of fx.writes) data.set(dec(w.key), dec(w.value!));
    return ok;
  };
  return { core, data, insert };
}

/** The source shard: `keys` keys and `clients` duplicate records, cut into chunks of `bytes`. */
async function source(keys: number, clients: number, bytes: number): Promise<{ pairs: { key: Uint8Array; value: Uint8Array }[]; dedup: Map<string, DedupRecord>; cut: (after: Uint8Array | undefined) => Promise<ShardChunkIn[]> }> {
  const pairs = Array.from({ length: keys }, (_, i) => ({ key: enc(`k${String(i).padStart(4, "0")}`), value: enc(`v${i}`) }));
  const dedup = new Map(Array.from({ length: clients }, (_, i) => [client(i + 1), record(i + 1)] as const));
  const cut = async (after: Uint8Array | undefined): Promise<ShardChunkIn[]> => {
    const out: ShardChunkIn[] = [];
    const rest = after === undefined ? pairs : pairs.filter((p) => Buffer.compare(p.key, after) > 0);
    for await (const c of cutShardChunks({ configNum: cn(2), shard }, rest, dedup, bytes)) out.push(c);
    return out;
  };
  return { pairs, dedup, cut };
}

/** The chunks as the puller proposes them: each carrying the position it continues from. */
function positioned(chunks: readonly ShardChunkIn[], from: PullPosition): ShardChunkIn[] {
  let pos = from;
  return chunks.map((c) => {
    const out = { ...c, after: pos };
    pos = positionAfter(pos, c);
    return out;
  });
}

describe("pulled chunks' continuity", () => {
  it("refuses the chunks after a lost one; resuming from the stored position inserts the rest", async () => {
    const src = await source(20, 0, 30);
    const p = puller();
    const chunks = positioned(await src.cut(undefined), { key: undefined, client: undefined });
    expect(chunks.length).toBeGreaterThan(4);
    expect(p.insert(chunks[0]!)).toBe(true);
    // chunks[1] is lost: every later one is refused, the position stays after chunks[0].
    for (const c of chunks.slice(2)) expect(p.insert(c)).toBe(false);
    expect(dec(p.core.meta(shard).pulledAfterKey!)).toBe(dec(chunks[0]!.kvs.at(-1)!.key));
    expect(p.data.size).toBe(chunks[0]!.kvs.length);
    // The puller resumes after the stored key, with a new stream cut from there.
    const rest = positioned(await src.cut(p.core.meta(shard).pulledAfterKey), { key: p.core.meta(shard).pulledAfterKey, client: undefined });
    for (const c of rest) expect(p.insert(c)).toBe(true);
    expect(p.core.meta(shard).state).toBe("serving");
    expect([...p.data.keys()].sort()).toEqual(src.pairs.map((x) => dec(x.key)));
  });

  it("refuses a chunk ahead of its turn and a chunk inserted already; accepts each in order", async () => {
    const src = await source(12, 0, 30);
    const p = puller();
    const [c0, c1, c2] = positioned(await src.cut(undefined), { key: undefined, client: undefined });
    expect(p.insert(c1!)).toBe(false); // reordered: before c0
    expect(p.insert(c0!)).toBe(true);
    expect(p.insert(c0!)).toBe(false); // duplicate
    expect(p.insert(c2!)).toBe(false); // skips c1
    expect(p.insert(c1!)).toBe(true);
    expect(p.insert(c1!)).toBe(false);
    expect(p.insert(c2!)).toBe(true);
  });

  it("a chunk of another pull from the same position is accepted once; the rest of the first pull then is refused", async () => {
    const src = await source(12, 0, 30);
    const p = puller();
    const a = positioned(await src.cut(undefined), { key: undefined, client: undefined });
    const b = positioned(await src.cut(undefined), { key: undefined, client: undefined }).map((c) => ({ ...c, kvs: c.kvs.slice(0, 1) }));
    expect(p.insert(b[0]!)).toBe(true); // a shorter first chunk (a leader cut its pull short)
    expect(p.insert(a[1]!)).toBe(false); // continues from the end of a[0], not of b[0]
    expect(p.insert(a[0]!)).toBe(false); // starts before the stored position
  });

  it("the duplicate records: a lost chunk of them is never skipped, a resumed pull opens a new pass over them", async () => {
    const src = await source(3, 40, 200);
    const p = puller();
    const chunks = positioned(await src.cut(undefined), { key: undefined, client: undefined });
    const recordChunks = chunks.filter((c) => c.kvs.length === 0 && c.dedup.size > 0);
    expect(recordChunks.length).toBeGreaterThan(2);
    const firstRecords = chunks.indexOf(recordChunks[0]!);
    for (const c of chunks.slice(0, firstRecords + 1)) expect(p.insert(c)).toBe(true);
    const afterClient = p.core.meta(shard).pulledAfterClient;
    expect(afterClient).toBe([...recordChunks[0]!.dedup.keys()].at(-1));
    // The next chunk of records is lost: the one after it, and the last, are refused.
    for (const c of chunks.slice(firstRecords + 2)) expect(p.insert(c)).toBe(false);
    expect(p.core.meta(shard).state).toBe("pulling");
    // A pull resumed after the last key sends every record again: a new pass, accepted.
    const key = p.core.meta(shard).pulledAfterKey;
    const again = positioned(await src.cut(key), { key, client: undefined });
    expect(again[0]!.after!.client).toBeUndefined();
    for (const c of again) expect(p.insert(c)).toBe(true);
    expect(p.core.meta(shard).state).toBe("serving");
    expect(new Set(p.core.dedupOf(shard).keys())).toEqual(new Set(src.dedup.keys()));
  });

  it("random drops, duplicates and reorders of chunks in flight, with resumes from the stored position, insert the whole shard (200 seeds)", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = new SimRng(seed);
      const src = await source(rng.range(0, 40), rng.range(0, 12), rng.range(8, 120));
      const p = puller();
      let refused = 0;
      for (let round = 0; p.core.meta(shard).state === "pulling"; round++) {
        expect(round, `seed ${seed}`).toBeLessThan(500);
        const m = p.core.meta(shard);
        const from = { key: m.pulledAfterKey, client: undefined };
        const proposed: ShardChunkIn[] = [];
        for (const c of positioned(await src.cut(m.pulledAfterKey), from)) {
          const r = rng.float();
          if (r < 0.1) continue; // lost
          proposed.push(c);
          if (r < 0.2) proposed.push(c); // duplicated
        }
        // Reordered: neighbours swapped now and then.
        for (let i = 1; i < proposed.length; i++) if (rng.float() < 0.15) [proposed[i - 1], proposed[i]] = [proposed[i]!, proposed[i - 1]!];
        for (const c of proposed) if (!p.insert(c)) refused++;
      }
      expect([...p.data.keys()].sort(), `seed ${seed}`).toEqual(src.pairs.map((x) => dec(x.key)));
      expect(new Set(p.core.dedupOf(shard).keys()), `seed ${seed}`).toEqual(new Set(src.dedup.keys()));
      if (seed === 200) expect(refused).toBeGreaterThan(0);
    }
  });

  it("an entry written before positions existed keeps the old check (its first key after the last key inserted)", async () => {
    const src = await source(12, 0, 30);
    const p = puller();
    const [c0, c1, c2] = await src.cut(undefined);
    expect(c0!.after).toBeUndefined();
    // An old entry, as it decodes from the log: no position.
    const old = decodeCommand(shardPb.Command.encode({ timestampMs: 1, insert: { configNum: 2, shard: 1, kvs: c0!.kvs.map((kv) => ({ key: kv.key, value: kv.value })) } }).finish());
    expect(old.op.kind === "insert" && old.op.chunk.after).toBeUndefined();
    expect(p.insert((old.op as { chunk: ShardChunkIn }).chunk)).toBe(true);
    expect(p.insert(c0!)).toBe(false);
    expect(p.insert(c2!)).toBe(true); // the old rule (entries proposed one at a time) does not see the gap
    expect(p.insert(c1!)).toBe(false);
  });
});

describe("positions in the codec", () => {
  const chunk = (after: PullPosition | undefined, kvs: string[] = ["b"], dedup = new Map<string, DedupRecord>()): ShardChunkIn =>
    ({ configNum: cn(3), shard, kvs: kvs.map((k) => ({ key: enc(k), value: enc("v") })), last: false, dedup, ...(after ? { after } : {}) });
  const roundTrip = (c: ShardChunkIn): ShardChunkIn => {
    const d = decodeCommand(encodeCommand({ timestampMs: 7, op: { kind: "insert", chunk: c } }));
    if (d.op.kind !== "insert") throw new Error("not an insert");
    return d.op.chunk;
  };

  it("round-trips the position an insert continues from: none, from the first key, after the empty key, after a key and a client", () => {
    expect(roundTrip(chunk(undefined)).after).toBeUndefined();
    expect(roundTrip(chunk({ key: undefined, client: undefined })).after).toEqual({ key: undefined, client: undefined });
    const empty = roundTrip(chunk({ key: new Uint8Array(0), client: undefined })).after!;
    expect(empty.key).toBeDefined();
    expect(empty.key!.length).toBe(0);
    const withClient = roundTrip(chunk({ key: enc("z"), client: client(7) }, [], new Map([[client(9), record(1)]]))).after!;
    expect(dec(withClient.key!)).toBe("z");
    expect(withClient.client).toBe(client(7));
  });

  it("refuses a malformed position with one clear error", () => {
    expect(() => roundTrip(chunk({ key: enc("b"), client: undefined }, ["b"]))).toThrow(InvalidArgumentError);
    expect(() => roundTrip(chunk({ key: enc("c"), client: undefined }, ["b"]))).toThrow(/first key must come after/);
    expect(() => roundTrip(chunk({ key: enc("a"), client: client(1) }, ["b"]))).toThrow(/after_client/);
  });

  it("round-trips a pulling shard's record position in its metadata", () => {
    const m: ShardMeta = { shard, state: "pulling", configNum: cn(4), pulledAfterKey: enc("k"), pulledAfterClient: client(3), gcConfigNum: cn(0) };
    const back = decodeShardMeta(encodeShardMeta(m));
    expect(back.pulledAfterClient).toBe(client(3));
    expect(dec(back.pulledAfterKey!)).toBe("k");
    expect(decodeShardMeta(encodeShardMeta({ ...m, pulledAfterClient: undefined })).pulledAfterClient).toBeUndefined();
  });
});

describe("the shards in migration", () => {
  it("are the pulling, handoff and gc-pending ones, kept through a move and a reload", () => {
    const g1 = new ShardGroupCore({ gid: 1 as GroupId, shardCount: N, config: initialConfig(N), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
    const p = puller();
    expect(g1.applyReconfigure(config(1, [1, 1, 1, 1]), emptyEffects())).toBe(true);
    expect(g1.migratingMetas()).toEqual([]);
    expect(g1.settled()).toBe(true);
    const fx = emptyEffects();
    expect(g1.applyReconfigure(config(2, [1, 2, 1, 1]), fx)).toBe(true);
    expect(g1.migratingMetas().map((m) => [m.shard, m.state])).toEqual([[1, "handoff"]]);
    expect(g1.settled()).toBe(false);
    expect(p.core.migratingMetas().map((m) => [m.shard, m.state])).toEqual([[1, "pulling"]]);
    expect(p.core.settled()).toBe(false);
    expect(p.insert({ configNum: cn(2), shard, kvs: [], last: true, dedup: new Map(), after: { key: undefined, client: undefined } })).toBe(true);
    // Serving, its previous owner's delete not yet acknowledged: still in migration, but settled.
    expect(p.core.migratingMetas().map((m) => [m.shard, m.state, m.gcConfigNum])).toEqual([[1, "serving", 2]]);
    expect(p.core.settled()).toBe(true);
    // A core loaded from stored metadata knows them too.
    const reloaded = new ShardGroupCore({ gid: 1 as GroupId, shardCount: N, config: config(2, [1, 2, 1, 1]), metas: fx.metas, dedup: new Map(), dedupTtlMs: 60_000 });
    expect(reloaded.migratingMetas().map((m) => m.shard)).toEqual([1]);
    expect(reloaded.settled()).toBe(false);
    expect(g1.applyDeleteShard(cn(2), shard, emptyEffects())).toBe("done");
    expect(g1.migratingMetas()).toEqual([]);
    expect(g1.settled()).toBe(true);
    expect(p.core.applyGcDone(cn(2), shard, emptyEffects())).toBe(true);
    expect(p.core.migratingMetas()).toEqual([]);
  });
});
