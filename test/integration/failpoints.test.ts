/**
 * Failpoints over real processes (docs/failpoints.md): three controllers (no failpoints) and
 * one 3-replica shard group started with `--failpoints on`, switched at run time through the
 * Admin service (FailpointAdminClient and the `shardkv-failpoint` CLI), never by restarting:
 *  - without --failpoints the Admin service is absent (UNIMPLEMENTED);
 *  - --failpoints in the production profile refuses to start, with a clear message;
 *  - drop-reply=1 on the leader: a write executes although the client saw no reply, and its
 *    retry with the same request id is not applied twice;
 *  - drop-request=1 on the leader: a write does not execute;
 *  - the leader cut off from both peers: a client's write wakes the (quiesced) group, the
 *    others elect a new leader and serve it; after the heal the old leader rejoins as a
 *    follower and catches up.
 */
import * as grpc from "@grpc/grpc-js";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { noFailpoints, parseFailpointSpec } from "../../common/failpoints";
import { realClock, wallClockMs } from "../../common/real-env";
import { shardOf } from "../../controller/shard-of";
import { FailpointAdminClient } from "../../raft/transport/failpoint-admin";
import { AdminStub } from "../../proto/gen/admin-grpc";
import { shardPb } from "../../shard-server/codec";
import { daemonBin } from "../../deploy/local/process";
import { LocalCluster, serverName } from "../../deploy/local/cluster";
import { BatchChannel, realChannelEnv } from "../../client/batch-channel";
import { GrpcClientTransport } from "../../client/grpc-transport";
import { ShardKV } from "../../client/shardkv";
import type { ShardKVError } from "../../common/errors";
import { waitFor } from "../lib/wait";
import { Security } from "../../security/credentials";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const shards = 4;
const gid = 1;

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: repoRoot, env }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, stdout, stderr }));
  });
}

describe("failpoints on real daemons", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let kv: ShardKV;
  const transport = new GrpcClientTransport(Security.insecure());
  const channels = new Map<string, BatchChannel>();
  let failed = false;
  const admins = new Map<string, FailpointAdminClient>();

  const admin = (address: string): FailpointAdminClient => {
    let a = admins.get(address);
    if (!a) admins.set(address, (a = new FailpointAdminClient(address, Security.insecure())));
    return a;
  };
  const addressOf = (id: number): string => cluster!.node(serverName(gid, id)).addr;

  /**
   * One append sent straight to `address` over its Batch stream with an explicit request id
   * (no retries): "ok", or the code of the typed error it failed with ("Timeout", ...).
   */
  const rawAppend = async (address: string, key: string, value: string, id: { clientId: Uint8Array; seq: number }, deadlineMs: number): Promise<string> => {
    let ch = channels.get(address);
    if (!ch) channels.set(address, (ch = new BatchChannel(realChannelEnv(transport), address)));
    const k = Buffer.from(key);
    try {
      await ch.write(
        { id: { ...id, ackedBelow: id.seq }, shard: shardOf(k, shards), ops: [{ type: shardPb.OpType.OP_APPEND, key: k, value: Buffer.from(value) }] },
        realClock.nowMs() + deadlineMs,
      );
      return "ok";
    } catch (e) {
      return (e as ShardKVError).code ?? String(e);
    }
  };

  let refusals: Promise<Array<{ code: number; stdout: string; stderr: string }>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-failpoints-"));
    // Daemons asked for failpoints in the production profile; started now to overlap with the
    // cluster's start (each exits before binding a port or opening a data directory).
    refusals = Promise.all([
      run(daemonBin.server, [
        "--gid", "9", "--id", "1", "--listen", "127.0.0.1:1",
        "--peers", "1=127.0.0.1:1", "--data", join(dir, "never"), "--controllers", "127.0.0.1:2", "--failpoints", "on", "--insecure",
      ], { ...process.env, SHARDKV_PROFILE: "production" }),
      run(daemonBin.controller, [
        "--id", "1", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1",
        "--data", join(dir, "never"), "--profile", "production", "--insecure",
      ], { ...process.env, SHARDKV_FAILPOINTS: "1" }),
    ]);
    // Failpoints on every server, and on controller c3 alone (the launcher's per-node flags).
    cluster = await LocalCluster.up({ dir, shards, groups: 0, tickMs: 50, serverArgs: ["--failpoints", "on"], nodeArgs: { c3: ["--failpoints", "on"] } });
    await cluster.addGroup({ gid, join: true });
    kv = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 20000 });
    await kv.put("warm-up", "1"); // every shard is served once this and the reads below work
  }, 60_000);

  afterAll(async () => {
    kv?.close();
    for (const ch of channels.values()) ch.close();
    transport.close();
    for (const a of admins.values()) a.close();
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`failpoints test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  const onFail = () => onTestFailed(() => {
    failed = true;
    if (cluster) process.stderr.write(cluster.logTails(40) + "\n");
  });

  it("serves the Admin service only with --failpoints (UNIMPLEMENTED without)", async () => {
    onFail();
    const c = cluster!;
    const state = await admin(addressOf(1)).get();
    expect(state).toEqual({ spec: noFailpoints, text: "none", self: addressOf(1), counters: { droppedRequests: 0, droppedReplies: 0, droppedRaft: 0, delayed: 0, cut: 0 } });
    // The daemon validates what it is sent, and keeps its spec on a refusal.
    await expect(admin(addressOf(1)).set({ ...noFailpoints, delayMsMax: 99 })).rejects.toMatchObject({
      code: "InvalidArgument", field: "delay", reason: "want an integer number of milliseconds in [0, 27], got 99",
    });
    expect((await admin(addressOf(1)).get()).text).toBe("none");
    // Controller c1 runs without --failpoints.
    const stub = new AdminStub(c.controllerAddrs()[0]!, grpc.credentials.createInsecure());
    const code = await new Promise<number>((resolve) =>
      stub.getFailpoints({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + 5000) }, (e) => resolve(e ? e.code : 0)));
    stub.close();
    expect(code).toBe(grpc.status.UNIMPLEMENTED);
    await expect(admin(c.controllerAddrs()[0]!).get()).rejects.toThrow(/has no Admin service: start the daemon with --failpoints/);
    // ... except c3, started with its own --failpoints on.
    expect((await admin(c.node("c3").addr).get()).text).toBe("none");
  });

  it("refuses to start with failpoints in the production profile", async () => {
    onFail();
    const [shard, controller] = await refusals;
    expect(shard).toEqual({
      code: 2, stdout: "",
      stderr: "shardkv-server: invalid --failpoints: failpoints are test-only and refused in the production profile " +
        "($SHARDKV_PROFILE=production) (--help for usage)\n",
    });
    expect(controller.code).toBe(2);
    expect(controller.stderr).toContain(
      "shardkv-controller: invalid $SHARDKV_FAILPOINTS: failpoints are test-only and refused in the production profile (--profile=production)",
    );
    expect(existsSync(join(dir, "never"))).toBe(false);
  });

  it("drop-reply=1 on the leader: the write executes unacknowledged, and its retry is not applied twice", async () => {
    onFail();
    const c = cluster!;
    const leader = addressOf(await c.waitLeader(gid));
    const id = { clientId: randomBytes(16), seq: 1 };
    await admin(leader).set(parseFailpointSpec("drop-reply=1"));
    const lost = await rawAppend(leader, "dr-key", "x", id, 1500);
    await admin(leader).set(noFailpoints);
    expect(lost).toBe("Timeout");
    expect(await kv.getString("dr-key")).toBe("x");
    // The retry (same client id and seq) is answered from the duplicate table.
    const leader2 = addressOf(await c.waitLeader(gid));
    expect(await rawAppend(leader2, "dr-key", "x", id, 5000)).toBe("ok");
    expect(await kv.getString("dr-key")).toBe("x");
    expect(await rawAppend(leader2, "dr-key", "y", { ...id, seq: 2 }, 5000)).toBe("ok");
    expect(await kv.getString("dr-key")).toBe("xy");
  });

  it("drop-request=1 on the leader: the write does not execute", async () => {
    onFail();
    const c = cluster!;
    const leader = addressOf(await c.waitLeader(gid));
    await admin(leader).set(parseFailpointSpec("drop-request=1"));
    const follower = [1, 2, 3].find((i) => addressOf(i) !== leader)!;
    const before = (await c.replicaStatus(serverName(gid, follower)))!;
    const lost = await rawAppend(leader, "dq-key", "z", { clientId: randomBytes(16), seq: 1 }, 1500);
    expect(lost).toBe("Timeout");
    // Raft is not subject to drop-request: the group keeps its leader.
    const after = (await c.replicaStatus(serverName(gid, follower)))!;
    expect(Number(after.leader)).toBe(Number(before.leader));
    await admin(leader).set(noFailpoints);
    expect(await kv.getString("dq-key")).toBeUndefined();
  });

  it("the leader cut off from both peers: a new leader is elected; healed, the old one rejoins and catches up", async () => {
    onFail();
    const c = cluster!;
    const oldId = await c.waitLeader(gid);
    const oldStatus = (await c.replicaStatus(serverName(gid, oldId)))!;
    const old = addressOf(oldId);
    const others = [1, 2, 3].filter((i) => i !== oldId);
    const cut = await run(join(repoRoot, "bin", "shardkv-failpoint"), [old, `cut=${others.map(addressOf).join("+")}`]);
    expect(cut).toEqual({ code: 0, stdout: `${old} cut=${others.map(addressOf).sort().join("+")}\n`, stderr: "" });

    // With quiescence (the default) an idle group whose leader is cut off silently keeps it
    // until someone asks (docs/design.md, "Quiescence"): the client's put goes to the old
    // leader, times out, and tries the others, whose refusal (NotLeader) wakes the group.
    const during = kv.put("during-cut", "majority");
    let newId = 0;
    await waitFor(async () => {
      for (const i of others) {
        const s = await c.replicaStatus(serverName(gid, i));
        if (s?.role === "leader" && Number(s.term) > Number(oldStatus.term)) newId = i;
      }
      return newId !== 0;
    }, { timeoutMs: 15000, what: "a new leader among the replicas the old leader was cut off from", intervalMs: 50 });
    // The majority serves while the old leader is cut off; the old leader steps down (CheckQuorum).
    await during;
    expect(await kv.getString("during-cut")).toBe("majority");
    await waitFor(async () => (await c.replicaStatus(serverName(gid, oldId)))?.role !== "leader",
      { timeoutMs: 10000, what: `g${gid}n${oldId} to step down`, intervalMs: 50 });

    const shown = await run(join(repoRoot, "bin", "shardkv-failpoint"), [old, "show"]);
    const cutCount = Number(/(\d+) cut\)/.exec(shown.stdout)?.[1]);
    expect(shown.stdout, "show reports how often the cut fired").toMatch(/^\S+ cut=\S+ \(fired: .* (\d+) cut\)\n$/);
    expect(cutCount).toBeGreaterThan(0);
    const heal = await run(join(repoRoot, "bin", "shardkv-failpoint"), [old, "clear"]);
    expect(heal).toEqual({ code: 0, stdout: `${old} none\n`, stderr: "" });
    const target = Number((await c.replicaStatus(serverName(gid, newId)))!.commitIndex);
    await waitFor(async () => {
      const s = await c.replicaStatus(serverName(gid, oldId));
      return s !== undefined && s.role === "follower" && Number(s.leader) !== 0 && Number(s.appliedIndex) >= target;
    }, { timeoutMs: 15000, what: `g${gid}n${oldId} to rejoin as a follower and apply index ${target}`, intervalMs: 50 });
    await c.waitLeader(gid);
    expect(await kv.getString("during-cut")).toBe("majority");
  });
});
