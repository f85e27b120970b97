/**
 * Flags of `npm run bench` (bench/run.ts). Pure (test/unit/bench-doc.test.ts).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { flag, parseCommandLine, usage } from "../common/cli-args";
import { parseMigrationPacing, parseMigrationRate, parseMigrationWindow } from "../shard-server/daemon-args";
import { type MigrationPacing, migrationPacingDefault, migrationRateMiBDefault, migrationWindowMiBDefault } from "../shard-server/defaults";
import { matrix } from "./report";

/** The repository root (docs/benchmarks.md is the default output). */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface RunOptions {
  readonly quick: boolean;
  readonly etcd: boolean;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** `--cluster-warmup`: the most time a fresh shardkv cluster is warmed before its first cell (bench/warmup.ts; 0: not warmed). */
  readonly clusterWarmupMs: number;
  readonly keys: number;
  readonly out: string;
  /** Run the scenario benchmarks (restart, leader failover, shard move). */
  readonly scenarios: boolean;
  /**
   * `--scenario`: run only these scenarios (no matrix, no etcd) and print their results;
   * docs/benchmarks.md is not written. Undefined: the full run.
   */
  readonly only?: readonly ScenarioName[];
  /** `--cells`: only these cells of the matrix (ids as "put@64"), in the matrix's order. Undefined: all. */
  readonly cells?: readonly string[];
  /** `--tls`: the shardkv clusters and the load generator on mutual TLS (default: without). */
  readonly tls: boolean;
  /**
   * The cost of mutual TLS: puts and gets at 64 on a 1-group cluster without and with mTLS, in
   * interleaved pairs (`--no-tls-cost` skips it; `--quick` runs one pair per cell).
   */
  readonly tlsCost: boolean;
  /**
   * The cost of metrics: puts at 64 on a 1-group cluster without metrics endpoints and on one
   * with them, scraped (`--no-metrics-cost` skips it; `--quick` runs one pair).
   */
  readonly metricsCost: boolean;
  /** `--move-rate`: the shard servers' --migration-rate on the 3-group cluster (MiB/s; 0 = no cap). */
  readonly moveRateMiB: number;
  /** `--move-pacing`: the shard servers' --migration-pacing on the 3-group cluster. */
  readonly movePacing: MigrationPacing;
  /** `--move-window`: the shard servers' --migration-window on the 3-group cluster (MiB; 0 = one chunk at a time). */
  readonly moveWindowMiB: number;
  /**
   * The scaling tables: CPU per op by number of groups (1, 2, 3, 6), and restart time and get
   * p99 by data set size (0.1, 1, 4 GiB); `--no-scaling` skips both, `--quick` keeps them small.
   */
  readonly scaling: boolean;
  /** How long `--scenario idle-elections` watches the idle cluster: --duration, else 10 min (quick: 20 s). */
  readonly idleElectionsMs: number;
}

function parseCells(flag: string, v: string): string[] {
  const ids = matrix.map((c) => c.id);
  const names = v.split(",");
  for (const n of names) {
    if (!ids.includes(n)) throw usage(flag, `want cells of the matrix (comma-separated): ${ids.join(", ")}; got ${JSON.stringify(n)}`);
  }
  return ids.filter((id) => names.includes(id));
}

/** The scenarios `--scenario` runs, in the order they run. */
export const scenarioNames = ["failover", "restart", "shard-move", "unreliable", "tls-cost", "metrics-cost", "idle-elections", "scaling", "restart-size"] as const;
export type ScenarioName = (typeof scenarioNames)[number];

function parseScenarios(flag: string, v: string): ScenarioName[] {
  const want = `want ${scenarioNames.slice(0, -1).join(", ")} or ${scenarioNames.at(-1)} (comma-separated)`;
  const names = v.split(",");
  for (const n of names) {
    if (!(scenarioNames as readonly string[]).includes(n)) throw usage(flag, `${want}, got ${JSON.stringify(n)}`);
  }
  return scenarioNames.filter((n) => names.includes(n));
}

export const runUsage = `usage: npm run bench -- [--quick] [--no-etcd] [--no-scenarios] [--duration D] [--warmup D] [--cluster-warmup D] [--keys N] [--cells C] [--tls] [--no-tls-cost] [--no-metrics-cost] [--no-scaling] [--out FILE]
       npm run bench -- --scenario NAME[,NAME...] [--quick] [--move-rate R] [--move-pacing P] [--move-window W]

Starts a fresh local shardkv cluster (1 group, then 3 groups; 3 controllers; 3 replicas each),
runs the benchmark matrix with \`shardkv bench\`, runs the same matrix against a 3-member etcd
cluster on loopback (unless --no-etcd), and writes the generated section of docs/benchmarks.md.

  --quick        smoke test: 2s per cell, 500ms warmup, 1000 keys (numbers are not measurements)
  --no-etcd      skip etcd
  --no-scenarios skip the scenarios: restart of a server holding 1 GiB (quick: 50 MiB), leader
                 failover (kill -9 of a group leader under load), a 100 MiB shard move under
                 load (quick: 10 MiB)
  --duration D   measured time per cell (default 20s; quick 2s)
  --warmup D     warmup per cell (default 2s; quick 500ms)
  --cluster-warmup D
                 before its first cell, each fresh shardkv cluster runs 5 s rounds of a
                 mixed load at 64 clients until two rounds agree on ops/s within 10 %, for
                 at most D (default 60s; quick 1s, 0.5 s rounds; 0: no warm-up): 12 daemons
                 JIT-compile on the machine's cores, which a cell's warmup alone does not cover
  --keys N       key space (default 10000; quick 1000)
  --cells C      only these cells of the matrix, comma-separated workload@clients:
                 ${matrix.map((c) => c.id).join(", ")}
                 (the others show "-"; the repeats of put@64 run only with it)
  --tls          run shardkv on mutual TLS (certificates made as shardkv-local makes them) and
                 the load generator with a client certificate (the whole run; the cost of
                 mutual TLS section compares without and with TLS in any case)
  --no-tls-cost  skip the cost of mutual TLS: puts and gets at 64 on two 1-group clusters, one
                 without and one with mutual TLS, in interleaved pairs (3 rounds; quick: 1),
                 server CPU per op with TLS over without (target 1.15x), ops/s and p99
  --no-metrics-cost  skip the cost of metrics: puts at 64 on two 1-group clusters, one without
                 metrics endpoints and one with them, every daemon scraped every 5 s, in
                 interleaved pairs (3 rounds; quick: 1), server CPU per op with metrics over
                 without (target 1.05x)
  --no-scaling   skip the scaling tables: puts and gets at 64 on fresh clusters of 1, 2, 3 and
                 6 groups (quick: 1 and 2), server CPU per op and ops/s; and restart of a
                 follower holding 0.1, 1 and 4 GiB (quick: 10 and 50 MiB) until it serves, with
                 gets at 16 clients after it (a size the disk cannot hold is reported, not run)
  --out FILE     the Markdown file to update (default docs/benchmarks.md)
  --move-rate R  the shard servers' --migration-rate on the 3-group cluster (the shard move
                 runs there): a hard cap in MiB/s (default 0 = none)
  --move-pacing P  their --migration-pacing: adaptive (default) or off
  --move-window W  their --migration-window: MiB of pulled chunks in flight per pull
                 (default ${migrationWindowMiBDefault}; 0 = one chunk at a time)
  --scenario S   run only these scenarios and print their results (no matrix, no etcd, no file
                 written): ${scenarioNames.join(", ")}.
                 unreliable: 10 clients (gets, puts, appends) while a group leaves and joins,
                 on a clean network and then with every daemon dropping 10% of requests and
                 10% of replies and delaying messages 0-27 ms; both phases' p50/p90/p99/max,
                 timeouts, ops/s and their ratios; every append checked exactly.
                 tls-cost, metrics-cost: the cost sections above, alone, printed as the
                 section the full run writes (--cells keeps its cells)
                 idle-elections: an idle healthy cluster (3 controllers, 3 groups) watched
                 for --duration (default 10 min; quick 20 s): elections (term increments)
                 per group and per hour, and leader changes the replicas saw
                 scaling, restart-size: the scaling tables above, alone
`;

const flags = {
  quick: flag.bool(),
  "no-etcd": flag.bool(),
  "no-scenarios": flag.bool(),
  duration: flag.duration(),
  warmup: flag.duration({ zero: true }),
  "cluster-warmup": flag.duration({ zero: true }),
  keys: flag.int(1, 9_999_999),
  out: flag.of((_f, s) => resolve(s)),
  scenario: flag.of(parseScenarios),
  cells: flag.of(parseCells),
  tls: flag.bool(),
  "no-tls-cost": flag.bool(),
  "no-metrics-cost": flag.bool(),
  "move-rate": flag.of(parseMigrationRate),
  "move-pacing": flag.of(parseMigrationPacing),
  "move-window": flag.of(parseMigrationWindow),
  "no-scaling": flag.bool(),
};

export function parseRunArgs(argv: readonly string[]): RunOptions | "help" {
  const cl = parseCommandLine(argv, flags, { positionals: 0 });
  if (cl.help) return "help";
  const v = cl.values;
  const quick = v.quick === true;
  const scenarios = v["no-scenarios"] !== true;
  if (v.scenario && !scenarios) throw usage("--scenario", "give either --scenario or --no-scenarios, not both");
  return {
    ...(v.scenario ? { only: v.scenario } : {}),
    ...(v.cells ? { cells: v.cells } : {}),
    quick,
    etcd: v["no-etcd"] !== true,
    durationMs: v.duration ?? (quick ? 2_000 : 20_000),
    warmupMs: v.warmup ?? (quick ? 500 : 2_000),
    clusterWarmupMs: v["cluster-warmup"] ?? (quick ? 1_000 : 60_000),
    keys: v.keys ?? (quick ? 1_000 : 10_000),
    out: v.out ?? join(root, "docs", "benchmarks.md"),
    scenarios,
    tls: v.tls === true,
    tlsCost: v["no-tls-cost"] !== true,
    metricsCost: v["no-metrics-cost"] !== true,
    moveRateMiB: v["move-rate"] ?? migrationRateMiBDefault,
    movePacing: v["move-pacing"] ?? migrationPacingDefault,
    moveWindowMiB: v["move-window"] ?? migrationWindowMiBDefault,
    scaling: v["no-scaling"] !== true,
    idleElectionsMs: v.duration ?? (quick ? 20_000 : 600_000),
  };
}
