/**
 * Real processes: `bin/shardctl` as a child process against three `shardkv-controller`
 * daemons (deploy/local/cluster.ts). Joins, leaves and moves through the CLI and checks
 * the configs they create; every bad input exits non-zero with one line on stderr and creates
 * no new config; status shows three replicas and one leader; --json parses; watch streams new
 * configs until SIGINT; a kill -9 of the leader does not stop the CLI or lose history. Exit
 * statuses: 2 usage, 3 refused or unreachable (one line naming the server), and for status 0
 * a leader, 1 none; status waits for controllers that are still starting.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { ControllerClient } from "../../controller/client";
import type { ConfigNum, GroupId } from "../../common/ids";
import { configToJson, forceWarning } from "../../controller/shardctl-lib";
import { controllerName, LocalCluster } from "../../deploy/local/cluster";
import { waitFor } from "../lib/wait";

const shardctlBin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "shardctl");
const shardCount = 64;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface JsonConfig {
  num: number;
  shards: number[];
  groups: Record<string, string[]>;
}

/** Environment of the CLI: no SHARDKV_CONTROLLERS inherited from the caller. */
function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SHARDKV_CONTROLLERS;
  return env;
}

function counts(c: JsonConfig): Map<number, number> {
  const m = new Map<number, number>(Object.keys(c.groups).map((g) => [Number(g), 0]));
  for (const g of c.shards) m.set(g, (m.get(g) ?? 0) + 1);
  return m;
}

describe("shardctl against three controller daemons", () => {
  let dir: string;
  let cluster: LocalCluster;
  /** In-process client: the independent check of what the CLI did. */
  let client: ControllerClient;

  /** Runs bin/shardctl with --controllers (unless `controllers` is false) and `args`. */
  function shardctl(args: readonly string[], opts: { controllers?: boolean } = {}): Promise<Run> {
    const argv = opts.controllers === false ? [...args] : ["--controllers", cluster.controllerAddrs().join(","), ...args];
    return new Promise((resolve, reject) => {
      execFile(shardctlBin, argv, { env: cliEnv(), timeout: 30_000 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err); // not run, or killed by the timeout
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
    });
  }

  /** Runs `args`, expects exit 0 and empty stderr, returns stdout. */
  async function ok(args: readonly string[]): Promise<string> {
    const r = await shardctl(args);
    expect(r, `shardctl ${args.join(" ")}`).toMatchObject({ code: 0, stderr: "" });
    return r.stdout;
  }

  /**
   * `join --force ...`: these tests' groups are addresses with no servers behind them, so the
   * controller's join check is skipped (test/integration/join-check.test.ts covers it); expects
   * exit 0 and exactly the --force warning on stderr, returns stdout.
   */
  async function forcedJoin(args: readonly string[]): Promise<string> {
    const at = args.indexOf("join");
    const r = await shardctl([...args.slice(0, at + 1), "--force", ...args.slice(at + 1)]);
    const gids = args.slice(at + 1).map((a) => Number(a.slice(0, a.indexOf("="))) as GroupId);
    expect(r, `shardctl ${args.join(" ")}`).toMatchObject({ code: 0, stderr: `${forceWarning(gids)}\n` });
    // What each group's leader would do once up: acknowledge the join (a pending group holds
    // up later changes that move its shards away).
    const num = Number(/^config (\d+) created/.exec(r.stdout)?.[1]) as ConfigNum;
    for (const gid of gids) expect(await client.ackJoin(gid, num)).toBe(0);
    return r.stdout;
  }

  async function queryJson(num?: number): Promise<JsonConfig> {
    return JSON.parse(await ok(["--json", "query", ...(num === undefined ? [] : [String(num)])])) as JsonConfig;
  }

  const latestNum = async (): Promise<number> => (await client.query()).num;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-shardctl-"));
    // Controllers only (up waits for their leader).
    cluster = await LocalCluster.up({ dir, shards: shardCount, groups: 0, tickMs: 50 });
    client = new ControllerClient(cluster.controllerOptions());
  });
  afterAll(async () => {
    client?.close();
    await cluster?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("status shows three replicas, all up, and one leader; --json parses", async () => {
    const text = await ok(["status"]);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ADDRESS\s+STATE\s+ID\s+ROLE\s+TERM\s+LEADER\s+APPLIED\s+CONFIG/);
    for (const a of cluster.controllerAddrs()) expect(lines.filter((l) => l.startsWith(a + " "))).toHaveLength(1);
    expect(lines.filter((l) => / up +\d+ +leader /.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/^3\/3 up, leader 127\.0\.0\.1:\d+, cluster [0-9a-f]{32}$/);

    const json = JSON.parse(await ok(["--json", "status"])) as { address: string; up: boolean; role: string; id: number; leader: number; term: number }[];
    expect(json.map((s) => s.address)).toEqual(cluster.controllerAddrs());
    expect(json.every((s) => s.up)).toBe(true);
    const leaders = json.filter((s) => s.role === "leader");
    expect(leaders).toHaveLength(1);
    // Followers may learn of the leader a little later; the leader itself knows.
    expect(leaders[0]!.leader).toBe(leaders[0]!.id);
  });

  it("query of a fresh cluster: config 0, every shard unassigned", async () => {
    expect(await ok(["query"])).toBe(`config 0: ${shardCount} shards, 0 groups\nunassigned: ${shardCount} (0-${shardCount - 1})\n`);
    expect(await queryJson()).toEqual({ num: 0, shards: new Array(shardCount).fill(0), groups: {} });
  });

  it("join one group: every shard to it", async () => {
    const out = await forcedJoin(["join", "1=127.0.0.1:9101,127.0.0.1:9102"]);
    expect(out).toBe([
      "config 1 created",
      `config 1: ${shardCount} shards, 1 group`,
      "GID  SERVERS                        COUNT  SHARDS",
      `1    127.0.0.1:9101,127.0.0.1:9102  ${shardCount}     0-${shardCount - 1}`,
      "unassigned: none",
      "",
    ].join("\n"));
    expect((await client.query()).num).toBe(1);
  });

  it("join two groups at once: one config, balanced shards", async () => {
    const out = await forcedJoin(["join", "2=127.0.0.1:9201", "3=127.0.0.1:9301,127.0.0.1:9302,127.0.0.1:9303"]);
    expect(out.split("\n")[0]).toBe("config 2 created");
    const c = await queryJson();
    expect(c.num).toBe(2);
    expect(c.groups).toEqual({ 1: ["127.0.0.1:9101", "127.0.0.1:9102"], 2: ["127.0.0.1:9201"], 3: ["127.0.0.1:9301", "127.0.0.1:9302", "127.0.0.1:9303"] });
    const n = counts(c);
    expect([...n.keys()].sort()).toEqual([1, 2, 3]); // no shard unassigned
    expect(Math.max(...n.values()) - Math.min(...n.values())).toBeLessThanOrEqual(1);
    // The human table agrees with the JSON.
    const human = await ok(["query", "2"]);
    for (const [g, k] of n) expect(human).toMatch(new RegExp(`^${g} +\\S+ +${k} +[\\d,-]+$`, "m"));
    expect(human).toContain("unassigned: none");
  });

  it("move one shard, then query shows it moved and nothing else changed", async () => {
    const before = await queryJson();
    const shard = before.shards.findIndex((g) => g !== 2);
    const out = await ok(["move", String(shard), "2"]);
    expect(out.split("\n")[0]).toBe("config 3 created");
    const after = await queryJson(3);
    expect(after.shards[shard]).toBe(2);
    expect(after.shards.filter((g, s) => s !== shard && g !== before.shards[s])).toEqual([]);
    expect(after.groups).toEqual(before.groups);
  });

  it("leave one group: its shards spread over the rest, balanced", async () => {
    const out = await ok(["leave", "1"]);
    expect(out.split("\n")[0]).toBe("config 4 created");
    const c = await queryJson();
    expect(c.num).toBe(4);
    expect(Object.keys(c.groups)).toEqual(["2", "3"]);
    expect(c.shards.every((g) => g === 2 || g === 3)).toBe(true);
    const n = counts(c);
    expect(Math.abs(n.get(2)! - n.get(3)!)).toBeLessThanOrEqual(1);
    // History is kept: config 1 is still there.
    expect((await queryJson(1)).shards).toEqual(new Array(shardCount).fill(1));
  });

  // [what, arguments, exit code (2 usage, 3 refused by the controller), the one stderr line (a
  // substring of it)]. Latest config is 4: groups 2 and 3.
  const badInputs: [string, string[], number, string][] = [
    ["join a gid already present", ["join", "2=127.0.0.1:9999"], 3, "shardctl: invalid gid: group 2 is already in config 4"],
    ["join a new gid and a present one", ["join", "5=127.0.0.1:9501", "3=127.0.0.1:9999"], 3, "shardctl: invalid gid: group 3 is already in config 4"],
    ["join gid 0", ["join", "0=127.0.0.1:9001"], 2, 'shardctl: invalid gid: want a positive integer, got "0"'],
    ["join a negative gid", ["join", "-4=127.0.0.1:9001"], 2, 'shardctl: invalid gid: want a positive integer, got "-4"'],
    ["join an empty address list", ["join", "5="], 2, "shardctl: invalid servers: group 5 has an empty server list"],
    ["join no address list at all", ["join", "5"], 2, 'shardctl: invalid join argument: want GID=ADDR[,ADDR...], got "5"'],
    ["join a malformed address", ["join", "5=localhost"], 2, 'shardctl: invalid servers of group 5: want host:port, got "localhost"'],
    ["join an empty address in the list", ["join", "5=127.0.0.1:9501,,127.0.0.1:9502"], 2, "shardctl: invalid servers of group 5: empty address"],
    ["leave an unknown gid", ["leave", "7"], 3, "shardctl: invalid gid: group 7 is not in config 4"],
    ["leave every group", ["leave", "2", "3"], 3, "shardctl: invalid gids: leaving every group (2,3) would orphan all 64 shards"],
    ["leave gid 0", ["leave", "0"], 2, 'shardctl: invalid gid: want a positive integer, got "0"'],
    ["move a shard = shard count", ["move", String(shardCount), "2"], 3, `shardctl: invalid shard: shard must be in [0, ${shardCount}), got ${shardCount}`],
    ["move a shard far beyond", ["move", "1000000", "2"], 3, `shardctl: invalid shard: shard must be in [0, ${shardCount})`],
    ["move a negative shard", ["move", "-1", "2"], 2, 'shardctl: invalid shard: want a non-negative integer, got "-1"'],
    ["move to a gid not in the config", ["move", "0", "9"], 3, "shardctl: invalid gid: group 9 is not in config 4"],
    ["move to gid 0", ["move", "0", "0"], 2, 'shardctl: invalid gid: want a positive integer, got "0"'],
    ["move with a non-integer shard", ["move", "x", "2"], 2, 'shardctl: invalid shard: want a non-negative integer, got "x"'],
    ["an unknown flag", ["--bogus", "leave", "2"], 2, 'shardctl: unknown flag "--bogus"'],
    ["--force outside join", ["--force", "leave", "2"], 2, "shardctl: invalid --force: only valid with join, replica and controller, not leave"],
    ["an unknown command", ["rebalance"], 2, 'shardctl: unknown command "rebalance"'],
  ];
  it.each(badInputs)("rejects %s (%j): exit %i, one line, no new config", async (_what, args, code, line) => {
    const before = await latestNum();
    const r = await shardctl(args);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe("");
    expect(r.stderr.endsWith("\n")).toBe(true);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(line);
    expect(await latestNum()).toBe(before);
  });

  it("a missing --controllers is a usage error (exit 2); no reachable controller is a one-line timeout naming it (exit 3)", async () => {
    const missing = await shardctl(["query"], { controllers: false });
    expect(missing).toEqual({ code: 2, stdout: "", stderr: "shardctl: invalid --controllers: missing (or set $SHARDKV_CONTROLLERS)\n" });
    const dead = await shardctl(["--controllers", "127.0.0.1:1", "--timeout", "500ms", "query"], { controllers: false });
    expect(dead).toEqual({
      code: 3, stdout: "", stderr: "shardctl: query timed out after 500 ms: cannot reach controller 127.0.0.1:1: connection refused\n",
    });
  });

  it("takes the controllers from SHARDKV_CONTROLLERS", async () => {
    const r = await new Promise<Run>((resolve) => {
      execFile(shardctlBin, ["--json", "query"], { env: { ...cliEnv(), SHARDKV_CONTROLLERS: cluster.controllerAddrs().join(",") } },
        (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stdout, stderr }));
    });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as JsonConfig).num).toBe(4);
  });

  it("watch prints the latest config, then each new one; --from replays history; SIGINT ends it (exit 0)", async () => {
    const proc = spawn(shardctlBin, ["--controllers", cluster.controllerAddrs().join(","), "--json", "watch", "--from", "2"], { env: cliEnv() });
    const seen: JsonConfig[] = [];
    let stderr = "";
    proc.stderr.on("data", (b: Buffer) => { stderr += b.toString(); });
    createInterface({ input: proc.stdout }).on("line", (l) => seen.push(JSON.parse(l) as JsonConfig));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    try {
      await waitFor(() => seen.length >= 3, { timeoutMs: 15000, what: "watch to replay configs 2-4" });
      expect(seen.map((c) => c.num)).toEqual([2, 3, 4]);
      await forcedJoin(["join", "5=127.0.0.1:9501"]);
      await waitFor(() => seen.length >= 4, { timeoutMs: 15000, what: "watch to print config 5" });
      expect(seen[3]).toEqual(configToJson(await client.query(5)));
    } finally {
      proc.kill("SIGINT");
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
  });

  it("kill -9 of the leader: the CLI follows the new leader, history is intact and continues", async () => {
    const nums = [0, 1, 2, 3, 4, 5];
    const history = (await Promise.all(nums.map((n) => client.query(n)))).map(configToJson);
    const leader = await cluster.waitLeader("controllers");
    await cluster.kill(controllerName(leader));
    const out = await forcedJoin(["--timeout", "20s", "join", "6=127.0.0.1:9601"]);
    expect(out.split("\n")[0]).toBe("config 6 created");
    expect((await Promise.all(nums.map((n) => client.query(n)))).map(configToJson)).toEqual(history);
    const status = JSON.parse((await shardctl(["--json", "--timeout", "2s", "status"])).stdout) as { address: string; up: boolean }[];
    expect(status.filter((s) => !s.up).map((s) => s.address)).toEqual([cluster.node(controllerName(leader)).addr]);
    await cluster.restart(controllerName(leader));
    await waitFor(async () => (await cluster.controllerStatus(controllerName(leader)))?.latestConfigNum === 6, {
      timeoutMs: 20000, what: `restarted controller ${leader} to reach config 6`,
    });
    const all = JSON.parse(await ok(["--json", "status"])) as { up: boolean; role: string }[];
    expect(all.every((s) => s.up)).toBe(true);
  });
});

/** A plain TCP listener on `address` that counts connections and drops each at once. */
async function countingListener(address: string): Promise<{ connections: number; close(): Promise<void> }> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  const l = { connections: 0, close: () => new Promise<void>((r) => server.close(() => r())) };
  const server = createServer((s) => {
    l.connections++;
    s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return l;
}

describe("shardctl status: waits for controllers that are starting; exit 0 leader, 1 no leader, 3 none reachable", () => {
  let dir: string;
  let cluster: LocalCluster;
  const status = (timeout: string): Promise<Run> => new Promise((resolve, reject) => {
    execFile(shardctlBin, ["--controllers", cluster.controllerAddrs().join(","), "--timeout", timeout, "status"], { env: cliEnv(), timeout: 90_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-shardctl-status-"));
    cluster = await LocalCluster.up({ dir, shards: 8, groups: 0, tickMs: 50 });
  });
  afterAll(async () => {
    await cluster?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("started while no controller runs, it waits until one is the leader, then exits 0", async () => {
    for (const id of [1, 2, 3]) await cluster.kill(controllerName(id));
    // Stand-ins on the controllers' ports show when the CLI has tried each one with nothing up.
    const standIns = await Promise.all(cluster.controllerAddrs().map(countingListener));
    const run = status("60s");
    await waitFor(() => standIns.every((l) => l.connections >= 1), { timeoutMs: 30_000, what: "shardctl status to try every controller" });
    await Promise.all(standIns.map((l) => l.close()));
    await Promise.all([1, 2, 3].map((id) => cluster.restart(controllerName(id))));
    const r = await run;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toMatch(/^\d\/3 up, leader 127\.0\.0\.1:\d+, cluster [0-9a-f]{32}$/);
  });

  it("with no leader (2 of 3 killed) it exits 1 after --timeout; with none reachable, 3 and one line naming them", async () => {
    await cluster.waitLeader("controllers");
    await cluster.kill("c1");
    await cluster.kill("c2");
    // The survivor has no quorum: once it has stepped down (CheckQuorum) nobody is leader.
    await waitFor(async () => (await cluster.controllerStatus("c3"))?.role !== "leader", { timeoutMs: 20_000, what: "controller 3 to step down" });
    const noLeader = await status("1500ms");
    expect(noLeader.code).toBe(1);
    expect(noLeader.stderr).toBe("");
    expect(noLeader.stdout.trimEnd().split("\n").at(-1)).toMatch(/^1\/3 up, no leader, cluster [0-9a-f]{32}$/);
    await cluster.kill("c3");
    const none = await status("1s");
    expect(none.code).toBe(3);
    expect(none.stderr).toBe(`shardctl: cannot reach any controller (${cluster.controllerAddrs().join(", ")}): connection refused\n`);
  });
});
