/**
 * Real processes: three `shardkv-controller` daemons (controller/main.ts) over gRPC with
 * RocksDB directories and NATS at 127.0.0.1:4222 (required: the test fails when NATS is not
 * running). A ControllerClient drives joins, leaves and moves; the leader is killed with
 * kill -9 in the middle of a sequence of changes and later every replica at once. Checked:
 *  - every change is applied exactly once, in order (config numbers consecutive, contents equal
 *    to the pure model ControllerCore run over the same commands), although the client retried
 *    changes whose outcome the kill made unknown (with the same request id);
 *  - every replica holds the identical history (Watch from 0 on each replica; Query(n) for
 *    every n on the leader), also after kill -9 of all replicas and a restart;
 *  - a NATS subscriber of `shardkv.config` receives every config in order: exactly once while
 *    one leader lives; across a leader change at least once (a new leader republishes the last
 *    few configs), so the test de-duplicates by num and requires 1..latest in order.
 * A second scenario runs a controller whose NATS URL points at a closed port: it serves
 * Join/Query normally and promptly and logs the missing NATS server once.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "nats";
import { randomBytes } from "node:crypto";
import { assert } from "../../common/assert";
import { InvalidArgumentError, NotLeaderError } from "../../common/errors";
import { fromServiceError } from "../../common/grpc-errors";
import type { ConfigNum, GroupId, LogIndex, ShardId } from "../../common/ids";
import { realClock, wallClockMs } from "../../common/real-env";
import { ControllerClient } from "../../controller/client";
import { decodeConfig } from "../../controller/codec";
import { configsEqual, initialConfig, type Config } from "../../controller/config";
import { controllerStub } from "../../controller/grpc-service";
import { RocksControllerStateMachine } from "../../controller/rocks-state";
import { ControllerCore, type ControllerOp } from "../../controller/state-machine";
import type { shardkv } from "../../proto/gen/controller.js";
import { controllerName, LocalCluster } from "../../deploy/local/cluster";
import { logTail } from "../../deploy/local/process";
import { watchHistory } from "../lib/controller-history";
import { natsUrl, requireNats } from "../lib/nats";
import { waitFor } from "../lib/wait";
import { Security } from "../../security/credentials";

const shards = 16;
const g = (n: number) => n as GroupId;

/** Removes a test's directory, unless a test failed or SHARDKV_KEEP_LOGS=1: then says where its logs are. */
function cleanUp(dir: string | undefined, failed: boolean): void {
  if (!dir) return;
  if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`controller logs kept in ${dir}/logs\n`);
  else rmSync(dir, { recursive: true, force: true });
}

type JoinReq = shardkv.controller.JoinRequest.$Properties;

/** Sends one Join to one replica; resolves with the config number (rejects with the typed error). */
function rawJoin(address: string, req: JoinReq, timeoutMs = 2000): Promise<number> {
  const stub = controllerStub(address, Security.insecure());
  return new Promise<number>((resolve, reject) => {
    stub.join(req, new grpc.Metadata(), { deadline: new Date(wallClockMs() + timeoutMs) }, (e, res) => {
      stub.close();
      if (e) reject(fromServiceError(e));
      else resolve(Number(res!.configNum));
    });
  });
}

/** Nums in order of first arrival (duplicates dropped). */
const firstArrivals = (nums: readonly number[]): number[] => [...new Set(nums)];
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("three controller processes", () => {
  let dir: string;
  let cluster: LocalCluster;
  let client: ControllerClient;
  let nc: NatsConnection;
  /** Config nums received on shardkv.config from this cluster, in arrival order. */
  const published: number[] = [];
  let tag: string;
  let failed = false;
  /** The expected history: the pure model run over the same commands. */
  const model = new ControllerCore(initialConfig(shards), new Map());
  const expected: Config[] = [initialConfig(shards)];
  let modelIndex = 0;

  const servers = (gid: number) => [`g${gid}-${tag}.invalid:7000`, `g${gid}b-${tag}.invalid:7001`];
  const joinOp = (...gids: number[]): ControllerOp => ({ kind: "join", groups: new Map(gids.map((x) => [g(x), servers(x)])) });
  const leaveOp = (...gids: number[]): ControllerOp => ({ kind: "leave", gids: gids.map(g) });
  const moveOp = (shard: number, gid: number): ControllerOp => ({ kind: "move", shard: shard as ShardId, gid: g(gid) });

  /** Sends `op` through the client and checks the config it created against the model. */
  async function change(op: ControllerOp): Promise<number> {
    const want = model.apply({ clientId: "00".repeat(16), seq: ++modelIndex, op, shardCount: shards }, modelIndex as LogIndex);
    expect(want.result.ok, `test bug: ${JSON.stringify(want.result)}`).toBe(true);
    expected.push(want.created!);
    let num: number;
    switch (op.kind) {
      // No servers behind these addresses: the join check is skipped (join-check.test.ts covers it).
      case "join": num = await client.join(op.groups, { force: true }); break;
      case "leave": num = await client.leave(op.gids); break;
      case "move": num = await client.move(op.shard, op.gid); break;
      default: throw new Error(`test bug: a ${op.kind} is not one of the changes this test makes`);
    }
    expect(num).toBe(want.created!.num);
    if (op.kind === "join") await ackJoins(op, num);
    return num;
  }

  /**
   * What the joined groups' leaders would do (no servers run here): acknowledge the join, in
   * the controllers and in the model; a pending group would hold up the changes that follow.
   */
  async function ackJoins(op: Extract<ControllerOp, { kind: "join" }>, num: number): Promise<void> {
    for (const gid of op.groups.keys()) {
      const ack: ControllerOp = { kind: "ackJoin", gid, joinNum: num as ConfigNum };
      expect(model.apply({ clientId: "00".repeat(16), seq: ++modelIndex, op: ack, shardCount: shards }, modelIndex as LogIndex).result.ok).toBe(true);
      expect(await client.ackJoin(gid, num as ConfigNum)).toBe(0);
    }
  }

  /** Sends `req` to every live replica in turn until one (the leader) accepts it. */
  async function rawJoinAnyLeader(req: JoinReq): Promise<number> {
    let num = -1;
    await waitFor(async () => {
      for (const id of cluster.aliveIds("controllers")) {
        try {
          num = await rawJoin(cluster.node(controllerName(id)).addr, req, 1000);
          return true;
        } catch (e) {
          if (e instanceof InvalidArgumentError) throw e;
        }
      }
      return false;
    }, { timeoutMs: 15000, what: "a leader to accept the retried Join" });
    return num;
  }

  /** Every replica's Watch history and the leader's Query(n) equal the model. */
  async function checkHistories(): Promise<void> {
    const latest = expected.length - 1;
    for (const name of cluster.nodesOf("controllers")) {
      const h = await watchHistory(cluster.node(name).addr, latest);
      expect(h.map((c) => c.num), `history of replica ${name}`).toEqual(range(0, latest));
      h.forEach((c, i) => expect(configsEqual(c, expected[i]!), `config ${i} on replica ${name}`).toBe(true));
    }
    for (let n = 0; n <= latest; n++) expect(configsEqual(await client.query(n), expected[n]!), `Query(${n})`).toBe(true);
    expect(configsEqual(await client.query(-1), expected[latest]!)).toBe(true);
    expect((await client.query(latest + 100)).num).toBe(latest);
  }

  beforeAll(async () => {
    await requireNats();
    dir = mkdtempSync(join(tmpdir(), "shardkv-ctl-proc-"));
    nc = await connect({ servers: natsUrl });
    // Other clusters may publish on the same subject: only configs whose every server carries
    // this run's tag are ours (every config >= 1 has at least one group).
    tag = `t${process.pid}-${Math.floor(wallClockMs() % 1e9)}`;
    nc.subscribe("shardkv.config", {
      callback: (err, msg) => {
        if (err) return;
        const c = decodeConfig(msg.data);
        const ours = c.groups.size > 0 && [...c.groups.values()].every((ss) => ss.every((s) => s.includes(`-${tag}.`)));
        if (ours) published.push(c.num);
      },
    });
    await nc.flush();
    cluster = await LocalCluster.up({ dir, shards, groups: 0, tickMs: 50, nats: natsUrl, controllerArgs: ["--snapshot-every", "20"] });
    client = new ControllerClient({ ...cluster.controllerOptions(), deadlineMs: 20000 });
  });

  afterAll(async () => {
    client?.close();
    await cluster?.down();
    await nc?.close();
    cleanUp(dir, failed);
  });

  it("applies changes once and keeps identical histories through kill -9 of the leader and of all replicas", async () => {
    onTestFailed(() => {
      failed = true;
    });
    const t0 = realClock.nowMs();
    const leader1 = await cluster.waitLeader("controllers");
    const term1 = (await cluster.controllerStatus(controllerName(leader1)))!.term;

    // A live Watch on a follower, opened before any change: it must see 0..10 in order.
    const follower = cluster.aliveIds("controllers").find((id) => id !== leader1)!;
    const live = watchHistory(cluster.node(controllerName(follower)).addr, 10, 20000);

    // Phase 1: ten changes with one leader.
    for (const op of [joinOp(1), joinOp(2, 3), moveOp(0, 3), joinOp(4), leaveOp(2), moveOp(5, 1), joinOp(5, 6), leaveOp(1), moveOp(15, 5), joinOp(7)]) {
      await change(op);
    }
    const liveHistory = await live;
    expect(liveHistory.map((c) => c.num)).toEqual(range(0, 10));
    liveHistory.forEach((c, i) => expect(configsEqual(c, expected[i]!)).toBe(true));
    await waitFor(() => published.includes(10), { timeoutMs: 5000, what: "config 10 on NATS" });
    const s1 = await cluster.controllerStatus(controllerName(leader1));
    if (s1?.role === "leader" && s1.term === term1) {
      // One leader throughout: every config exactly once, in order.
      expect(published).toEqual(range(1, 10));
    } else {
      expect(firstArrivals(published)).toEqual(range(1, 10));
    }

    // A follower refuses Query and changes with NotLeader carrying the leader's address.
    const stub = controllerStub(cluster.node(controllerName(follower)).addr, cluster.security);
    const err = await new Promise<unknown>((resolve) => stub.query({ num: -1 }, new grpc.Metadata(), {}, (e) => resolve(e)));
    stub.close();
    const nl = fromServiceError(err);
    expect(nl).toBeInstanceOf(NotLeaderError);
    expect((nl as NotLeaderError).leaderAddress).toBe(cluster.node(controllerName(leader1)).addr);

    // Phase 2: twelve changes, with two leader kills (-9).
    //  - Change 4 is sent with an explicit request id; the leader acknowledges it and is killed
    //    at once; the same request (same id, as after a lost reply) is sent again to whichever
    //    replica leads next: it must answer with the same config number and create nothing.
    //  - Change 7 is in flight (ControllerClient) while the then leader is killed: its outcome
    //    is unknown to the client, which retries with the same id; it must apply exactly once.
    const phase2 = [joinOp(8), leaveOp(3), moveOp(1, 4), joinOp(9), leaveOp(5, 6), moveOp(2, 7), joinOp(10), leaveOp(4), moveOp(3, 8), joinOp(11, 12), leaveOp(9), moveOp(4, 10)];
    const rawId = randomBytes(16);
    const killedIds: number[] = [];
    for (let i = 0; i < phase2.length; i++) {
      const op = phase2[i]!;
      if (i === 3) {
        assert(op.kind === "join", "change 4 is a join");
        const want = model.apply({ clientId: rawId.toString("hex"), seq: 1, op, shardCount: shards }, ++modelIndex as LogIndex);
        expected.push(want.created!);
        const req = { id: { clientId: rawId, seq: 1 }, groups: [...op.groups].map(([gid, ss]) => ({ gid, servers: [...ss] })), force: true };
        const leader = await cluster.waitLeader("controllers");
        expect(await rawJoin(cluster.node(controllerName(leader)).addr, req)).toBe(want.created!.num);
        await cluster.kill(controllerName(leader));
        killedIds.push(leader);
        // The retry drops `force`: a Join the log already applied is answered without the join
        // check (which would refuse: nothing listens at these addresses).
        expect(await rawJoinAnyLeader({ ...req, force: false })).toBe(want.created!.num);
        expect((await client.query(-1)).num).toBe(want.created!.num);
        await ackJoins(op, want.created!.num);
        await cluster.restart(controllerName(leader));
      } else if (i === 6) {
        const leader = await cluster.waitLeader("controllers");
        await Promise.all([change(op), cluster.kill(controllerName(leader))]);
        killedIds.push(leader);
      } else {
        await change(op);
      }
    }
    const leader2 = await cluster.waitLeader("controllers");
    expect(leader2).not.toBe(killedIds[1]);
    expect((await client.query(-1)).num).toBe(22);
    // The replica killed last restarts from disk and catches up (by log or by snapshot).
    await cluster.restart(controllerName(killedIds[1]!));
    await waitFor(async () => (await cluster.controllerStatus(controllerName(killedIds[1]!)))?.latestConfigNum === 22, {
      timeoutMs: 15000, what: `replica ${killedIds[1]} to catch up`,
    });
    await checkHistories();
    await waitFor(() => published.includes(22), { timeoutMs: 5000, what: "config 22 on NATS" });
    expect(firstArrivals(published)).toEqual(range(1, 22));

    // Snapshots keep the log bounded: with --snapshot-every 20 the leader has compacted.
    const ls = (await cluster.controllerStatus(controllerName(leader2)))!;
    expect(ls.snapshotIndex).toBeGreaterThan(0);
    expect(ls.firstIndex).toBeGreaterThan(1);

    // kill -9 of every replica at once, then a restart of all: the history is intact.
    await Promise.all(cluster.aliveIds("controllers").map((id) => cluster.kill(controllerName(id))));
    await Promise.all(cluster.nodesOf("controllers").map((name) => cluster.restart(name)));
    await cluster.waitLeader("controllers");
    await checkHistories();

    // ... and continues.
    expect(await change(joinOp(13))).toBe(23);
    expect(await change(moveOp(0, 13))).toBe(24);
    await checkHistories();
    await waitFor(() => published.includes(24), { timeoutMs: 5000, what: "config 24 on NATS" });
    expect(firstArrivals(published)).toEqual(range(1, 24));

    // Nothing crashed on its own: every exit so far was one of our kill -9s.
    for (const name of cluster.nodesOf("controllers")) {
      const exits = cluster.exits(name);
      expect(exits.every((e) => e === "signal SIGKILL"), `replica ${name}: ${exits.join(", ")}`).toBe(true);
    }
    process.stdout.write(`controller-processes: scenario took ${Math.round(realClock.nowMs() - t0)} ms; ${published.length} NATS messages for 24 configs\n`);
  });

  it("SIGTERM stops every replica cleanly (exit 0)", async () => {
    onTestFailed(() => {
      failed = true;
    });
    // A Watch open on each replica (caught up, waiting for the next config) must end cleanly
    // with status OK when its server stops, not fail.
    const caughtUp = new Set<number>();
    const ends = cluster.aliveIds("controllers").map((id) => {
      const stub = controllerStub(cluster.node(controllerName(id)).addr, cluster.security);
      const stream = stub.watch({ fromNum: 0 });
      stream.on("data", (w: shardkv.controller.Config) => {
        if (Number(w.num) === 24) caughtUp.add(id);
      });
      stream.on("error", () => {});
      return new Promise<number>((resolve) => stream.on("status", (st: grpc.StatusObject) => {
        stub.close();
        resolve(st.code);
      }));
    });
    await waitFor(() => caughtUp.size === ends.length, { timeoutMs: 10000, what: "every Watch to reach config 24" });
    // One replica alone first (the launcher's single-node stop), then the rest.
    expect(await cluster.stop("c1")).toBe("term");
    expect(cluster.exits("c1").at(-1)).toBe("code 0");
    await cluster.down();
    for (const name of cluster.nodesOf("controllers")) {
      expect(cluster.exits(name).at(-1), `replica ${name}\n${logTail(cluster.node(name).log, 30)}`).toBe("code 0");
    }
    expect(await Promise.all(ends)).toEqual(ends.map(() => grpc.status.OK));
  });
});

describe("a controller whose NATS server is unreachable", () => {
  let dir: string;
  let cluster: LocalCluster;
  let client: ControllerClient;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-ctl-nonats-"));
    // Port 1 on loopback: connection refused at once, forever.
    cluster = await LocalCluster.up({ dir, controllers: 1, shards: 8, groups: 0, tickMs: 50, nats: "nats://127.0.0.1:1" });
    client = new ControllerClient({ ...cluster.controllerOptions(), deadlineMs: 5000 });
  });

  afterAll(async () => {
    client?.close();
    await cluster?.down();
    cleanUp(dir, failed);
  });

  it("serves Join and Query normally and promptly, and logs the missing NATS once", async () => {
    onTestFailed(() => {
      failed = true;
    });
    await cluster.waitLeader("controllers");
    const slowest: number[] = [];
    for (let gid = 1; gid <= 5; gid++) {
      const t = realClock.nowMs();
      expect(await client.join(new Map([[g(gid), [`10.0.0.${gid}:7000`]]]), { force: true })).toBe(gid);
      expect(await client.ackJoin(g(gid), gid as ConfigNum)).toBe(0); // as the group's leader would
      expect((await client.query(-1)).groups.size).toBe(gid);
      slowest.push(realClock.nowMs() - t);
    }
    // Generous bound (each change is a synced RocksDB write on a possibly busy machine): had
    // publishing waited on NATS, each change would wait out its 2 s reconnect interval, 10 s in all.
    const totalMs = slowest.reduce((a, b) => a + b, 0);
    expect(totalMs, `join+query times: ${slowest.map(Math.round).join(", ")} ms`).toBeLessThan(5000);
    await waitFor(() => /NATS: nats:\/\/127\.0\.0\.1:1 not reachable yet/.test(cluster.logOf("c1")), { timeoutMs: 10000, what: "the NATS warning" });
    // Still serving after the warning, and the warning was logged once.
    expect(await client.leave([g(5)])).toBe(6);
    expect(cluster.logOf("c1").match(/not reachable yet/g)!.length).toBe(1);
    expect(cluster.aliveIds("controllers")).toEqual([1]);
  });
});

describe("the daemon's command line", () => {
  const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "shardkv-controller");
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-ctl-args-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[]): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(bin, args, { timeout: 20_000 }, (err, _stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stderr });
      });
    });
  }

  it("rejects bad flags with one line naming the flag and exit status 2", async () => {
    const ok = ["--id", "1", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1", "--data", join(dir, "x"), "--insecure"];
    const cases: [string[], RegExp][] = [
      [[...ok, "--force"], /unknown flag "--force"/],
      [[...ok, "--shards", "0"], /invalid --shards: want an integer in \[1, 16384\], got "0"/],
      [[...ok, "--shards", "64x"], /invalid --shards: .*got "64x"/],
      [[...ok, "--tick-ms"], /invalid --tick-ms: missing value/],
      [[...ok, "--nats", "localhost"], /invalid --nats: want a URL like nats:\/\/host:4222/],
      [ok.slice(2), /invalid --id: missing \(required\)/],
      [["--id", "2", ...ok.slice(2)], /invalid --peers: must include this replica's --id 2/],
      [["--id", "1", "--listen", "nohost", ...ok.slice(4)], /invalid --listen: want host:port, got "nohost"/],
      [[...ok, "stray"], /unexpected argument "stray"/],
    ];
    // Three at a time: each is a Node process, and CI machines are small.
    const results: { code: number; stderr: string }[] = [];
    for (let i = 0; i < cases.length; i += 3) results.push(...await Promise.all(cases.slice(i, i + 3).map(([args]) => run(args))));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });

  it("refuses a --shards that differs from the data directory's, naming both (a directory of an earlier version, without identity)", async () => {
    const data = join(dir, "made-with-64");
    const sm = await RocksControllerStateMachine.open(join(data, "state"), 64);
    await sm.close();
    const r = await run(["--id", "1", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1", "--data", data, "--shards", "32", "--insecure"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`shardkv-controller: cannot start: data directory ${data} was created with 64 shards, --shards says 32`);
  });
});
