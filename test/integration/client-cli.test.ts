/**
 * Real processes: `bin/shardkv` (client/cli.ts) as a child process against a small cluster
 * (three `shardkv-controller` daemons and one group of three `shardkv-server` daemons, started
 * by deploy/local/cluster.ts). put/get/append/delete/cas round-trip; get of an absent key
 * exits 1 with empty stdout; --json parses; a value can come from stdin ("-"); an oversized
 * key fails with one line on stderr naming the limit and the size, and writes nothing; a dead
 * controller or group fails with exit 3 and one line naming it; a malformed address exits 2.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliRun, runShardkv } from "../lib/run-cli";
import { LocalCluster, serverName } from "../../deploy/local/cluster";
import { ClusterClients } from "../lib/cluster-clients";


type Run = CliRun;

describe("bin/shardkv against a running cluster", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-cli-"));
    // Three controllers and group 1 (three replicas), joined; every shard Serving.
    cluster = await LocalCluster.up({ dir, shards: 8, groups: 1, tickMs: 50 });
  });

  const clients = new ClusterClients();
  afterAll(async () => {
    clients.closeAll();
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`client-cli test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  const onFail = () => onTestFailed(() => {
    failed = true;
    if (cluster) process.stderr.write(cluster.logTails(30) + "\n");
  });

  /** Runs bin/shardkv --controllers <cluster> `args`, with `input` on stdin (else stdin closed). */
  function shardkv(args: readonly string[], input?: string | Buffer): Promise<Run> {
    return runShardkv(["--controllers", cluster!.controllerAddrs().join(","), "--timeout", "20s", ...args], input);
  }


  it("put, get, append, delete and cas", async () => {
    onFail();
    expect(await shardkv(["put", "greeting", "hello"])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await shardkv(["get", "greeting"])).toEqual({ code: 0, stdout: "hello\n", stderr: "" });
    expect(await shardkv(["append", "greeting", ", world"])).toMatchObject({ code: 0, stdout: "" });
    expect(await shardkv(["get", "greeting"])).toMatchObject({ code: 0, stdout: "hello, world\n" });
    // cas: wrong expectation -> exit 1 and the current value; right one -> swapped.
    expect(await shardkv(["cas", "greeting", "nope", "x"])).toMatchObject({ code: 1, stdout: "not swapped; current value: hello, world\n" });
    expect(await shardkv(["cas", "greeting", "hello, world", "bye"])).toMatchObject({ code: 0, stdout: "swapped\n" });
    expect(await shardkv(["cas", "lock", "--absent", "me"])).toMatchObject({ code: 0, stdout: "swapped\n" });
    expect(await shardkv(["cas", "lock", "--absent", "you"])).toMatchObject({ code: 1, stdout: "not swapped; current value: me\n" });
    expect(await shardkv(["get", "greeting"])).toMatchObject({ code: 0, stdout: "bye\n" });
    expect(await shardkv(["delete", "greeting"])).toMatchObject({ code: 0, stdout: "deleted\n" });
    expect(await shardkv(["delete", "greeting"])).toMatchObject({ code: 0, stdout: "absent\n" });
    // The writes are visible to an independent client.
    const kv = await clients.connect(cluster!);
    expect(await kv.getString("lock")).toBe("me");
    expect(await kv.getString("greeting")).toBeUndefined();
  });

  it("get of an absent key prints nothing and exits 1", async () => {
    onFail();
    expect(await shardkv(["get", "no-such-key"])).toEqual({ code: 1, stdout: "", stderr: "" });
  });

  it("--json output parses", async () => {
    onFail();
    const put = await shardkv(["--json", "put", "j", "v1"]);
    expect(put.code).toBe(0);
    expect(JSON.parse(put.stdout)).toEqual({ ok: true });
    const get = await shardkv(["get", "j", "--json"]);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ found: true, value: "v1" });
    const absent = await shardkv(["--json", "get", "j-absent"]);
    expect(absent.code).toBe(1);
    expect(JSON.parse(absent.stdout)).toEqual({ found: false });
    const cas = await shardkv(["--json", "cas", "j", "v1", "v2"]);
    expect(cas.code).toBe(0);
    expect(JSON.parse(cas.stdout)).toEqual({ swapped: true, found: true, value: "v1" });
    const del = await shardkv(["--json", "delete", "j"]);
    expect(JSON.parse(del.stdout)).toEqual({ existed: true });
  });

  it("a value from stdin (-) is taken byte for byte", async () => {
    onFail();
    expect(await shardkv(["put", "s", "-"], "line one\nline two\n")).toMatchObject({ code: 0 });
    expect(await shardkv(["get", "s"])).toMatchObject({ code: 0, stdout: "line one\nline two\n\n" });
    expect(await shardkv(["append", "s", "-"], "tail")).toMatchObject({ code: 0 });
    const j = await shardkv(["--json", "get", "s"]);
    expect(JSON.parse(j.stdout)).toEqual({ found: true, value: "line one\nline two\ntail" });
    // Non-UTF-8 bytes survive and come back as base64 in --json.
    const bin = Buffer.from([0xff, 0x00, 0xfe]);
    expect(await shardkv(["put", "b", "-"], bin)).toMatchObject({ code: 0 });
    expect(JSON.parse((await shardkv(["--json", "get", "b"])).stdout)).toEqual({ found: true, value: bin.toString("base64"), encoding: "base64" });
  });

  it("an oversized key fails with one line naming the limit and the size; nothing is written", async () => {
    onFail();
    const key = "k".repeat(5000);
    const r = await shardkv(["put", key, "v"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr.endsWith("\n")).toBe(true);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^shardkv: /);
    expect(r.stderr).toBe("shardkv: invalid key: key is 5,000 bytes; the limit is 4 KiB\n");
    const v = await shardkv(["put", "big-value", "-"], Buffer.alloc(1024 * 1024 + 1, 97));
    expect(v.code).not.toBe(0);
    expect(v.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(v.stderr).toBe("shardkv: invalid value: value is 1,048,577 bytes; the limit is 1 MiB\n");
    expect(await shardkv(["get", "big-value"])).toEqual({ code: 1, stdout: "", stderr: "" });
  });

  it("a usage error exits 2 with one line", async () => {
    onFail();
    const r = await shardkv(["frobnicate", "k"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("a dead controller: exit 3 and one line naming it; a malformed address: exit 2, nothing waited for", async () => {
    onFail();
    const dead = await runShardkv(["--controllers", "127.0.0.1:1", "--timeout", "1s", "get", "k"]);
    expect(dead).toEqual({
      code: 3, stdout: "", stderr: "shardkv: connect timed out after 1 s: cannot reach controller 127.0.0.1:1: connection refused\n",
    });
    for (const bad of ["abc", "1.2.3.4:99999"]) {
      const r = await runShardkv(["--controllers", bad, "--timeout", "10m", "get", "k"]);
      expect(r).toEqual({ code: 2, stdout: "", stderr: `shardkv: invalid --controllers: want host:port, got ${JSON.stringify(bad)}\n` });
    }
  });

  // Last: it kills the group.
  it("a failure (the group is down) exits 3 with one line naming the group, unlike an absent key (1)", async () => {
    onFail();
    expect((await shardkv(["get", "no-such-key"])).code).toBe(1);
    for (const id of cluster!.aliveIds(1)) await cluster!.kill(serverName(1, id));
    const r = await runShardkv(["--controllers", cluster!.controllerAddrs().join(","), "--timeout", "2s", "get", "no-such-key"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    const servers = cluster!.groupAddrs(1).map((a) => a.replace(/\./g, "\\.")).join(", ");
    expect(r.stderr).toMatch(new RegExp(`^shardkv: get on shard \\d+ timed out after 2 s: cannot reach group 1 \\(${servers}\\): connection refused\n$`));
  });
});
