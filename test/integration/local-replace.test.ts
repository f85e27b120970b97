/**
 * `bin/shardkv-local replace | add-replica | remove-replica` on real processes (3 controllers,
 * one group of 3; deploy/local/cluster.ts LocalCluster), under append load through the client
 * library (test/lib/append-load.ts):
 *  - a replica is killed with SIGKILL and its data directory taken away (a lost disk); with the
 *    group held below a majority (another replica killed), `replace` stores the change and
 *    gives up at its --timeout
 *    saying it stays stored and how to cancel it; other changes are refused by the controller
 *    with its one line and change nothing (a replica started for a refused change is stopped
 *    and forgotten); the killed replica restarts although cluster.json names a member its
 *    configuration does not hold yet; `replace` again waits for the stored change and finishes
 *    it: cluster.json and the controller's config name the new members;
 *  - a remaining original restarts with --peers naming the new members, another original is
 *    killed, and writes still succeed; the replaced replica started again with its old data
 *    and its old command line changes nothing; every acknowledged append is there exactly once;
 *  - a controller replica is replaced the same way, and the controllers keep a leader with
 *    an original of them killed;
 *  - `remove-replica` removes the killed original, `add-replica` adds a voter in its place
 *    (learner, then promoted).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { ControllerClient } from "../../controller/client";
import { groupMembers } from "../../controller/config";
import type { GroupId } from "../../common/ids";
import { LocalCluster } from "../../deploy/local/cluster";
import { repoRoot, spawnDaemon, stopNode } from "../../deploy/local/process";
import { AppendLoad } from "../lib/append-load";
import { pidsMentioning, runCommand, type CommandRun } from "../lib/run-command";
import { waitFor } from "../lib/wait";

const localBin = join(repoRoot, "bin", "shardkv-local");

describe("shardkv-local replace on a real cluster under load", () => {
  let dir: string;
  let cluster: LocalCluster;
  let load: AppendLoad | undefined;
  let failed = false;

  const local = (...args: string[]): Promise<CommandRun> => runCommand(localBin, [...args, "--dir", dir], { timeoutMs: 240_000 });
  /** On a failure: the logs' tails on stderr, the directory kept. */
  const keepLogsOnFailure = (): void => onTestFailed(() => {
    failed = true;
    process.stderr.write(cluster.logTails(30));
  });
  /** Runs shardkv-local until its output has `line`, then sends it SIGINT (Ctrl-C); resolves when it exits. */
  const localUntil = (args: string[], line: string): Promise<CommandRun> => new Promise((resolve, reject) => {
    const p = spawn(localBin, [...args, "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      if (stdout.includes(line)) p.kill("SIGINT");
    });
    p.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    p.once("error", reject);
    p.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  const ids = (of: "controllers" | number): number[] => (of === "controllers" ? cluster.layout.controllers : cluster.layout.groups[0]!.servers).map((n) => n.id);
  const configMembers = async (): Promise<string> => {
    const c = new ControllerClient(cluster.controllerOptions());
    try {
      const { config } = await c.queryCluster();
      return groupMembers(config, 1 as GroupId).map((m) => `${m.id}${m.learner ? "L" : ""}`).join(",");
    } finally {
      c.close();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-local-replace-"));
    cluster = await LocalCluster.up({ dir, shards: 4, controllers: 3, groups: 1, replicas: 3, tickMs: 50 });
    load = await AppendLoad.start({ controllers: cluster.controllerAddrs(), clients: 2, keysPerClient: 3, deadlineMs: 5000 });
  }, 180_000);

  afterAll(async () => {
    load?.close();
    await cluster?.down().catch(() => undefined);
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`local-replace test logs kept in ${dir}\n`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("replaces a lost shard replica; refusals and a deadline leave everything as it was", async () => {
    keepLogsOnFailure();
    await load!.waitAcks(30, "before any fault");
    const old = cluster.node("g1n1");
    const oldArgv = readFileSync(`/proc/${old.pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "");
    await cluster.kill("g1n1");
    const kept = join(dir, "g1n1-old-data");
    renameSync(old.dataDir, kept);

    // Group 1 below a majority (g1n1 gone, g1n3 down): the change is stored, and waits.
    await cluster.kill("g1n3");
    const first = await local("replace", "g1n1", "--timeout", "3s");
    expect(first.code, first.stderr).toBe(3);
    expect(first.stdout, first.stderr).toContain("stored in the controller: group 1: replace replica 1 by 4 at ");
    expect(first.stderr.trim().split("\n")).toHaveLength(1);
    expect(first.stderr).toMatch(/^shardkv-local replace: timed out after \d+ms waiting for group 1 to replace replica 1 by 4 at .*; the change stays stored .* replica cancel 1` drops it\n$/);
    const layout = JSON.stringify(cluster.layout);
    expect(ids(1)).toEqual([1, 2, 3, 4]);

    // Refused by the controller (one pending change per group): one line, nothing changed.
    for (const args of [["remove-replica", "g1n2"], ["add-replica", "1"]]) {
      const r = await local(...args);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^shardkv-local \S+: invalid gid: group 1 already has a pending replica change \(replace replica 1 by 4 at .*\); wait for it or cancel it with shardctl replica cancel 1\n$/);
      expect(JSON.stringify(cluster.layout)).toBe(layout);
    }
    expect(existsSync(join(dir, "data", "g1n5")), "the refused add-replica's data directory").toBe(false);
    // Bad names: one line each.
    for (const [args, line] of [
      [["replace", "g1n9"], /^shardkv-local replace: unknown node "g1n9"; nodes: c1 c2 c3 g1n1 g1n2 g1n3 g1n4\n$/],
      [["add-replica", "7"], /^shardkv-local add-replica: no group 7 \(groups: 1\)\n$/],
      [["replace", "x1"], /^shardkv-local replace: unknown node "x1"; /],
    ] as const) {
      const r = await local(...args);
      expect([r.code, r.stderr]).toEqual([3, expect.stringMatching(line)]);
    }

    // Ctrl-C while it waits for the stored change: exit 130, the change stays stored.
    const interrupted = await localUntil(["replace", "g1n1"], "already holds this replacement (by g1n4); waiting for it");
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toMatch(/^shardkv-local replace: interrupted; .* `shardctl --controllers \S+ replica cancel 1` drops it\n$/);
    expect(JSON.stringify(cluster.layout)).toBe(layout);

    // g1n3 still holds the configuration {1,2,3}, and cluster.json lists g1n4 too: its restart
    // is refused that --peers and started again with the members it holds.
    const restarted = await local("restart", "g1n3");
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(restarted.stdout).toContain("g1n3 holds an older configuration of its group (replicas {1,2,3}); starting it with --peers 1=");
    // The group can progress again: `replace` finds the stored change and waits for it.
    const second = await local("replace", "g1n1");
    expect(second.code, second.stderr).toBe(0);
    // The group's leader may have finished it before this command asked.
    expect(second.stdout).toMatch(/group 1 already (holds this replacement \(by g1n4\); waiting for it|carried out this replacement \(by g1n4\))/);
    expect(second.stdout).toMatch(/replaced g1n1 by g1n4 in \d+ ms/);
    expect(ids(1)).toEqual([2, 3, 4]);
    expect(await configMembers()).toBe("2,3,4");
    await load!.waitAcks(30, "after the replace");

    // An original restarts with --peers naming the current members, and another is lost.
    await cluster.restart("g1n3", { timeoutMs: 30_000 });
    await cluster.kill("g1n2");
    await load!.waitAcks(30, "with g1n2 killed (g1n3 and g1n4 of {2,3,4} run)");
    await waitFor(async () => (await cluster.status()).nodes.find((n) => n.name === "g1n4")?.member !== undefined,
      { timeoutMs: 20_000, what: "status shows g1n4's role" });

    // The replaced replica comes back with its old data and its old command line: not heard.
    renameSync(kept, old.dataDir);
    const back = spawnDaemon({ kind: "server", args: oldArgv.slice(oldArgv.findIndex((a) => a === "--gid")), logFile: old.log, env: {} });
    try {
      await load!.waitAcks(30, "with the replaced replica back");
      expect(await configMembers()).toBe("2,3,4");
      expect((await cluster.replicaStatus("g1n4"))?.members.map((m) => Number(m.id)).sort()).toEqual([2, 3, 4]);
    } finally {
      await stopNode(back, old.dataDir, 0);
    }
    await load!.stop();
    const check = await load!.verify(cluster.controllerAddrs());
    expect(check.acked).toBeGreaterThan(100);
    expect(check.otherErrors).toEqual([]);
  }, 300_000);

  it("replaces a controller replica", async () => {
    keepLogsOnFailure();
    const r = await local("replace", "c3");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/replaced c3 by c4 in \d+ ms/);
    expect(ids("controllers")).toEqual([1, 2, 4]);
    expect(cluster.nodeNames()).not.toContain("c3");
    expect(pidsMentioning(join(dir, "data", "c3")), "c3 stopped").toEqual([]);
    // c1 lost: c2 and c4 are a majority of {1,2,4}; the controllers still answer.
    await cluster.kill("c1");
    await cluster.waitLeader("controllers", 30_000);
    const c = new ControllerClient({ ...cluster.controllerOptions(), deadlineMs: 20_000 });
    try {
      const { replicas } = await c.queryCluster();
      expect(replicas.controllers.map((m) => m.id)).toEqual([1, 2, 4]);
    } finally {
      c.close();
    }
  }, 180_000);

  it("removes the lost replica and adds a voter in its place", async () => {
    keepLogsOnFailure();
    // g1n2 (killed above) is removed: a change completes once every remaining member applied it.
    const removed = await local("remove-replica", "g1n2");
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/removed g1n2 in \d+ ms/);
    expect(ids(1)).toEqual([3, 4]);
    expect(await configMembers()).toBe("3,4");
    expect(existsSync(join(dir, "data", "g1n2")), "g1n2's data directory stays").toBe(true);
    const added = await local("add-replica", "1");
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/added g1n5 \(127\.0\.0\.1:\d+\) as a voter in \d+ ms/);
    expect(ids(1)).toEqual([3, 4, 5]);
    expect(await configMembers()).toBe("3,4,5");
    expect(pidsMentioning(join(dir, "data", "g1n2")), "g1n2 not running").toEqual([]);
  }, 180_000);
});
