/**
 * The test hosts harness: a shardkv cluster whose every daemon and client runs on its own
 * "host", a network namespace with its own address on a bridge, so replicas talk over a real
 * kernel network path that faults (faults.ts) can cut, delay and corrupt from outside.
 *
 * The daemons are started by deploy/local's LocalCluster (same binaries, certificates,
 * cluster.json and launcher.json as `shardkv-local`), each through `ip netns exec <its ns>`
 * (which execs the daemon, so its pid and /proc/<pid>/cmdline checks stay as they are) and
 * listening on its host's IP. The machine's root namespace has no route to the hosts, so
 * every call of the harness that speaks gRPC to the cluster (starting and joining it, status,
 * leaders, restarts) runs inside the run's control host `ctl`: this module re-runs its own
 * CLI there (`ip netns exec <ctl ns> tsx deploy/hosts/main.ts ctl-...`). Signals (kill,
 * SIGSTOP, SIGCONT) and rules need no network and run from wherever the caller is.
 *
 * Cleanup: `down` SIGKILLs every process left inside the run's namespaces (`ip netns pids`),
 * whoever started it, then deletes the namespaces: the veths and the bridge go with them.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { realRng } from "../../common/real-env";
import { LocalCluster } from "../local/cluster";
import { readClusterFile, wipeClusterDir } from "../local/layout";
import { procState, repoRoot } from "../local/process";
import type { PartitionSpec } from "./args";
import { faketimeEnv, libfaketimePath, removeStaleFaketimeShm, resetClocks } from "./clock";
import { type LostWrites, crashDisk, ensureLazyfs, lazyMountRuns, mountRunDisks, resolveDiskFaultNodes, unmountRunDisks } from "./disk";
import { applyGrudge, healNetwork } from "./faults";
import { type Grudge, bridgeGrudge, describeGrudge, halvesGrudge, isolateGrudge, oneWayGrudge, ringGrudge } from "./partition";
import {
  type HostEntry, type HostRole, type HostsFile, daemonHosts, daemonPort, hostOf, ipOf, nsPrefixRoot, prefixOf, readHostsFile, subnetBase,
  subnetBits, writeHostsFile,
} from "./hosts-file";
import { createNetwork, ensureTools, killInside, listNamespaces, removeNetwork, requireRoot } from "./net";

/** The tools the harness runs (installed with apt-get when missing). */
export const hostsTools = ["ip", "tc", "nft"] as const;

/** What `up` starts. */
export interface HostsUpOptions {
  readonly dir: string;
  /** Default 3. */
  readonly controllers?: number;
  /** Shard groups. Default 1. */
  readonly groups?: number;
  /** Replicas per group. Default 3. */
  readonly replicas?: number;
  /** Client hosts (`cl1`, ...). Default 1. */
  readonly clients?: number;
  /** Shard count. Default 12. */
  readonly shards?: number;
  /** Raft tick of every daemon (--tick-ms). Default: the daemons'. */
  readonly tickMs?: number;
  /** Deadline of the cluster's start (every shard Serving). Default 120 s. */
  readonly timeoutMs?: number;
  /** Run every daemon under libfaketime so that its clock can be skewed (clock.ts). Default false. */
  readonly faketime?: boolean;
  /**
   * Put these daemons' data directories on lazyfs (disk.ts), so that they can lose their
   * unsynced writes: "all" daemons, "servers" (every shard replica), or node names. Default none.
   */
  readonly diskFaults?: "all" | "servers" | readonly string[];
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** The hosts plan of a new run: daemons named as LocalCluster names them, then clients, then ctl. */
export function planHosts(run: string, o: { controllers: number; groups: number; replicas: number; clients: number }): HostsFile {
  const prefix = prefixOf(run);
  const host = (name: string, role: HostRole, ip: string): HostEntry => ({ name, role, ns: `${prefix}${name}`, ip, hubLink: `v${name}` });
  const hosts: HostEntry[] = [
    ...Array.from({ length: o.controllers }, (_, i) => host(`c${i + 1}`, "controller", ipOf("controller", { id: i + 1 }))),
    ...Array.from({ length: o.groups }, (_, g) => Array.from({ length: o.replicas }, (_, i) =>
      host(`g${g + 1}n${i + 1}`, "server", ipOf("server", { gid: g + 1, id: i + 1 })))).flat(),
    ...Array.from({ length: o.clients }, (_, i) => host(`cl${i + 1}`, "client", ipOf("client", { id: i + 1 }))),
    host("ctl", "ctl", ipOf("ctl", { id: 1 })),
  ];
  return { run, prefix, hub: `${prefix}hub`, bridge: "br0", subnet: `${subnetBase}.0.0/${subnetBits}`, port: daemonPort, hosts };
}

/** Whether any namespace of run `h` exists. */
export const isUp = (h: HostsFile): boolean => listNamespaces().some((n) => n.startsWith(h.prefix));

/** The hosts file of `dir`; throws one line when there is none. */
export function loadHosts(dir: string): HostsFile {
  const h = readHostsFile(resolve(dir));
  if (!h) throw new Error(`no test hosts in ${resolve(dir)} (no hosts.json); start them with: npm run hosts -- up --dir ${dir}`);
  return h;
}

/**
 * Creates the hosts (a fresh run id), writes `<dir>/hosts.json`, starts the cluster from the
 * control host (LocalCluster.up: mutual TLS, node certificates for the hosts' IPs, every group
 * joined, every shard Serving) and returns the hosts file. Refuses a directory whose run is
 * up. On failure everything it created is removed again (the logs stay).
 */
export async function hostsUp(opts: HostsUpOptions): Promise<HostsFile> {
  requireRoot();
  const say = opts.log ?? (() => undefined);
  ensureTools(opts.faketime ? [...hostsTools, "faketime"] : hostsTools, say);
  if (opts.diskFaults) ensureLazyfs(say);
  const dir = resolve(opts.dir);
  const old = readHostsFile(dir);
  if (old && (isUp(old) || lazyMountRuns().includes(old.run))) throw new Error(`run ${old.run} is up in ${dir}; stop it first: npm run hosts -- down --dir ${opts.dir}`);
  mkdirSync(dir, { recursive: true });
  const run = realRng.int(2 ** 32).toString(16).padStart(8, "0");
  const plan = planHosts(run, { controllers: opts.controllers ?? 3, groups: opts.groups ?? 1, replicas: opts.replicas ?? 3, clients: opts.clients ?? 1 });
  const h = {
    ...plan,
    ...(opts.faketime ? { faketime: true } : {}),
    ...(opts.diskFaults ? { diskFaults: resolveDiskFaultNodes(plan, opts.diskFaults) } : {}),
  };
  // Written first, so that `down --dir` finds the run even if `up` dies half-way.
  writeHostsFile(dir, h);
  try {
    createNetwork(h);
    say(`run ${run}: ${h.hosts.length} hosts on ${h.subnet}, bridge ${h.bridge} in namespace ${h.hub}`);
    if (h.diskFaults) {
      // What LocalCluster.up would do to a stopped cluster's files, before the mounts go in.
      if (readClusterFile(dir)) wipeClusterDir(dir);
      await mountRunDisks(dir, h, h.diskFaults);
      say(`data directories of ${h.diskFaults.join(" ")} on lazyfs (unsynced writes can be lost)`);
    }
    const args = [
      "--controllers", String(opts.controllers ?? 3), "--groups", String(opts.groups ?? 1), "--replicas", String(opts.replicas ?? 3),
      "--shards", String(opts.shards ?? 12), ...(opts.tickMs !== undefined ? ["--tick-ms", String(opts.tickMs)] : []),
      ...(opts.timeoutMs !== undefined ? ["--timeout", `${opts.timeoutMs}ms`] : []),
    ];
    const r = await ctlRun(dir, ["ctl-up", ...args], { onLine: say });
    if (r.code !== 0) throw new Error(`starting the cluster from the control host failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
    return h;
  } catch (e) {
    await hostsDown(dir).catch(() => undefined);
    throw e;
  }
}

/** What `down` did. */
export interface HostsDownReport {
  readonly run: string;
  /** Daemons stopped by LocalCluster.down (SIGTERM, SIGKILL after the grace). */
  readonly stopped: readonly string[];
  /** Other processes still inside the namespaces, SIGKILLed. */
  readonly killed: readonly number[];
  readonly namespaces: readonly string[];
  /** The lazyfs mounts of the run (disk faults), unmounted. */
  readonly mounts: readonly string[];
}

/**
 * Stops the run of `dir`: its daemons (SIGTERM, SIGKILL after `graceMs`), then SIGKILL to any
 * other process inside its namespaces, then deletes the namespaces (veths and bridge with
 * them). Idempotent: a run already down reports nothing stopped.
 */
export async function hostsDown(dir: string, graceMs = 2000): Promise<HostsDownReport> {
  requireRoot();
  const h = loadHosts(dir);
  let stopped: readonly string[] = [];
  if (readClusterFile(resolve(dir))) stopped = (await LocalCluster.load(dir).down(graceMs)).stopped;
  const removed = await removeRun(h.prefix);
  if (h.faketime) removeStaleFaketimeShm();
  return { run: h.run, stopped, ...removed };
}

/**
 * Kills what runs inside the namespaces of `prefix` and deletes them, then unmounts the run's
 * lazyfs mounts (down, and leftovers of crashed runs).
 */
export async function removeRun(prefix: string): Promise<{ killed: number[]; namespaces: string[]; mounts: string[] }> {
  const killed = await killInside(prefix);
  const namespaces = removeNetwork(prefix);
  return { killed, namespaces, mounts: await unmountRunDisks(prefix.slice(nsPrefixRoot.length, -1)) };
}

/** The environment the CLIs need on a client host: $SHARDKV_CONTROLLERS and the admin identity's TLS files. */
export function clusterEnv(dir: string): Record<string, string> {
  const c = LocalCluster.load(dir);
  try {
    return c.cliEnv();
  } finally {
    c.close();
  }
}

/** A command's exit code and output. */
export interface RunResult {
  /** Exit code; -1 when a signal or the deadline ended it. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * How to run `cmd args...` on host `host` of the run in `dir`: `ip netns exec <ns> cmd...`,
 * with the cluster's CLI environment added (clusterEnv, when the cluster exists) and the
 * repository as working directory (so `bin/shardkv` works).
 */
export function execSpec(dir: string, host: string, cmd: readonly string[], extraEnv: Record<string, string> = {}): {
  file: string; args: string[]; env: NodeJS.ProcessEnv; cwd: string;
} {
  const ns = hostOf(loadHosts(dir), host).ns;
  const env = { ...process.env, ...(existsSync(join(resolve(dir), "cluster.json")) ? clusterEnv(dir) : {}), ...extraEnv };
  return { file: "ip", args: ["netns", "exec", ns, ...cmd], env, cwd: repoRoot };
}

/** Runs `cmd` on host `host` (execSpec); resolves when it exits, with its output. */
export function execIn(dir: string, host: string, cmd: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  const { file, args, env, cwd } = execSpec(dir, host, cmd, opts.env);
  return new Promise((res) => {
    execFile(file, args, { cwd, env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The command that runs this harness's CLI (deploy/hosts/main.ts) with tsx. */
export const hostsCli = [join(repoRoot, "node_modules", ".bin", "tsx"), join(repoRoot, "deploy", "hosts", "main.ts")] as const;

/**
 * Runs the harness's own CLI on the control host with `args` (one of the `ctl-*` commands,
 * which speak gRPC to the cluster) and `--dir dir`; `onLine` gets each line it prints on
 * stdout as it comes.
 */
export function ctlRun(dir: string, args: readonly string[], opts: { onLine?: (line: string) => void; timeoutMs?: number } = {}): Promise<RunResult> {
  const h = loadHosts(dir);
  const child = spawn("ip", ["netns", "exec", hostOf(h, "ctl").ns, ...hostsCli, ...args, "--dir", resolve(dir)], {
    cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs ?? 300_000,
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    const lines = (partial + s).split("\n");
    partial = lines.pop()!;
    for (const l of lines) opts.onLine?.(l);
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((res) => {
    child.once("error", (e) => res({ code: -1, stdout, stderr: `${stderr}cannot run ${hostsCli.join(" ")}: ${e.message}\n` }));
    child.once("close", (code) => {
      if (partial) opts.onLine?.(partial);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The error line a command of this CLI printed (`hosts <command>: ...`), else its last line. */
const lastLine = (s: string): string => {
  const lines = s.trim().split("\n");
  return lines.find((l) => l.startsWith("hosts ")) ?? lines.at(-1) ?? "";
};

/**
 * The node name of the leader of `group` ("controllers" or a gid) that a majority agrees on,
 * asked from the control host (so an isolated node's stale claim is not heard); throws after
 * `timeoutMs` without one.
 */
export async function leaderOf(dir: string, group: "controllers" | number, timeoutMs = 20_000): Promise<string> {
  const r = await ctlRun(dir, ["ctl-leader", String(group), "--timeout", `${timeoutMs}ms`]);
  if (r.code !== 0) throw new Error(`no leader of ${group === "controllers" ? "the controllers" : `group ${group}`}: ${lastLine(r.stderr) || `exit ${r.code}`}`);
  return r.stdout.trim();
}

/** Restarts daemon `node` (same host, address and data) from the control host; resolves once it answers. */
export async function restartNode(dir: string, node: string): Promise<void> {
  const r = await ctlRun(dir, ["ctl-restart", node]);
  if (r.code !== 0) throw new Error(`restart ${node} failed: ${lastLine(r.stderr) || `exit ${r.code}`}`);
}

/**
 * The disk fault (disk.ts): daemon `node` (on lazyfs: `up --disk-faults`) killed with
 * SIGKILL, every write it had not fsynced dropped, restarted on what it had synced (from the
 * control host; resolves once it answers). Returns what was dropped (files, bytes, pages).
 * `npm run hosts -- lose-unsynced NODE` and the nemesis call it.
 */
export function loseUnsyncedWrites(dir: string, node: string): Promise<LostWrites> {
  return crashDisk(dir, loadHosts(dir), node, (n) => restartNode(dir, n));
}

/** The daemon hosts of `group` ("controllers" or a gid), in hosts.json order. */
export function groupHosts(h: HostsFile, group: "controllers" | number): string[] {
  return daemonHosts(h).filter((x) => (group === "controllers" ? x.role === "controller" : x.name.startsWith(`g${group}n`))).map((x) => x.name);
}

/**
 * What the control host's LocalCluster.up needs for the hosts: each node's address, and its
 * spawn prefix (`ip netns exec <ns>`, then for a --faketime run `env` with libfaketime on the
 * node's clock file: clock.ts).
 */
export function hostPlacement(dir: string, h: HostsFile): {
  addrOf: (name: string) => string | undefined; spawnPrefix: Record<string, string[]>; mountedDataDirs: readonly string[];
} {
  const lib = h.faketime ? libfaketimePath() : undefined;
  if (h.faketime && !lib) throw new Error("--faketime: libfaketime is not installed (Debian package faketime)");
  return {
    addrOf: (name) => {
      const host = h.hosts.find((x) => x.name === name);
      return host && `${host.ip}:${h.port}`;
    },
    spawnPrefix: Object.fromEntries(daemonHosts(h).map((x) => [x.name, [
      "ip", "netns", "exec", x.ns, ...(lib ? ["env", ...faketimeEnv(dir, x.name, lib)] : []),
    ]])),
    mountedDataDirs: h.diskFaults ?? [],
  };
}

/**
 * The grudge of a partition of the run (partition.ts): the hosts named, or the daemon hosts
 * of a group, or every daemon host; `leader` isolates the leader of a group, found from the
 * control host.
 */
export async function grudgeOf(dir: string, spec: PartitionSpec): Promise<Grudge> {
  const h = loadHosts(dir);
  const all = h.hosts.map((x) => x.name);
  const known = (xs: readonly string[]): readonly string[] => xs.map((x) => hostOf(h, x).name);
  switch (spec.kind) {
    case "isolate":
      return isolateGrudge(all, known(spec.hosts));
    case "one-way":
      return oneWayGrudge(known(spec.from), known(spec.to));
    case "leader":
      return isolateGrudge(all, [await leaderOf(dir, spec.group)]);
    case "halves": case "bridge": case "ring": {
      const hosts = spec.hosts ? known(spec.hosts) : spec.group !== undefined ? groupHosts(h, spec.group) : daemonHosts(h).map((x) => x.name);
      return { halves: halvesGrudge, bridge: bridgeGrudge, ring: ringGrudge }[spec.kind](hosts);
    }
  }
}

/** Applies the partition `spec` to the run in `dir` (replacing any earlier one); returns its cuts ("a -/-> b"). */
export async function partition(dir: string, spec: PartitionSpec): Promise<string[]> {
  const g = await grudgeOf(dir, spec);
  applyGrudge(loadHosts(dir), g);
  return describeGrudge(g);
}

/** What heal did. */
export interface HealReport {
  readonly resumed: readonly string[];
  readonly restarted: readonly string[];
}

/**
 * Restores everything: every partition and netem removed, every clock back to real time,
 * every SIGSTOPped daemon continued,
 * every daemon that is not running restarted (from the control host, each waited for until
 * it answers).
 */
export async function heal(dir: string): Promise<HealReport> {
  const h = loadHosts(dir);
  await healNetwork(h);
  resetClocks(dir, h);
  const c = LocalCluster.load(dir);
  const resumed: string[] = [];
  const down: string[] = [];
  try {
    for (const name of c.nodeNames()) {
      const n = c.node(name);
      const st = procState(n.pid, n.dataDir);
      if (st === "paused") {
        await c.resume(name);
        resumed.push(name);
      } else if (st === "gone") {
        down.push(name);
      }
    }
  } finally {
    c.close();
  }
  for (const name of down) await restartNode(dir, name);
  return { resumed, restarted: down };
}
