/**
 * Where an idle cluster's CPU goes, per daemon (docs/benchmarks.md, "The cost of many groups"):
 * `npx tsx bench/idle-probe.ts [--groups N] [--seconds S] [--settle S] [--no-quiesce]` starts 3 controllers and
 * N groups of 3 replicas on loopback (no TLS, metrics endpoints on, as `npm run bench` runs
 * them), waits `settle` seconds, then prints each daemon's CPU (cores) over `seconds`.
 * `--no-quiesce` passes --no-quiesce to every daemon (quiescence is on by default; `--quiesce`
 * is accepted and passed on, for builds where it was opt-in).
 * SHARDKV_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" profiles every daemon (written at stop).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { delay, realClock } from "../common/real-env";
import { LocalCluster } from "../deploy/local/cluster";
import { cpuSecondsOf } from "./cell";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { groups: { type: "string", default: "3" }, seconds: { type: "string", default: "20" }, settle: { type: "string", default: "5" }, quiesce: { type: "boolean", default: false }, "no-quiesce": { type: "boolean", default: false } } });
  const groups = Number(values.groups);
  const dir = mkdtempSync(join(tmpdir(), "idle-probe-"));
  const cluster = await LocalCluster.up({ dir, controllers: 3, groups, replicas: 3, shards: 64, extraArgs: values["no-quiesce"] ? ["--no-quiesce"] : values.quiesce ? ["--quiesce"] : [] });
  try {
    await delay(Number(values.settle) * 1000);
    const names = cluster.nodeNames();
    const before = names.map((n) => cpuSecondsOf(cluster.node(n).pid!) ?? NaN);
    const t0 = realClock.nowMs();
    await delay(Number(values.seconds) * 1000);
    const secs = (realClock.nowMs() - t0) / 1000;
    const cores = names.map((n, i) => ((cpuSecondsOf(cluster.node(n).pid!) ?? NaN) - before[i]!) / secs);
    for (let i = 0; i < names.length; i++) process.stdout.write(`${names[i]}\t${cores[i]!.toFixed(4)}\n`);
    const sum = (prefix: string): number => names.reduce((n, x, i) => (x.startsWith(prefix) ? n + cores[i]! : n), 0);
    process.stdout.write(`total\t${sum("").toFixed(4)}\n`);
    process.stdout.write(JSON.stringify({ groups, quiesce: !values["no-quiesce"], seconds: secs, cores: sum(""), controllers: sum("c"), servers: sum("g") }) + "\n");
  } finally {
    await cluster.down(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
