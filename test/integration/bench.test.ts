/**
 * Real processes: `bin/shardkv bench` (bench/shardkv-bench.ts) against a small cluster (three
 * controllers and one group of three `shardkv-server` daemons, deploy/local/cluster.ts).
 * `--ops N --json` prints exactly one JSON line with N operations counted, no errors and sane
 * latencies; a read workload preloads its keys, and the written keys are really there;
 * `--exclude-shard` keeps the load off one shard. No
 * timing assertions: the numbers are for `npm run bench`, not for tests.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shardOf } from "../../controller/shard-of";
import { type CliRun, runShardkv } from "../lib/run-cli";
import { LocalCluster } from "../../deploy/local/cluster";
import { ClusterClients } from "../lib/cluster-clients";


type Run = CliRun;

describe("shardkv bench against a running cluster", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-bench-"));
    // Three controllers and group 1 (three replicas), joined; every shard Serving.
    cluster = await LocalCluster.up({ dir, shards: 8, groups: 1, tickMs: 50 });
  });

  const clients = new ClusterClients();
  afterAll(async () => {
    clients.closeAll();
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`bench test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  const onFail = () => onTestFailed(() => {
    failed = true;
    if (cluster) process.stderr.write(cluster.logTails(30) + "\n");
  });

  function bench(args: readonly string[]): Promise<Run> {
    return runShardkv(["bench", "--controllers", cluster!.controllerAddrs().join(","), "--timeout", "20s", ...args]);
  }


  /** The one JSON line of a run, after checking the run's shape. */
  function jsonOf(r: Run): Record<string, any> {
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toHaveLength(2); // one line and its newline: no progress line off a terminal
    expect(lines[1]).toBe("");
    return JSON.parse(lines[0]!);
  }

  function expectSaneLatency(j: Record<string, any>): void {
    const l = j["latencyMs"];
    for (const k of ["p50", "p90", "p99", "p999", "max", "mean"]) expect(l[k], k).toBeGreaterThan(0);
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.p999);
    expect(l.p999).toBeLessThanOrEqual(l.max);
    expect(j["opsPerSec"]).toBeGreaterThan(0);
    expect(j["elapsedMs"]).toBeGreaterThan(0);
    expect(j["clientCpuUsPerOp"]).toBeGreaterThan(0);
  }

  it("puts: --ops 200 --json counts exactly 200 operations and no errors", async () => {
    onFail();
    const j = jsonOf(await bench(["--ops", "200", "--json", "--keys", "50", "--value-bytes", "16", "--concurrency", "16", "--key-prefix", "bp:"]));
    expect(j).toMatchObject({
      target: "shardkv", workload: "put", keys: 50, valueBytes: 16, concurrency: 16, warmupMs: 0, preloadedKeys: 0,
      ops: 200, errors: { total: 0, byType: {} },
    });
    expectSaneLatency(j);
    // The bench wrote real keys: an independent client reads a 16-byte value.
    const kv = await clients.connect(cluster!);
    const seen = await Promise.all(Array.from({ length: 50 }, (_, i) => kv.getString(`bp:${i}`)));
    expect(seen.filter((v) => v !== undefined).length).toBeGreaterThan(0);
    for (const v of seen) if (v !== undefined) expect(v).toBe("abcdefghijklmnop");
  });

  it("gets with a timeline: every key preloaded, 200 reads, windows cover the run", async () => {
    onFail();
    const j = jsonOf(await bench(["--workload", "get", "--ops", "200", "--json", "--timeline", "--keys", "120", "--concurrency", "8", "--key-prefix", "bg:"]));
    expect(j).toMatchObject({ workload: "get", preloadedKeys: 120, ops: 200, errors: { total: 0 } });
    expectSaneLatency(j);
    const windows = j["timeline"] as { tMs: number; ops: number }[];
    expect(windows.length).toBeGreaterThan(0);
    expect(windows.reduce((n, w) => n + w.ops, 0)).toBe(200);
    windows.forEach((w, i) => expect(w.tMs).toBe(i * 100));
    const kv = await clients.connect(cluster!);
    expect(await kv.getString("bg:0")).toHaveLength(128);
    expect(await kv.getString("bg:119")).toHaveLength(128);
  });

  it("--exclude-shard: no key of that shard is written", async () => {
    onFail();
    const j = jsonOf(await bench(["--ops", "150", "--json", "--keys", "40", "--concurrency", "8", "--exclude-shard", "0", "--key-prefix", "bx:"]));
    expect(j).toMatchObject({ ops: 150, errors: { total: 0 } });
    const kv = await clients.connect(cluster!);
    const keys = Array.from({ length: 40 }, (_, i) => `bx:${i}`);
    const inShard0 = keys.filter((k) => shardOf(k, 8) === 0);
    expect(inShard0.length).toBeGreaterThan(0); // 40 keys over 8 shards: some fall into shard 0
    for (const k of inShard0) expect(await kv.getString(k), k).toBeUndefined();
    const others = await Promise.all(keys.filter((k) => shardOf(k, 8) !== 0).map((k) => kv.getString(k)));
    expect(others.filter((v) => v !== undefined).length).toBeGreaterThan(0);
  });

  it("text report; a bad flag is one line naming it, exit 2", async () => {
    onFail();
    const r = await bench(["--workload", "mixed:50", "--ops", "100", "--keys", "20", "--concurrency", "4", "--key-prefix", "bm:"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^shardkv mixed:50: 20 keys/);
    expect(r.stdout).toMatch(/\nops +100 in /);
    expect(r.stdout).toMatch(/\nlatency ms p50 [\d.]+ +p90 /);
    expect(r.stdout).toMatch(/\nerrors +0\n/);
    const bad = await bench(["--concurrency", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toBe('shardkv bench: invalid --concurrency: want an integer in [1, 10000], got "lots" (see shardkv bench --help)\n');
  });
});
