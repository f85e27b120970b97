/**
 * Replica changes on real processes (deploy/local/cluster.ts LocalCluster: real daemons, gRPC,
 * RocksDB): one 3-replica shard group; a 4th replica starts with --join and serves nothing
 * until the leader adds it; the leader's executor (driven through the test-only ReplicaAdmin
 * service, raft/transport/replica-admin.ts) adds it as a learner at its address, promotes it,
 * removes an original; another original is killed and writes through the client library
 * still succeed (the group is {2,3,4} and two of them run); the removed replica restarted
 * with its old data changes nothing; --join on a directory that holds a group is refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { NotLeaderError, RetryLaterError, StoppedError } from "../../common/errors";
import type { NodeId } from "../../common/ids";
import type { ReplicaChange } from "../../common/replica-change";
import { ShardKV } from "../../client/shardkv";
import { LocalCluster, type ShardStatusReply } from "../../deploy/local/cluster";
import { ReplicaAdminClient } from "../../raft/transport/replica-admin";
import { formatStatus } from "../../deploy/local/format";
import { waitFor } from "../lib/wait";

describe("replica changes on a real shard group", () => {
  let dir: string;
  let cluster: LocalCluster;
  let kv: ShardKV;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-replicas-"));
    cluster = await LocalCluster.up({ dir, shards: 4, controllers: 1, groups: 1, replicas: 3, tickMs: 50, serverArgs: ["--failpoints", "on"] });
    kv = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 30_000 });
  }, 180_000);

  afterAll(async () => {
    kv?.close();
    await cluster?.down().catch(() => undefined);
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`replica-change test logs kept in ${dir}\n`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Status of every running replica of group 1 that answers. */
  const statuses = async (): Promise<ShardStatusReply[]> => {
    const out: ShardStatusReply[] = [];
    for (const s of cluster.layout.groups[0]!.servers) {
      if (s.pid === null) continue;
      const st = await cluster.serverStatus(s.addr, 1000).catch(() => undefined);
      if (st) out.push(st);
    }
    return out;
  };

  /** The answering replica that leads with the highest term. */
  const leader = async (): Promise<ShardStatusReply> => {
    let best: ShardStatusReply | undefined;
    await waitFor(async () => {
      best = undefined;
      for (const st of await statuses()) if (st.role === "leader" && (!best || Number(st.term) > Number(best.term))) best = st;
      return best !== undefined;
    }, { timeoutMs: 30_000, what: "a leader of group 1" });
    return best!;
  };

  const addrOf = (id: number): string => cluster.layout.groups[0]!.servers.find((s) => s.id === id)!.addr;

  /** Runs `change` on the group's leader, again on the next leader when leadership moves. */
  const change = async (c: ReplicaChange): Promise<number> => {
    for (let attempt = 0; ; attempt++) {
      const l = await leader();
      const admin = new ReplicaAdminClient(addrOf(Number(l.id)), cluster.security);
      try {
        return await admin.change(c, { timeoutMs: 30_000 });
      } catch (e) {
        if (attempt > 10 || !(e instanceof NotLeaderError || e instanceof StoppedError || (e instanceof RetryLaterError && /configuration changed/.test(e.message)))) throw e;
      } finally {
        admin.close();
      }
    }
  };

  const writeAndRead = async (prefix: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await kv.put(`${prefix}-${i}`, `v${i}`);
    for (let i = 0; i < n; i++) expect(await kv.getString(`${prefix}-${i}`)).toBe(`v${i}`);
  };

  it("joins a 4th replica, promotes it, removes and loses originals, and keeps serving", async () => {
    onTestFailed(() => {
      failed = true;
    });
    await writeAndRead("before", 20);
    const added = await cluster.addReplica(1);
    expect(added.id).toBe(4);
    // Joined, not added: no configuration yet, so it is in no one's group.
    const joining = await cluster.serverStatus(added.addr, 2000);
    expect(joining.members).toEqual([]);
    expect((await leader()).members.map((m) => Number(m.id))).toEqual([1, 2, 3]);

    await change({ kind: "addLearner", id: 4 as NodeId, address: added.addr });
    const l1 = await leader();
    const learner = l1.members.find((m) => Number(m.id) === 4)!;
    expect([learner.role, learner.address, learner.hasProgress]).toEqual(["learner", added.addr, true]);
    // The new replica learned the whole configuration (with every address) from the leader.
    await waitFor(async () => (await cluster.serverStatus(added.addr, 2000)).members.length === 4, { timeoutMs: 20_000, what: "replica 4 learns the configuration" });

    await change({ kind: "promote", id: 4 as NodeId });
    await change({ kind: "remove", id: 1 as NodeId });
    const l2 = await leader();
    expect(l2.members.map((m) => [Number(m.id), m.role === "learner" ? "learner" : "voter"])).toEqual([[2, "voter"], [3, "voter"], [4, "voter"]]);
    expect(l2.members.find((m) => Number(m.id) === 4)!.address).toBe(added.addr);
    await writeAndRead("after-replace", 10);
    // shardkv-local status: each server's member role and lag as its leader sees them; the
    // controllers' from their RaftMembers service.
    await waitFor(async () => {
      const st = await cluster.status();
      const by = new Map(st.nodes.map((n) => [n.name, n]));
      return by.get(added.name)?.member !== undefined && by.get(added.name)!.lag !== undefined && by.get("g1n1")?.member === undefined &&
        by.get("c1")?.member === "leader" && formatStatus(st).includes(" LAG ");
    }, { timeoutMs: 20_000, what: "status shows member roles and lag (g1n4 a member with a lag, g1n1 none, c1 the leader)" });

    // Lose another original: 3 and 4 are a majority of {2,3,4}.
    await cluster.kill("g1n2");
    await writeAndRead("after-kill", 10);
    await writeAndRead("before", 20);

    // The removed replica with its old data: refused at start (its configuration no longer
    // names the --peers it is started with) or running unheard; either way nothing changes.
    await cluster.restart("g1n1", { timeoutMs: 15_000 }).catch(() => undefined);
    await writeAndRead("after-restart", 5);
    expect((await leader()).members.map((m) => Number(m.id))).toEqual([2, 3, 4]);
  }, 240_000);

  it("refuses --join on a data directory that holds a group, with one line", async () => {
    onTestFailed(() => {
      failed = true;
    });
    const started = await cluster.restart("g1n3", { args: ["--join"], timeoutMs: 15_000 }).then(() => "started", (e: unknown) => String(e));
    expect(started).not.toBe("started");
    await waitFor(() => /--join: data directory .* already holds a group of replicas \{1,2,3\}; a replica joins with an empty data directory/.test(cluster.logOf("g1n3")),
      { timeoutMs: 10_000, what: "the refusal in g1n3's log" });
  }, 60_000);
});
