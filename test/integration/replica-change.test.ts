/**
 * Replica changes of a shard group on real processes (deploy/local/cluster.ts LocalCluster:
 * real daemons, gRPC, RocksDB), driven only by what an operator does: `shardctl replica
 * replace` stores the intent and the group's leader carries it out by itself
 * (raft/replica-driver.ts). One 3-replica group:
 *  - a replica started with --join is in no configuration until the leader adds it; a
 *    replacement by a replica that does not answer (SIGSTOP) waits at catchingUp, saying so;
 *    the leader is killed with -9 there and restarted, the new replica resumed, and the
 *    replacement completes (a new leader resumes from the configuration);
 *  - a replacement of the leader under append load through the client library completes, the
 *    config records the new members, and every acknowledged append is there exactly once; then
 *    another original replica is killed and writes still succeed;
 *  - --join on a data directory that holds a group is refused with one line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { ShardKV } from "../../client/shardkv";
import type { GroupId } from "../../common/ids";
import { groupMembers } from "../../controller/config";
import { LocalCluster, type ShardStatusReply, serverName } from "../../deploy/local/cluster";
import { formatStatus } from "../../deploy/local/format";
import { AppendLoad } from "../lib/append-load";
import { runShardctl } from "../lib/run-cli";
import { waitFor } from "../lib/wait";

const g1 = 1 as GroupId;

describe("replica changes of a real shard group, carried out by its leader from the stored intent", () => {
  let dir: string;
  let cluster: LocalCluster;
  let kv: ShardKV;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-replicas-"));
    cluster = await LocalCluster.up({ dir, shards: 4, controllers: 1, groups: 1, replicas: 3, tickMs: 50 });
    kv = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 30_000 });
  }, 180_000);

  afterAll(async () => {
    kv?.close();
    await cluster?.down().catch(() => undefined);
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`replica-change test logs kept in ${dir}\n`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const shardctl = async (...args: string[]): Promise<string> => {
    const r = await runShardctl(["--controllers", cluster.controllerAddrs().join(","), ...args]);
    expect(r, `shardctl ${args.join(" ")}`).toMatchObject({ code: 0, stderr: "" });
    return r.stdout;
  };

  /** The answering replica of group 1 that leads with the highest term. */
  const leader = async (): Promise<ShardStatusReply> => {
    let best: ShardStatusReply | undefined;
    await waitFor(async () => {
      best = undefined;
      for (const s of cluster.layout.groups[0]!.servers) {
        if (s.pid === null) continue;
        const st = await cluster.serverStatus(s.addr, 1000).catch(() => undefined);
        if (st?.role === "leader" && (!best || Number(st.term) > Number(best.term))) best = st;
      }
      return best !== undefined;
    }, { timeoutMs: 30_000, what: "a leader of group 1" });
    return best!;
  };

  /** Waits until the controller holds no intent for group 1 and its config records `ids` as voters. */
  const waitDone = async (ids: number[], what: string): Promise<void> => {
    const want = [...ids].sort((a, b) => a - b).join(",");
    let last = "";
    await waitFor(async () => {
      const { config, replicas } = await cluster.controller().queryCluster();
      const ms = groupMembers(config, g1);
      last = `intent: ${replicas.intents.get(g1)?.blocked ?? (replicas.intents.has(g1) ? "pending" : "none")}; members ${ms.map((m) => `${m.id}${m.learner ? "L" : ""}`).join(",")}`;
      return !replicas.intents.has(g1) && ms.map((m) => (m.learner ? -1 : m.id)).join(",") === want;
    }, { timeoutMs: 90_000, what }).catch((e: Error) => {
      throw new Error(`${e.message} (last: ${last})`);
    });
  };

  const writeAndRead = async (prefix: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await kv.put(`${prefix}-${i}`, `v${i}`);
    for (let i = 0; i < n; i++) expect(await kv.getString(`${prefix}-${i}`)).toBe(`v${i}`);
  };

  let replacedFirst = 0;

  it("replace: waits at catchingUp for a new replica that does not answer; the leader killed -9 there; completes after the restart", async () => {
    onTestFailed(() => {
      failed = true;
    });
    await writeAndRead("before", 20);
    const added = await cluster.addReplica(1);
    expect(added.id).toBe(4);
    // Joined, not added: no configuration yet, so it is in no one's group.
    expect((await cluster.serverStatus(added.addr, 2000)).members).toEqual([]);
    await cluster.pause(added.name);

    const l = await leader();
    const old = [1, 2, 3].find((i) => i !== Number(l.id))!;
    replacedFirst = old;
    expect(await shardctl("replica", "replace", "1", String(old), `4=${added.addr}`)).toContain(`group 1: stored: replace replica ${old} by 4 at ${added.addr}`);
    await waitFor(async () => {
      const list = await shardctl("replica", "list", "1");
      return list.includes("step: catchingUp\n") && list.includes(`blocked: learner 4 at ${added.addr} has not answered the leader`);
    }, { timeoutMs: 30_000, what: "replica list: step catchingUp, blocked on the learner that does not answer" });
    const learner = (await leader()).members.find((m) => Number(m.id) === 4)!;
    expect([learner.role, learner.address]).toEqual(["learner", added.addr]);

    const leaderName = serverName(1, Number(l.id));
    await cluster.kill(leaderName);
    await cluster.restart(leaderName, { timeoutMs: 30_000 });
    await cluster.resume(added.name);
    await waitDone([1, 2, 3, 4].filter((i) => i !== old), `replica ${old} replaced by 4`);
    const { config } = await cluster.controller().queryCluster();
    expect(groupMembers(config, g1).find((m) => m.id === 4)!.address).toBe(added.addr);
    expect((await leader()).members.map((m) => Number(m.id)).sort()).toEqual([1, 2, 3, 4].filter((i) => i !== old));
    await writeAndRead("after-first", 10);
    await writeAndRead("before", 20);
  }, 240_000);

  it("replace of the leader under append load: completes by itself, every acknowledged append once; another original lost, writes go on", async () => {
    onTestFailed(() => {
      failed = true;
    });
    const load = await AppendLoad.start({ controllers: cluster.controllerAddrs(), clients: 2, keysPerClient: 2, deadlineMs: 15_000 });
    try {
      await load.waitAcks(20, "before the replacement");
      const added = await cluster.addReplica(1);
      expect(added.id).toBe(5);
      const old = Number((await leader()).id);
      await shardctl("replica", "replace", "1", String(old), `5=${added.addr}`);
      const voters = [1, 2, 3, 4, 5].filter((i) => i !== old && i !== replacedFirst);
      await waitDone(voters, `replica ${old} (the leader) replaced by 5`);
      await load.waitAcks(20, "after the replacement");
      await load.stop();
      const check = await load.verify();
      expect(check.acked).toBeGreaterThanOrEqual(40);
      expect(check.otherErrors).toEqual([]);
    } finally {
      load.close();
    }
    // shardkv-local status: each server's member role and lag as its leader sees them.
    await waitFor(async () => {
      const st = await cluster.status();
      const by = new Map(st.nodes.map((n) => [n.name, n]));
      return by.get("g1n5")?.member !== undefined && by.get("g1n5")!.lag !== undefined && by.get(serverName(1, replacedFirst))?.member === undefined &&
        by.get("c1")?.member === "leader" && formatStatus(st).includes(" LAG ");
    }, { timeoutMs: 20_000, what: "status shows member roles and lag (g1n5 a member with a lag, the replaced replica none, c1 the leader)" });

    // Lose the last original: 4 and 5 are a majority of the three voters.
    const { config } = await cluster.controller().queryCluster();
    const original = groupMembers(config, g1).find((m) => m.id <= 3)!.id;
    await cluster.kill(serverName(1, original));
    await writeAndRead("after-kill", 10);
    await writeAndRead("before", 20);
  }, 240_000);

  it("refuses --join on a data directory that holds a group, with one line; nothing changes", async () => {
    onTestFailed(() => {
      failed = true;
    });
    const name = serverName(1, replacedFirst);
    const started = await cluster.restart(name, { args: ["--join"], timeoutMs: 15_000 }).then(() => "started", (e: unknown) => String(e));
    expect(started).not.toBe("started");
    await waitFor(() => /--join: data directory .* already holds a group of replicas \{[\d,]+\}; a replica joins with an empty data directory/.test(cluster.logOf(name)),
      { timeoutMs: 10_000, what: `the refusal in ${name}'s log` });
    await writeAndRead("after-refusal", 5);
  }, 60_000);
});
