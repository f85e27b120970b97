/**
 * Measures how long replacing a replica takes when its group holds N MiB, with real processes
 * (deploy/local/cluster.ts): 3 controllers, one group of 3 replicas, 8 shards; N MiB of
 * 256 KiB values written through the client library (8 at once); then replica g1n1 is killed
 * with SIGKILL and its data directory deleted (a lost disk), and `replaceReplica("g1n1")` (what
 * `shardkv-local replace g1n1` runs) starts g1n4 with an empty directory and waits until the
 * group's leader has carried the replacement out and the controller has the new members.
 * Reports the seconds until each step was first seen (catchingUp: g1n4 is a learner; joint;
 * done), the new replica's key count and its peak RSS (VmHWM).
 *
 *   npx tsx test/perf/measure-replace.ts [--mb 100]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitUsage, flag, parseCommandLine, UsageError } from "../../common/cli-args";
import { realClock } from "../../common/real-env";
import { ShardKV } from "../../client/shardkv";
import { LocalCluster } from "../../deploy/local/cluster";

const VALUE_BYTES = 256 * 1024;
const CONCURRENCY = 8;
const usageText = "usage: npx tsx test/perf/measure-replace.ts [--mb N]  (MiB the group holds, default 100)\n";
const log = (m: string): void => void process.stderr.write(`[measure] ${m}\n`);

function peakRssMiB(pid: number | null): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  let mb: number;
  try {
    const cl = parseCommandLine(process.argv.slice(2), { mb: flag.int(1, 1_000_000) }, { positionals: 0 });
    if (cl.help) {
      process.stdout.write(usageText);
      return;
    }
    mb = cl.values.mb ?? 100;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`measure-replace: ${e.message} (--help for usage)\n`);
    process.exitCode = exitUsage;
    return;
  }
  const keyCount = Math.ceil((mb * 1024 * 1024) / VALUE_BYTES);
  const dir = mkdtempSync(join(tmpdir(), "shardkv-measure-replace-"));
  log(`dir ${dir}; ${mb} MiB = ${keyCount} keys of ${VALUE_BYTES} bytes in group 1`);
  let t0: number | undefined;
  const at = (): string => (t0 === undefined ? "" : `${((realClock.nowMs() - t0) / 1000).toFixed(1)} s: `);
  const c = await LocalCluster.up({ dir, shards: 8, controllers: 3, groups: 1, replicas: 3, tickMs: 50, log: (l) => t0 !== undefined && log(`${at()}${l}`) });
  let ok = false;
  try {
    const kv = await ShardKV.connect({ controllers: c.controllerAddrs(), deadlineMs: 60_000 });
    const value = Buffer.alloc(VALUE_BYTES, 7);
    const tw = realClock.nowMs();
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < keyCount) await kv.put(`big-${next++}`, value);
    }));
    kv.close();
    log(`wrote ${mb} MiB in ${((realClock.nowMs() - tw) / 1000).toFixed(1)} s`);

    const old = c.node("g1n1");
    await c.kill("g1n1");
    rmSync(old.dataDir, { recursive: true, force: true });
    t0 = realClock.nowMs();
    const seen: Record<string, number> = {};
    const r = await c.replaceReplica("g1n1", {
      timeoutMs: 600_000,
      onProgress: (p) => {
        if (p.step && seen[p.step] === undefined) seen[p.step] = (realClock.nowMs() - t0!) / 1000;
        log(`${at()}${p.step ?? "-"}${p.blocked ? ` (blocked: ${p.blocked})` : ""}`);
      },
    });
    const total = (realClock.nowMs() - t0) / 1000;
    t0 = undefined;
    const st = await c.replicaStatus(r.added, 5000);
    const keys = st?.shards.reduce((n, s) => n + Number(s.keys), 0);
    const rss = peakRssMiB(c.node(r.added).pid);
    const steps = Object.entries(seen).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ");
    process.stdout.write(`replace of a replica holding ${mb} MiB (${keyCount} keys): ${total.toFixed(1)} s total; steps first seen: ${steps}; ` +
      `${r.added} holds ${keys} keys, peak RSS ${rss} MiB\n`);
    ok = true;
  } finally {
    await c.down(2000);
    if (ok) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

void main();
