/**
 * Real processes: the way out of a join that never comes up (controller/pending-joins.ts).
 * Three `shardkv-controller` daemons and a group of three `shardkv-server` daemons
 * (deploy/local/cluster.ts). The cluster's first join (`shardctl join --force`) adds group 1
 * and group 8, which has nothing listening; `shardctl leave 8` aborts 8's join, and the
 * shards it was given (nobody held them before) go to group 1, which serves them at once,
 * empty. Group 1 then holds keys; `shardctl join --force` adds group 7 with nothing
 * listening, so group 1 hands shards to it and waits in handoff; `shardctl leave 7` aborts the
 * join (7 never acknowledged it): group 1 stops waiting, serves its shards again without a
 * pull, every key written before reads back unchanged and takes writes, nothing is lost.
 * When group 7's servers come up after all, their AckJoin is answered with the abort: they
 * skip to the abort's config owning nothing, and never pull or serve those shards.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliRun, runShardctl } from "../lib/run-cli";
import { LocalCluster, serverName, shardStateName } from "../../deploy/local/cluster";
import { ClusterClients } from "../lib/cluster-clients";
import { waitFor } from "../lib/wait";


describe("join abort: shardctl leave of a group that never came up", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-join-abort-"));
    cluster = await LocalCluster.up({ dir, shards: 8, groups: 1, join: false, tickMs: 50 });
  });

  const clients = new ClusterClients();
  afterAll(async () => {
    clients.closeAll();
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`join-abort test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  const onFail = () => onTestFailed(() => {
    failed = true;
    if (cluster) process.stderr.write(cluster.logTails(40) + "\n");
  });

  const shardctl = (...args: string[]): Promise<CliRun> =>
    runShardctl(["--controllers", cluster!.controllerAddrs().join(","), "--timeout", "30s", ...args]);

  /** Every shard served by group 1 at config >= num, per its leader. */
  const allServing = async (num: number): Promise<boolean> => {
    const c = cluster!;
    const l = await c.waitLeader(1);
    const s = await c.replicaStatus(serverName(1, l));
    return s !== undefined && Number(s.configNum) >= num && s.shards.every((sh) => shardStateName(sh.state) === "serving");
  };

  /** Starts group `gid`'s servers (addresses, data directories), kills them all; their addresses. */
  const downGroup = async (gid: number): Promise<string[]> => {
    const c = cluster!;
    const addrs = c.groupAddrs(await c.addGroup({ gid, join: false }));
    await Promise.all([1, 2, 3].map((id) => c.kill(serverName(gid, id))));
    return addrs;
  };

  it("a first join with a group that never comes up, then leave of it: its shards go to group 1, which serves them empty at once", async () => {
    onFail();
    const c = cluster!;
    const addrs8 = await downGroup(8);
    const joined = await shardctl("join", "--force", `1=${c.groupAddrs(1).join(",")}`, `8=${addrs8.join(",")}`);
    expect(joined.code, joined.stderr).toBe(0);
    const first = await c.controller().query();
    expect(first.shards.filter((o) => o === 8).length).toBe(4);
    const left = await shardctl("leave", "8");
    expect(left.code, left.stderr).toBe(0);
    const abort = await c.controller().query();
    expect(abort.num).toBe(first.num + 1);
    expect(abort.shards.every((o) => o === 1)).toBe(true);
    expect(abort.abortedJoins).toEqual([{ gid: 8, joinNum: first.num, abortNum: abort.num }]);
    await waitFor(() => allServing(abort.num), { timeoutMs: 60_000, what: "group 1 serving every shard after the abort", intervalMs: 100 });
    // The leader that moved group 1 to the abort's config says which shards started empty.
    await waitFor(() => /shards [0-9,]+ start here empty/.test(c.logTails(200)), { timeoutMs: 10_000, what: "group 1's log naming the shards that started empty", intervalMs: 100 });
  });

  it("join --force of a group with nothing listening, then leave: every shard serving, every key intact; the group coming up later owns nothing", async () => {
    onFail();
    const c = cluster!;
    const kv = await clients.connect(c);
    const values = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      values.set(`k${i}`, `v${i}`);
      await kv.put(`k${i}`, `v${i}`);
    }

    // Group 7's servers exist (data directories, addresses) but are all down when it joins.
    const addrs7 = await downGroup(7);
    const joined = await shardctl("join", "--force", `7=${addrs7.join(",")}`);
    expect(joined.code, joined.stderr).toBe(0);
    const joinNum = (await c.controller().query()).num;
    const moved = (await c.controller().query(joinNum)).shards.flatMap((o, s) => (o === 7 ? [s] : []));
    expect(moved.length).toBe(4);
    // Group 1 reaches the join's config and waits in handoff for a puller that never comes.
    await waitFor(async () => {
      const s = await c.replicaStatus(serverName(1, await c.waitLeader(1)));
      return s !== undefined && Number(s.configNum) === joinNum && moved.every((sh) => shardStateName(s.shards[sh]!.state) === "handoff");
    }, { timeoutMs: 30_000, what: "group 1 in handoff to group 7", intervalMs: 100 });

    const left = await shardctl("leave", "7");
    expect(left.code, left.stderr).toBe(0);
    const abort = await c.controller().query();
    expect(abort.num).toBe(joinNum + 1);
    expect(abort.shards.every((o) => o === 1)).toBe(true);
    expect(abort.abortedJoins?.at(-1)).toEqual({ gid: 7, joinNum, abortNum: joinNum + 1 });

    await waitFor(() => allServing(abort.num), { timeoutMs: 60_000, what: "group 1 serving every shard again after the abort", intervalMs: 100 });
    for (const [k, v] of values) expect(await kv.getString(k)).toBe(v);
    for (const k of values.keys()) await kv.append(k, "+");
    for (const [k, v] of values) expect(await kv.getString(k)).toBe(`${v}+`);
    // The returned shards were served from the data that never left: the same key counts.
    const s = (await c.replicaStatus(serverName(1, await c.waitLeader(1))))!;
    expect(s.shards.reduce((n, sh) => n + Number(sh.keys), 0)).toBe(values.size);

    // Group 7 comes up after all: its join was aborted, so it skips to the abort's config
    // owning nothing, holding nothing; group 1 keeps every shard.
    await Promise.all([1, 2, 3].map((id) => c.restart(serverName(7, id))));
    await waitFor(async () => {
      const ss = await Promise.all([1, 2, 3].map((id) => c.replicaStatus(serverName(7, id))));
      return ss.every((x) => x !== undefined && Number(x.configNum) >= abort.num);
    }, { timeoutMs: 60_000, what: "group 7's replicas at the abort's config", intervalMs: 100 });
    for (const id of [1, 2, 3]) {
      const x = (await c.replicaStatus(serverName(7, id)))!;
      expect(x.shards.every((sh) => shardStateName(sh.state) === "notOwned" && Number(sh.keys) === 0), `g7n${id}`).toBe(true);
    }
    expect(await allServing(abort.num)).toBe(true);
    for (const [k, v] of values) expect(await kv.getString(k)).toBe(`${v}+`);
  });
});
