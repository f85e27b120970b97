/**
 * `shardkv bench`: the load generator of the data CLI (client/cli.ts dispatches to
 * benchMain). Flags in bench/load-args.ts, the runner in bench/load.ts, the report in
 * bench/load-report.ts; this file is the shardkv side (one ShardKV client object shared by
 * every worker: it carries many operations in flight). The terminal I/O is bench/load-tool.ts,
 * shared with the etcd load generator (bench/etcd-load.ts).
 */
import { InvalidArgumentError, ShardKVError } from "../common/errors";
import { shardOf } from "../controller/shard-of";
import type { BenchArgsSpec } from "./load-args";
import type { BenchTarget } from "./load";
import { type BenchIo, runBenchTool } from "./load-tool";
import { ShardKV, valueBytesMax } from "../client/shardkv";

export const shardkvBenchSpec: BenchArgsSpec = {
  tool: "shardkv bench",
  addressFlag: "--controllers",
  addressEnv: "SHARDKV_CONTROLLERS",
  valueBytesMax,
  shardkvFlags: true,
};

/**
 * The bench target over one ShardKV client. Preload batches are split per shard by kv.batch.
 * With `excludeShard`, keys of that shard are never drawn for operations.
 */
export function shardkvTarget(kv: ShardKV, excludeShard?: number): BenchTarget {
  return {
    ...(excludeShard !== undefined ? { keyAllowed: (key: string) => shardOf(key, kv.currentConfig.shards.length) !== excludeShard } : {}),
    name: "shardkv",
    get: async (key) => {
      await kv.get(key);
    },
    put: (key, value) => kv.put(key, value),
    append: (key, value) => kv.append(key, value),
    putMany: async (keys, value) => {
      await kv.batch(keys.map((key) => ({ type: "put" as const, key, value })));
    },
    errorType: (e) => (e instanceof ShardKVError ? e.code : e instanceof Error ? e.constructor.name : "unknown"),
  };
}

/** `shardkv bench ARGS` (argv without "bench"). */
export async function benchMain(argv: readonly string[], io?: BenchIo): Promise<number> {
  return runBenchTool(shardkvBenchSpec, async (o) => {
    const kv = await ShardKV.connect({
      controllers: o.addresses,
      deadlineMs: o.timeoutMs,
      ...(o.nats !== undefined ? { nats: o.nats } : {}),
      ...(o.tls !== undefined ? { tls: o.tls } : {}),
    });
    const shards = kv.currentConfig.shards.length;
    if (o.excludeShard !== undefined && o.excludeShard >= shards) {
      kv.close();
      throw new InvalidArgumentError("--exclude-shard", `shard ${o.excludeShard} does not exist (the cluster has ${shards} shards)`);
    }
    return { target: shardkvTarget(kv, o.excludeShard), close: () => kv.close() };
  }, argv, io);
}
