/**
 * Real processes, the whole cluster: a controller group of three `shardkv-controller` daemons
 * and three groups of three `shardkv-server` daemons. Several clients of the real client
 * library (client/shardkv.ts ShardKV) append unique tokens `c<k>-<n>;` to their own keys, many
 * operations in flight per client object, while the configuration changes under them:
 *   join 3 -> leave 1 -> join 1 back, and right after that join, kill -9 of every server of a
 *   group that gives shards to group 1 (so the move stalls half-way), then its restart.
 * Afterwards (load stopped, every group at the latest config, every shard Serving or NotOwned):
 *  - every key holds exactly its acknowledged appends, each once, in the order issued; an
 *    unacknowledged (timed-out) append appears at most once, in order with the others;
 *  - every replica holds zero keys and bytes of every shard it does not own (the old owners
 *    deleted what they gave away, also across the kill -9 of a whole group).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GroupId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import type { Config } from "../../controller/config";
import { AppendLoad } from "../lib/append-load";
import { LocalCluster, serverName, shardStateName } from "../../deploy/local/cluster";
import { waitFor } from "../lib/wait";

const shards = 12;
const clientCount = 4;
const keysPerClient = 3;
const g = (n: number) => n as GroupId;

describe("concurrent appends through the client library while groups join, leave and crash", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;
  const loads: AppendLoad[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-appends-"));
    // Groups 1-3 run from the start; the test joins them.
    cluster = await LocalCluster.up({ dir, shards, groups: 3, join: false, tickMs: 50 });
  });

  afterAll(async () => {
    for (const l of loads) l.close();
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`cluster-appends test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it("every key holds exactly its acknowledged appends, once each, in order; old owners hold none of the moved keys", async () => {
    const t0 = realClock.nowMs();
    const phases: string[] = [];
    const mark = (what: string) => phases.push(`${((realClock.nowMs() - t0) / 1000).toFixed(1)}s ${what}`);
    onTestFailed(() => {
      failed = true;
      process.stderr.write(`phases:\n${phases.join("\n")}\n`);
      if (cluster) process.stderr.write(cluster.logTails(40) + "\n");
    });
    const c = cluster!;
    const [a1, a2, a3] = [1, 2, 3].map((gid) => c.groupAddrs(gid));
    await c.controller().join(new Map([[g(1), a1], [g(2), a2]]));
    mark("groups 1, 2 joined");

    /** True when every live replica of `gids` is at the latest config and every shard is Serving (owned) or NotOwned (no Pulling/Handoff/Gc left). */
    const settled = async (gids: readonly number[]): Promise<boolean> => {
      let cfg: Config;
      try {
        cfg = await c.controller().query();
      } catch {
        return false;
      }
      for (const gid of gids) {
        for (const id of c.aliveIds(gid)) {
          const s = await c.replicaStatus(serverName(gid, id));
          if (!s || Number(s.configNum) < cfg.num) return false;
          for (const sh of s.shards) {
            const want = cfg.shards[Number(sh.shard)] === gid ? "serving" : "notOwned";
            if (shardStateName(sh.state) !== want) return false;
          }
        }
      }
      return true;
    };
    const waitSettled = (what: string, timeoutMs = 30000) =>
      waitFor(() => settled([1, 2, 3]), { timeoutMs, what: `config settled ${what}`, intervalMs: 100 });

    // ---- load: each client appends to its own keys; one sequential loop per key, all keys concurrently
    const load = await AppendLoad.start({ controllers: c.controllerAddrs(), clients: clientCount, keysPerClient });
    loads.push(load);
    const waitAcks = (more: number, what: string, timeoutMs = 20000) => load.waitAcks(more, what, timeoutMs);

    try {
      await waitAcks(100, "before any reconfiguration");
      mark(`load running (${load.acked} acked)`);

      await c.controller().join(new Map([[g(3), a3]]));
      mark("join 3");
      await waitAcks(50, "during join 3");
      await waitSettled("after join 3");
      mark("join 3 settled");

      await c.controller().leave([g(1)]);
      mark("leave 1");
      await waitAcks(50, "during leave 1");
      await waitSettled("after leave 1");
      mark("leave 1 settled");

      // Join 1 back and crash, at once, every server of the group giving it the most shards.
      const num = await c.controller().join(new Map([[g(1), a1]]));
      const [prev, cfg] = await Promise.all([c.controller().query(num - 1), c.controller().query(num)]);
      const gained = cfg.shards.map((gid, s) => (gid === 1 ? s : -1)).filter((s) => s >= 0);
      const fromDonor = new Map<number, number[]>();
      for (const s of gained) fromDonor.set(prev.shards[s]!, [...(fromDonor.get(prev.shards[s]!) ?? []), s]);
      const [donor, donated] = [...fromDonor].sort((x, y) => y[1].length - x[1].length)[0]!;
      expect(donor === 2 || donor === 3).toBe(true);
      await Promise.all(c.nodesOf(donor).map((n) => c.kill(n)));
      mark(`join 1 (config ${num}, gains shards ${gained.join(",")}); killed -9 all of group ${donor} (donating ${donated.join(",")})`);
      // The move is stuck half-way: group 1 has the new config and waits for the dead donor's shards.
      await waitFor(async () => {
        const s = await c.replicaStatus(serverName(1, await c.waitLeader(1)));
        return s !== undefined && Number(s.configNum) >= num &&
          donated.some((sh) => shardStateName(s.shards[sh]!.state) === "pulling");
      }, { timeoutMs: 15000, what: `group 1 at config ${num} pulling a shard from dead group ${donor}`, intervalMs: 50 });
      mark("group 1 pulling from the dead donor");
      // Shards of live groups keep serving meanwhile.
      await waitAcks(30, `while group ${donor} is down`);
      mark(`${load.acked} acked while group ${donor} is down`);
      await Promise.all(c.nodesOf(donor).map((n) => c.restart(n)));
      mark(`group ${donor} restarted`);
      await waitAcks(50, `after group ${donor}'s restart`);
      await waitSettled(`after group ${donor}'s restart`, 45000);
      mark("join 1 settled");
    } finally {
      await load.stop();
    }
    mark(`load stopped: ${load.acked} acked, ${load.timedOut} timed out, ${load.otherErrors.length} other errors`);
    await waitSettled("at the end");
    const final = await c.controller().query();
    mark(`settled at config ${final.num}`);

    // ---- every replica holds no keys of a shard it does not own
    for (const gid of [1, 2, 3]) {
      for (const name of c.nodesOf(gid)) {
        const s = await c.replicaStatus(name);
        expect(s, `status of ${name}`).toBeDefined();
        for (const sh of s!.shards) {
          if (final.shards[Number(sh.shard)] === gid) continue;
          expect({ name, shard: sh.shard, keys: Number(sh.keys), bytes: Number(sh.bytes) })
            .toEqual({ name, shard: sh.shard, keys: 0, bytes: 0 });
        }
      }
    }

    // ---- every key holds exactly its acknowledged appends, once each, in order
    const check = await load.verify();
    expect(check.acked).toBeGreaterThan(200);
    mark(`checked ${check.keys} keys: ${check.acked} acked appends present; ${check.unackedApplied} of ${check.unacked} unacknowledged applied`);
    process.stderr.write(`cluster-appends phases:\n${phases.join("\n")}\n${check.otherErrors.length ? `other errors: ${check.otherErrors.slice(0, 5).join(" | ")}\n` : ""}`);
  }, 150_000);
});
