/**
 * Real processes: what Status tells an operator (issue 18, "Status that answers an operator's
 * questions", "Progress on long work"), against a LocalCluster of one controller and one group
 * of three (8 shards, a snapshot every 30 entries). After writes of known sizes: every
 * replica's keys and bytes per shard are what was written, its log and last snapshot are
 * reported, a caught-up follower has lag 0, uptime grows, the data directory has a size and
 * the version is package.json's; `shardctl status` shows the new columns for the controllers,
 * `--group 1` and `--all` the servers with their shards; `shardkv-local status --json` has it
 * all and the bytes per shard; `shardctl join --wait` returns once the new group's shards
 * moved, after a progress line; `shardctl replica replace --wait` that cannot finish exits 3
 * with one line saying the change stays stored. The steps share the cluster and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ShardKV } from "../../client/shardkv";
import { shardOf } from "../../controller/shard-of";
import type { ClusterStatus } from "../../deploy/local/cluster";
import { LocalCluster, serverName, type ShardStatusReply } from "../../deploy/local/cluster";
import { runShardctl } from "../lib/run-cli";
import { waitFor } from "../lib/wait";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const localBin = join(root, "bin", "shardkv-local");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
const shards = 8;
const keyCount = 60;

function local(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(localBin, [...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("Status fields, shardctl status --group/--all, --wait and shardkv-local status --json (real processes)", { timeout: 180_000 }, () => {
  let dir: string;
  let cluster: LocalCluster;
  let kv: ShardKV;
  /** shard -> key plus value bytes written to it, and the key count. */
  const bytesByShard = new Map<number, number>();
  let totalBytes = 0;
  const ctl = (): string[] => ["--controllers", cluster.controllerAddrs().join(",")];
  const replies = async (gid: number): Promise<ShardStatusReply[]> =>
    Promise.all(cluster.nodesOf(gid).map(async (n) => (await cluster.replicaStatus(n, 2000))!));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-status-"));
    cluster = await LocalCluster.up({ dir, controllers: 1, groups: 1, replicas: 3, shards, tickMs: 50, serverArgs: ["--snapshot-every", "30"] });
    kv = await ShardKV.connect({ ...cluster.clientOptions(), deadlineMs: 20_000 });
  });
  afterAll(async () => {
    kv?.close();
    await cluster?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("after writes: keys and bytes per shard as written, log and snapshot reported, lag 0 when caught up, uptime grows", async () => {
    for (let i = 0; i < keyCount; i++) {
      const key = `key-${String(i).padStart(3, "0")}`;
      const value = "v".repeat(50 + i);
      await kv.put(key, value);
      const s = shardOf(key, shards);
      bytesByShard.set(s, (bytesByShard.get(s) ?? 0) + key.length + value.length);
      totalBytes += key.length + value.length;
    }
    // Every follower caught up: applied what the leader committed, and says so (lag 0).
    let rs: ShardStatusReply[] = [];
    await waitFor(async () => {
      rs = await replies(1);
      const leader = rs.find((r) => r.role === "leader");
      return leader !== undefined && rs.every((r) => Number(r.appliedIndex) === Number(leader.commitIndex) && Number(r.lag) === 0);
    }, { timeoutMs: 20_000, what: "every replica of group 1 caught up with lag 0", intervalMs: 100 });
    const leader = rs.find((r) => r.role === "leader")!;
    // The leader's view of each follower agrees: nothing of its log missing there.
    for (const m of leader.members) expect(Number(m.lag), `member ${m.id}`).toBe(0);
    for (const r of rs) {
      const who = serverName(1, Number(r.id));
      expect(Number(r.leaderCommitIndex), who).toBeGreaterThanOrEqual(Number(r.appliedIndex));
      const keys = r.shards.reduce((n, x) => n + Number(x.keys), 0);
      expect(keys, who).toBe(keyCount);
      for (const x of r.shards) expect(Number(x.bytes), `${who} shard ${x.shard}`).toBe(bytesByShard.get(Number(x.shard)) ?? 0);
      // More than 30 entries applied: a snapshot, its size, and the log compacted below it.
      expect(Number(r.snapshotIndex), who).toBeGreaterThan(0);
      expect(Number(r.snapshotBytes), who).toBeGreaterThan(0);
      expect(Number(r.firstIndex), who).toBeGreaterThan(1);
      expect(Number(r.firstIndex), who).toBeLessThanOrEqual(Number(r.snapshotIndex) + 1);
      expect(Number(r.logEntries), who).toBe(Number(r.lastIndex) - Number(r.firstIndex) + 1);
      expect(Number(r.logBytes), who).toBeGreaterThan(0);
      expect(Number(r.dataDirBytes), who).toBeGreaterThan(0);
      expect(r.version, who).toBe(version);
    }
    const before = Number(leader.uptimeMs);
    expect(before).toBeGreaterThan(0);
    await waitFor(async () => Number((await cluster.replicaStatus(serverName(1, Number(leader.id)), 2000))?.uptimeMs ?? 0) > before,
      { timeoutMs: 10_000, what: "the leader's uptime to grow", intervalMs: 100 });
  });

  it("shardctl status: the controllers with lag, log, snapshot, data and uptime; --group 1 and --all with shards, keys and bytes", async () => {
    const text = await runShardctl([...ctl(), "status"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split("\n")[0]).toMatch(/^ADDRESS\s+STATE\s+ID\s+ROLE\s+TERM\s+LEADER\s+APPLIED\s+CONFIG\s+LAG\s+LOG\s+SNAPSHOT\s+DATA\s+UPTIME\s+ERROR$/);
    const ctlJson = JSON.parse((await runShardctl([...ctl(), "--json", "status"])).stdout) as Record<string, unknown>[];
    expect(ctlJson).toHaveLength(1);
    // The leader's own row: lag 0 by its count and by its members list (RaftMembers).
    expect(ctlJson[0]).toMatchObject({ up: true, role: "leader", lag: 0, behindLeader: 0, version });
    expect(ctlJson[0]!.logEntries as number).toBeGreaterThan(0);
    expect(ctlJson[0]!.dataDirBytes as number).toBeGreaterThan(0);
    expect(ctlJson[0]!.uptimeMs as number).toBeGreaterThan(0);

    const group = await runShardctl([...ctl(), "status", "--group", "1"]);
    expect(group.code, group.stderr).toBe(0);
    const lines = group.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^group 1 \(config \d+\): 3\/3 up, leader 127\.0\.0\.1:\d+$/);
    expect(lines[1]).toMatch(/^ADDRESS\s+STATE\s+ID\s+ROLE\s+TERM\s+LEADER\s+APPLIED\s+CONFIG\s+LAG\s+LOG\s+SNAPSHOT\s+DATA\s+UPTIME\s+SHARDS\s+ERROR$/);
    for (const l of lines.slice(2)) expect(l).toMatch(new RegExp(`serving ${shards}; ${keyCount} keys, `));

    const groupJson = JSON.parse((await runShardctl([...ctl(), "--json", "status", "--group", "1"])).stdout) as {
      gid: number; servers: { up: boolean; shards: { keys: number; bytes: number }[] }[];
    };
    expect(groupJson.gid).toBe(1);
    expect(groupJson.servers).toHaveLength(3);
    for (const s of groupJson.servers) {
      expect(s.up).toBe(true);
      expect(s.shards.reduce((n, x) => n + x.bytes, 0)).toBe(totalBytes);
    }
    const all = await runShardctl([...ctl(), "--json", "status", "--all"]);
    expect(all.code, all.stderr).toBe(0);
    const allJson = JSON.parse(all.stdout) as { controllers: unknown[]; groups: { gid: number }[] };
    expect(allJson.controllers).toHaveLength(1);
    expect(allJson.groups.map((g) => g.gid)).toEqual([1]);

    const unknown = await runShardctl([...ctl(), "status", "--group", "9"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/^shardctl: invalid gid: group 9 is not in config \d+\n$/);
  });

  it("shardkv-local status --json: every node with its log, snapshot, data size, uptime, and the bytes per shard", async () => {
    const r = await local(["status", "--json", "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as ClusterStatus;
    expect(s.nodes.map((n) => n.name)).toEqual(["c1", "g1n1", "g1n2", "g1n3"]);
    for (const n of s.nodes) {
      expect(n.appliedIndex, n.name).toBeGreaterThan(0);
      expect(n.logEntries, n.name).toBeGreaterThan(0);
      expect(n.dataDirBytes, n.name).toBeGreaterThan(0);
      expect(n.uptimeMs, n.name).toBeGreaterThan(0);
      expect(n.version, n.name).toBe(version);
      if (n.kind === "server") {
        expect(n.snapshotIndex, n.name).toBeGreaterThan(0);
        expect(n.shards!.reduce((a, x) => a + x.bytes, 0), n.name).toBe(totalBytes);
        for (const x of n.shards!) expect(x.bytes, `${n.name} shard ${x.shard}`).toBe(bytesByShard.get(x.shard) ?? 0);
      }
    }
    const text = await local(["status", "--dir", dir]);
    expect(text.code, text.stderr).toBe(0);
    const header = text.stdout.split("\n")[1]!;
    expect(header).toMatch(/^NODE\s+ADDRESS\s+METRICS\s+PID\s+STATE\s+ROLE\s+LAG\s+TERM\s+LEADER\s+CONFIG\s+APPLIED\s+LOG\s+SNAPSHOT\s+DATA\s+UPTIME\s+SHARDS$/);
    expect(text.stdout).toMatch(new RegExp(`g1n1 .* serving ${shards}; ${keyCount} keys, \\d+\\.\\d KiB`));
  });

  it("shardctl join --wait returns once the new group's shards moved, after a progress line", async () => {
    const gid = await cluster.addGroup({ join: false });
    const r = await runShardctl([...ctl(), "--timeout", "120s", "join", "--wait", `${gid}=${cluster.groupAddrs(gid).join(",")}`]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^config (\d+) created\n/);
    // Piped: plain progress lines on stderr, the first at once.
    const progress = r.stderr.trimEnd().split("\n");
    expect(progress.length).toBeGreaterThanOrEqual(1);
    for (const l of progress) expect(l).toMatch(/^config \d+: \d+\/8 shards serving, (no shards moving|\d+ shards? moving \((at least )?[\d.]+ (B|KiB|MiB) left\))(, \d+ awaiting gc)?$/);
    expect(progress.at(-1)).toMatch(/^config \d+: 8\/8 shards serving, no shards moving$/);
    // Done means done: every shard serving at its owner, no pull or delete left.
    const now = await cluster.servingProgress();
    expect(now.progress?.done, now.why).toBe(true);
    expect(Object.keys((await cluster.status()).shardMap!)).toEqual(["1", String(gid)]);
    // The new group's leader holds the bytes of the shards it took over.
    const leader = (await replies(gid)).find((x) => x.role === "leader")!;
    const owned = leader.shards.filter((x) => Number(x.keys) > 0);
    expect(owned.length).toBeGreaterThan(0);
    for (const x of owned) expect(Number(x.bytes), `shard ${x.shard}`).toBe(bytesByShard.get(Number(x.shard)));
  });

  it("shardctl replica replace --wait that cannot finish exits 3 with one line; the change stays stored", async () => {
    // Replica 9 at an address nobody serves never catches up: the change waits at catchingUp.
    const r = await runShardctl([...ctl(), "--timeout", "3s", "replica", "replace", "1", "3", "9=127.0.0.1:1", "--wait"]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(3);
    expect(r.stdout).toMatch(/^group 1: stored: replace replica 3 by 9 at 127\.0\.0\.1:1/);
    const lines = r.stderr.trimEnd().split("\n");
    for (const l of lines.slice(0, -1)) expect(l).toMatch(/^group 1: replace replica 3 by 9 at 127\.0\.0\.1:1: (adding|catchingUp|no leader answers)/);
    expect(lines.at(-1)).toMatch(/^shardctl: timed out waiting for group 1 to replace replica 3 by 9 at 127\.0\.0\.1:1 \(.*\); the change stays stored: shardctl replica list 1 shows it, shardctl replica cancel 1 drops it$/);
    const list = await runShardctl([...ctl(), "replica", "list", "1"]);
    expect(list.stdout).toMatch(/pending change: replace replica 3 by 9 at 127\.0\.0\.1:1/);
    expect((await runShardctl([...ctl(), "replica", "cancel", "1"])).code).toBe(0);
  });
});
