/**
 * Real processes: three Raft replicas as OS processes over gRPC with RocksDB directories.
 * Commits proposals, kill -9s the leader, checks a new leader commits, restarts the killed
 * replica and checks it catches up (by snapshot: the survivors compact past its log) with
 * every acknowledged entry intact. Also measures pipelined commit throughput.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { RaftDemoCluster } from "../../deploy/raft-demo/cluster";
import { realClock } from "../../common/real-env";
import { waitFor } from "../lib/wait";

describe("three Raft processes", () => {
  let dir: string;
  let c: RaftDemoCluster;
  const acked = new Map<string, number>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-raft-proc-"));
    c = await RaftDemoCluster.start({ dir, snapshotEvery: 500 });
  });
  afterAll(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Proposes `n` unique values with `concurrency` in flight; records acknowledged ones. */
  async function load(prefix: string, n: number, concurrency: number): Promise<number> {
    const t0 = realClock.nowMs();
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const v = `${prefix}-${next++}`;
        const { index } = await c.propose(v);
        acked.set(v, index);
      }
    }));
    return n / ((realClock.nowMs() - t0) / 1000);
  }

  it("commits, survives a leader kill -9, and the restarted replica catches up", async () => {
    const leader = await c.waitForLeader();
    await load("warm", 50, 8);
    const perSec = await load("tput", 2000, 64);
    process.stdout.write(`raft-processes: ${Math.round(perSec)} entries/s committed (3 processes, 64 in flight, synced RocksDB, ${cpus().length} cores)\n`);
    expect(perSec).toBeGreaterThan(0);

    const lastIndexBeforeKill = Math.max(...acked.values());
    await c.kill(leader);
    const next = await c.waitForLeader();
    expect(next).not.toBe(leader);
    // Enough entries that the survivors snapshot and compact past the dead replica's log.
    await load("after-kill", 1200, 32);
    // The survivors compacted past everything the dead replica can have: it cannot catch up
    // from the log, only by InstallSnapshot.
    await waitFor(async () => (await c.status(next)).firstIndex > lastIndexBeforeKill + 1, {
      timeoutMs: 10000, what: "the survivors to compact past the dead replica's log",
    });

    await c.restart(leader);
    const leaderValues = await c.values(next);
    await waitFor(async () => (await c.status(leader)).applied >= leaderValues[leaderValues.length - 1]![0], {
      timeoutMs: 30000, what: `replica ${leader} to catch up`,
    });
    const all = await Promise.all([1, 2, 3].map((id) => c.values(id)));
    // Every replica applied the same sequence...
    const expected = JSON.stringify(all[0]!.slice(0, leaderValues.length));
    for (const vs of all) expect(JSON.stringify(vs.slice(0, leaderValues.length))).toBe(expected);
    // ...containing every acknowledged entry at the index it was acknowledged at.
    const byIndex = new Map(all[0]!.map(([i, v]) => [i, v]));
    for (const [v, index] of acked) expect(byIndex.get(index)).toBe(v);
    // The restarted replica came back by snapshot: its snapshot is past its old log's end.
    const restarted = await c.status(leader);
    expect(restarted.snapshotIndex).toBeGreaterThan(lastIndexBeforeKill);
  });
});
