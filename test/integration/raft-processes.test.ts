/**
 * Real processes: the Raft log of three `shardkv-controller` daemons (the production Raft
 * stack: RocksDB log store, gRPC transport, RaftNode, a state machine with snapshots),
 * started by the launcher (deploy/local/cluster.ts, controllers only, a snapshot every 500
 * entries). Every change is one log entry that makes one config, so what was acknowledged
 * is known exactly: each worker (its own admin client) moves its own shard back and forth
 * between groups 1 and 2 and records the config number each move was acknowledged with.
 * Commits, kill -9s the leader, checks a new leader commits, restarts the killed replica and
 * checks it catches up (by snapshot: the survivors compact past its log) with every
 * acknowledged change intact, at the config it was acknowledged with, on every replica.
 * Also measures pipelined commit throughput.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { GroupId, ShardId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { ControllerClient } from "../../controller/client";
import { controllerName, LocalCluster } from "../../deploy/local/cluster";
import { watchHistory } from "../lib/controller-history";
import { waitFor } from "../lib/wait";

const shards = 64;
const workersMax = 64;

describe("three Raft processes (the controllers' log)", () => {
  let dir: string;
  let c: LocalCluster;
  let failed = false;
  /** One admin client per worker: a client's changes run one at a time. */
  const clients: ControllerClient[] = [];
  /** Config number -> the move acknowledged with it. */
  const acked = new Map<number, { shard: number; gid: number }>();
  /** Worker w's shard w: the group it was last moved to. */
  const owner: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-raft-proc-"));
    c = await LocalCluster.up({ dir, shards, groups: 0, tickMs: 50, controllerArgs: ["--snapshot-every", "500"] });
    for (let w = 0; w < workersMax; w++) clients.push(new ControllerClient({ ...c.controllerOptions(), deadlineMs: 20000 }));
    // Two groups whose servers never run (--force: no join check), acknowledged as their
    // leaders would, so moves between them never wait for a pending join.
    const admin = clients[0]!;
    const num = await admin.join(new Map([[1 as GroupId, ["127.0.0.1:1"]], [2 as GroupId, ["127.0.0.1:2"]]]), { force: true });
    for (const gid of [1, 2]) await admin.ackJoin(gid as GroupId, num);
    const cfg = await admin.query(num);
    for (let s = 0; s < shards; s++) owner.push(cfg.shards[s]!);
  });
  afterAll(async () => {
    for (const cl of clients) cl.close();
    await c?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`raft-processes logs kept in ${dir}\n${c?.logTails(30) ?? ""}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  /** Makes `n` changes with `concurrency` in flight (worker w moves shard w); records each acknowledged one. */
  async function load(n: number, concurrency: number): Promise<number> {
    const t0 = realClock.nowMs();
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      while (next < n) {
        next++;
        const gid = owner[w] === 1 ? 2 : 1;
        const num = await clients[w]!.move(w as ShardId, gid as GroupId);
        expect(acked.has(num), `config ${num} acknowledged twice`).toBe(false);
        acked.set(num, { shard: w, gid });
        owner[w] = gid;
      }
    }));
    return n / ((realClock.nowMs() - t0) / 1000);
  }

  const status = async (id: number) => {
    const s = await c.controllerStatus(controllerName(id), 2000);
    if (!s) throw new Error(`controller ${id} does not answer Status`);
    return { firstIndex: Number(s.firstIndex), snapshotIndex: Number(s.snapshotIndex), commitIndex: Number(s.commitIndex), latestConfigNum: Number(s.latestConfigNum) };
  };

  it("commits, survives a leader kill -9, and the restarted replica catches up", { timeout: 180_000 }, async () => {
    onTestFailed(() => {
      failed = true;
    });
    const leader = await c.waitLeader("controllers");
    await load(50, 8);
    const perSec = await load(2000, workersMax);
    process.stdout.write(`raft-processes: ${Math.round(perSec)} entries/s committed (3 controller processes, ${workersMax} in flight, synced RocksDB, ${cpus().length} cores)\n`);
    expect(perSec).toBeGreaterThan(0);

    // Nothing is in flight: the leader's commit index covers every entry the killed replica can hold.
    const lastIndexBeforeKill = (await status(leader)).commitIndex;
    await c.kill(controllerName(leader));
    const next = await c.waitLeader("controllers");
    expect(next).not.toBe(leader);
    // Enough entries that the survivors snapshot and compact past the dead replica's log.
    await load(1200, 32);
    // The survivors compacted past everything the dead replica can have: it cannot catch up
    // from the log, only by InstallSnapshot.
    await waitFor(async () => (await status(next)).firstIndex > lastIndexBeforeKill + 1, {
      timeoutMs: 10000, what: "the survivors to compact past the dead replica's log",
    });

    await c.restart(controllerName(leader));
    const latest = (await status(next)).latestConfigNum;
    // Every acknowledged change made exactly one config: the join, then one per move.
    expect(latest).toBe(1 + acked.size);
    await waitFor(async () => (await status(leader)).latestConfigNum >= latest, { timeoutMs: 30000, what: `replica ${leader} to catch up` });
    const histories = await Promise.all([1, 2, 3].map((id) => watchHistory(c.node(controllerName(id)).addr, latest, 30000)));
    // Every replica applied the same sequence...
    const expected = JSON.stringify(histories[0]!.map((cfg) => [cfg.num, cfg.shards]));
    for (const h of histories) expect(JSON.stringify(h.map((cfg) => [cfg.num, cfg.shards]))).toBe(expected);
    expect(histories[0]!.map((cfg) => cfg.num)).toEqual(Array.from({ length: latest + 1 }, (_, i) => i));
    // ...containing every acknowledged change at the config it was acknowledged with.
    for (const [num, { shard, gid }] of acked) expect(histories[0]![num]!.shards[shard], `config ${num}`).toBe(gid);
    // The restarted replica came back by snapshot: its snapshot is past its old log's end.
    expect((await status(leader)).snapshotIndex).toBeGreaterThan(lastIndexBeforeKill);
    // Nothing crashed on its own: the only exit was our kill -9.
    expect(c.exits(controllerName(leader))).toEqual(["signal SIGKILL"]);
    for (const id of [1, 2, 3].filter((x) => x !== leader)) expect(c.exits(controllerName(id))).toEqual([]);
  });
});
