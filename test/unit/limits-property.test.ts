/**
 * Property: whatever sequence of client writes (puts, appends, CAS, deletes, gets, batches,
 * sizes at and around the limits, retries) and shard moves, every log entry, Raft message,
 * pull chunk and snapshot chunk the real code makes fits in what the transport ships, and
 * results and data match a simple model (an append past the value limit is refused and
 * changes nothing; a batch is all or nothing).
 *
 * The harness runs two groups' real RocksShardStateMachine (RocksDB in a temp dir) and drives
 * them as the server does: validateWrite at the edge, encodeCommand into a Raft entry, apply;
 * a move applies the config on both groups, streams pullChunks at the server's chunk size into
 * insert entries on the new owner, then deleteShard and gcDone.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../common/errors";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId, Term } from "../../common/ids";
import {
  keyBytesMax, raftEntryBytesMax, transportMessageBytesMax, valueBytesMax, writeBytesMax, writeReplyBytesMax,
} from "../../common/limits";
import type { Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import { shardkv } from "../../proto/gen/shardkv.js";
import { encodeBatch } from "../../raft/codec";
import { makeMessage, type Entry } from "../../raft/core/types";
import { encodeCommand, shardChunkToWire } from "../../shard-server/codec";
import { RocksShardStateMachine } from "../../shard-server/rocks-state";
import { pullChunkBytes } from "../../shard-server/server";
import { validateWrite } from "../../shard-server/service";
import type { ClientWrite, KvOp, OpResult, ShardOp } from "../../shard-server/types";

const N = 2;
const gids = [1, 2] as GroupId[];
const clients = ["aa".repeat(16), "bb".repeat(16)];
const none = new Uint8Array(0);

/** Keys of shard `s`: two short ones and one of the largest size. */
function keysOf(s: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let n = 0; out.length < 2; n++) if (shardOf(`k${n}`, N) === s) out.push(Buffer.from(`k${n}`));
  for (let n = 0; ; n++) {
    const big = Buffer.from(`${n}`.padEnd(keyBytesMax, "x"));
    if (shardOf(big, N) === s) return [...out, big];
  }
}
const keys = [keysOf(0), keysOf(1)];

/** Sizes around the limits, and small ones. */
const size = fc.constantFrom(0, 1, 100, 70_000, valueBytesMax - 100, valueBytesMax - 1, valueBytesMax, valueBytesMax + 1);

type OpSpec = { type: "put" | "append" | "get" | "delete" | "cas"; key: number; size: number; fill: number; expect: "current" | "absent" | "other" };
const opSpec: fc.Arbitrary<OpSpec> = fc.record({
  type: fc.constantFrom("put", "append", "append", "get", "delete", "cas"),
  key: fc.nat({ max: 2 }),
  size,
  fill: fc.integer({ min: 1, max: 250 }),
  expect: fc.constantFrom("current", "absent", "other"),
});
type Step =
  | { kind: "write"; client: number; shard: number; ops: OpSpec[]; ack: boolean }
  | { kind: "retry"; client: number }
  | { kind: "move"; shard: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("write" as const), client: fc.nat({ max: 1 }), shard: fc.nat({ max: N - 1 }), ops: fc.array(opSpec, { minLength: 1, maxLength: 5 }), ack: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("retry" as const), client: fc.nat({ max: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("move" as const), shard: fc.nat({ max: N - 1 }) }) },
);

/** The largest Raft message that carries `data` as its one entry, encoded as a transport frame. */
function appendFrameBytes(data: Uint8Array): number {
  const m = makeMessage({
    type: "append", from: 1 as NodeId, to: 2 as NodeId, term: 2 ** 40 as Term, logTerm: 2 ** 40 as Term, index: 2 ** 50 as LogIndex, commit: 2 ** 50 as LogIndex,
    entries: [{ index: 2 ** 50 as LogIndex, term: 2 ** 40 as Term, type: "normal", data }],
  });
  return encodeBatch(2 ** 31 as GroupId, 1 as NodeId, 2 as NodeId, [m]).length;
}

/** What the edge must refuse (validateWrite), by the documented limits. */
function overEdge(ops: readonly KvOp[]): boolean {
  let total = 0;
  for (const o of ops) {
    if (o.key.length > keyBytesMax || o.value.length > valueBytesMax || (o.expected?.length ?? 0) > valueBytesMax) return true;
    total += o.key.length + o.value.length + (o.expected?.length ?? 0);
  }
  return total > writeBytesMax;
}

/** The model: a map of values; a write's expected outcome. */
function modelApply(data: Map<string, Buffer>, ops: readonly KvOp[]): { ok: false } | { ok: true; results: OpResult[]; after: Map<string, Buffer> } {
  const after = new Map(data);
  const results: OpResult[] = [];
  let replyBytes = 0;
  for (const o of ops) {
    const k = Buffer.from(o.key).toString("hex");
    const cur = after.get(k);
    const found = cur !== undefined;
    switch (o.type) {
      case "get": results.push({ found, value: cur ?? none, swapped: false }); replyBytes += cur?.length ?? 0; break;
      case "put": after.set(k, Buffer.from(o.value)); results.push({ found, value: none, swapped: false }); break;
      case "append":
        if ((cur?.length ?? 0) + o.value.length > valueBytesMax) return { ok: false };
        after.set(k, Buffer.concat([cur ?? none, o.value]));
        results.push({ found, value: none, swapped: false });
        break;
      case "delete": after.delete(k); results.push({ found, value: none, swapped: false }); break;
      case "cas": {
        const match = o.expectAbsent ? !found : found && cur.equals(o.expected ?? none);
        if (match) after.set(k, Buffer.from(o.value));
        results.push({ found, value: cur ?? none, swapped: match });
        replyBytes += cur?.length ?? 0;
      }
    }
  }
  return replyBytes > writeReplyBytesMax ? { ok: false } : { ok: true, results, after };
}

const sameResults = (a: readonly OpResult[], b: readonly OpResult[]) =>
  a.length === b.length && a.every((r, i) => r.found === b[i]!.found && r.swapped === b[i]!.swapped && Buffer.from(r.value).equals(b[i]!.value));

describe("limits hold on every path that creates data (property, real RocksDB state machines)", () => {
  it("no entry, message or chunk exceeds what can be shipped; results match the model", async () => {
    const root = mkdtempSync(join(tmpdir(), "shardkv-limits-prop-"));
    let run = 0;
    let largestEntry = 0;
    let largestChunkMessage = 0;
    let refusedAppends = 0;
    let movedShards = 0;
    try {
      await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 25 }), async (steps) => {
        const dir = join(root, `run${++run}`);
        const sms = await Promise.all(gids.map((gid) => RocksShardStateMachine.open(join(dir, `g${gid}`), { gid, shardCount: N, dedupTtlMs: 3_600_000 })));
        const index = [0, 0];
        let now = 1_000;
        const apply = async (g: number, op: ShardOp) => {
          const data = encodeCommand({ timestampMs: (now += 10), op });
          expect(data.length).toBeLessThanOrEqual(raftEntryBytesMax);
          expect(appendFrameBytes(data)).toBeLessThanOrEqual(transportMessageBytesMax);
          largestEntry = Math.max(largestEntry, data.length);
          const e: Entry = { index: ++index[g]! as LogIndex, term: 1 as Term, type: "normal", data };
          return (await sms[g]!.apply([e]))[0]!;
        };
        try {
          let cfg: Config = { num: 1 as ConfigNum, shards: [gids[0]!, gids[0]!], groups: new Map([[gids[0]!, ["127.0.0.1:1"]], [gids[1]!, ["127.0.0.1:2"]]]) };
          for (let g = 0; g < 2; g++) await apply(g, { kind: "reconfigure", config: cfg });
          const model = [new Map<string, Buffer>(), new Map<string, Buffer>()];
          const seqs = [0, 0];
          const acked = [0, 0];
          const last: ({ w: ClientWrite; results: readonly OpResult[] } | undefined)[] = [undefined, undefined];
          for (const s of steps) {
            if (s.kind === "move") {
              const from = gids.indexOf(cfg.shards[s.shard]!);
              const to = 1 - from;
              const shards = [...cfg.shards];
              shards[s.shard] = gids[to]!;
              cfg = { ...cfg, num: (cfg.num + 1) as ConfigNum, shards };
              for (let g = 0; g < 2; g++) expect(await apply(g, { kind: "reconfigure", config: cfg })).toEqual({ kind: "reconfigure", accepted: true });
              for await (const chunk of sms[from]!.pullChunks(cfg.num, s.shard as ShardId, undefined, pullChunkBytes)) {
                const wire = shardkv.kv.ShardChunk.encode(shardChunkToWire(chunk)).finish().length;
                expect(wire).toBeLessThanOrEqual(transportMessageBytesMax);
                largestChunkMessage = Math.max(largestChunkMessage, wire);
                expect(await apply(to, { kind: "insert", chunk })).toEqual({ kind: "insert", accepted: true });
              }
              expect(await apply(from, { kind: "deleteShard", configNum: cfg.num, shard: s.shard as ShardId })).toEqual({ kind: "deleteShard", result: "done" });
              expect(await apply(to, { kind: "gcDone", configNum: cfg.num, shard: s.shard as ShardId })).toEqual({ kind: "gcDone", accepted: true });
              movedShards++;
              continue;
            }
            if (s.kind === "retry") {
              // A retry of the client's last successful write returns its saved replies and changes nothing.
              const l = last[s.client];
              if (l === undefined) continue;
              const g = gids.indexOf(cfg.shards[l.w.shard]!);
              const r = await apply(g, { kind: "write", write: l.w });
              expect(r?.kind === "write" && r.outcome.ok && r.outcome.duplicate && sameResults(r.outcome.results, l.results)).toBe(true);
              continue;
            }
            const ops = s.ops.map((o): KvOp => {
              const key = keys[s.shard]![o.key]!;
              const value = Buffer.alloc(o.size, o.fill);
              if (o.type !== "cas") return { type: o.type, key, value: o.type === "put" || o.type === "append" ? value : none };
              const cur = model[s.shard]!.get(Buffer.from(key).toString("hex"));
              if (o.expect === "absent") return { type: "cas", key, value, expectAbsent: true };
              return { type: "cas", key, value, expected: o.expect === "current" && cur ? cur : Buffer.alloc(o.size, o.fill + 1) };
            });
            const w: ClientWrite = { clientId: clients[s.client]!, seq: ++seqs[s.client]!, ackedBelow: acked[s.client]!, shard: s.shard as ShardId, ops };
            if (s.ack) acked[s.client] = seqs[s.client]!;
            let edgeError: unknown;
            try {
              validateWrite(w, N);
            } catch (e) {
              edgeError = e;
            }
            expect(edgeError === undefined).toBe(!overEdge(ops));
            if (edgeError !== undefined) {
              expect(edgeError).toBeInstanceOf(InvalidArgumentError);
              expect((edgeError as Error).message).toMatch(/ is [\d,]+ bytes; the limit is \d+ [KM]iB$/);
              continue;
            }
            const want = modelApply(model[s.shard]!, ops);
            const r = await apply(gids.indexOf(cfg.shards[s.shard]!), { kind: "write", write: w });
            if (r?.kind !== "write") throw new Error("not a write result");
            expect(r.outcome.ok).toBe(want.ok);
            if (!r.outcome.ok) {
              expect(r.outcome.error).toBeInstanceOf(InvalidArgumentError);
              expect(r.outcome.error.message).toMatch(/the limit is \d+ MiB$/);
              refusedAppends++;
              continue;
            }
            if (!want.ok) continue;
            expect(sameResults(r.outcome.results, want.results)).toBe(true);
            model[s.shard] = want.after;
            last[s.client] = { w, results: r.outcome.results };
          }
          // Every key holds the model's value on its owner; no value exceeds the limit.
          for (let s = 0; s < N; s++) {
            const owner = sms[gids.indexOf(cfg.shards[s]!)]!;
            for (const key of keys[s]!) {
              const v = await owner.get(s as ShardId, key);
              const m = model[s]!.get(Buffer.from(key).toString("hex"));
              expect(v === undefined ? undefined : Buffer.from(v).toString("hex")).toBe(m?.toString("hex"));
              expect(v?.length ?? 0).toBeLessThanOrEqual(valueBytesMax);
            }
          }
          // Snapshot chunks (what InstallSnapshot ships) fit in a message too.
          for (const sm of sms) {
            const src = await sm.snapshot();
            try {
              for (let n = 0; ; n++) {
                const c = await src.readChunk(n);
                expect(c.data.length + 64 * 1024).toBeLessThanOrEqual(transportMessageBytesMax);
                if (c.last) break;
              }
            } finally {
              src.close();
            }
          }
        } finally {
          for (const sm of sms) await sm.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }), { numRuns: 15 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    console.log(`limits property: ${run} runs, ${movedShards} shard moves, ${refusedAppends} writes refused when applied; largest entry ${largestEntry} bytes, largest pull chunk message ${largestChunkMessage} bytes`);
    expect(refusedAppends).toBeGreaterThan(0);
    expect(movedShards).toBeGreaterThan(0);
  }, 300_000);

  it("a shard holding values an earlier version stored over the limit still moves: each such pair alone in its chunk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shardkv-limits-legacy-"));
    const sms = await Promise.all(gids.map((gid) => RocksShardStateMachine.open(join(dir, `g${gid}`), { gid, shardCount: N, dedupTtlMs: 3_600_000 })));
    try {
      const index = [0, 0];
      const apply = async (g: number, op: ShardOp) => {
        const data = encodeCommand({ timestampMs: 1000 + index[g]!, op });
        expect(data.length).toBeLessThanOrEqual(raftEntryBytesMax);
        return (await sms[g]!.apply([{ index: ++index[g]! as LogIndex, term: 1 as Term, type: "normal", data }]))[0]!;
      };
      const groups = new Map([[gids[0]!, ["127.0.0.1:1"]], [gids[1]!, ["127.0.0.1:2"]], [3 as GroupId, ["127.0.0.1:3"]]]);
      const cfg = (num: number, owner: number): Config => ({ num: num as ConfigNum, shards: [owner as GroupId, owner as GroupId], groups });
      // Config 1: group 3 (an earlier version's data) owns everything; config 2 moves it to group 1.
      for (let g = 0; g < 2; g++) {
        await apply(g, { kind: "reconfigure", config: cfg(1, 3) });
        await apply(g, { kind: "reconfigure", config: cfg(2, 1) });
      }
      const [small, other, big] = keys[0]!;
      const legacy = Buffer.alloc(5_080_001, 7);
      const kvs = [{ key: small!, value: Buffer.from("s") }, { key: other!, value: legacy }, { key: big!, value: Buffer.alloc(valueBytesMax, 9) }]
        .sort((a, b) => Buffer.compare(a.key, b.key));
      expect(await apply(0, { kind: "insert", chunk: { configNum: 2 as ConfigNum, shard: 0 as ShardId, kvs, last: true, dedup: new Map() } })).toEqual({ kind: "insert", accepted: true });
      expect(await apply(0, { kind: "insert", chunk: { configNum: 2 as ConfigNum, shard: 1 as ShardId, kvs: [], last: true, dedup: new Map() } })).toEqual({ kind: "insert", accepted: true });
      for (const shard of [0, 1] as ShardId[]) expect(await apply(0, { kind: "gcDone", configNum: 2 as ConfigNum, shard })).toEqual({ kind: "gcDone", accepted: true });
      // Config 3 moves it on to group 2.
      for (let g = 0; g < 2; g++) await apply(g, { kind: "reconfigure", config: cfg(3, 2) });
      const chunks: number[] = [];
      for await (const chunk of sms[0]!.pullChunks(3 as ConfigNum, 0 as ShardId, undefined, pullChunkBytes)) {
        const wire = shardkv.kv.ShardChunk.encode(shardChunkToWire(chunk)).finish().length;
        expect(wire).toBeLessThanOrEqual(transportMessageBytesMax);
        chunks.push(chunk.kvs.length);
        expect(await apply(1, { kind: "insert", chunk })).toEqual({ kind: "insert", accepted: true });
      }
      expect(chunks.reduce((a, b) => a + b, 0)).toBe(3);
      expect(chunks.length).toBeGreaterThanOrEqual(2);
      expect(Buffer.from((await sms[1]!.get(0 as ShardId, other!))!).equals(legacy)).toBe(true);
      // Its snapshot ships too: the oversized pair alone in a chunk.
      const src = await sms[1]!.snapshot();
      try {
        for (let n = 0; ; n++) {
          const c = await src.readChunk(n);
          expect(c.data.length).toBeLessThan(legacy.length + keyBytesMax + 1024);
          if (c.last) break;
        }
      } finally {
        src.close();
      }
      // An append to it is refused: the value is already over the limit.
      const r = await apply(1, { kind: "write", write: { clientId: clients[0]!, seq: 1, ackedBelow: 0, shard: 0 as ShardId, ops: [{ type: "append", key: other!, value: Buffer.from("x") }] } });
      expect(r?.kind === "write" && !r.outcome.ok && r.outcome.error.message).toMatch(/now 5,080,001 bytes\) would make its value 5,080,002 bytes; the limit is 1 MiB$/);
    } finally {
      for (const sm of sms) await sm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
