/**
 * `npm run bench`: the standard benchmark matrix against a fresh local shardkv cluster (one
 * group, then three; 3 controllers, 3 replicas per group, 64 shards, synced RocksDB) and
 * against a 3-member etcd cluster on loopback, side by side; writes the generated section of
 * docs/benchmarks.md (between the bench:start / bench:end markers; the rest of the file is
 * kept).
 *
 * Each cell of the matrix is one run of the load generator as a child process
 * (`bin/shardkv bench ... --json --phase-marks`, or bench/etcd-load.ts with the same
 * flags). Server CPU per 1,000 operations: the sum of utime + stime of every daemon
 * (/proc/<pid>/stat) sampled when the child reports the start and the end of its measured
 * phase, divided by the operations it measured; beside it the client CPU, which the child
 * measures over the same phase in its own process (process.cpuUsage()). The etcd load
 * generator sends its load to etcd's leader, as shardkv's client does to its groups' leaders.
 * The etcd cluster is up beside the 1-group cluster and each etcd cell runs right after the
 * shardkv cell of the same shape, the system not measured paused (SIGSTOP): on a shared
 * machine whose speed drifts over minutes, paired cells keep the drift out of the ratios. Puts at 64 run twice more in pairs (etcd first in
 * one of them): the targets for puts at 64 compare medians of three.
 *
 *   npm run bench                           # the full matrix (20 s per cell) and the scenarios: about 25 minutes
 *   npm run bench -- --quick                # smoke test: 2 s per cell, 1,000 keys
 *   npm run bench -- --no-etcd --duration 10s
 *   npm run bench -- --quick --no-scenarios --cells put@64,get@64 --out /tmp/b.md   # two cells
 *   npm run bench -- --no-etcd --no-scenarios --cells put@64,get@64 --tls --out /tmp/t.md  # the same on mutual TLS
 *
 * The cost of mutual TLS, after the 3-group cells (`--no-tls-cost` skips it): puts and gets at
 * 64 on a fresh 1-group cluster without TLS and on one with mutual TLS, both up and the one not
 * measured paused, in interleaved pairs (as many as puts at 64 against etcd; --quick: one);
 * the report compares medians of server CPU per op (target: with TLS at most 1.15x without).
 * Then the cost of metrics (`--no-metrics-cost` skips it): puts at 64 the same way on a
 * cluster without metrics endpoints and on one with them, every daemon scraped every 5 s
 * during its cells (target: with metrics at most 1.05x without).
 *
 * Scenarios (bench/scenarios.ts), after the 1-group cells: restart of a follower holding
 * 1 GiB (until it serves again), then leader failover (kill -9 of group 1's leader under a put
 * load: the stall of writes, in 100 ms windows); after the 3-group cells: a 100 MiB shard
 * moved between groups under load after the 3-group cells (its duration, and the p99 of the
 * other shards before and during).
 *
 * `--scenario NAME[,NAME...]` runs only those scenarios (failover, restart, shard-move, and
 * unreliable: bench/unreliable.ts, a leave and a join under load on a clean and then on a
 * lossy network), each on a fresh cluster, and prints their results without writing the file.
 *
 * The scaling tables, last (`--no-scaling` skips them; bench/scaling.ts): puts and gets at 64
 * on fresh clusters of 1, 2, 3 and 6 groups, then restart of a follower holding 0.1, 1 and
 * 4 GiB on fresh 1-group clusters (`--quick`: 1 and 2 groups, 10 and 50 MiB).
 *
 * Options: --quick, --no-etcd, --no-scenarios, --scenario S, --duration D, --warmup D, --keys N,
 * --cells C, --tls, --no-tls-cost, --no-metrics-cost, --no-scaling, --out FILE (default
 * docs/benchmarks.md), --help.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../common/cli-args";
import { realClock, wallClockMs } from "../common/real-env";
import { LocalCluster, type LocalClusterOptions } from "../deploy/local/cluster";
import { exitOnSignals, idleCores, root, runCell, shardkvBin } from "./cell";
import { warmFlags, warmRoundMs, warmUntilSteady } from "./warmup";
import { EtcdCluster, ensureEtcd } from "./etcd-cluster";
import {
  type BenchReport, type Cell, type CellOutcome, type FailoverResult, type Machine, type RestartResult, type ShardMoveResult, type CostRuns, type CostSpec, clientCpuPer1k, costSection, cpuPer1k, matrix, metricsCostSpec, metricsScrapeEveryMs, renderSection, replaceSection, tlsCostSpec,
} from "./report";
import { type RunOptions, parseRunArgs, runUsage } from "./run-args";
import { moveServerArgs, runFailover, runIdleElections, runRestart, runShardMove } from "./scenarios";
import { type ScalingDriver, runRestartSize, runScaling } from "./scaling";
import { type RestartSizeResult, type ScalingResult, electionsPerHour, idleElectionsSection, restartSizeSection, scalingSection } from "./scaling-report";
import { renderUnreliable, runUnreliable } from "./unreliable";

const etcdLoad = join(root, "bench", "etcd-load.ts");
const tsxLoader = join(root, "node_modules", "tsx", "dist", "loader.mjs");

const idleMsOf = (o: RunOptions): number => (o.quick ? 1_000 : 5_000);
/** Paired runs of puts at 64 after the matrix's, for the medians its targets compare (3 in all). */
const writeRepeatPairs = 2;

// ---------------------------------------------------------------- one cell

/** The load generator's flags for a cell (the same for shardkv and etcd). */
export function cellFlags(cell: Cell, o: RunOptions): string[] {
  return [
    "--workload", cell.workload, "--concurrency", String(cell.concurrency), "--keys", String(o.keys),
    "--value-bytes", "128", "--duration", `${o.durationMs}ms`, "--warmup", `${o.warmupMs}ms`,
    "--key-prefix", `bench-${cell.workload.replace(":", "")}-`,
  ];
}

const hardMsOf = (o: RunOptions): number => o.warmupMs + o.durationMs + 180_000;

function say(line: string): void {
  process.stdout.write(line + "\n");
}

function summary(outcome: CellOutcome): string {
  if (!outcome.ok) return `FAILED: ${outcome.error}`;
  const r = outcome.result;
  const server = cpuPer1k(outcome);
  const client = clientCpuPer1k(outcome);
  const cpu = (server !== undefined ? `, server CPU ${server.toFixed(3)}` : "") + (client !== undefined ? `, client CPU ${client.toFixed(3)}` : "") +
    (server !== undefined || client !== undefined ? " s/1k ops" : "");
  const errs = r.errors.total > 0 ? `, ${r.errors.total} errors` : "";
  return `${r.opsPerSec} ops/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms${cpu}${errs}`;
}

// ---------------------------------------------------------------- pairs

/**
 * `rounds` paired runs of `a` and `b`, `b` first in every other pair (the first included): the
 * machine's drift over minutes lands on both sides of each comparison alike.
 */
export async function pairedRounds<T>(rounds: number, a: () => Promise<T>, b: () => Promise<T>): Promise<{ a: T[]; b: T[] }> {
  const out = { a: [] as T[], b: [] as T[] };
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      out.b.push(await b());
      out.a.push(await a());
    } else {
      out.a.push(await a());
      out.b.push(await b());
    }
  }
  return out;
}

/** Runs `fn` with every daemon of `cluster` paused (SIGSTOP), so that it takes no CPU from the system measured. */
export async function pausedWhile<T>(cluster: LocalCluster, fn: () => Promise<T>): Promise<T> {
  const names = cluster.nodeNames();
  for (const n of names) await cluster.pause(n);
  try {
    return await fn();
  } finally {
    for (const n of names) await cluster.resume(n);
  }
}

const daemonPids = (cluster: LocalCluster): number[] => cluster.nodeNames().map((n) => cluster.node(n).pid).filter((p): p is number => p !== null);

/** Runs the load generator against `cluster` (on mutual TLS when it is) with `flags`, sampling its daemons' CPU. */
function shardkvLoad(cluster: LocalCluster): (flags: readonly string[], hardMs: number) => Promise<CellOutcome> {
  const pids = daemonPids(cluster);
  const controllers = cluster.controllerAddrs().join(",");
  const tls = cluster.tlsFiles("client");
  const tlsFlags = tls ? ["--tls-ca", tls.ca, "--tls-cert", tls.cert, "--tls-key", tls.key] : ["--insecure"];
  return (flags, hardMs) => runCell(shardkvBin, ["bench", "--controllers", controllers, ...tlsFlags, ...flags], pids, hardMs);
}

/** Runs a cell against `cluster` and says its line, prefixed `name`. */
function shardkvCells(cluster: LocalCluster, o: RunOptions, name: string): (cell: Cell) => Promise<CellOutcome> {
  const load = shardkvLoad(cluster);
  return async (cell) => {
    const outcome = await load(cellFlags(cell, o), hardMsOf(o));
    say(`  ${name} ${cell.workload.padEnd(8)} c=${String(cell.concurrency).padEnd(3)}  ${summary(outcome)}`);
    return outcome;
  };
}

/**
 * Warms a fresh cluster before its first cell (bench/warmup.ts): rounds of a mixed load at 64
 * until two agree on ops/s, for at most --cluster-warmup; says the rounds' ops/s.
 */
async function warmCluster(cluster: LocalCluster, o: RunOptions, name: string): Promise<void> {
  const roundMs = o.quick ? warmRoundMs / 10 : warmRoundMs;
  if (o.clusterWarmupMs < roundMs) return;
  const load = shardkvLoad(cluster);
  const r = await warmUntilSteady(async (ms) => {
    const out = await load([...warmFlags, "--keys", "1000", "--duration", `${ms}ms`], ms + 180_000);
    return out.ok ? (out.result.opsPerSec ?? undefined) : undefined;
  }, roundMs, o.clusterWarmupMs);
  say(`  ${name} warm-up: ${r.rounds.map((x) => Math.round(x)).join(", ")} ops/s${r.warm ? "" : " (not steady when its time ran out)"}`);
}

// ---------------------------------------------------------------- the systems

/** What one system's column produced: its cells and its idle CPU. */
interface SystemRun {
  readonly cells: Map<string, CellOutcome>;
  readonly idleCores: number | undefined;
  readonly failover?: FailoverResult | { error: string };
  readonly shardMove?: ShardMoveResult | { error: string };
  readonly restart?: RestartResult | { error: string };
  readonly writeRepeats?: BenchReport["writeRepeats"];
}

/**
 * The etcd cluster, kept up beside the 1-group shardkv cluster so that each etcd cell runs
 * right after the shardkv cell of the same shape: this machine's speed drifts by tens of
 * percent over minutes, which would otherwise land on the ratios. The system not being
 * measured is paused (SIGSTOP) so it takes no CPU from the one that is.
 */
interface EtcdPair {
  readonly cells: Map<string, CellOutcome>;
  readonly idleCores: number | undefined;
  /** Runs `cell` against etcd (resumed for it, paused after). */
  run(cell: Cell): Promise<CellOutcome>;
  /** Idempotent. */
  stop(): Promise<void>;
}

async function startEtcdPair(o: RunOptions, work: string): Promise<EtcdPair> {
  const dir = join(work, "etcd");
  say(`etcd: starting 3 members in ${dir}`);
  const cluster = await EtcdCluster.start({ dir, members: 3 });
  // A member that died is not signalled (its cells then fail, as they would without pausing).
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of cluster.pids) {
      try {
        process.kill(pid, sig);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
      }
    }
  };
  let idle: number | undefined;
  try {
    idle = await idleCores(cluster.pids, idleMsOf(o));
    say(`etcd: idle CPU ${idle === undefined ? "-" : idle.toFixed(3)} cores; paused until its first cell`);
    signal("SIGSTOP");
  } catch (e) {
    await cluster.stop(5000);
    throw e;
  }
  const endpoints = cluster.endpoints.join(",");
  const cells = new Map<string, CellOutcome>();
  let stopped = false;
  return {
    cells,
    idleCores: idle,
    async run(cell) {
      signal("SIGCONT");
      try {
        const outcome = await runCell(process.execPath, ["--import", tsxLoader, etcdLoad, "--endpoints", endpoints, ...cellFlags(cell, o)], cluster.pids, hardMsOf(o));
        say(`  etcd       ${cell.workload.padEnd(8)} c=${String(cell.concurrency).padEnd(3)}  ${summary(outcome)}`);
        return outcome;
      } finally {
        signal("SIGSTOP");
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      signal("SIGCONT");
      await cluster.stop(5000);
    },
  };
}

// ---------------------------------------------------------------- the scenarios

/** Leader failover on the 1-group cluster, with its line. */
async function failoverScenario(cluster: LocalCluster, o: RunOptions): Promise<FailoverResult | { error: string }> {
  const failover = await runFailover(cluster, o);
  say(`  shardkv 1g failover: ${"error" in failover ? `FAILED: ${failover.error}` : `killed ${failover.killed}; writes resumed after ${Math.round(failover.resumeMs)} ms (100 ms windows)`}`);
  return failover;
}

/** Restart of a follower holding a large data set on the 1-group cluster, with its line. */
async function restartScenario(cluster: LocalCluster, o: RunOptions): Promise<RestartResult | { error: string }> {
  const restart = await runRestart(cluster, o, say);
  say(`  shardkv 1g restart: ${"error" in restart ? `FAILED: ${restart.error}` : `${restart.node} with ${restart.mib} MiB: Status after ${(restart.answerMs / 1000).toFixed(1)} s, serving after ${(restart.servingMs / 1000).toFixed(1)} s`}`);
  return restart;
}

/** A large shard moved under load on the 3-group cluster, with its line. */
async function shardMoveScenario(cluster: LocalCluster, o: RunOptions): Promise<ShardMoveResult | { error: string }> {
  const shardMove = await runShardMove(cluster, o, say);
  say(`  shardkv 3g shard move: ${"error" in shardMove ? `FAILED: ${shardMove.error}` : `${shardMove.mib} MiB in ${(shardMove.moveMs / 1000).toFixed(1)} s`}`);
  return shardMove;
}

/** How the scaling tables start their clusters (in `work`) and run their cells. */
function scalingDriver(o: RunOptions, work: string): ScalingDriver {
  return {
    up: (name, groups) => {
      const dir = join(work, name);
      say(`shardkv: starting 3 controllers + ${groups} group${groups > 1 ? "s" : ""} x 3 replicas in ${dir}`);
      return LocalCluster.up({ dir, controllers: 3, groups, replicas: 3, shards: 64, tls: o.tls });
    },
    cells: (cluster, name) => shardkvCells(cluster, o, name),
    warm: (cluster, name) => warmCluster(cluster, o, name),
    idleMs: idleMsOf(o),
    say,
  };
}

/** The scaling tables (by groups, then restart by data set size), with their lines. */
async function scalingTables(o: RunOptions, work: string): Promise<{ scaling: ScalingResult; restartSize: RestartSizeResult }> {
  const d = scalingDriver(o, work);
  const scaling = await runScaling(o, d);
  const restartSize = await runRestartSize(o, d, work);
  return { scaling, restartSize };
}

/** The Markdown of the scaling tables. */
const scalingSections = (t: { scaling: ScalingResult; restartSize: RestartSizeResult }): string[] =>
  [...scalingSection(t.scaling), "", ...restartSizeSection(t.restartSize)];

/**
 * `--scenario`: only the scenarios named, each on a fresh cluster of the shape it runs on in
 * the full run (failover and restart: 1 group; shard move: 3 groups with the migration rate
 * cap; unreliable: 3 groups, every daemon with failpoints enabled). Prints the results and
 * writes them to results.json in `work`; returns false when one failed.
 */
async function runScenarios(o: RunOptions, work: string): Promise<boolean> {
  const only = o.only ?? [];
  const results: Record<string, unknown> = {};
  const up = async (name: string, groups: number, extra: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> => {
    const dir = join(work, name);
    say(`shardkv: starting 3 controllers + ${groups} group${groups > 1 ? "s" : ""} x 3 replicas in ${dir}`);
    return LocalCluster.up({ dir, controllers: 3, groups, replicas: 3, shards: 64, ...extra });
  };
  const on = async (cluster: LocalCluster, run: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } finally {
      await cluster.down(5000);
    }
  };
  if (only.includes("failover") || only.includes("restart")) {
    const cluster = await up("shardkv-1g", 1);
    await on(cluster, async () => {
      if (only.includes("failover")) results["failover"] = await failoverScenario(cluster, o);
      if (only.includes("restart")) results["restart"] = await restartScenario(cluster, o);
    });
  }
  if (only.includes("shard-move")) {
    const cluster = await up("shardkv-3g", 3, { serverArgs: moveServerArgs(o) });
    await on(cluster, async () => {
      results["shardMove"] = await shardMoveScenario(cluster, o);
    });
  }
  if (only.includes("unreliable")) {
    const cluster = await up("shardkv-unreliable", 3, { extraArgs: ["--failpoints", "on"] });
    await on(cluster, async () => {
      try {
        const r = await runUnreliable(cluster, { pauseMs: o.quick ? 2000 : 5000 }, say);
        results["unreliable"] = r;
        process.stdout.write("\n" + renderUnreliable(r));
      } catch (e) {
        results["unreliable"] = { error: e instanceof Error ? e.message : String(e) };
        say(`  unreliable: FAILED: ${(results["unreliable"] as { error: string }).error}`);
      }
    });
  }
  if (only.includes("idle-elections")) {
    const cluster = await up("shardkv-idle", 3);
    await on(cluster, async () => {
      const r = await runIdleElections(cluster, 3, o.idleElectionsMs, say);
      results["idleElections"] = r;
      if ("error" in r) say(`  idle elections: FAILED: ${r.error}`);
      else process.stdout.write("\n" + idleElectionsSection(r).join("\n") + "\n");
      if (!("error" in r)) say(`  idle elections: ${r.elections} in ${(r.durationMs / 60_000).toFixed(1)} min, ${electionsPerHour(r).toFixed(1)} per hour`);
    });
  }
  if (only.includes("scaling") || only.includes("restart-size")) {
    const d = scalingDriver(o, work);
    const md: string[] = [];
    if (only.includes("scaling")) {
      const r = await runScaling(o, d);
      results["scaling"] = r;
      md.push(...scalingSection(r), "");
      const failed = r.rows.flatMap((x) => Object.values(x.cells)).filter((c) => !c.ok).length;
      if (failed > 0) results["scaling-errors"] = { error: `${failed} cell run(s) failed` };
    }
    if (only.includes("restart-size")) {
      const r = await runRestartSize(o, d, work);
      results["restartSize"] = r;
      md.push(...restartSizeSection(r), "");
      const failed = r.rows.filter((x) => "error" in x || !x.gets.ok).length;
      if (failed > 0) results["restart-size-errors"] = { error: `${failed} size(s) failed` };
    }
    process.stdout.write("\n" + md.join("\n"));
  }
  for (const [name, c] of [["tls-cost", tlsCostRun], ["metrics-cost", metricsCostRun]] as const) {
    if (!only.includes(name)) continue;
    const cost = await runCost(o, work, c);
    if (cost === undefined) continue;
    results[name] = cost;
    process.stdout.write("\n" + costSection(c.spec, cost).join("\n") + "\n");
    const failedRuns = Object.values(cost).flatMap((r) => [...r.off, ...r.on]).filter((x) => !x.ok).length;
    if (failedRuns > 0) results[`${name}-errors`] = { error: `${failedRuns} cell run(s) failed` };
  }
  const rawFile = join(work, "results.json");
  writeFileSync(rawFile, JSON.stringify(results, null, 2) + "\n");
  say(`bench: raw results in ${rawFile}`);
  return Object.values(results).every((r) => !(typeof r === "object" && r !== null && "error" in r));
}

// ---------------------------------------------------------------- the matrix

async function runShardkv(groups: number, o: RunOptions, work: string, etcd?: EtcdPair): Promise<SystemRun> {
  const dir = join(work, `shardkv-${groups}g`);
  say(`shardkv: starting 3 controllers + ${groups} group${groups > 1 ? "s" : ""} x 3 replicas in ${dir}`);
  const t0 = realClock.nowMs();
  // The shard move runs on the 3-group cluster, with the migration flags of the run (no
  // migration happens during the matrix cells).
  const serverArgs = groups === 3 && o.scenarios ? moveServerArgs(o) : [];
  const cluster = await LocalCluster.up({ dir, controllers: 3, groups, replicas: 3, shards: 64, serverArgs, tls: o.tls });
  const out = new Map<string, CellOutcome>();
  try {
    const pids = daemonPids(cluster);
    say(`shardkv: ${pids.length} daemons up in ${((realClock.nowMs() - t0) / 1000).toFixed(1)} s`);
    const idle = await idleCores(pids, idleMsOf(o));
    say(`shardkv: idle CPU ${idle === undefined ? "-" : idle.toFixed(3)} cores`);
    await warmCluster(cluster, o, `shardkv ${groups}g`);
    const ours = shardkvCells(cluster, o, `shardkv ${groups}g`);
    const theirs = (pair: EtcdPair, cell: Cell): Promise<CellOutcome> => pausedWhile(cluster, () => pair.run(cell));
    for (const cell of matrix.filter((c) => o.cells?.includes(c.id) ?? true)) {
      out.set(cell.id, await ours(cell));
      if (etcd) etcd.cells.set(cell.id, await theirs(etcd, cell));
    }
    let writeRepeats: SystemRun["writeRepeats"];
    if (etcd) {
      const cell = matrix.find((c) => c.id === "put@64")!;
      if (o.cells?.includes(cell.id) ?? true) {
        say(`  puts at 64 again, ${writeRepeatPairs} more pairs (its targets compare medians)`);
        const pairs = await pairedRounds(writeRepeatPairs, () => ours(cell), () => theirs(etcd, cell));
        writeRepeats = { shardkv: pairs.a, etcd: pairs.b };
      }
      await etcd.stop();
    }
    if (!o.scenarios) return { cells: out, idleCores: idle, writeRepeats };
    if (groups === 1) {
      // Failover first: it needs Status answers from every server, and with 1 GiB stored the
      // Status RPC (which counts each shard's keys by scanning them) takes seconds.
      const failover = await failoverScenario(cluster, o);
      const restart = await restartScenario(cluster, o);
      return { cells: out, idleCores: idle, writeRepeats, failover, restart };
    }
    const shardMove = await shardMoveScenario(cluster, o);
    return { cells: out, idleCores: idle, shardMove };
  } finally {
    await cluster.down(5000);
  }
}

/** One "cost of" comparison: its spec, how to start each cluster, and what runs beside a cell "on". */
interface CostRun {
  readonly spec: CostSpec;
  /** The directory name's stem under the work dir: `<stem>-off`, `<stem>-on`. */
  readonly stem: string;
  readonly options: (on: boolean) => Partial<LocalClusterOptions>;
  /** The line's prefix for each side, padded alike. */
  readonly names: readonly [off: string, on: string];
  /** Runs `fn` with this running beside it on the "on" cluster (the metrics scraper). */
  readonly beside?: <T>(cluster: LocalCluster, fn: () => Promise<T>) => Promise<T>;
}

const tlsCostRun: CostRun = {
  spec: tlsCostSpec,
  stem: "shardkv-tls",
  options: (tls) => ({ tls }),
  names: ["shardkv 1g     ", "shardkv 1g mTLS"],
};

const metricsCostRun: CostRun = {
  spec: metricsCostSpec,
  stem: "shardkv-metrics",
  options: (metrics) => ({ metrics }),
  names: ["shardkv 1g            ", "shardkv 1g with metrics"],
  beside: (cluster, fn) => scrapingWhile(cluster, metricsScrapeEveryMs, fn),
};

/**
 * Runs `fn` while every daemon of `cluster` with a metrics endpoint is scraped (GET /metrics,
 * the whole body read) every `everyMs`, as Prometheus would; a failed scrape fails the cell.
 */
async function scrapingWhile<T>(cluster: LocalCluster, everyMs: number, fn: () => Promise<T>): Promise<T> {
  const endpoints = cluster.nodeNames().map((n) => cluster.node(n).metrics).filter((m): m is string => m !== undefined);
  if (endpoints.length === 0) throw new Error("the metrics cost needs daemons with metrics endpoints; none has one");
  let stopped = false;
  let cancel = (): void => {};
  let failure: Error | undefined;
  const scrapeAll = async (): Promise<void> => {
    for (const e of endpoints) {
      const r = await fetch(`http://${e}/metrics`);
      const body = await r.text();
      if (r.status !== 200 || body.length === 0) throw new Error(`scrape of ${e}: HTTP ${r.status}`);
    }
  };
  const tick = (): void => {
    if (stopped) return;
    scrapeAll().then(() => {
      if (!stopped) cancel = realClock.after(everyMs, tick);
    }, (e: unknown) => {
      failure ??= e instanceof Error ? e : new Error(String(e));
    });
  };
  tick();
  try {
    const out = await fn();
    if (failure) throw new Error(`metrics cost: ${failure.message}`);
    return out;
  } finally {
    stopped = true;
    cancel();
  }
}

/**
 * A "cost of" comparison (mutual TLS, metrics): a 1-group cluster without the feature and one
 * with it, both up, the one not measured paused; each of the spec's cells (that --cells keeps)
 * runs on both in interleaved pairs, as many as puts at 64 run against etcd (1 +
 * writeRepeatPairs; quick: 1).
 */
async function runCost(o: RunOptions, work: string, c: CostRun): Promise<Record<string, CostRuns> | undefined> {
  const cells = matrix.filter((cell) => c.spec.cells.includes(cell.id) && (o.cells?.includes(cell.id) ?? true));
  if (cells.length === 0) return undefined;
  const rounds = o.quick ? 1 : 1 + writeRepeatPairs;
  const up = (on: boolean): Promise<LocalCluster> => {
    const dir = join(work, `${c.stem}-${on ? "on" : "off"}`);
    say(`shardkv: starting 3 controllers + 1 group x 3 replicas ${on ? c.spec.on : c.spec.off} in ${dir}`);
    return LocalCluster.up({ dir, controllers: 3, groups: 1, replicas: 3, shards: 64, ...c.options(on) });
  };
  const off = await up(false);
  try {
    const on = await up(true);
    try {
      await pausedWhile(on, () => warmCluster(off, o, c.names[0]));
      await pausedWhile(off, () => warmCluster(on, o, c.names[1]));
      say(`  the ${c.spec.title.toLowerCase()}: ${cells.map((cell) => cell.id).join(", ")}, ${rounds} pair${rounds > 1 ? "s" : ""} each`);
      const runOff = shardkvCells(off, o, c.names[0]);
      const runOn = shardkvCells(on, o, c.names[1]);
      const beside = c.beside ?? ((_cluster, fn) => fn());
      const out: Record<string, CostRuns> = {};
      for (const cell of cells) {
        const pairs = await pairedRounds(rounds, () => pausedWhile(on, () => runOff(cell)), () => pausedWhile(off, () => beside(on, () => runOn(cell))));
        out[cell.id] = { off: pairs.a, on: pairs.b };
      }
      return out;
    } finally {
      await on.down(5000);
    }
  } finally {
    await off.down(5000);
  }
}

/** The cluster directories a run may leave in its work dir (large: removed at the end). */
const clusterDirs = [
  "shardkv-1g", "shardkv-3g", "shardkv-tls-off", "shardkv-tls-on", "shardkv-metrics-off", "shardkv-metrics-on",
  ...[1, 2, 3, 6].map((g) => `shardkv-scaling-${g}g`), ...[10, 50, 102, 1024, 4096].map((m) => `shardkv-restart-${m}m`),
];

function machine(etcdVersion: string | undefined): Machine {
  const cs = cpus();
  return {
    cores: cs.length,
    cpuModel: cs[0]?.model.trim() ?? "unknown",
    memoryGiB: totalmem() / 2 ** 30,
    os: `Linux ${release()}`,
    node: process.version,
    etcd: etcdVersion,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let o: RunOptions;
  try {
    const p = parseRunArgs(argv);
    if (p === "help") {
      process.stdout.write(runUsage);
      return 0;
    }
    o = p;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  exitOnSignals();
  if (o.only) {
    const work = mkdtempSync(join(tmpdir(), "shardkv-bench-"));
    say(`bench: scenarios ${o.only.join(", ")}${o.quick ? " (QUICK)" : ""}; work dir ${work}`);
    try {
      if (!(await runScenarios(o, work))) return 1;
    } catch (e) {
      process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n(work dir with logs kept: ${work})\n`);
      return 1;
    }
    // The data directories can be large; SHARDKV_KEEP_LOGS=1 keeps them with the daemons' logs.
    if (process.env["SHARDKV_KEEP_LOGS"] === "1") say(`bench: cluster directories and logs kept in ${work}`);
    else for (const d of [...clusterDirs, "shardkv-unreliable", "shardkv-idle"]) rmSync(join(work, d), { recursive: true, force: true });
    return 0;
  }
  const started = wallClockMs();
  const etcdVersion = o.etcd ? ensureEtcd((l) => say(`etcd: ${l}`)) : undefined;
  const work = mkdtempSync(join(tmpdir(), "shardkv-bench-"));
  say(`bench: ${o.quick ? "QUICK (smoke test) " : ""}${o.durationMs / 1000} s per cell, warmup ${o.warmupMs / 1000} s, ${o.keys} keys; work dir ${work}`);
  const results: BenchReport["results"] = { shardkv1: new Map(), shardkv3: new Map(), etcd: new Map() };
  const idle: { -readonly [k in keyof BenchReport["idleCores"]]: number | undefined } = { shardkv1: undefined, shardkv3: undefined, etcd: undefined };
  let failover: FailoverResult | { error: string } | undefined;
  let shardMove: ShardMoveResult | { error: string } | undefined;
  let restart: RestartResult | { error: string } | undefined;
  let writeRepeats: BenchReport["writeRepeats"];
  let tlsCost: BenchReport["tlsCost"];
  let metricsCost: BenchReport["metricsCost"];
  let scaling: { scaling: ScalingResult; restartSize: RestartSizeResult } | undefined;
  let failed = false;
  try {
    const etcd = o.etcd ? await startEtcdPair(o, work) : undefined;
    try {
      if (etcd) {
        results.etcd = etcd.cells;
        idle.etcd = etcd.idleCores;
      }
      for (const [key, run] of [
        ["shardkv1", () => runShardkv(1, o, work, etcd)],
        ["shardkv3", () => runShardkv(3, o, work)],
      ] as const) {
        const r = await run();
        results[key] = r.cells;
        idle[key] = r.idleCores;
        if ("failover" in r && r.failover) failover = r.failover;
        if ("shardMove" in r && r.shardMove) shardMove = r.shardMove;
        if ("restart" in r && r.restart) restart = r.restart;
        if (r.writeRepeats) writeRepeats = r.writeRepeats;
      }
    } finally {
      await etcd?.stop();
    }
    if (o.tlsCost) tlsCost = await runCost(o, work, tlsCostRun);
    if (o.metricsCost) metricsCost = await runCost(o, work, metricsCostRun);
    if (o.scaling) scaling = await scalingTables(o, work);
  } catch (e) {
    failed = true;
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n(work dir with logs kept: ${work})\n`);
  }
  const report: BenchReport = {
    dateIso: new Date(started).toISOString(),
    quick: o.quick,
    etcd: o.etcd,
    durationMs: o.durationMs,
    warmupMs: o.warmupMs,
    clusterWarmupMs: o.clusterWarmupMs,
    keys: o.keys,
    machine: machine(etcdVersion),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`,
    cellCommand: {
      shardkv: `bin/shardkv bench --controllers <the 3 controllers> ${cellFlags({ id: "", workload: "put", concurrency: 64 }, o).join(" ")} --json`,
      etcd: `npx tsx bench/etcd-load.ts --endpoints <the 3 members> ${cellFlags({ id: "", workload: "put", concurrency: 64 }, o).join(" ")} --json`,
    },
    results,
    idleCores: idle,
    ...(failover ? { failover } : {}),
    ...(shardMove ? { shardMove } : {}),
    ...(restart ? { restart } : {}),
    ...(writeRepeats ? { writeRepeats } : {}),
    ...(tlsCost ? { tlsCost } : {}),
    ...(metricsCost ? { metricsCost } : {}),
  };
  const rawFile = join(work, "results.json");
  writeFileSync(rawFile, JSON.stringify({ ...report, ...(scaling ?? {}), results: Object.fromEntries(Object.entries(results).map(([k, m]) => [k, Object.fromEntries(m)])) }, null, 2) + "\n");
  if (failed) return 1;
  const section = renderSection(report, scaling ? scalingSections(scaling) : []);
  const before = existsSync(o.out) ? readFileSync(o.out, "utf8") : "# Benchmarks\n";
  writeFileSync(o.out, replaceSection(before, section));
  say(`bench: wrote ${relative(process.cwd(), o.out) || o.out}; raw results in ${rawFile}`);
  process.stdout.write("\n" + section + "\n");
  // The data directories can be large; results.json stays.
  for (const d of [...clusterDirs, "etcd"]) rmSync(join(work, d), { recursive: true, force: true });
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
