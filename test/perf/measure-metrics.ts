/**
 * Measures what metrics cost the servers (docs/operations.md "Metrics"): two clusters of 3
 * controllers and one group of 3 replicas (64 shards, no TLS), one started without metrics
 * (`LocalCluster.up({ metrics: false })`) and one with (every daemon on --metrics-listen), both
 * up, the one not measured paused (SIGSTOP) so it takes no CPU; puts at concurrency 64
 * (`bin/shardkv bench`, 128-byte values) run on each in interleaved pairs (bench/run.ts
 * pairedRounds: this machine's speed drifts over minutes). During each run on the metrics
 * cluster every daemon is scraped every --scrape-every (default 5 s, three times as often as
 * Prometheus's default 15 s; one scrape costs a daemon about 1.4 ms of CPU). Reports per run the daemons' CPU per 1,000 puts and puts/s, then the medians and
 * their ratio (target: on at most 1.05x off), and the write stages the leader measured (where
 * a put's time goes).
 *
 *   npx tsx test/perf/measure-metrics.ts [--pairs 3] [--duration 10s] [--scrape-every 5s]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitUsage, flag, parseCommandLine, UsageError } from "../../common/cli-args";
import { delay } from "../../common/real-env";
import { runCell, shardkvBin } from "../../bench/cell";
import { type CellOutcome, cpuPer1k, median } from "../../bench/report";
import { pairedRounds, pausedWhile } from "../../bench/run";
import { LocalCluster } from "../../deploy/local/cluster";

const usageText = "usage: npx tsx test/perf/measure-metrics.ts [--pairs N] [--duration D] [--scrape-every D]\n" +
  "  (pairs of runs, default 3; measured phase per run, default 10s; scrape interval, default 5s)\n";
const log = (m: string): void => void process.stdout.write(`${m}\n`);

/** Scrapes every daemon's /metrics every `everyMs` until `stop` resolves; the size of the largest last scrape. */
async function scrapeWhile(cluster: LocalCluster, stop: Promise<unknown>, everyMs: number): Promise<number> {
  let done = false;
  void stop.finally(() => (done = true));
  let bytes = 0;
  while (!done) {
    const sizes = await Promise.all(cluster.nodeNames().map(async (n) => {
      const m = cluster.node(n).metrics;
      if (m === undefined) return 0;
      return (await (await fetch(`http://${m}/metrics`)).text()).length;
    }));
    bytes = Math.max(...sizes);
    await delay(everyMs);
  }
  return bytes;
}

async function put64(cluster: LocalCluster, durationMs: number, scrapeEveryMs: number | undefined): Promise<CellOutcome> {
  const pids = cluster.nodeNames().map((n) => cluster.node(n).pid).filter((p): p is number => p !== null);
  const run = runCell(shardkvBin, [
    "bench", "--controllers", cluster.controllerAddrs().join(","), "--insecure", "--workload", "put", "--concurrency", "64",
    "--keys", "10000", "--value-bytes", "128", "--duration", `${durationMs}ms`, "--warmup", "3s", "--key-prefix", "metrics-cost-",
  ], pids, durationMs + 120_000);
  if (scrapeEveryMs !== undefined) log(`    largest scrape: ${await scrapeWhile(cluster, run, scrapeEveryMs)} bytes`);
  return run;
}

/** The write stages' mean (ms) on the group's replicas, from the sums and counts of their histograms. */
async function stages(cluster: LocalCluster): Promise<string> {
  const parts: string[] = [];
  const texts = await Promise.all(cluster.nodesOf(1).map(async (n) => (await fetch(`http://${cluster.node(n).metrics!}/metrics`)).text()));
  for (const stage of ["queue", "log_save", "replicate", "apply_wait", "apply"]) {
    let sum = 0;
    let count = 0;
    for (const t of texts) {
      sum += Number(new RegExp(`^shardkv_raft_write_${stage}_duration_seconds_sum\\{[^}]*\\} (\\S+)$`, "m").exec(t)?.[1] ?? 0);
      count += Number(new RegExp(`^shardkv_raft_write_${stage}_duration_seconds_count\\{[^}]*\\} (\\S+)$`, "m").exec(t)?.[1] ?? 0);
    }
    parts.push(`${stage} ${count > 0 ? ((sum / count) * 1000).toFixed(3) : "-"} ms`);
  }
  return parts.join(", ");
}

async function main(): Promise<void> {
  let pairs: number;
  let durationMs: number;
  let scrapeEveryMs: number;
  try {
    const cl = parseCommandLine(process.argv.slice(2), { pairs: flag.int(1, 100), duration: flag.duration(), "scrape-every": flag.duration() }, { positionals: 0 });
    if (cl.help) {
      process.stdout.write(usageText);
      return;
    }
    pairs = cl.values.pairs ?? 3;
    durationMs = cl.values.duration ?? 10_000;
    scrapeEveryMs = cl.values["scrape-every"] ?? 5000;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`measure-metrics: ${e.message} (--help for usage)\n`);
    process.exitCode = exitUsage;
    return;
  }
  const work = mkdtempSync(join(tmpdir(), "shardkv-metrics-cost-"));
  const up = (metrics: boolean): Promise<LocalCluster> =>
    LocalCluster.up({ dir: join(work, metrics ? "on" : "off"), controllers: 3, groups: 1, replicas: 3, shards: 64, metrics });
  const off = await up(false);
  const on = await up(true).catch(async (e: unknown) => {
    await off.down(5000);
    throw e;
  });
  try {
    /** One run of puts at 64 on the cluster with (or without) metrics, the other paused: its CPU s per 1k puts and puts/s. */
    const one = async (metrics: boolean): Promise<{ cpu: number; rate: number }> => {
      const o = metrics ? await pausedWhile(off, () => put64(on, durationMs, scrapeEveryMs)) : await pausedWhile(on, () => put64(off, durationMs, undefined));
      const c = cpuPer1k(o);
      if (!o.ok || c === undefined) throw new Error(`put@64 with metrics ${metrics ? "on" : "off"} failed: ${o.ok ? "no CPU figure" : o.error}`);
      const rate = o.result.opsPerSec ?? 0;
      log(`  metrics ${metrics ? "on " : "off"}: ${c.toFixed(3)} CPU s per 1k puts (${(c * 1000).toFixed(0)} µs/put), ${rate.toFixed(0)} puts/s`);
      return { cpu: c, rate };
    };
    const runs = await pairedRounds(pairs, () => one(false), () => one(true));
    const med = (xs: { cpu: number; rate: number }[], k: "cpu" | "rate"): number => median(xs.map((x) => x[k]))!;
    const ratio = med(runs.b, "cpu") / med(runs.a, "cpu");
    log(`medians: off ${(med(runs.a, "cpu") * 1000).toFixed(0)} µs/put, ${med(runs.a, "rate").toFixed(0)} puts/s; on ${(med(runs.b, "cpu") * 1000).toFixed(0)} µs/put, ` +
      `${med(runs.b, "rate").toFixed(0)} puts/s; CPU per put on/off ${ratio.toFixed(3)}x (target <= 1.05x)`);
    log(`write stages (mean over every put the metrics cluster measured): ${await stages(on)}`);
  } finally {
    await on.down(5000);
    await off.down(5000);
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`measure-metrics: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
