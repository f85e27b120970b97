/**
 * Flags of `npm run bench` (bench/run.ts). Pure (test/unit/bench-doc.test.ts).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDuration, usage } from "../common/cli-args";
import { matrix } from "./report";

/** The repository root (docs/benchmarks.md is the default output). */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface RunOptions {
  readonly quick: boolean;
  readonly etcd: boolean;
  readonly durationMs: number;
  readonly warmupMs: number;
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
export const scenarioNames = ["failover", "restart", "shard-move", "unreliable"] as const;
export type ScenarioName = (typeof scenarioNames)[number];

function parseScenarios(flag: string, v: string): ScenarioName[] {
  const want = `want ${scenarioNames.slice(0, -1).join(", ")} or ${scenarioNames.at(-1)} (comma-separated)`;
  const names = v.split(",");
  for (const n of names) {
    if (!(scenarioNames as readonly string[]).includes(n)) throw usage(flag, `${want}, got ${JSON.stringify(n)}`);
  }
  return scenarioNames.filter((n) => names.includes(n));
}

export const runUsage = `usage: npm run bench -- [--quick] [--no-etcd] [--no-scenarios] [--duration D] [--warmup D] [--keys N] [--cells C] [--out FILE]
       npm run bench -- --scenario NAME[,NAME...] [--quick]

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
  --keys N       key space (default 10000; quick 1000)
  --cells C      only these cells of the matrix, comma-separated workload@clients:
                 ${matrix.map((c) => c.id).join(", ")}
                 (the others show "-"; the repeats of put@64 run only with it)
  --out FILE     the Markdown file to update (default docs/benchmarks.md)
  --scenario S   run only these scenarios and print their results (no matrix, no etcd, no file
                 written): ${scenarioNames.join(", ")}.
                 unreliable: 10 clients (gets, puts, appends) while a group leaves and joins,
                 on a clean network and then with every daemon dropping 10% of requests and
                 10% of replies and delaying messages 0-27 ms; both phases' p50/p90/p99/max,
                 timeouts, ops/s and their ratios; every append checked exactly
`;

export function parseRunArgs(argv: readonly string[]): RunOptions | "help" {
  let quick = false;
  let etcd = true;
  let durationMs: number | undefined;
  let warmupMs: number | undefined;
  let keys: number | undefined;
  let out = join(root, "docs", "benchmarks.md");
  let scenarios = true;
  let only: ScenarioName[] | undefined;
  let cells: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw usage(a, "missing value");
      return v;
    };
    switch (a) {
      case "-h": case "--help": return "help";
      case "--quick": quick = true; break;
      case "--no-etcd": etcd = false; break;
      case "--no-scenarios": scenarios = false; break;
      case "--duration": durationMs = parseDuration(a, value()); break;
      case "--warmup": { const v = value(); warmupMs = /^0+(ms|s)?$/.test(v) ? 0 : parseDuration(a, v); break; }
      case "--keys": {
        const v = value();
        if (!/^[1-9]\d{0,6}$/.test(v)) throw usage(a, `want an integer from 1 to 9999999, got ${JSON.stringify(v)}`);
        keys = Number(v);
        break;
      }
      case "--out": out = resolve(value()); break;
      case "--scenario": only = parseScenarios(a, value()); break;
      case "--cells": cells = parseCells(a, value()); break;
      default: throw usage("option", `unknown option ${JSON.stringify(a)} (see --help)`);
    }
  }
  if (only && !scenarios) throw usage("--scenario", "give either --scenario or --no-scenarios, not both");
  return {
    ...(only ? { only } : {}),
    ...(cells ? { cells } : {}),
    quick,
    etcd,
    durationMs: durationMs ?? (quick ? 2_000 : 20_000),
    warmupMs: warmupMs ?? (quick ? 500 : 2_000),
    keys: keys ?? (quick ? 1_000 : 10_000),
    out,
    scenarios,
  };
}
