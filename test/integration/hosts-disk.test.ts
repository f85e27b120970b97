/**
 * Disk faults on the test hosts (deploy/hosts/disk.ts): 3 controllers and one group of 3
 * whose replicas keep their data on lazyfs (`up --disk-faults servers`), under a load of
 * appends and reads from the client host (test/lib/hosts-load.ts). A follower, then the
 * leader, loses every write it had not fsynced (SIGKILL, the unsynced writes dropped below
 * the process, restart on what was synced): after each, the group keeps taking appends and
 * the replica catches up (its applied index reaches the leader's as it was once the replica
 * was back). At the end every acknowledged append is present exactly once and in order, no
 * read missed an append acknowledged before it began, and `down` leaves no namespace, lazyfs
 * mount or lazyfs process. Needs root and /dev/fuse, like lazyfs.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realClock } from "../../common/real-env";
import { readClusterFile } from "../../deploy/local/layout";
import { ensureLazyfs, lazyfsPids, lazyMounts } from "../../deploy/hosts/disk";
import { execIn, hostsDown, hostsTools, hostsUp, leaderOf, loseUnsyncedWrites } from "../../deploy/hosts/harness";
import { type HostsFile, readHostsFile } from "../../deploy/hosts/hosts-file";
import { ensureTools, listNamespaces, requireRoot } from "../../deploy/hosts/net";
import { type HostsLoad, startHostsLoad } from "../lib/hosts-load";
import { waitFor } from "../lib/wait";

const dir = mkdtempSync(join(tmpdir(), "shardkv-hosts-disk-"));
let h: HostsFile | undefined;
let load: HostsLoad | undefined;
let passed = false;
const t0 = realClock.nowMs();
const phase = (what: string): void => console.log(`[hosts-disk] ${Math.round(realClock.nowMs() - t0)} ms: ${what}`);

/** A server's Raft gauges from its /metrics, fetched on the control host; undefined when it does not answer. */
async function raftGauges(node: string): Promise<{ leader: boolean; term: number; applied: number } | undefined> {
  const entry = readClusterFile(dir)!.groups.flatMap((g) => g.servers.map((x) => ({ name: `g${g.gid}n${x.id}`, x }))).find((e) => e.name === node)?.x;
  if (!entry?.metrics) return undefined;
  const r = await execIn(dir, "ctl", ["curl", "-sf", "--max-time", "20", `http://${entry.metrics}/metrics`], { timeoutMs: 30_000 });
  const v = (name: string): number | undefined => {
    const m = new RegExp(`^shardkv_raft_${name}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(r.stdout);
    return m ? Number(m[1]) : undefined;
  };
  const [leader, term, applied] = [v("is_leader"), v("term"), v("applied_index")];
  return r.code === 0 && leader !== undefined && term !== undefined && applied !== undefined ? { leader: leader === 1, term, applied } : undefined;
}

/**
 * Waits until `node`'s applied index reaches the group leader's applied index as it was once
 * `node` answered again (the leader: the server reporting itself leader in the highest term).
 * From the servers' /metrics: their Status (1 s deadline) does not answer in time on this
 * loaded machine while the load runs.
 */
async function catchesUp(node: string): Promise<void> {
  let target: number | undefined;
  let seen = "no metrics yet";
  await waitFor(async () => {
    const gs = await Promise.all(["g1n1", "g1n2", "g1n3"].map(async (n) => ({ n, g: await raftGauges(n) })));
    const leader = gs.filter((x) => x.g?.leader).sort((a, b) => b.g!.term - a.g!.term)[0];
    const me = gs.find((x) => x.n === node)?.g;
    if (target === undefined && leader && me) target = leader.g!.applied;
    seen = gs.map((x) => `${x.n} ${x.g ? `${x.g.leader ? "leader" : "-"} t${x.g.term} applied ${x.g.applied}` : "no answer"}`).join(", ") + `; target ${target}`;
    return target !== undefined && me !== undefined && me.applied >= target;
  }, { timeoutMs: 180_000, what: `${node}'s applied index to reach the leader's`, intervalMs: 250 }).catch((e: Error) => {
    throw new Error(`${e.message}; last seen: ${seen}`);
  });
}

describe("replicas that lose their unsynced writes", () => {
  beforeAll(async () => {
    requireRoot();
    ensureTools(hostsTools);
    ensureLazyfs();
    h = await hostsUp({ dir, controllers: 3, groups: 1, replicas: 3, clients: 1, shards: 4, tickMs: 50, timeoutMs: 90_000, diskFaults: "servers" });
    expect(lazyMounts().filter((m) => m.run === h!.run).map((m) => m.node).sort()).toEqual(["g1n1", "g1n2", "g1n3"]);
    phase(`run ${h.run} up, the replicas on lazyfs`);
  }, 150_000);

  afterAll(async () => {
    load?.kill();
    if (readHostsFile(dir)) await hostsDown(dir, 0);
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`[hosts-disk] kept ${dir} (logs/ has every daemon's log, disk/ the lazyfs reports)`);
  }, 60_000);

  it("loses nothing acknowledged when a follower and then the leader lose unsynced writes", async () => {
    load = await startHostsLoad(dir, "cl1", "d");
    await load.waitAcks(20, "before the faults");
    phase(`load running: ${JSON.stringify(load.progress())}`);

    for (const which of ["follower", "leader"] as const) {
      const leader = await leaderOf(dir, 1);
      const node = which === "leader" ? leader : ["g1n1", "g1n2", "g1n3"].find((n) => n !== leader)!;
      const lost = await loseUnsyncedWrites(dir, node);
      expect(lost.killed).toBe(true);
      // Under appends the state machine's writes (sync: false) are always behind its last sync.
      expect(lost.bytes, `${node} had no unsynced writes to lose`).toBeGreaterThan(0);
      phase(`${which} ${node} lost ${lost.bytes} unsynced bytes of ${lost.files.length} files (${lost.files.map((f) => f.path).join(" ")}), restarted`);
      await load.waitAcks(20, `after ${node} lost its unsynced writes`, 180_000);
      await catchesUp(node);
      phase(`${node} caught up; load ${JSON.stringify(load.progress())}`);
    }

    const result = await load.stop();
    load = undefined;
    expect(result.acked).toBeGreaterThan(40);
    expect(result.reads).toBeGreaterThan(0);
    phase(`checks passed: ${JSON.stringify(result)}`);

    const run = h!;
    const down = await hostsDown(dir, 2000);
    expect(down.mounts.length).toBe(3);
    expect(listNamespaces().filter((n) => n.startsWith(run.prefix))).toEqual([]);
    expect(lazyMounts().filter((m) => m.run === run.run)).toEqual([]);
    expect(["g1n1", "g1n2", "g1n3"].flatMap((n) => lazyfsPids(join(dir, "data", n)))).toEqual([]);
    passed = true;
  }, 600_000);
});
