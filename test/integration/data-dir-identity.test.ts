/**
 * Data directory identities and voter sets over real processes (bin/shardkv-controller,
 * bin/shardkv-server): a daemon started on a directory of another kind, group, replica or
 * cluster refuses with one line naming both and leaves it intact; a file, a read-only or a
 * full file system (tmpfs mounted here; root ignores mode bits) is one line too; --peers
 * naming other replicas than the directory's Raft state is refused, a moved address is not;
 * the shard count comes from the identity, so a restart needs no controller. The module's
 * own cases: test/unit/data-dir.test.ts, test/unit/raft-node-voters.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromServiceError } from "../../common/grpc-errors";
import type { GroupId } from "../../common/ids";
import { wallClockMs } from "../../common/real-env";
import { ShardKV } from "../../client/shardkv";
import { ControllerClient } from "../../controller/client";
import { freePorts } from "../../deploy/local/process";
import { shardKVStub } from "../../shard-server/grpc-service";
import { dirListing } from "../lib/dir-listing";
import { waitFor } from "../lib/wait";
import { Security } from "../../security/credentials";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = (name: string): string => join(repoRoot, "bin", name);

/** Children still running (killed when the test process exits). */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

interface Daemon {
  readonly proc: ChildProcess;
  /** Resolves with the exit status (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  readonly log: string;
}

/** Starts a daemon in the background, stderr and stdout appended to `log`. */
function start(name: string, args: readonly string[], log: string): Daemon {
  const fd = openSync(log, "a");
  const proc = spawn(bin(name), [...args], { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  live.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => {
    live.delete(proc);
    resolve(code);
  }));
  return { proc, exited, log };
}

/** SIGTERM and wait for the exit (a graceful stop: exit 0). */
async function stop(d: Daemon): Promise<void> {
  d.proc.kill("SIGTERM");
  expect(await d.exited).toBe(0);
}

/** Runs a daemon that is expected to refuse: its exit status and what it printed. */
function refused(name: string, args: readonly string[]): { status: number | null; stderr: string } {
  const r = spawnSync(bin(name), [...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}


const identityOf = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, "identity.json"), "utf8")) as Record<string, unknown>;

/** The shard server's Status reply, or undefined when it does not answer. */
function serverStatus(addr: string): Promise<{ role: string } | undefined> {
  const stub = shardKVStub(addr, Security.insecure());
  return new Promise((resolve) => {
    stub.status({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + 1000) }, (e, r) => {
      stub.close();
      resolve(e ? (fromServiceError(e), undefined) : { role: r!.role });
    });
  });
}

/** Mounts a tmpfs of `size` (read-only with `ro`) at a new directory; `umount` removes it. */
function mountTmpfs(root: string, name: string, options: string): { dir: string; umount: () => void } {
  const dir = join(root, name);
  mkdirSync(dir);
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { encoding: "utf8" });
  if (m.status !== 0) throw new Error(`this test mounts a tmpfs and needs root: mount failed: ${m.stderr.trim()}`);
  return {
    dir,
    umount: () => {
      const u = spawnSync("umount", [dir], { encoding: "utf8" });
      if (u.status !== 0) throw new Error(`umount ${dir} failed: ${u.stderr.trim()}`);
    },
  };
}

// Each test starts and stops daemons (a few seconds each on a loaded machine).
describe("data directory identity and voter set, real processes", { timeout: 180_000 }, () => {
  let root: string;
  let ctlA: string; // cluster A's controller
  let ctlB: string; // another cluster's controller
  let srv: string;
  let spare: number;
  const daemons = new Map<string, Daemon>();
  const dirs = {} as { cA: string; cB: string; g1: string };
  const common = ["--tick-ms", "50", "--insecure"];
  const controllerArgs = (addr: string, data: string) => ["--id", "1", "--listen", addr, "--peers", `1=${addr}`, "--data", data, ...common];
  const serverArgs = (over: { controllers?: string; data?: string; gid?: string; id?: string; peers?: string; listen?: string } = {}) => [
    "--gid", over.gid ?? "1", "--id", over.id ?? "1", "--listen", over.listen ?? srv, "--peers", over.peers ?? `1=${srv}`,
    "--data", over.data ?? dirs.g1, "--controllers", over.controllers ?? ctlA, ...common,
  ];
  const startServer = (args = serverArgs()): Daemon => {
    const d = start("shardkv-server", args, join(root, "g1n1.log"));
    daemons.set("g1", d);
    return d;
  };
  const readK = async (): Promise<string | undefined> => {
    const kv = await ShardKV.connect({ controllers: [ctlA], deadlineMs: 20_000 });
    try {
      return await kv.getString("k");
    } finally {
      kv.close();
    }
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "shardkv-identity-"));
    const ports = await freePorts(4);
    [ctlA, ctlB, srv] = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`) as [string, string, string];
    spare = ports[3]!;
    dirs.cA = join(root, "cA");
    dirs.cB = join(root, "cB");
    dirs.g1 = join(root, "g1n1");
    daemons.set("cA", start("shardkv-controller", [...controllerArgs(ctlA, dirs.cA), "--shards", "4"], join(root, "cA.log")));
    daemons.set("cB", start("shardkv-controller", [...controllerArgs(ctlB, dirs.cB), "--shards", "4"], join(root, "cB.log")));
    startServer(); // no --shards: learns 4 from the controllers and records it
    const admin = new ControllerClient({ controllers: [ctlA], security: Security.insecure(), deadlineMs: 30_000 });
    try {
      await admin.join(new Map([[1 as GroupId, [srv]]]));
    } finally {
      admin.close();
    }
    const kv = await ShardKV.connect({ controllers: [ctlA], deadlineMs: 30_000 });
    try {
      await kv.put("k", "v");
    } finally {
      kv.close();
    }
  });

  afterAll(async () => {
    for (const d of daemons.values()) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill("SIGKILL");
    await Promise.all([...daemons.values()].map((d) => d.exited));
    if (process.env.SHARDKV_KEEP_LOGS === "1") console.log(`data directories and logs kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  });

  it("every directory carries its identity: kind, group, replica, shard count and the cluster the controllers established", async () => {
    await waitFor(() => "cluster" in identityOf(dirs.g1) && "cluster" in identityOf(dirs.cA) && "cluster" in identityOf(dirs.cB), {
      timeoutMs: 20_000, what: "cluster ids recorded",
    });
    const a = identityOf(dirs.cA).cluster as string;
    expect(identityOf(dirs.cA)).toEqual({ format: 1, kind: "controller", gid: 0, node: 1, shards: 4, cluster: a });
    expect(identityOf(dirs.g1)).toEqual({ format: 1, kind: "shard-server", gid: 1, node: 1, shards: 4, cluster: a });
    expect(identityOf(dirs.cB).cluster).not.toBe(a);
    const status = spawnSync(bin("shardctl"), ["--controllers", ctlA, "status"], { encoding: "utf8", timeout: 30_000 });
    expect(status.stdout).toContain(`1/1 up, leader ${ctlA}, cluster ${a}`);
  });

  it("a shard server pointed at another cluster's controllers stops with one line naming both clusters; its data is untouched", async () => {
    await stop(daemons.get("g1")!);
    const a = identityOf(dirs.g1).cluster as string;
    const b = identityOf(dirs.cB).cluster as string;
    const d = startServer(serverArgs({ controllers: ctlB }));
    expect(await d.exited).toBe(2);
    const lines = readFileSync(d.log, "utf8").trim().split("\n");
    expect(lines.at(-1)).toBe(`shardkv-server: stopping: data directory ${dirs.g1} belongs to cluster ${a}, not to cluster ${b} ` +
      `(the cluster of the controllers at ${ctlB})`);
    expect(identityOf(dirs.g1).cluster).toBe(a);
    startServer();
    expect(await readK()).toBe("v");
  });

  it("a controller started on a shard replica's directory is refused before it writes, and the replica serves its data again", async () => {
    await stop(daemons.get("g1")!);
    const before = dirListing(dirs.g1);
    const r = refused("shardkv-controller", controllerArgs(`127.0.0.1:${spare}`, dirs.g1));
    expect(r).toEqual({ status: 2, stderr: `shardkv-controller: cannot start: data directory ${dirs.g1} belongs to shard group 1 replica 1, not controller replica 1\n` });
    expect(dirListing(dirs.g1)).toEqual(before);
    startServer(); // without --shards: the count comes from the identity
    expect(await readK()).toBe("v");
  });

  it("a shard server started on a controller's directory is refused, and the controller starts again on it", async () => {
    await stop(daemons.get("cB")!);
    const before = dirListing(dirs.cB);
    const r = refused("shardkv-server", serverArgs({ data: dirs.cB, listen: `127.0.0.1:${spare}`, peers: `1=127.0.0.1:${spare}` }));
    expect(r).toEqual({ status: 2, stderr: `shardkv-server: cannot start: data directory ${dirs.cB} belongs to controller replica 1, not shard group 1 replica 1\n` });
    expect(dirListing(dirs.cB)).toEqual(before);
    daemons.set("cB", start("shardkv-controller", controllerArgs(ctlB, dirs.cB), join(root, "cB.log")));
    const c = new ControllerClient({ controllers: [ctlB], security: Security.insecure(), deadlineMs: 20_000 });
    try {
      expect((await c.queryCluster(-1)).clusterId).toBe(identityOf(dirs.cB).cluster);
    } finally {
      c.close();
    }
  });

  it.each([
    [{ gid: "2" } as { gid?: string; id?: string }, "shard group 1 replica 1, not shard group 2 replica 1"],
    [{ id: "2" }, "shard group 1 replica 1, not shard group 1 replica 2"],
  ])("a replica's directory started as another group or replica (%j) is refused naming both", (over, names) => {
    const before = dirListing(dirs.g1);
    const me = `127.0.0.1:${spare}`;
    const peers = over.id === "2" ? `1=${srv},2=${me}` : `1=${me}`;
    const r = refused("shardkv-server", serverArgs({ ...over, listen: me, peers }));
    expect(r).toEqual({ status: 2, stderr: `shardkv-server: cannot start: data directory ${dirs.g1} belongs to ${names}\n` });
    expect(dirListing(dirs.g1).filter((l) => !/\/(raft|state)\//.test(l))).toEqual(before.filter((l) => !/\/(raft|state)\//.test(l)));
  });

  it("--peers naming other replicas than the directory's Raft state is refused; the same replicas at a new address start", async () => {
    await stop(daemons.get("g1")!);
    const r = refused("shardkv-server", serverArgs({ peers: `1=${srv},2=127.0.0.1:${spare}` }));
    expect(r).toEqual({ status: 2, stderr: `shardkv-server: cannot start: invalid --peers: names replicas {1,2}, but data directory ${dirs.g1} belongs ` +
      "to a group of replicas {1}; --peers may change a replica's address, not the group's members\n" });
    const moved = `127.0.0.1:${spare}`;
    const d = startServer(serverArgs({ listen: moved, peers: `1=${moved}` }));
    await waitFor(async () => (await serverStatus(moved))?.role === "leader", { timeoutMs: 40_000, what: "the moved replica leading its group" });
    await stop(d);
    startServer();
    expect(await readK()).toBe("v");
  });

  it("without --shards and with no controller reachable, a replica with an identity starts; a foreign directory is refused at once", async () => {
    await stop(daemons.get("g1")!);
    const nowhere = `127.0.0.1:${spare}`;
    const d = startServer(serverArgs({ controllers: nowhere }));
    await waitFor(async () => (await serverStatus(srv))?.role === "leader", { timeoutMs: 40_000, what: "the replica serving without controllers" });
    await stop(d);
    const r = refused("shardkv-server", serverArgs({ controllers: nowhere, data: dirs.cA, listen: nowhere, peers: `1=${nowhere}` }));
    expect(r).toEqual({ status: 2, stderr: `shardkv-server: cannot start: data directory ${dirs.cA} belongs to controller replica 1, not shard group 1 replica 1\n` });
    startServer();
    expect(await readK()).toBe("v");
  });

  it("--data naming a file is one line, exit 2 (not EEXIST)", () => {
    const file = join(root, "a-file");
    writeFileSync(file, "not a directory");
    for (const [name, args] of [
      ["shardkv-server", serverArgs({ data: file, listen: `127.0.0.1:${spare}`, peers: `1=127.0.0.1:${spare}` })],
      ["shardkv-controller", controllerArgs(`127.0.0.1:${spare}`, file)],
    ] as const) {
      const r = refused(name, args);
      expect(r).toEqual({ status: 2, stderr: `${name}: cannot start: data directory ${file} is a file, not a directory\n` });
    }
    expect(readFileSync(file, "utf8")).toBe("not a directory");
  });

  it("a read-only file system is one line, exit 1", () => {
    const ro = mountTmpfs(root, "ro", "size=1m,ro");
    try {
      const fresh = join(ro.dir, "g1n1");
      let r = refused("shardkv-server", [...serverArgs({ data: fresh, listen: `127.0.0.1:${spare}`, peers: `1=127.0.0.1:${spare}` }), "--shards", "4"]);
      expect(r).toEqual({ status: 1, stderr: `shardkv-server: cannot start: cannot create data directory ${fresh}: the file system is read-only\n` });
      r = refused("shardkv-controller", controllerArgs(`127.0.0.1:${spare}`, ro.dir));
      expect(r).toEqual({ status: 1, stderr: `shardkv-controller: cannot start: cannot write to data directory ${ro.dir}: the file system is read-only\n` });
    } finally {
      ro.umount();
    }
  });

  it("a file system with room for the identity but not for RocksDB is the same line, exit 1", () => {
    const small = mountTmpfs(root, "small", "size=48k");
    try {
      const data = join(small.dir, "c1");
      const r = refused("shardkv-controller", controllerArgs(`127.0.0.1:${spare}`, data));
      expect(r).toEqual({ status: 1, stderr: `shardkv-controller: cannot start: cannot write data directory ${data}: no space left on the device\n` });
    } finally {
      small.umount();
    }
  });

  it("a full file system is one line, exit 1", () => {
    const full = mountTmpfs(root, "full", "size=256k");
    try {
      try {
        writeFileSync(join(full.dir, "filler"), Buffer.alloc(1024 * 1024));
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC");
      }
      const data = join(full.dir, "c1");
      const r = refused("shardkv-controller", controllerArgs(`127.0.0.1:${spare}`, data));
      expect(r).toEqual({ status: 1, stderr: `shardkv-controller: cannot start: cannot write data directory ${data}: no space left on the device\n` });
    } finally {
      full.umount();
    }
  });
});
