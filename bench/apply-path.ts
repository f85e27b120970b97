/**
 * Microbenchmark of one replica's storage and apply path, in one process: per batch of puts,
 * the Raft log store's synced save of the entries (RocksLogStore) and then the shard state
 * machine's apply of them (RocksShardStateMachine: prefetch, core, one unsynced batch). No
 * network and no Raft core, so it isolates what every replica of a group does per write.
 * Prints the process CPU (user + system, all threads) per put of each round, and the minimum
 * and median over the rounds: the minimum is the least disturbed by the rest of the machine.
 *
 *   npx tsx bench/apply-path.ts            # BATCH=15 puts per batch, 500 batches per round, 7 rounds
 *   BATCH=1 ROUNDS=3 npx tsx bench/apply-path.ts   # also BATCHES (per round), WARMUP (batches)
 *   BATCH=1 GAP_MS=1 APPLY_FLUSH_MS=10 npx tsx bench/apply-path.ts   # a batch every GAP_MS
 *       (a timer between batches, as puts arrive at one client) and the write-behind layer's
 *       flush interval (default: the state machine's, applyFlushMsDefault)
 *
 * (docs/benchmarks.md, "Performance work", changes 13-15.) The commands, the encoding and the
 * key space are those of `shardkv bench --workload put` at its defaults: one client, 10,000
 * keys, 128-byte values, 64 shards, replies acknowledged 64 requests behind.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { delay } from "../common/real-env";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId, Term } from "../common/ids";
import { shardOf } from "../controller/shard-of";
import type { Entry } from "../raft/core/types";
import { RocksLogStore } from "../raft/storage/rocks-log-store";
import { encodeCommand } from "../shard-server/codec";
import { RocksShardStateMachine } from "../shard-server/rocks-state";
import type { ShardOp } from "../shard-server/types";

const shardCount = 64;
const batch = Number(process.env.BATCH ?? 15);
const batches = Number(process.env.BATCHES ?? 500);
const rounds = Number(process.env.ROUNDS ?? 7);
const dir = mkdtempSync(join(tmpdir(), "shardkv-apply-path-"));
const log = await RocksLogStore.open(join(dir, "log"));
await log.load();
const gapMs = Number(process.env.GAP_MS ?? 0);
const flushMs = process.env.APPLY_FLUSH_MS === undefined ? {} : { applyFlushMs: Number(process.env.APPLY_FLUSH_MS) };
const sm = await RocksShardStateMachine.open(join(dir, "sm"), { gid: 1 as GroupId, shardCount, dedupTtlMs: 60_000, ...flushMs });
let index = sm.appliedIndex() as number;
let now = 1_000;
const entry = (op: ShardOp): Entry => ({ index: ++index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: (now += 1), op }) });
const hardState = (commit: number) => ({ term: 1 as Term, vote: 1 as NodeId, commit: commit as LogIndex });

// Config 1 gives every shard to group 1 (nobody owned them: served at once).
const config = { num: 1 as ConfigNum, shards: Array.from({ length: shardCount }, () => 1 as GroupId), groups: new Map([[1 as GroupId, ["127.0.0.1:1"]]]) };
const first = [entry({ kind: "reconfigure", config })];
await log.save({ entries: first, hardState: hardState(first[0]!.index) });
await sm.apply(first);

const client = "ab".repeat(16);
const value = new Uint8Array(128).fill(7);
const keys = Array.from({ length: 10_000 }, (_, i) => new TextEncoder().encode(`bench-put-${i}`));
let seq = 0;
let rng = 12_345;

/** `n` batches of encoded put entries (built before the clock starts: that is the leader's work). */
function makeBatches(n: number): Entry[][] {
  return Array.from({ length: n }, () => Array.from({ length: batch }, () => {
    rng = (rng * 1_103_515_245 + 12_345) & 0x7fffffff;
    const key = keys[rng % keys.length]!;
    seq++;
    return entry({ kind: "write", write: { clientId: client, seq, ackedBelow: Math.max(0, seq - 64), shard: shardOf(key, shardCount) as ShardId, ops: [{ type: "put", key, value }] } });
  }));
}

async function run(bs: Entry[][]): Promise<void> {
  for (const es of bs) {
    await log.save({ entries: es, hardState: hardState(es[es.length - 1]!.index) });
    await sm.apply(es);
    if (gapMs > 0) await delay(gapMs);
  }
}

await run(makeBatches(Number(process.env.WARMUP ?? 300))); // warm up the JIT and RocksDB
const perOp: number[] = [];
const flushes0 = sm["layer"].flushes;
for (let r = 0; r < rounds; r++) {
  const bs = makeBatches(batches);
  const c0 = process.cpuUsage();
  await run(bs);
  const c = process.cpuUsage(c0);
  perOp.push((c.user + c.system) / (batches * batch));
}
const flushesPerPut = (sm["layer"].flushes - flushes0) / (rounds * batches * batch);
const sorted = [...perOp].sort((a, b) => a - b);
console.log(`apply path, ${batch} puts per batch: CPU µs per put min ${sorted[0]!.toFixed(1)} median ${sorted[sorted.length >> 1]!.toFixed(1)}, state writes per put ${flushesPerPut.toFixed(3)}  [rounds: ${perOp.map((x) => x.toFixed(1)).join(" ")}]`);
await sm.close();
await log.close();
rmSync(dir, { recursive: true, force: true });
