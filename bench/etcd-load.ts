/**
 * The etcd side of the benchmark: the same load generator as `shardkv bench` (the flags of
 * bench/load-args.ts, the runner of bench/load.ts, the report of
 * bench/load-report.ts; only the target differs) driving etcd through the `etcd3` package.
 *
 *   npx tsx bench/etcd-load.ts --endpoints 127.0.0.1:2379,... --workload get --concurrency 64 --json
 *
 * The load goes to etcd's leader, as shardkv's client sends each request to its group's leader:
 * the members given are only asked which member leads (etcdLeader), and the workers' client
 * talks to that member alone. Spread over every member, as the etcd3 client does by default
 * (a random member per call), two operations in three would reach a follower, which forwards
 * a put to the leader and asks the leader for a read's index: an extra hop the shardkv side does
 * not pay. Each run of the load generator looks the leader up once, when it connects.
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

/** The member that leads: its name and the client URL it advertises ("http://host:port"). */
export interface EtcdLeader {
  readonly name: string;
  readonly url: string;
}

/**
 * Which member leads, asked of `client` (any member answers): a Status call names the leader's
 * member id, the member list its client URLs. Throws when the answering member knows no leader
 * or the leader advertises no client URL.
 */
export async function etcdLeader(client: Etcd3): Promise<EtcdLeader> {
  const status = await client.maintenance.status();
  const { members } = await client.cluster.memberList({ linearizable: true });
  const leader = members.find((m) => m.ID === status.leader);
  if (status.leader === "0" || !leader) throw new Error(`etcd member ${status.header.member_id} knows no leader (members: ${members.map((m) => m.name).join(", ")})`);
  const url = leader.clientURLs[0];
  if (url === undefined) throw new Error(`etcd's leader ${leader.name} advertises no client URL`);
  return { name: leader.name, url };
}

/** One client of `hosts` ("http://host:port") with the load's deadline on every call. */
function etcdClient(hosts: readonly string[], timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: [...hosts],
    dialTimeout: timeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: wallClockMs() + timeoutMs }),
  });
}

export async function etcdLoadMain(argv: readonly string[]): Promise<number> {
  return runBenchTool(etcdLoadSpec, async (o) => {
    // Fails fast (exit 3) when no member answers, like ShardKV.connect.
    const probe = etcdClient(o.addresses.map((a) => `http://${a}`), o.timeoutMs);
    let leader: EtcdLeader;
    try {
      leader = await etcdLeader(probe);
    } finally {
      probe.close();
    }
    const client = etcdClient([leader.url], o.timeoutMs);
    await client.get("shardkv-bench-probe").buffer();
    return { target: etcdTarget(client), close: () => client.close() };
  }, argv);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await etcdLoadMain(process.argv.slice(2));
}
