/**
 * Real processes: `bin/shardkv-local` driven as a user would, against a small cluster (3
 * controllers, 2 groups of 3, 16 shards) in a temporary directory: `up` writes cluster.json in
 * the format and leaves the daemons running after the CLI exits; `status --json`;
 * `kill` + `restart` of a server; `pause` / `resume`; `add-group` moves shards to the new
 * group; `remove-group` drains a group (its shards move, it ends with zero keys) while every
 * key written before reads back unchanged; `down` leaves no process. The cluster runs on
 * mutual TLS (the CLI's default): `env` prints what a shell needs, after which the data CLI
 * just works, while a client without TLS fails at once with one line. The steps share one
 * cluster and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ShardKV } from "../../client/shardkv";
import { readableLog } from "../../common/log-line";
import type { ClusterStatus } from "../../deploy/local/cluster";
import { LocalCluster } from "../../deploy/local/cluster";
import { identityTlsFiles } from "../../deploy/local/certs";
import { waitFor } from "../lib/wait";

const binDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin");
const localBin = join(binDir, "shardkv-local");
const shards = 16;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(localBin, [...args], { timeout: timeoutMs, env: process.env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface NodeJson {
  id: number;
  addr: string;
  pid: number | null;
  dataDir: string;
  log: string;
  metrics?: string;
}
interface ClusterJson {
  controllers: NodeJson[];
  groups: { gid: number; servers: NodeJson[] }[];
  nats: string | null;
  shards: number;
  tls: boolean;
}

/** true when `pid` no longer runs (no /proc entry, or a zombie waiting for its reaper). */
function pidGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

function procStateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

// Each step's own deadlines decide; this only catches a hang on a heavily loaded machine.
describe("shardkv-local (real processes)", { timeout: 150_000 }, () => {
  let dir: string;
  let kv: ShardKV | undefined;
  const everyPid = new Set<number>();
  const written = new Map<string, string>();

  const readJson = (): ClusterJson => JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8")) as ClusterJson;
  const remember = (c: ClusterJson): void => {
    for (const n of [...c.controllers, ...c.groups.flatMap((g) => g.servers)]) if (n.pid !== null) everyPid.add(n.pid);
  };
  /** `shardkv-local status --json`, as a user runs it. */
  const cliStatus = async (): Promise<ClusterStatus> => {
    const r = await cli(["status", "--json", "--dir", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as ClusterStatus;
  };
  /** The same status in this process (each CLI run costs a process start on a loaded machine). */
  const status = async (): Promise<ClusterStatus> => {
    const c = LocalCluster.load(dir);
    try {
      return JSON.parse(JSON.stringify(await c.status())) as ClusterStatus;
    } finally {
      c.close();
    }
  };
  const logs = (): string => {
    try {
      const c = LocalCluster.load(dir);
      return c.nodeNames().map((n) => `--- ${n}\n${c.logOf(n).split("\n").slice(-15).join("\n")}`).join("\n");
    } catch {
      return "(no cluster)";
    }
  };
  const checkAll = async (): Promise<void> => {
    for (const [k, v] of written) expect(await kv!.getString(k), k).toBe(v);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-local-"));
  });

  afterAll(async () => {
    kv?.close();
    // Whatever a failed step left running is killed here.
    if (existsSync(join(dir, "cluster.json"))) await LocalCluster.load(dir).down(0).catch(() => undefined);
    for (const pid of everyPid) {
      if (!pidGone(pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("up starts the cluster, writes cluster.json and leaves the daemons running", async () => {
    const r = await cli(["up", "--dir", dir, "--controllers", "3", "--groups", "2", "--replicas", "3", "--shards", String(shards), "--tick-ms", "50"], 80_000);
    expect(r.code, `${r.stdout}\n${r.stderr}\n${logs()}`).toBe(0);
    expect(r.stdout).toMatch(/cluster up in \d+ ms/);
    const c = readJson();
    remember(c);
    expect(Object.keys(c)).toEqual(["controllers", "groups", "nats", "shards", "tls"]);
    expect(c.tls).toBe(true);
    expect(c.nats).toBeNull();
    expect(c.shards).toBe(shards);
    expect(c.controllers.map((n) => n.id)).toEqual([1, 2, 3]);
    expect(c.groups.map((g) => g.gid)).toEqual([1, 2]);
    const nodes = [...c.controllers.map((n) => ["c" + n.id, n] as const), ...c.groups.flatMap((g) => g.servers.map((n) => [`g${g.gid}n${n.id}`, n] as const))];
    expect(nodes).toHaveLength(9);
    for (const [name, n] of nodes) {
      expect(Object.keys(n)).toEqual(["id", "addr", "pid", "dataDir", "log", "metrics"]);
      expect(n.addr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(n.metrics).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(n.log).toBe(join(dir, "logs", `${name}.log`));
      expect(existsSync(n.dataDir)).toBe(true);
      expect(typeof n.pid).toBe("number");
      // The CLI has exited; the daemon runs on, and it is the one with this data directory.
      expect(pidGone(n.pid!)).toBe(false);
      expect(readFileSync(`/proc/${n.pid}/cmdline`, "utf8").split("\0")).toContain(n.dataDir);
    }
    expect(new Set(nodes.flatMap(([, n]) => [n.addr, n.metrics])).size).toBe(18);

    const again = await cli(["up", "--dir", dir, "--groups", "1"]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/already running/);

    kv = await ShardKV.connect({ controllers: c.controllers.map((n) => n.addr), tls: identityTlsFiles(dir, "client"), deadlineMs: 30_000 });
    for (let i = 0; i < 40; i++) {
      const k = `key-${i}`;
      await kv.put(k, `v${i}`);
      written.set(k, `v${i}`);
    }
  });

  it("env: eval its lines and the CLIs just work over mutual TLS; a client without TLS fails at once, in one line", async () => {
    const sh = (script: string): Promise<Run> => new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH}` };
      for (const k of ["SHARDKV_CONTROLLERS", "SHARDKV_TLS_CA", "SHARDKV_TLS_CERT", "SHARDKV_TLS_KEY"]) delete env[k];
      execFile("sh", ["-c", script], { timeout: 60_000, env }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }));
    });
    const env = await cli(["env", "--dir", dir]);
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toMatch(/^export SHARDKV_CONTROLLERS='[\d.:,]+'\nexport SHARDKV_TLS_CA='.*ca\.crt'\nexport SHARDKV_TLS_CERT='.*admin\.crt'\nexport SHARDKV_TLS_KEY='.*admin\.key'\n$/);
    const ok = await sh(`eval "$(shardkv-local env --dir '${dir}')" && shardkv put tls-key over-mtls && shardkv get tls-key && shardctl query`);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^over-mtls\nconfig \d+: 16 shards, 2 groups/);
    written.set("tls-key", "over-mtls");

    // The same commands without TLS: refused by the servers, said in one line, and at once
    // (the reason is the handshake, not "timed out": no retry until the 60 s deadline).
    const plain = await sh(`eval "$(shardkv-local env --dir '${dir}')" && shardkv --insecure --timeout 60s get tls-key`);
    expect(plain.code).toBe(3);
    expect(plain.stderr.trim().split("\n")).toHaveLength(1);
    expect(plain.stderr).toMatch(/^shardkv: cannot reach controller [\d.:]+: the server requires TLS \(this client connects without TLS; set \$SHARDKV_TLS_CA/);
    const ctl = await sh(`eval "$(shardkv-local env --dir '${dir}')" && shardctl --insecure --timeout 60s query`);
    expect(ctl.code).toBe(3);
    expect(ctl.stderr).toMatch(/^shardctl: cannot reach controller [\d.:]+: the server requires TLS[^\n]*\n$/);
    // The server side says it too, in one line of the controller's log (c1: the one dialled first).
    const c1Log = readJson().controllers[0]!.log;
    await waitFor(() => /WARN c1 .*refused a TLS handshake from 127\.0\.0\.1: the client does not speak TLS/.test(readableLog(readFileSync(c1Log, "utf8"))), {
      timeoutMs: 10_000, what: "c1 to log the refused handshake",
    });
  });

  it("status shows every node up, one leader per group and the shard map", async () => {
    const s = await cliStatus();
    expect(s.nodes.map((n) => n.name)).toEqual(["c1", "c2", "c3", "g1n1", "g1n2", "g1n3", "g2n1", "g2n2", "g2n3"]);
    for (const n of s.nodes) expect(n.state, n.name).toBe("up");
    expect(s.nodes.filter((n) => n.kind === "controller" && n.role === "leader")).toHaveLength(1);
    for (const gid of [1, 2]) expect(s.nodes.filter((n) => n.gid === gid && n.role === "leader"), `group ${gid}`).toHaveLength(1);
    expect(Object.keys(s.shardMap!)).toEqual(["1", "2"]);
    expect([...s.shardMap!["1"]!, ...s.shardMap!["2"]!].sort((a, b) => a - b)).toEqual([...Array(shards).keys()]);
    const human = await cli(["status", "--dir", dir]);
    expect(human.stdout).toMatch(/9\/9 nodes up/);
    expect(human.stdout).toMatch(/group 1: +8 shards/);
  });

  it("logs NODE: the last lines readable (time, level, node, term, message); --json: the daemon's JSON lines", async () => {
    const readable = await cli(["logs", "g1n2", "--lines", "5", "--dir", dir]);
    expect(readable.code, readable.stderr).toBe(0);
    const lines = readable.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) g1n2 (t\d+ )?\S/);
    const json = await cli(["logs", "c1", "--json", "--dir", dir]);
    expect(json.code, json.stderr).toBe(0);
    for (const l of json.stdout.trimEnd().split("\n")) expect(JSON.parse(l)).toMatchObject({ gid: 0, node: 1, msg: expect.any(String) });
    const unknown = await cli(["logs", "g9n9", "--dir", dir]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/^shardkv-local logs: unknown node "g9n9"; nodes: c1 c2 c3 /);
  });

  it("kill and restart a server: same data directory, new pid, data intact", async () => {
    const before = readJson().groups[0]!.servers[0]!;
    const r = await cli(["kill", "g1n1", "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(pidGone(before.pid!)).toBe(true);
    expect(readJson().groups[0]!.servers[0]!.pid).toBeNull();
    expect((await status()).nodes.find((n) => n.name === "g1n1")!.state).toBe("down");
    await kv!.put("during-kill", "x"); // the group's other two replicas serve
    written.set("during-kill", "x");
    // A node down: unhealthy (exit 1), still the full report (group 1 may still be electing a
    // leader if g1n1 led it).
    const degraded = await cli(["status", "--dir", dir]);
    expect(degraded.code).toBe(1);
    expect(degraded.stderr).toMatch(/^shardkv-local status: unhealthy: g1n1 is down(; group 1 has no leader)?\n$/);
    expect(degraded.stdout).toMatch(/8\/9 nodes up/);

    const unknown = await cli(["kill", "g9n9", "--dir", dir]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/unknown node "g9n9"; nodes: c1 c2 c3 g1n1 g1n2 g1n3 g2n1 g2n2 g2n3/);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);

    const rr = await cli(["restart", "g1n1", "--dir", dir]);
    expect(rr.code, rr.stderr).toBe(0);
    const after = readJson().groups[0]!.servers[0]!;
    remember(readJson());
    expect(after.dataDir).toBe(before.dataDir);
    expect(after.addr).toBe(before.addr);
    expect(after.pid).not.toBe(before.pid);
    expect(pidGone(after.pid!)).toBe(false);
    // It catches up from its data directory and the group's log.
    await waitFor(async () => {
      const n = (await status()).nodes.find((x) => x.name === "g1n1")!;
      return n.state === "up" && (n.role === "follower" || n.role === "leader");
    }, { timeoutMs: 20_000, what: "g1n1 back in its group", intervalMs: 200 });
    await checkAll();
  });

  it("pause and resume a server (SIGSTOP / SIGCONT)", async () => {
    const pid = readJson().groups[1]!.servers[0]!.pid!;
    expect((await cli(["pause", "g2n1", "--dir", dir])).code).toBe(0);
    expect(procStateOf(pid)).toMatch(/[Tt]/);
    expect((await status()).nodes.find((n) => n.name === "g2n1")!.state).toBe("paused");
    await kv!.put("during-pause", "y");
    written.set("during-pause", "y");
    const twice = await cli(["pause", "g2n1", "--dir", dir]);
    expect(twice.code).toBe(3);
    expect(twice.stderr).toMatch(/g2n1 is paused/);
    expect((await cli(["resume", "g2n1", "--dir", dir])).code).toBe(0);
    expect(procStateOf(pid)).not.toMatch(/[Tt]/);
    await waitFor(async () => (await status()).nodes.find((n) => n.name === "g2n1")!.state === "up",
      { timeoutMs: 10_000, what: "g2n1 answering after resume", intervalMs: 200 });
  });

  it("add-group starts group 3 and moves shards to it", async () => {
    const r = await cli(["add-group", "--replicas", "3", "--dir", dir], 80_000);
    expect(r.code, `${r.stdout}\n${r.stderr}\n${logs()}`).toBe(0);
    expect(r.stdout).toMatch(/group 3 added/);
    // Piped: plain progress lines (shards serving, moving with the bytes left, per group), the last one all serving.
    const progress = r.stdout.split("\n").filter((l) => l.startsWith("  config "));
    expect(progress.length, r.stdout).toBeGreaterThanOrEqual(1);
    for (const l of progress) expect(l).toMatch(/^ {2}config \d+: \d+\/16 shards serving, (no shards moving|\d+ shards? moving \((at least )?[\d.]+ (B|KiB|MiB) left\))(, \d+ awaiting gc)? \| g1 /);
    expect(progress.at(-1)).toMatch(/^ {2}config \d+: 16\/16 shards serving, no shards moving \| g1 serving \d+ \| g2 serving \d+ \| g3 serving \d+$/);
    const c = readJson();
    remember(c);
    expect(c.groups.map((g) => g.gid)).toEqual([1, 2, 3]);
    const s = await status();
    expect(Object.keys(s.shardMap!)).toEqual(["1", "2", "3"]);
    expect(s.shardMap!["3"]!.length).toBeGreaterThanOrEqual(5);
    // The new group's leader serves exactly the shards the config gives it.
    const leader = s.nodes.find((n) => n.gid === 3 && n.role === "leader")!;
    expect(leader.shards!.filter((x) => x.state === "serving").map((x) => x.shard).sort((a, b) => a - b)).toEqual(s.shardMap!["3"]);
    await checkAll();
  });

  it("remove-group drains group 1: its shards move and its keys are deleted; data intact", async () => {
    const g1 = readJson().groups.find((g) => g.gid === 1)!;
    const r = await cli(["remove-group", "1", "--dir", dir], 80_000);
    expect(r.code, `${r.stdout}\n${r.stderr}\n${logs()}`).toBe(0);
    // Progress while group 1's shards leave it, then every shard serving at the groups that stay.
    const progress = r.stdout.split("\n").filter((l) => l.startsWith("  config "));
    expect(progress.length, r.stdout).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)).toMatch(/^ {2}config \d+: 16\/16 shards serving, no shards moving \| g2 serving \d+ \| g3 serving \d+$/);
    const drained = /drained \(last Status before the stop\): (.*)/.exec(r.stdout)?.[1] ?? "";
    expect(drained.split("; ").length).toBeGreaterThanOrEqual(2);
    for (const d of drained.split("; ")) expect(d).toMatch(/^g1n\d config \d+, 0 shards, 0 keys$/);
    for (const n of g1.servers) expect(pidGone(n.pid!), `g1n${n.id} stopped`).toBe(true);
    expect(readJson().groups.map((g) => g.gid)).toEqual([2, 3]);
    const s = await status();
    expect(Object.keys(s.shardMap!)).toEqual(["2", "3"]);
    expect(s.nodes.filter((n) => n.gid === 1)).toHaveLength(0);
    const keys = s.nodes.filter((n) => n.state === "up" && n.kind === "server" && n.role === "leader")
      .reduce((sum, n) => sum + n.shards!.reduce((a, x) => a + x.keys, 0), 0);
    expect(keys).toBe(written.size);
    await checkAll();
  });

  it("down stops every process", async () => {
    kv?.close();
    kv = undefined;
    const r = await cli(["down", "--dir", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stopped 9 nodes \(c1 c2 c3 g2n1 g2n2 g2n3 g3n1 g3n2 g3n3\)/);
    // Each daemon stopped on SIGTERM by itself (graceful stop, RocksDB closed), none needed SIGKILL.
    expect(r.stdout).not.toMatch(/SIGKILLed/);
    const c = readJson();
    for (const n of [...c.controllers, ...c.groups.flatMap((g) => g.servers)]) {
      expect(n.pid).toBeNull();
      // The last line but for the counts of rate-limited lines written at the exit (common/log-limit.ts).
      expect(readableLog(readFileSync(n.log, "utf8")), n.log).toMatch(/SIGTERM: shutting down\n(.*\n)*.*(controller \d+|shard server g\d+ n\d+) stopped\n(.* \(repeated .*\n)*$/);
    }
    await waitFor(() => [...everyPid].every(pidGone), { timeoutMs: 10_000, what: `every pid gone: ${[...everyPid].join(" ")}` });
    expect(everyPid.size).toBeGreaterThanOrEqual(13);
    const st = await status();
    for (const n of st.nodes) expect(n.state).toBe("down");
  });
});
