/**
 * Real processes: three `shardkv-controller` daemons and shard groups of three
 * `shardkv-server` daemons (shard-server/main.ts), over gRPC with RocksDB directories.
 *  - group 1 joins; writes through the client library (client/shardkv.ts: routes by shardOf
 *    and the latest config, retries NotLeader/WrongGroup with the same request id) succeed
 *    and read back;
 *  - group 2 joins: the shards the controller gives it move; every key still reads back its
 *    value; Status shows the moved shards served by group 2 and every replica of group 1
 *    holding zero keys of them after GC;
 *  - kill -9 of group 1's leader during traffic: every operation still succeeds, and every
 *    key reads back its last acknowledged value.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../../common/errors";
import type { GroupId } from "../../common/ids";
import { delay } from "../../common/real-env";
import { LocalCluster, serverName, shardStateName } from "../../deploy/local/cluster";
import { ClusterClients } from "../lib/cluster-clients";
import { waitFor } from "../lib/wait";

const shards = 8;
const g = (n: number) => n as GroupId;

describe("shard servers as real processes", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;
  const expected = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-shard-"));
    // Controllers only: each test starts (and joins) its group.
    cluster = await LocalCluster.up({ dir, shards, groups: 0, tickMs: 50 });
  });

  const clients = new ClusterClients();
  afterAll(async () => {
    clients.closeAll();
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`shard-server test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  const onFail = () => onTestFailed(() => {
    failed = true;
    if (cluster) process.stderr.write(cluster.logTails(40) + "\n");
  });

  it("group 1 serves writes and reads", async () => {
    onFail();
    const c = cluster!;
    const addrs = c.groupAddrs(await c.addGroup({ gid: 1, join: false }));
    await c.controller().join(new Map([[g(1), addrs]]));
    const kv = await clients.connect(c);
    for (let i = 0; i < 60; i++) {
      const k = `key-${i}`;
      await kv.put(k, `v${i}`);
      expected.set(k, `v${i}`);
    }
    // Limits are checked at the edge; the error names the limit and the size sent.
    const big = await kv.put("k".repeat(5000), "v").then(() => undefined, (e: unknown) => e);
    expect(big).toBeInstanceOf(InvalidArgumentError);
    expect((big as Error).message).toBe("invalid key: key is 5,000 bytes; the limit is 4 KiB");
    const bigValue = await kv.put("big", Buffer.alloc(1024 * 1024 + 1)).then(() => undefined, (e: unknown) => e);
    expect((bigValue as Error).message).toBe("invalid value: value is 1,048,577 bytes; the limit is 1 MiB");
    // Large values, so that moved shards take several 1 MiB chunks.
    for (let i = 0; i < 40; i++) {
      const k = `large-${i}`;
      const v = `${i}:`.padEnd(256 * 1024, String.fromCharCode(97 + (i % 26)));
      await kv.put(k, v);
      expected.set(k, v);
    }
    await kv.append("key-0", "+a");
    expected.set("key-0", "v0+a");
    for (const [k, v] of expected) expect(await kv.getString(k)).toBe(v);
    expect(await kv.getString("absent-key")).toBeUndefined();
    expect(await kv.getString("big")).toBeUndefined();
  });

  it("joining group 2 moves shards; every key still reads back; group 1 deletes them", async () => {
    onFail();
    const c = cluster!;
    const addrs = c.groupAddrs(await c.addGroup({ gid: 2, join: false }));
    const num = await c.controller().join(new Map([[g(2), addrs]]));
    const cfg = await c.controller().query(num);
    const moved = cfg.shards.map((gid, s) => (gid === 2 ? s : -1)).filter((s) => s >= 0);
    expect(moved.length).toBeGreaterThan(0);
    const kv = await clients.connect(c);
    for (const [k, v] of expected) expect(await kv.getString(k)).toBe(v);
    // New writes land in either group.
    for (let i = 60; i < 80; i++) {
      await kv.put(`key-${i}`, `w${i}`);
      expected.set(`key-${i}`, `w${i}`);
    }
    // Group 2's leader serves the moved shards (gc done); every group 1 replica holds none of their keys.
    await waitFor(async () => {
      const l2 = await c.waitLeader(2);
      const s2 = await c.replicaStatus(serverName(2, l2));
      if (!s2 || Number(s2.configNum) < num) return false;
      for (const s of moved) if (shardStateName(s2.shards[s]!.state) !== "serving") return false;
      for (const id of c.aliveIds(1)) {
        const s1 = await c.replicaStatus(serverName(1, id));
        if (!s1 || Number(s1.configNum) < num) return false;
        for (const s of moved) {
          const st = s1.shards[s]!;
          if (shardStateName(st.state) !== "notOwned" || Number(st.keys) !== 0 || Number(st.bytes) !== 0) return false;
        }
      }
      return true;
    }, { timeoutMs: 30000, what: "moved shards served by group 2 and deleted from group 1", intervalMs: 200 });
    // Group 2 holds keys of the moved shards (some of the 80 keys hash there).
    const l2 = await c.waitLeader(2);
    const s2 = (await c.replicaStatus(serverName(2, l2)))!;
    expect(moved.reduce((n, s) => n + Number(s2.shards[s]!.keys), 0)).toBeGreaterThan(0);
    for (const [k, v] of expected) expect(await kv.getString(k)).toBe(v);
  });

  it("kill -9 of group 1's leader during traffic: operations still succeed", async () => {
    onFail();
    const c = cluster!;
    const leader = await c.waitLeader(1);
    let stop = false;
    const writers = [0, 1, 2].map(async (w) => {
      const kv = await clients.connect(c);
      let n = 0;
      while (!stop) {
        const k = `t${w}-${n % 15}`;
        const v = `x${n}`;
        await kv.put(k, v);
        expected.set(k, v);
        expect(await kv.getString(k)).toBe(v);
        n++;
      }
      return n;
    });
    await delay(500);
    await c.kill(serverName(1, leader));
    const newLeader = await c.waitLeader(1);
    expect(newLeader).not.toBe(leader);
    await delay(1500);
    stop = true;
    const counts = await Promise.all(writers);
    expect(counts.every((n) => n > 0)).toBe(true);
    await c.restart(serverName(1, leader));
    const kv = await clients.connect(c);
    for (const [k, v] of expected) expect(await kv.getString(k)).toBe(v);
  });

  it("group 3 joins while group 1 is killed -9 entirely; after its restart the move completes", async () => {
    onFail();
    const c = cluster!;
    const addrs = c.groupAddrs(await c.addGroup({ gid: 3, join: false }));
    await Promise.all(c.aliveIds(1).map((id) => c.kill(serverName(1, id))));
    const num = await c.controller().join(new Map([[g(3), addrs]]));
    const cfg = await c.controller().query(num);
    const prev = await c.controller().query(num - 1);
    const fromG1 = cfg.shards.map((gid, s) => (gid === 3 && prev.shards[s] === 1 ? s : -1)).filter((s) => s >= 0);
    await delay(1000);
    for (const n of c.nodesOf(1)) await c.restart(n);
    const kv = await clients.connect(c);
    for (const [k, v] of expected) expect(await kv.getString(k)).toBe(v);
    await waitFor(async () => {
      for (const id of c.aliveIds(1)) {
        const s1 = await c.replicaStatus(serverName(1, id));
        if (!s1 || Number(s1.configNum) < num) return false;
        for (const s of fromG1) if (Number(s1.shards[s]!.keys) !== 0 || shardStateName(s1.shards[s]!.state) !== "notOwned") return false;
      }
      const s3 = await c.replicaStatus(serverName(3, await c.waitLeader(3)));
      return s3 !== undefined && fromG1.every((s) => shardStateName(s3.shards[s]!.state) === "serving");
    }, { timeoutMs: 30000, what: "group 3 serving the shards it took from group 1, and group 1 holding none of their keys", intervalMs: 200 });
  });
});
