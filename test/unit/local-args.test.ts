import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../../controller/shardctl-lib";
import { repoRoot } from "../../deploy/local/process";
import { parseShardDaemonArgs } from "../../shard-server/daemon-args";
import { UsageError } from "../../common/cli-args";
import { parseLocalArgs } from "../../deploy/local/args";
import { allNodes, parseNodeName, type ClusterFile } from "../../deploy/local/layout";
import { allocatePorts, reservedPorts } from "../../deploy/local/cluster";

describe("shardkv-local argument parsing", () => {
  it("applies the defaults of up", () => {
    expect(parseLocalArgs(["up"])).toEqual({
      kind: "up", dir: "./.shardkv", controllers: 3, groups: 3, replicas: 3, shards: 64, nats: null, foreground: false,
      basePort: undefined, tickMs: undefined, tls: true,
    });
  });

  it("parses every flag of up, in both forms and before the command", () => {
    expect(parseLocalArgs(["--dir", "/tmp/x", "up", "--controllers=5", "--groups", "2", "--replicas", "1", "--shards", "16",
      "--base-port", "20000", "--nats", "nats://127.0.0.1:4222", "--tick-ms", "50", "--foreground", "--insecure"])).toEqual({
      kind: "up", dir: "/tmp/x", controllers: 5, groups: 2, replicas: 1, shards: 16, basePort: 20000,
      nats: "nats://127.0.0.1:4222", tickMs: 50, foreground: true, tls: false,
    });
  });

  it.each([
    [["status"], { kind: "status", dir: "./.shardkv", json: false }],
    [["status", "--json", "--dir", "d"], { kind: "status", dir: "d", json: true }],
    [["env", "--dir", "d"], { kind: "env", dir: "d" }],
    [["down"], { kind: "down", dir: "./.shardkv" }],
    [["down", "--grace", "500ms"], { kind: "down", dir: "./.shardkv", graceMs: 500 }],
    [["down", "--grace=0"], { kind: "down", dir: "./.shardkv", graceMs: 0 }],
    [["kill", "g1n2"], { kind: "kill", dir: "./.shardkv", node: "g1n2" }],
    [["logs", "g1n2"], { kind: "logs", dir: "./.shardkv", node: "g1n2", lines: 50, json: false }],
    [["logs", "c1", "--lines", "5", "--json"], { kind: "logs", dir: "./.shardkv", node: "c1", lines: 5, json: true }],
    [["pause", "c1", "--dir", "d"], { kind: "pause", dir: "d", node: "c1" }],
    [["resume", "c1"], { kind: "resume", dir: "./.shardkv", node: "c1" }],
    [["restart", "g3n1"], { kind: "restart", dir: "./.shardkv", node: "g3n1" }],
    [["add-group"], { kind: "add-group", dir: "./.shardkv", replicas: 3, basePort: undefined }],
    [["add-group", "--replicas", "5"], { kind: "add-group", dir: "./.shardkv", replicas: 5, basePort: undefined }],
    [["remove-group", "4"], { kind: "remove-group", dir: "./.shardkv", gid: 4 }],
    [["--help"], { kind: "help" }],
    [["kill", "-h"], { kind: "help" }],
    [["help"], { kind: "help" }],
    [["--json", "status"], { kind: "status", dir: "./.shardkv", json: true }],
    [["down", "--grace", "10m"], { kind: "down", dir: "./.shardkv", graceMs: 600_000 }],
    [["replace", "g1n2"], { kind: "replace", dir: "./.shardkv", node: "g1n2", timeoutMs: 300_000, force: false, basePort: undefined }],
    [["replace", "c3", "--timeout", "90s", "--force", "--base-port", "21000"], { kind: "replace", dir: "./.shardkv", node: "c3", timeoutMs: 90_000, force: true, basePort: 21000 }],
    [["add-replica", "2"], { kind: "add-replica", dir: "./.shardkv", of: 2, learner: false, timeoutMs: 300_000, force: false, basePort: undefined }],
    [["add-replica", "controllers", "--learner"], { kind: "add-replica", dir: "./.shardkv", of: "controllers", learner: true, timeoutMs: 300_000, force: false, basePort: undefined }],
    [["remove-replica", "g2n4", "--grace", "1s"], { kind: "remove-replica", dir: "./.shardkv", node: "g2n4", timeoutMs: 300_000, force: false, graceMs: 1000 }],
  ])("%j", (argv, want) => {
    expect(parseLocalArgs(argv)).toEqual(want);
  });

  it.each([
    [[], /missing command/],
    [["start"], /unknown command "start"/],
    [["up", "--groups"], /^invalid --groups: missing value$/],
    [["up", "--groups", "0"], /invalid --groups: want an integer in \[1, 100\], got "0"/],
    [["up", "--groups", "2x"], /invalid --groups/],
    [["up", "--shards", "0"], /invalid --shards/],
    [["up", "--nats", "localhost:4222"], /invalid --nats/],
    [["up", "--base-port", "80"], /invalid --base-port/],
    [["up", "--base-port", "65530"], /beyond 65535/],
    [["up", "--foreground=yes"], /invalid --foreground: takes no value/],
    [["up", "--groups", "2", "--groups", "3"], /invalid --groups: given twice/],
    [["up", "extra"], /up takes no arguments/],
    [["status", "--replicas", "3"], /invalid --replicas: only valid with up and add-group, not status/],
    [["status", "--bogus"], /unknown flag "--bogus"/],
    [["kill"], /kill needs a node name/],
    [["kill", "g1n1", "g1n2"], /kill takes one/],
    [["remove-group", "x"], /invalid gid/],
    [["remove-group"], /remove-group needs gid/],
    [["down", "--grace", "soon"], /invalid --grace/],
    [["down", "--grace", "11m"], /invalid --grace: want a duration like 500ms, 10s or 2m \(0 for none, at most 10m\), got "11m"/],
    [["up", "--nats", "nats://u:p@h:4222"], /invalid --nats: want a URL like nats:\/\/host:4222/],
    [["up", "--dir="], /invalid --dir: must not be empty/],
    [["replace"], /replace needs a node name/],
    [["replace", "g1n1", "--learner"], /invalid --learner: only valid with add-replica, not replace/],
    [["replace", "g1n1", "--timeout", "soon"], /invalid --timeout/],
    [["remove-replica", "g1n1", "--base-port", "20000"], /invalid --base-port: only valid with/],
    [["add-replica", "0"], /invalid gid/],
    [["add-replica", "controller"], /invalid gid/],
    [["logs"], /logs needs a node name/],
    [["logs", "c1", "--lines", "0"], /invalid --lines: want an integer in \[1, 1000000\], got "0"/],
    [["status", "--lines", "3"], /invalid --lines: only valid with logs, not status/],
    [["status", "--force"], /invalid --force: only valid with replace, add-replica and remove-replica, not status/],
  ])("refuses %j", (argv, msg) => {
    expect(() => parseLocalArgs(argv)).toThrow(UsageError);
    expect(() => parseLocalArgs(argv)).toThrow(msg);
  });
});

describe("node names and ports", () => {
  it("parses node names", () => {
    expect(parseNodeName("c1")).toEqual({ kind: "controller", id: 1 });
    expect(parseNodeName("g12n3")).toEqual({ kind: "server", gid: 12, id: 3 });
    for (const bad of ["c0", "c", "g1", "g1n0", "n1", "G1N1", "c01", " c1"]) expect(parseNodeName(bad)).toBeUndefined();
  });

  it("lists nodes controllers first", () => {
    const n = (id: number) => ({ id, addr: `127.0.0.1:${1000 + id}`, pid: null, dataDir: `/d/${id}`, log: `/l/${id}` });
    const l: ClusterFile = { controllers: [n(1)], groups: [{ gid: 2, servers: [n(1), n(2)] }], nats: null, shards: 8 };
    expect(allNodes(l).map((x) => x.name)).toEqual(["c1", "g2n1", "g2n2"]);
  });

  it("allocates consecutive ports from a base and refuses reserved ones", async () => {
    expect(await allocatePorts(3, 20000)).toEqual([20000, 20001, 20002]);
    await expect(allocatePorts(3, 6378)).rejects.toThrow(/6379/);
    const free = await allocatePorts(5);
    expect(new Set(free).size).toBe(5);
    for (const p of free) expect(reservedPorts).not.toContain(p);
  });
});

describe("the README's 'Operations: replacing a replica' commands", () => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf("\n## Operations: replacing a replica\n");
  const body = readme.slice(start, readme.indexOf("\n## ", start + 1));
  // Each command of its shell blocks, continuation lines joined, comments dropped.
  const commands = [...body.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.replace(/\\\n\s*/g, "").split("\n"))
    .map((l) => l.replace(/#.*$/, "").trim()).filter((l) => l !== "")
    .map((l) => l.replace("$SHARDKV_CONTROLLERS", "127.0.0.1:7001").split(/\s+/));

  it("has the shardkv-local and the shardctl forms", () => {
    expect(start).toBeGreaterThan(0);
    expect(commands.map((c) => c.slice(0, 2).join(" "))).toEqual(expect.arrayContaining([
      "bin/shardkv-local replace", "bin/shardkv-local add-replica", "bin/shardkv-local remove-replica", "bin/shardctl replica", "bin/shardkv-server --gid",
    ]));
  });

  it("each parses as its command takes it", () => {
    for (const [bin, ...argv] of commands) {
      if (bin === "bin/shardkv-local") expect(parseLocalArgs(argv).kind, argv.join(" ")).toBe(argv[0]);
      else if (bin === "bin/shardctl") expect(parseArgs(argv, { SHARDKV_CONTROLLERS: "127.0.0.1:7001" }).kind, argv.join(" ")).toBe("run");
      else if (bin === "bin/shardkv-server") expect(parseShardDaemonArgs(argv, {}), argv.join(" ")).toMatchObject({ gid: 1, id: 4, join: true });
      else throw new Error(`unexpected command ${bin}`);
    }
  });
});
