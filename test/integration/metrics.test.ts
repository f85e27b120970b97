/**
 * Metrics, health and readiness of real daemons (docs/operations.md "Metrics", "Health and
 * readiness"): a LocalCluster of three controllers and one 3-replica group (failpoints on the
 * servers), every daemon with --metrics-listen on the port shardkv-local gave it:
 *  - every daemon serves the names the contract promises, labelled with its gid and node;
 *    shardkv_raft_has_leader is 1 everywhere and every replica is ready;
 *  - N writes: every replica's proposals applied and committed grow by at least N, the log
 *    save histogram and the write stages count them;
 *  - a replica cut off from its peers by a failpoint turns not ready (503, saying why) while
 *    staying healthy, and ready again after the heal;
 *  - a group added: the moved shards count as migration bytes in on its leader and out on
 *    the old group, nothing left in flight;
 *  - kill -9 of the group's leader: the survivors count a leader change;
 *  - a daemon given a --metrics-listen port in use, or a malformed one, refuses to start with
 *    one line (exit 2).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { noFailpoints, parseFailpointSpec } from "../../common/failpoints";
import { ShardKV } from "../../client/shardkv";
import { LocalCluster, serverName } from "../../deploy/local/cluster";
import { formatStatus } from "../../deploy/local/format";
import { daemonBin, freePorts } from "../../deploy/local/process";
import { FailpointAdminClient } from "../../raft/transport/failpoint-admin";
import { Security } from "../../security/credentials";
import { waitFor } from "../lib/wait";

const gid = 1;
const writes = 40;

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition. */
function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

async function httpGet(addr: string, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://${addr}${path}`);
  return { status: r.status, body: await r.text() };
}

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, stdout, stderr }));
  });
}

describe("metrics, health and readiness of real daemons", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let kv: ShardKV | undefined;
  let failed = false;
  const admins: FailpointAdminClient[] = [];

  const metricsOf = (name: string): string => {
    const m = cluster!.node(name).metrics;
    if (m === undefined) throw new Error(`${name} has no metrics endpoint in cluster.json`);
    return m;
  };
  const scrape = async (name: string): Promise<Sample[]> => {
    const r = await httpGet(metricsOf(name), "/metrics");
    expect(r.status).toBe(200);
    return parseSamples(r.body);
  };
  const servers = (): string[] => cluster!.nodesOf(gid);
  const onFail = (): void => onTestFailed(() => {
    failed = true;
    if (cluster) process.stderr.write(cluster.logTails(40) + "\n");
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-metrics-"));
    cluster = await LocalCluster.up({ dir, controllers: 3, groups: 1, replicas: 3, shards: 4, tickMs: 50, serverArgs: ["--failpoints", "on"] });
    kv = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 20_000 });
  }, 90_000);

  afterAll(async () => {
    kv?.close();
    for (const a of admins) a.close();
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`metrics test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it("every daemon serves the promised names with its gid and node; has_leader 1 and ready everywhere", async () => {
    onFail();
    const c = cluster!;
    const l = c.layout;
    const nodes = [...l.controllers.map((n) => ({ name: `c${n.id}`, gid: 0, id: n.id, node: n })),
      ...l.groups[0]!.servers.map((n) => ({ name: serverName(gid, n.id), gid, id: n.id, node: n }))];
    // shardkv-local gave each node its own metrics port and shows it in status.
    const endpoints = nodes.map((n) => n.node.metrics);
    expect(new Set([...endpoints, ...nodes.map((n) => n.node.addr)]).size).toBe(2 * nodes.length);
    const st = await c.status();
    expect(st.nodes.map((n) => n.metrics)).toEqual(endpoints);
    expect(formatStatus(st)).toContain(` ${endpoints[0]} `);
    for (const n of nodes) {
      await waitFor(async () => total(await scrape(n.name), "shardkv_raft_has_leader") === 1,
        { timeoutMs: 15_000, what: `${n.name}: shardkv_raft_has_leader 1`, intervalMs: 100 });
      const s = await scrape(n.name);
      const own = { gid: String(n.gid), node: String(n.id) };
      for (const name of ["shardkv_raft_has_leader", "shardkv_raft_proposals_applied_total", "shardkv_raft_log_save_duration_seconds_count",
        "shardkv_raft_term", "shardkv_raft_leader_changes_seen_total", "shardkv_process_cpu_user_seconds_total"]) {
        expect(s.some((x) => x.name === name && x.labels["gid"] === own.gid && x.labels["node"] === own.node), `${n.name} serves ${name}`).toBe(true);
      }
      expect(s.every((x) => x.name.startsWith("shardkv_")), `${n.name}: every name starts with shardkv_`).toBe(true);
      await waitFor(async () => (await httpGet(n.node.metrics!, "/readyz")).status === 200,
        { timeoutMs: 15_000, what: `${n.name} ready`, intervalMs: 100 });
      expect(await httpGet(n.node.metrics!, "/healthz")).toEqual({ status: 200, body: "ok\n" });
      expect((await httpGet(n.node.metrics!, "/nope")).status).toBe(404);
    }
  });

  it(`${writes} writes: every replica's applied and committed grow by at least ${writes}; log saves and write stages are counted`, async () => {
    onFail();
    const names = servers();
    const before = await Promise.all(names.map(scrape));
    for (let i = 0; i < writes; i++) await kv!.put(`metrics-${i}`, `v${i}`);
    let after: Sample[][] = [];
    const grown = (name: string, i: number): number => total(after[i]!, name) - total(before[i]!, name);
    await waitFor(async () => {
      after = await Promise.all(names.map(scrape));
      return names.every((_, i) => grown("shardkv_raft_proposals_applied_total", i) >= writes && grown("shardkv_raft_proposals_committed_total", i) >= writes);
    }, { timeoutMs: 15_000, what: `every replica of group ${gid} to apply and see committed ${writes} more entries`, intervalMs: 100 });
    const groupGrown = (name: string): number => names.reduce((n, _, i) => n + grown(name, i), 0);
    // Every write was saved (fsync'd) on its leader and at least one follower before it committed.
    expect(groupGrown("shardkv_raft_log_save_duration_seconds_count")).toBeGreaterThan(0);
    expect(groupGrown("shardkv_raft_log_save_duration_seconds_sum")).toBeGreaterThan(0);
    // Each write went through every stage on the leader that proposed it.
    for (const stage of ["queue", "log_save", "replicate", "apply_wait", "apply"]) {
      expect(groupGrown(`shardkv_raft_write_${stage}_duration_seconds_count`), `write stage ${stage}`).toBeGreaterThanOrEqual(writes);
    }
    expect(groupGrown("shardkv_raft_apply_duration_seconds_count")).toBeGreaterThan(0);
    expect(groupGrown("shardkv_raft_messages_sent_total")).toBeGreaterThan(0);
    expect(groupGrown("shardkv_raft_transport_frames_sent_total")).toBeGreaterThan(0);
    // The leader measures heartbeat round trips to both peers.
    await waitFor(async () => {
      const now = await Promise.all(names.map(scrape));
      return now.some((s) => total(s, "shardkv_raft_is_leader") === 1 &&
        new Set(s.filter((x) => x.name === "shardkv_raft_peer_round_trip_time_seconds_count" && x.value > 0).map((x) => x.labels["peer"])).size === 2);
    }, { timeoutMs: 10_000, what: `the leader of group ${gid} to report round trips to both peers`, intervalMs: 100 });
  });

  it("a replica cut off by a failpoint turns not ready (and stays healthy); healed, ready again", async () => {
    onFail();
    const c = cluster!;
    const leaderId = await c.waitLeader(gid);
    const ids = [1, 2, 3];
    const cutId = ids.find((i) => i !== leaderId)!;
    const cutName = serverName(gid, cutId);
    const others = ids.filter((i) => i !== cutId).map((i) => c.node(serverName(gid, i)).addr);
    const admin = new FailpointAdminClient(c.node(cutName).addr, Security.insecure());
    admins.push(admin);
    await admin.set(parseFailpointSpec(`cut=${others.join("+")}`));
    let last = { status: 0, body: "" };
    await waitFor(async () => (last = await httpGet(metricsOf(cutName), "/readyz")).status === 503,
      { timeoutMs: 15_000, what: `${cutName} not ready while cut off`, intervalMs: 100 });
    expect(last.body).toMatch(/^(no leader known|leader \d+ \(term \d+\) not heard from)[^\n]*\n$/);
    expect(await httpGet(metricsOf(cutName), "/healthz")).toEqual({ status: 200, body: "ok\n" });
    await admin.set(noFailpoints);
    await waitFor(async () => (last = await httpGet(metricsOf(cutName), "/readyz")).status === 200,
      { timeoutMs: 15_000, what: `${cutName} ready again after the heal`, intervalMs: 100 });
  });

  it("a group added: its shards move in, counted as migration bytes in on the new group and out on the old, none left in flight", async () => {
    onFail();
    const c = cluster!;
    const outBefore = (await Promise.all(servers().map(scrape))).reduce((n, s) => n + total(s, "shardkv_migration_moved_bytes_total", { direction: "out" }), 0);
    const newGid = await c.addGroup({ replicas: 3 });
    const newNames = c.nodesOf(newGid);
    let scrapes: Sample[][] = [];
    await waitFor(async () => {
      scrapes = await Promise.all(newNames.map(scrape));
      return scrapes.some((s) => total(s, "shardkv_raft_is_leader") === 1 && total(s, "shardkv_shards", { state: "serving" }) > 0);
    }, { timeoutMs: 20_000, what: `group ${newGid}'s leader to serve the shards it took`, intervalMs: 100 });
    const leader = scrapes.find((s) => total(s, "shardkv_raft_is_leader") === 1)!;
    // The keys written above lived in every shard: the moved ones arrived as chunks.
    expect(total(leader, "shardkv_migration_moved_bytes_total", { direction: "in" })).toBeGreaterThan(0);
    expect(total(leader, "shardkv_migration_in_flight_bytes")).toBe(0);
    const outAfter = (await Promise.all(servers().map(scrape))).reduce((n, s) => n + total(s, "shardkv_migration_moved_bytes_total", { direction: "out" }), 0);
    expect(outAfter).toBeGreaterThan(outBefore);
  });

  it("kill -9 of the group's leader: the survivors count a leader change and find the new leader", async () => {
    onFail();
    const c = cluster!;
    const leaderId = await c.waitLeader(gid);
    const survivors = [1, 2, 3].filter((i) => i !== leaderId).map((i) => serverName(gid, i));
    const before = await Promise.all(survivors.map(async (n) => total(await scrape(n), "shardkv_raft_leader_changes_seen_total")));
    await c.kill(serverName(gid, leaderId));
    await waitFor(async () => {
      const now = await Promise.all(survivors.map(scrape));
      return now.every((s, i) => total(s, "shardkv_raft_leader_changes_seen_total") > before[i]! && total(s, "shardkv_raft_has_leader") === 1);
    }, { timeoutMs: 20_000, what: `${survivors.join(" and ")} to count a leader change and know the new leader`, intervalMs: 100 });
    await kv!.put("after-kill", "1");
  });

  it("--metrics-listen on a port in use, or malformed: one line, exit 2", async () => {
    onFail();
    const [grpcPort] = await freePorts(1);
    const inUse = metricsOf("c1");
    const base = ["--id", "1", "--listen", `127.0.0.1:${grpcPort}`, "--peers", `1=127.0.0.1:${grpcPort}`, "--data", join(dir, "never"), "--insecure"];
    const [busy, malformed] = await Promise.all([
      run(daemonBin.controller, [...base, "--metrics-listen", inUse]),
      run(daemonBin.controller, [...base, "--metrics-listen", "localhost"]),
    ]);
    const port = inUse.split(":")[1];
    expect(busy).toEqual({
      code: 2, stdout: "",
      stderr: `shardkv-controller: cannot start: invalid --metrics-listen: ${inUse}: port ${port} on 127.0.0.1 is already in use; choose another port\n`,
    });
    expect(malformed).toEqual({ code: 2, stdout: "", stderr: 'shardkv-controller: invalid --metrics-listen: want host:port, got "localhost" (--help for usage)\n' });
  });
});
