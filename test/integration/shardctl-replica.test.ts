/**
 * Real processes: `bin/shardctl replica ...` and `shardctl controller ...` against three
 * `shardkv-controller` daemons (deploy/local/cluster.ts). An intent is stored, listed (with
 * the members and roles), refused while pending (one line naming the pending one, nothing
 * changed), cancelled; a refused change changes nothing; the controller group's members are
 * recorded by its leader and listed; a reported ReplicaDone (what a group's leader sends)
 * creates a config with the new members and clears the intent (group 7 has no servers: nobody
 * carries its intents out). `shardctl controller replace` is carried out by the controller
 * leader itself: it waits at catchingUp (step and blocked reason listed) for a new controller
 * that is not running, resumes after a cancel and a new intent, and completes once that
 * controller starts with --join; two of the new group then make changes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ControllerClient } from "../../controller/client";
import type { ConfigNum, GroupId, NodeId } from "../../common/ids";
import { controllerGid, groupMembers } from "../../controller/config";
import { LocalCluster, allocatePorts, controllerName } from "../../deploy/local/cluster";
import { waitFor } from "../lib/wait";

const shardctlBin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "shardctl");
const controllerBin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "shardkv-controller");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe("shardctl replica and controller commands against three controller daemons", () => {
  let dir: string;
  let cluster: LocalCluster;
  let client: ControllerClient;
  /** The controller this file starts with --join (LocalCluster knows only the first three). */
  let joined: ChildProcess | undefined;
  const g7 = 7 as GroupId;

  function shardctl(args: readonly string[]): Promise<Run> {
    const env = { ...process.env };
    delete env.SHARDKV_CONTROLLERS;
    const argv = ["--controllers", cluster.controllerAddrs().join(","), ...args];
    return new Promise((resolve, reject) => {
      execFile(shardctlBin, argv, { env, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
    });
  }

  async function ok(args: readonly string[]): Promise<string> {
    const r = await shardctl(args);
    expect(r, `shardctl ${args.join(" ")}`).toMatchObject({ code: 0, stderr: "" });
    return r.stdout;
  }

  /** What the controller holds: the latest config number and the replica state, as one comparable value. */
  async function state(): Promise<string> {
    const { config, replicas } = await client.queryCluster();
    return JSON.stringify({ num: config.num, members: groupMembers(config, g7), intents: [...replicas.intents], controllers: replicas.controllers });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-replica-"));
    cluster = await LocalCluster.up({ dir, shards: 8, groups: 0, tickMs: 50 });
    client = new ControllerClient(cluster.controllerOptions());
    // Group 7 with no servers behind it (the join check skipped): members of unknown id.
    const num = await client.join(new Map([[g7, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]]]), { force: true });
    await client.ackJoin(g7, num);
    // Its leader would report its members with their ids (as after a change it carried out).
    await client.replicaDone(g7, [1, 2, 3].map((i) => ({ id: i as NodeId, address: `127.0.0.1:${i}`, learner: false })));
  });
  afterAll(async () => {
    client?.close();
    if (joined?.exitCode === null) {
      const gone = new Promise((r) => joined!.once("exit", r));
      joined.kill("SIGKILL");
      await gone;
    }
    await cluster?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("replica list: the members with roles, no pending change", async () => {
    const out = await ok(["replica", "list", "7"]);
    expect(out).toBe([
      "group 7 in config 2: 3 replicas",
      "ID  ROLE   ADDRESS",
      "1   voter  127.0.0.1:1",
      "2   voter  127.0.0.1:2",
      "3   voter  127.0.0.1:3",
      "pending change: none",
      "",
    ].join("\n"));
  });

  it("records an intent, lists it, refuses a second one (naming the first, nothing changed), cancels it", async () => {
    const stored = await ok(["replica", "replace", "--force", "7", "3", "4=127.0.0.1:4"]);
    expect(stored).toBe("group 7: stored: replace replica 3 by 4 at 127.0.0.1:4 (--force); its leader carries it out (shardctl replica list 7 shows it)\n");
    const list = JSON.parse(await ok(["--json", "replica", "list", "7"])) as { intent: { description: string; force: boolean; blocked: string } };
    expect(list.intent).toMatchObject({ description: "replace replica 3 by 4 at 127.0.0.1:4", force: true, blocked: "" });

    // The group's leader reports why it cannot progress: the listing shows it.
    await client.replicaProgress(g7, "replica 4 at 127.0.0.1:4 does not answer");
    expect(await ok(["replica", "list", "7"])).toContain("pending change: replace replica 3 by 4 at 127.0.0.1:4 (--force)\nblocked: replica 4 at 127.0.0.1:4 does not answer\n");

    const before = await state();
    const second = await shardctl(["replica", "add", "7", "5=127.0.0.1:5"]);
    expect(second).toEqual({
      code: 3, stdout: "",
      stderr: "shardctl: invalid gid: group 7 already has a pending replica change (replace replica 3 by 4 at 127.0.0.1:4); wait for it or cancel it with shardctl replica cancel 7\n",
    });
    expect(await state()).toBe(before);

    expect(await ok(["replica", "cancel", "7"])).toBe("group 7: pending replica change cancelled\n");
    expect(await ok(["replica", "list", "7"])).toContain("pending change: none\n");
  });

  const refused: [string, string[], number, string][] = [
    ["a gid not in the config", ["replica", "remove", "9", "1"], 3, "shardctl: invalid gid: group 9 is not in config 2"],
    ["promoting a voter", ["replica", "promote", "7", "2"], 3, "shardctl: invalid id: replica 2 of group 7 is a voter already; only a learner can be promoted"],
    ["adding an id already in the group", ["replica", "add", "7", "2=127.0.0.1:9"], 3, "shardctl: invalid id: group 7 already has a replica 2 (at 127.0.0.1:2)"],
    ["adding an address already in the group", ["replica", "add", "7", "9=127.0.0.1:2"], 3, "shardctl: invalid address: group 7 already has a replica at 127.0.0.1:2 (2 at 127.0.0.1:2)"],
    ["replacing an id not in the group", ["replica", "replace", "7", "8", "9=127.0.0.1:9"], 3, "shardctl: invalid old_id: group 7 has no replica 8 in config 2"],
    ["cancelling with nothing pending", ["replica", "cancel", "7"], 3, "shardctl: invalid gid: group 7 has no pending replica change"],
    ["a malformed address", ["replica", "add", "7", "4=nope"], 2, 'shardctl: invalid replica address: want host:port, got "nope"'],
    ["--force on promote", ["replica", "promote", "--force", "7", "4"], 2, "shardctl: invalid --force: only valid with replica add, remove and replace, not replica promote"],
  ];
  it.each(refused)("refuses %s (%j): exit %i, one line, nothing changed", async (_what, args, code, line) => {
    const before = await state();
    const r = await shardctl(args);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(line);
    expect(await state()).toBe(before);
  });

  it("a ReplicaDone (what the group's leader reports) makes a config with the new members and clears the intent it carries out", async () => {
    await ok(["replica", "add", "7", "4=127.0.0.1:4"]);
    const before = await client.query();
    const members = [1, 2, 3].map((i) => ({ id: i as NodeId, address: `127.0.0.1:${i}`, learner: false }));
    const num = await client.replicaDone(g7, [...members, { id: 4 as NodeId, address: "127.0.0.1:4", learner: true }]);
    expect(num).toBe((before.num + 1) as ConfigNum);
    const after = await client.query();
    expect(after.shards).toEqual(before.shards);
    expect(after.groups.get(g7)).toEqual(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"]);
    expect(await ok(["replica", "list", "7"])).toContain("4   learner  127.0.0.1:4\npending change: none\n");
  });

  it("controller replace: the controller leader adds the new replica, waits until it answers, then promotes it and removes the old one by itself", async () => {
    const addrs = cluster.controllerAddrs();
    // The leader records them right after its election (one log entry, no config).
    await waitFor(async () => (await client.queryCluster()).replicas.controllers.length === 3, { timeoutMs: 10_000, what: "the controller group's members recorded" });
    const out = await ok(["controller", "list"]);
    expect(out.split("\n")[0]).toMatch(/^the controller group in config \d+: 3 replicas$/);
    for (const a of addrs) expect(out).toContain(a);

    // A replacement by a controller not started yet: the leader adds it as a learner and
    // waits for it to answer, saying so.
    const [port] = await allocatePorts(1, undefined, cluster.layout);
    const addr4 = `127.0.0.1:${port}`;
    const old = cluster.layout.controllers[2]!;
    expect(await ok(["controller", "replace", String(old.id), `4=${addr4}`]))
      .toMatch(new RegExp(`^the controller group: stored: replace replica ${old.id} by 4 at ${addr4}; .*shardctl controller list`));
    const waiting = `learner 4 at ${addr4} has not answered the leader`;
    await waitFor(async () => {
      const l = await ok(["controller", "list"]);
      return l.includes("step: catchingUp\n") && l.includes(`blocked: ${waiting}`);
    }, { timeoutMs: 20_000, what: "controller list: step catchingUp, blocked on the learner that does not answer" });
    const twice = await shardctl(["controller", "add", "5=127.0.0.1:9"]);
    expect(twice.code).toBe(3);
    expect(twice.stderr).toBe(`shardctl: invalid gid: the controller group already has a pending replica change (replace replica ${old.id} by 4 at ${addr4}); ` +
      "wait for it or cancel it with shardctl controller cancel\n");
    // Cancelled: nothing more happens (4 stays a learner); stored again: the leader resumes.
    expect(await ok(["controller", "cancel"])).toBe("the controller group: pending replica change cancelled\n");
    expect(await ok(["controller", "list"])).toContain("pending change: none\n");
    await ok(["controller", "replace", String(old.id), `4=${addr4}`]);

    // Controller 4 starts with --join: the replacement completes by itself.
    const peers = [...cluster.layout.controllers.map((c) => `${c.id}=${c.addr}`), `4=${addr4}`].join(",");
    joined = spawn(controllerBin, ["--id", "4", "--listen", addr4, "--data", join(dir, "c4"), "--peers", peers, "--join", "--shards", "8", "--tick-ms", "50", "--insecure"], {
      stdio: ["ignore", openSync(join(dir, "c4.log"), "a"), openSync(join(dir, "c4.log"), "a")],
    });
    await waitFor(async () => {
      const { replicas } = await client.queryCluster();
      return !replicas.intents.has(controllerGid) && replicas.controllers.map((m) => m.id).join(",") === [1, 2, 3, 4].filter((i) => i !== old.id).join(",");
    }, { timeoutMs: 60_000, what: `the controller group's members recorded without ${old.id}, with 4` });
    const after = await ok(["controller", "list"]);
    expect(after).toContain(`4   voter  ${addr4}\npending change: none\n`);
    expect(after).not.toContain(old.addr);

    // Without the replaced controller, the group still makes changes (2 of {others, 4}).
    await cluster.kill(controllerName(old.id));
    const other = cluster.layout.controllers.find((c) => c.id !== old.id)!;
    await cluster.kill(controllerName(other.id));
    await waitFor(async () => (await shardctl(["replica", "add", "7", "6=127.0.0.1:6"])).code === 0, { timeoutMs: 30_000, what: "a change committed by the remaining two controllers" });
    await ok(["replica", "cancel", "7"]);
  }, 120_000);
});
