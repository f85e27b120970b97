/**
 * What the service metrics cost (docs/operations.md "Service, shard and controller metrics").
 *
 * 1. The recording alone: a put's recording as the shard server does it (a cell counter, a
 *    cell histogram, request bytes: common/service-metrics.ts) against prom-client's own
 *    pre-bound children (`counter.labels(...)` and `histogram.labels(...)` cached), in
 *    nanoseconds per operation.
 * 2. Puts at 64 in flight against one in-process single-replica group (real gRPC and RocksDB,
 *    client in the same process), without and with a registry, in alternating rounds: median
 *    ops/s and process CPU per put (server and client together).
 *
 *   npx tsx test/perf/measure-service-metrics.ts [--rounds 3] [--seconds 5]
 */
import { Counter, Histogram, Registry } from "prom-client";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitUsage, flag, parseCommandLine, UsageError } from "../../common/cli-args";
import { silentLogger } from "../../common/env";
import { MetricSet } from "../../common/hot-metrics";
import type { GroupId, NodeId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { operationSecondsBuckets, ServiceMetrics } from "../../common/service-metrics";
import { ShardKV } from "../../client/shardkv";
import { ControllerClient } from "../../controller/client";
import { ControllerServer } from "../../controller/server";
import { freePorts } from "../../deploy/local/process";
import { ShardServer } from "../../shard-server/server";
import { Security } from "../../security/credentials";

const log = (m: string) => process.stdout.write(`${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Nanoseconds per recorded put: our cells against prom-client's cached children. */
function recording(): { cells: number; promClient: number } {
  const n = 2_000_000;
  const m = new ServiceMetrics(new MetricSet(new Registry()), { types: ["put"], nowMs: realClock.nowMs });
  const reg = new Registry();
  const counter = new Counter({ name: "c_total", help: "c", labelNames: ["type", "result"], registers: [reg] }).labels("put", "ok");
  const bytes = new Counter({ name: "b_total", help: "b", labelNames: ["type"], registers: [reg] }).labels("put");
  const hist = new Histogram({ name: "h", help: "h", labelNames: ["type"], buckets: [...operationSecondsBuckets], registers: [reg] }).labels("put");
  const time = (fn: () => void): number => {
    const t0 = realClock.nowMs();
    for (let i = 0; i < n; i++) fn();
    return ((realClock.nowMs() - t0) * 1e6) / n;
  };
  const op = m.op("put");
  const ours = () => {
    const t0 = op.start();
    op.requestBytes(70);
    op.ok(t0);
  };
  const theirs = () => {
    const t0 = realClock.nowMs();
    bytes.inc(70);
    counter.inc();
    hist.observe((realClock.nowMs() - t0) / 1000);
  };
  time(ours);
  time(theirs);
  return { cells: time(ours), promClient: time(theirs) };
}

/** One round: a fresh controller and group; puts at 64 in flight for `seconds`. */
async function round(withMetrics: boolean, seconds: number): Promise<{ opsPerSec: number; cpuUsPerOp: number }> {
  const dir = mkdtempSync(join(tmpdir(), "shardkv-metrics-cost-"));
  const [cp, sp] = await freePorts(2);
  const caddr = `127.0.0.1:${cp}`;
  const saddr = `127.0.0.1:${sp}`;
  const ctl = await ControllerServer.start({
    id: 1 as NodeId, listen: caddr, peers: new Map([[1 as NodeId, caddr]]), dataDir: join(dir, "c"), shardCount: 8,
    security: Security.insecure(), logger: silentLogger, metricsRegistry: withMetrics ? new Registry() : undefined,
  });
  const srv = await ShardServer.start({
    gid: 1 as GroupId, id: 1 as NodeId, listen: saddr, peers: new Map([[1 as NodeId, saddr]]), dataDir: join(dir, "g1"),
    controllers: [caddr], shardCount: 8, security: Security.insecure(), logger: silentLogger,
    metricsRegistry: withMetrics ? new Registry() : undefined,
  });
  const client = new ControllerClient({ controllers: [caddr], security: Security.insecure() });
  const kv = await ShardKV.connect({ controllers: [caddr] });
  try {
    await client.join(new Map([[1 as GroupId, [saddr]]]));
    const value = "v".repeat(64);
    let n = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        await kv.put(`k${w}-${i % 100}`, value);
        n++;
      }
    };
    // Warm-up, then the measured window.
    const warm = realClock.nowMs() + 1000;
    let workers = Array.from({ length: 64 }, (_, w) => worker(w));
    while (realClock.nowMs() < warm) await new Promise<void>((r) => realClock.after(50, r));
    stop = true;
    await Promise.all(workers);
    stop = false;
    n = 0;
    const cpu0 = process.cpuUsage();
    const t0 = realClock.nowMs();
    workers = Array.from({ length: 64 }, (_, w) => worker(w));
    await new Promise<void>((r) => realClock.after(seconds * 1000, r));
    stop = true;
    await Promise.all(workers);
    const ms = realClock.nowMs() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { opsPerSec: (n * 1000) / ms, cpuUsPerOp: (cpu.user + cpu.system) / n };
  } finally {
    kv.close();
    client.close();
    await srv.stop();
    await ctl.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  let rounds = 3;
  let seconds = 5;
  try {
    const cl = parseCommandLine(process.argv.slice(2), { rounds: flag.int(1, 100), seconds: flag.int(1, 600) }, { positionals: 0 });
    if (cl.help) {
      log("usage: npx tsx test/perf/measure-service-metrics.ts [--rounds N] [--seconds S]");
      return;
    }
    rounds = cl.values.rounds ?? rounds;
    seconds = cl.values.seconds ?? seconds;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`measure-service-metrics: ${e.message} (--help for usage)\n`);
    process.exitCode = exitUsage;
    return;
  }
  const r = recording();
  log(`recording a put: cells ${r.cells.toFixed(0)} ns, prom-client children ${r.promClient.toFixed(0)} ns`);
  const off: { opsPerSec: number; cpuUsPerOp: number }[] = [];
  const on: typeof off = [];
  for (let i = 0; i < rounds; i++) {
    off.push(await round(false, seconds));
    on.push(await round(true, seconds));
    log(`round ${i + 1}: off ${off[i]!.opsPerSec.toFixed(0)} ops/s ${off[i]!.cpuUsPerOp.toFixed(1)} µs/op; on ${on[i]!.opsPerSec.toFixed(0)} ops/s ${on[i]!.cpuUsPerOp.toFixed(1)} µs/op`);
  }
  const cpuOff = median(off.map((x) => x.cpuUsPerOp));
  const cpuOn = median(on.map((x) => x.cpuUsPerOp));
  log(`median put@64: off ${median(off.map((x) => x.opsPerSec)).toFixed(0)} ops/s, ${cpuOff.toFixed(1)} µs CPU/op; ` +
    `on ${median(on.map((x) => x.opsPerSec)).toFixed(0)} ops/s, ${cpuOn.toFixed(1)} µs CPU/op; ratio ${(cpuOn / cpuOff).toFixed(3)}`);
}

void main();
