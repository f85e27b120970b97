/**
 * The etcd side of the benchmark: the same load generator as `shardkv bench` (the flags of
 * bench/load-args.ts, the runner of bench/load.ts, the report of
 * bench/load-report.ts; only the target differs) driving etcd through the `etcd3` package.
 *
 *   npx tsx bench/etcd-load.ts --endpoints 127.0.0.1:2379,... --workload get --concurrency 64 --json
 *
 * Operations, each on one Etcd3 client object shared by every worker:
 *   get     a range request with the default serializable=false: linearizable (etcd confirms
 *           its leadership through the quorum, like shardkv's ReadIndex);
 *   put     a put;
 *   append  etcd has no append: a linearizable get, then a transaction "if the key's
 *           mod_revision (create_revision = 0 when absent) is unchanged, put old + value",
 *           repeated until it succeeds (one logical append, so its latency includes retries);
 *   preload transactions of up to 100 puts.
 * etcd3's default fault handling (three retries on a recoverable error) is kept: the same
 * retry-until-deadline stance as the shardkv client.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import type { BenchArgsSpec } from "./load-args";
import type { BenchTarget } from "./load";
import { runBenchTool } from "./load-tool";
import { wallClockMs } from "../common/real-env";

/** etcd's default --max-request-bytes is 1.5 MiB; values stay within the shardkv limit. */
export const etcdLoadSpec: BenchArgsSpec = {
  tool: "etcd-load",
  addressFlag: "--endpoints",
  addressEnv: "ETCD_ENDPOINTS",
  valueBytesMax: 1024 * 1024,
  shardkvFlags: false,
};

/** The bench target over one Etcd3 client. */
export function etcdTarget(client: Etcd3): BenchTarget {
  const concat = (a: Uint8Array, b: Uint8Array): Buffer => Buffer.concat([a, b]);
  return {
    name: "etcd",
    get: async (key) => {
      await client.get(key).buffer();
    },
    put: async (key, value) => {
      await client.put(key).value(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    },
    append: async (key, value) => {
      for (;;) {
        const r = await client.get(key).exec();
        const cur = r.kvs[0];
        const txn = cur
          ? client.if(key, "Mod", "==", cur.mod_revision)
          : client.if(key, "Create", "==", 0);
        const res = await txn.then(client.put(key).value(concat(cur?.value ?? new Uint8Array(0), value))).commit();
        if (res.succeeded) return;
      }
    },
    putMany: async (keys, value) => {
      const v = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      await client.kv.txn({ success: keys.map((k) => ({ request_put: { key: Buffer.from(k), value: v } })) });
    },
    errorType: (e) => (e instanceof Error ? e.constructor.name : "unknown"),
  };
}

export async function etcdLoadMain(argv: readonly string[]): Promise<number> {
  return runBenchTool(etcdLoadSpec, async (o) => {
    const client = new Etcd3({
      hosts: o.addresses.map((a) => `http://${a}`),
      dialTimeout: o.timeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: wallClockMs() + o.timeoutMs }),
    });
    // Fail fast (exit 1) when no member answers, like ShardKV.connect.
    await client.get("shardkv-bench-probe").buffer();
    return { target: etcdTarget(client), close: () => client.close() };
  }, argv);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await etcdLoadMain(process.argv.slice(2));
}
