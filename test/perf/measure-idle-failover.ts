/**
 * Failover of an idle group's leader (docs/benchmarks.md, "The cost of many groups"): a fresh
 * cluster of 3 controllers and one group of 3 replicas (64 shards, no TLS, no metrics), left
 * idle 5 s (with quiescence on, the group is quiesced by then), then its leader killed with
 * SIGKILL; prints the ms until another replica reports itself leader (LocalCluster.status,
 * polled every 50 ms), as one JSON line. `--no-quiesce` passes --no-quiesce to every daemon (quiescence is on by default).
 *
 *   npx tsx test/perf/measure-idle-failover.ts [--no-quiesce]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { delay, realClock } from "../../common/real-env";
import { LocalCluster } from "../../deploy/local/cluster";

async function main(): Promise<void> {
  const off = process.argv.includes("--no-quiesce");
  const dir = mkdtempSync(join(tmpdir(), "idle-failover-"));
  const cluster = await LocalCluster.up({ dir, controllers: 3, groups: 1, replicas: 3, shards: 64, metrics: false, extraArgs: off ? ["--no-quiesce"] : [] });
  try {
    await delay(5000);
    const leaderOf = async () => (await cluster.status()).nodes.find((n) => n.kind === "server" && n.state === "up" && n.role === "leader");
    const old = await leaderOf();
    if (old?.pid == null) throw new Error("no group leader found");
    process.kill(old.pid, "SIGKILL");
    const t0 = realClock.nowMs();
    for (;;) {
      const n = await leaderOf();
      if (n !== undefined && n.name !== old.name) {
        process.stdout.write(JSON.stringify({ quiesce: !off, killed: old.name, leader: n.name, ms: Math.round(realClock.nowMs() - t0) }) + "\n");
        return;
      }
      if (realClock.nowMs() - t0 > 30_000) throw new Error("no new leader within 30 s");
      await delay(50);
    }
  } finally {
    await cluster.down(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
