/**
 * `LocalCluster`: a whole shardkv cluster on this machine, every daemon a child process
 * (bin/shardkv-controller, bin/shardkv-server) with its own data directory and log file. Used
 * by the `shardkv-local` CLI (deploy/local/main.ts), `npm start` (deploy/local/demo.ts), the
 * real-process tests and the benchmark.
 *
 * The truth is on disk: `<dir>/cluster.json` (deploy/local/layout.ts) is re-read at the start
 * of every operation and rewritten by every mutation, so several processes (a foreground
 * `npm start` and `shardkv-local kill g1n2` in another terminal) can drive one cluster.
 *
 * Ownership: the daemons always run in their own process group, detached from the launcher.
 * A cluster started with `detach: false` (the default; tests, `npm start`,
 * `shardkv-local up --foreground`) is owned by this process: every daemon it started is
 * SIGKILLed when the process exits, also on a crash (not on a SIGKILL of the launcher itself,
 * which nothing can catch). With `detach: true` (`shardkv-local up`) the daemons outlive it
 * and `shardkv-local down` stops them. Every pid is checked against /proc/<pid>/cmdline
 * before it is signalled (deploy/local/process.ts), so a reused pid is never hit.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { GroupId } from "../../common/ids";
import { readableLog } from "../../common/log-line";
import { realClock } from "../../common/real-env";
import { ControllerClient, type ControllerStatus } from "../../controller/client";
import { type Config, controllerGid } from "../../controller/config";
import { describeGroup, membersOf } from "../../controller/replica-intents";
import { type ReplicaStatusDetail, replicaStatusDetail } from "../../controller/shardctl-lib";
import { type GroupView, type MigrationProgress, migrationProgress } from "../../controller/migration-progress";
import type { NodeId } from "../../common/ids";
import { type ReplicaChange, describeReplicaChange } from "../../common/replica-change";
import { shardkv } from "../../proto/gen/shardkv.js";
import { shardKVStub, shardServerStatus, shardStateName, shardViewsOf, type ShardKVStub } from "../../shard-server/grpc-service";
import { leaderMembers, raftMembers, type RaftMembersReply } from "../../raft/transport/members-service";
import {
  addNode, allNodes, type ClusterFile, controllerName, dataDirOf, dataNames, describeGroupRef, ensureDirs, type GroupEntry, type GroupRef,
  gidsWithData, groupNodes, type LauncherFile, logFileOf, nextReplicaId, type NodeEntry, nodeNameIn, parseNodeName, peersArg,
  readClusterFile, readLauncherFile, removeNode, serverName, wipeClusterDir, writeClusterFile, writeLauncherFile,
} from "./layout";
import {
  changeOutcome, olderPeersArg, pendingChangeHint, liveStep, type ReplicaChangeProgress, storedMembersRefusal,
} from "./replica-ops";
import { freePorts, graceMsDefault, logTail, procState, type ProcState, signalNode, spawnDaemon, stopNode, waitGone } from "./process";
import { waitUntil } from "./wait";
import { type LocalIdentity, certsDirOf, identityTlsFiles, issueNodeCert, makeClusterCa, nodeTlsDirOf } from "./certs";
import { type Security, securityOf } from "../../security/credentials";
import { type TlsFiles, tlsEnv } from "../../security/tls-files";

export type ShardStatusReply = shardkv.kv.StatusReply;
/** Shard state names as in Status replies (shard-server/grpc-service.ts). */
export { shardStateName };
export type { ControllerStatus };
export { controllerName, serverName };
const ShardState = shardkv.kv.ShardState;

/** Ports never handed to a daemon (well-known services that may run on a developer machine). */
export const reservedPorts: readonly number[] = [6379, 5432, 3306, 5672, 1883, 4222];

/** Default grace period between SIGTERM and SIGKILL (longer for a daemon writing a profile: process.ts defaultGraceMs). */
export { graceMsDefault };
/** Default deadline of `up`, `addGroup`, `removeGroup` and `restart`. */
export const settleMsDefault = 120_000;

export interface LocalClusterOptions {
  /** Cluster directory: cluster.json, launcher.json, data/<node>, logs/<node>.log. */
  readonly dir: string;
  /** Controller replicas. Default 3. */
  readonly controllers?: number;
  /** Shard groups, gids 1..groups. Default 3; 0: controllers only. */
  readonly groups?: number;
  /**
   * false: start the groups but do not join them (the caller joins, e.g. with `shardctl`);
   * `up` then waits only for every node to answer and the controllers to have a leader.
   * Default true.
   */
  readonly join?: boolean;
  /** Replicas per group. Default 3. */
  readonly replicas?: number;
  /** Shard count. Default 64. */
  readonly shards?: number;
  /** First port; nodes get consecutive ports from it. Default: free loopback ports. */
  readonly basePort?: number;
  /** NATS URL for config pushes, or null/undefined for none. */
  readonly nats?: string | null;
  /** Raft tick (--tick-ms) of every daemon. Default: the daemons' (100 ms). */
  readonly tickMs?: number;
  /**
   * Give every daemon a metrics endpoint on a free loopback port (--metrics-listen; its
   * address is the node's `metrics` in cluster.json). Default true; false for a benchmark
   * without metrics (nodes added later follow the cluster's choice).
   */
  readonly metrics?: boolean;
  /** Appended to every daemon's command line (e.g. failpoint flags). */
  readonly extraArgs?: string[];
  /** Appended to every shard server's command line after extraArgs (e.g. --migration-rate). */
  readonly serverArgs?: string[];
  /** Appended to every controller's command line after extraArgs (e.g. --snapshot-every). */
  readonly controllerArgs?: string[];
  /** Node name (`c2`, `g1n3`) -> flags appended last to that node's command line. */
  readonly nodeArgs?: Record<string, string[]>;
  /** Added to every daemon's environment. */
  readonly env?: Record<string, string>;
  /** Progress lines ("started c1 ..."). Default: none. */
  readonly log?: (line: string) => void;
  /** true: the daemons outlive this process. Default false (killed when it exits). */
  readonly detach?: boolean;
  /** Deadline of startup until every shard is Serving. Default 120 s. */
  readonly timeoutMs?: number;
  /**
   * true: a new CA and certificates in `<dir>/certs/` (deploy/local/certs.ts), every daemon
   * and this handle's calls on mutual TLS (what `shardkv-local up` and `npm start` do unless
   * given --insecure). false (the default of this API, which the tests use): every daemon
   * with --insecure. clientOptions(), controllerOptions() and cliEnv() give callers what
   * either kind of cluster needs.
   */
  readonly tls?: boolean;
  /**
   * Node name -> its address (host:port), in place of a free loopback port: the test hosts of
   * deploy/hosts/ give every daemon the IP of its network namespace. Default: loopback.
   */
  readonly addrOf?: (name: string) => string | undefined;
  /** Node name -> the command that runs its daemon (LauncherFile.spawnPrefix, kept for restarts). */
  readonly spawnPrefix?: Record<string, string[]>;
  /**
   * Nodes whose data directories the caller mounted before up (the test hosts' disk faults,
   * deploy/hosts/disk.ts): up accepts them in a directory without cluster.json while they
   * are empty. Default none.
   */
  readonly mountedDataDirs?: readonly string[];
}

/** Options of addReplica, replaceReplica and removeReplica. */
export interface ReplicaOpOptions {
  /**
   * How long to wait for the group's leader to carry out each stored change (starting a new
   * replica has a deadline of its own, 120 s). Default 120 s; the change stays stored after it.
   */
  readonly timeoutMs?: number;
  /** Store the intent with force: the group's leader skips its strict reconfiguration check. */
  readonly force?: boolean;
  /** Port of a new replica. Default: a free loopback port. */
  readonly basePort?: number;
  /**
   * Start a new replica on the host of node `onHostOf` (the test hosts of deploy/hosts/, where
   * every node has an address of its own): that node's IP on a fresh port, and its spawn
   * prefix (`ip netns exec` its namespace). Default: loopback, started directly.
   */
  readonly onHostOf?: string;
  /** Grace period when stopping the removed replica. Default 5 s. */
  readonly graceMs?: number;
  /** Each new step or blocked reason of the stored change while it is waited for. */
  readonly onProgress?: (p: ReplicaChangeProgress) => void;
}

/**
 * One node as `status()` sees it. The fields of ReplicaStatusDetail (controller/shardctl-lib.ts)
 * come from its Status, every node that answers (docs/operations.md, "Status fields"), but for
 * the reply's `lag`, here `applyLag` (`lag` is the leader's view, below).
 */
export interface NodeStatus extends Omit<ReplicaStatusDetail, "lag"> {
  readonly name: string;
  readonly kind: "controller" | "server";
  readonly gid?: number;
  readonly id: number;
  readonly addr: string;
  /** Its metrics endpoint (host:port serving /metrics, /healthz, /readyz); absent: none. */
  readonly metrics?: string;
  readonly pid: number | null;
  /** up: answers Status; unresponsive: its process runs but does not answer; paused: SIGSTOPped; down: no process. */
  readonly state: "up" | "unresponsive" | "paused" | "down";
  readonly role?: string;
  /**
   * Servers: the replica's place in its group's Raft configuration as the group's leader
   * sees it (leader, follower, learner; "(outgoing)" or "(incoming)" while joint), and how
   * many entries its log is behind the leader's.
   */
  readonly member?: string;
  readonly lag?: number;
  readonly term?: number;
  readonly leader?: number;
  /** Controllers: latest config; servers: the config the replica has applied. */
  readonly configNum?: number;
  /** Servers: every shard it reports (state name, keys, key plus value bytes). */
  readonly shards?: readonly { shard: number; state: string; configNum: number; keys: number; bytes: number }[];
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  /** Entries it knows committed and has not applied yet (its Status reply's `lag`). */
  readonly applyLag?: number;
  readonly log: string;
  readonly dataDir: string;
}

export interface ClusterStatus {
  readonly dir: string;
  readonly shardCount: number;
  readonly nats: string | null;
  readonly nodes: readonly NodeStatus[];
  /** The cluster id the controllers answered with the config (absent when none did). */
  readonly clusterId?: string;
  /** The controller's latest config, if a controller leader answered. */
  readonly config?: { num: number; shards: number[]; groups: Record<string, string[]> };
  /** gid -> shards it owns in that config. */
  readonly shardMap?: Record<string, number[]>;
  readonly configError?: string;
}

/** What removeGroup saw of the group's servers last, just before it stopped them. */
export interface RemovedGroup {
  /** The config created by the Leave. */
  readonly configNum: number;
  readonly drained: readonly { name: string; configNum: number; ownedShards: number; keys: number }[];
}

/** What down() did: the nodes it stopped, and those of them that needed SIGKILL. */
export interface DownReport {
  readonly stopped: readonly string[];
  readonly killed: readonly string[];
}

/**
 * What waitAllServing (and removeGroup) saw in one poll, for progress output: shards serving,
 * moving with bytes left, awaiting gc (controller/migration-progress.ts).
 */
export type ServingProgress = MigrationProgress;

/** gid -> owned shards of a config (every gid of the config, sorted). */
export function shardMapOf(cfg: Config): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const gid of [...cfg.groups.keys()].sort((a, b) => a - b)) m.set(gid, []);
  cfg.shards.forEach((gid, shard) => {
    if (gid !== 0) m.get(gid)?.push(shard) ?? m.set(gid, [shard]);
  });
  return m;
}

// ------------------------------------------------------------------ ownership

/** pid -> data dir of the daemons this process owns (started with detach: false). */
const owned = new Map<number, string>();
let exitHookInstalled = false;

function own(pid: number, dataDir: string): void {
  owned.set(pid, dataDir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Runs on every exit, a crash (uncaught exception) included.
  process.once("exit", () => {
    for (const [p, d] of owned) signalNode(p, d, "SIGKILL");
  });
}

// ------------------------------------------------------------------ the cluster

export class LocalCluster {
  /** Absolute cluster directory. */
  readonly dir: string;
  private readonly stubs = new Map<string, ShardKVStub>();
  /** Node name -> how each run this handle started ended ("code 0", "signal SIGKILL"), oldest first. */
  private readonly exitLog = new Map<string, string[]>();
  /** pid -> resolves when that process (started by this handle) has exited and been reaped. */
  private readonly exited = new Map<number, Promise<void>>();
  private ctlChange: ControllerClient | undefined;
  private ctlProbe: ControllerClient | undefined;
  private adminSecurity: Security | undefined;

  private constructor(dir: string, private readonly detach: boolean, private readonly say: (line: string) => void) {
    this.dir = resolve(dir);
  }

  /**
   * Starts the whole cluster (see LocalClusterOptions), joins groups 1..groups, waits until
   * the controller and every group have a leader and every shard is Serving, and returns it.
   * Refuses a directory with a live cluster; wipes a stopped one. On failure every started
   * daemon is stopped (the logs stay) and the error names the reason.
   */
  static async up(opts: LocalClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(opts.dir, opts.detach ?? false, opts.log ?? (() => undefined));
    const live = LocalCluster.running(c.dir);
    if (live.length > 0) {
      throw new Error(`a cluster is already running in ${c.dir} (${live.join(", ")}); stop it with: shardkv-local down --dir ${c.dir}`);
    }
    if (readClusterFile(c.dir)) {
      c.say(`removing the stopped cluster in ${c.dir}`);
      wipeClusterDir(c.dir);
    } else {
      // Not ours (no cluster.json): never delete anything in it.
      const mounted = new Set(opts.mountedDataDirs ?? []);
      const clash = ["data", "logs"].filter((d) => existsSync(join(c.dir, d))
        && readdirSync(join(c.dir, d)).some((x) => d !== "data" || !mounted.has(x) || readdirSync(join(c.dir, d, x)).length > 0));
      if (clash.length > 0) throw new Error(`${c.dir} has no cluster.json but a non-empty ${clash.join(" and ")}/; choose another --dir or remove them`);
    }
    ensureDirs(c.dir);
    const tls = opts.tls === true;
    const nControllers = opts.controllers ?? 3;
    const nGroups = opts.groups ?? 3;
    const replicas = opts.replicas ?? 3;
    const shards = opts.shards ?? 64;
    const metrics = opts.metrics ?? true;
    const addrs = await allocateNodeAddrs(nControllers + nGroups * replicas, metrics, opts.basePort);
    // addrOf (the test hosts): the node's own address; its /metrics on the same host.
    const placed = (name: string, a: NodeAddrs): NodeAddrs => {
      const addr = opts.addrOf?.(name);
      if (addr === undefined) return a;
      const host = addr.slice(0, addr.lastIndexOf(":"));
      return { addr, ...(a.metrics ? { metrics: `${host}:${a.metrics.slice(a.metrics.lastIndexOf(":") + 1)}` } : {}) };
    };
    const entry = (name: string, id: number, given: NodeAddrs): NodeEntry => {
      const a = placed(name, given);
      return { id, addr: a.addr, pid: null, dataDir: dataDirOf(c.dir, name), log: logFileOf(c.dir, name), ...(a.metrics ? { metrics: a.metrics } : {}) };
    };
    const layout: ClusterFile = {
      controllers: Array.from({ length: nControllers }, (_, i) => entry(controllerName(i + 1), i + 1, addrs[i]!)),
      groups: Array.from({ length: nGroups }, (_, g) => ({
        gid: g + 1,
        servers: Array.from({ length: replicas }, (_, i) => entry(serverName(g + 1, i + 1), i + 1, addrs[nControllers + g * replicas + i]!)),
      })),
      nats: opts.nats ?? null,
      shards,
      tls,
    };
    if (tls) {
      await makeClusterCa(c.dir);
      for (const { name, node } of allNodes(layout)) await issueNodeCert(c.dir, name, node.addr);
      c.say(`made a cluster CA and certificates in ${certsDirOf(c.dir)}`);
    }
    writeLauncherFile(c.dir, {
      tickMs: opts.tickMs, metrics, extraArgs: opts.extraArgs ?? [], serverArgs: opts.serverArgs ?? [], controllerArgs: opts.controllerArgs ?? [],
      nodeArgs: opts.nodeArgs ?? {}, env: opts.env ?? {}, ...(opts.spawnPrefix ? { spawnPrefix: opts.spawnPrefix } : {}),
    });
    writeClusterFile(c.dir, layout);
    try {
      for (const { name, node } of allNodes(layout)) c.start(layout, name, node);
      writeClusterFile(c.dir, layout);
      const names = allNodes(layout).map((n) => n.name);
      await c.waitAnswering(names, opts.timeoutMs ?? settleMsDefault);
      if (nGroups === 0 || opts.join === false) {
        await c.waitLeader("controllers", opts.timeoutMs ?? settleMsDefault);
        return c;
      }
      const groups = new Map(layout.groups.map((g) => [g.gid as GroupId, g.servers.map((s) => s.addr)]));
      const num = await c.controller().join(groups);
      c.say(`joined groups ${[...groups.keys()].join(", ")} (config ${num})`);
      await c.waitAllServing(opts.timeoutMs ?? settleMsDefault, undefined, names);
      c.say(`all ${shards} shards serving`);
      return c;
    } catch (e) {
      await c.down(0).catch(() => undefined);
      throw e;
    }
  }

  /** The nodes of the cluster in `dir` whose process still runs ("c1 pid 123"); [] if none or no cluster. */
  static running(dir: string): string[] {
    const l = readClusterFile(resolve(dir));
    return l ? allNodes(l).filter((n) => procState(n.node.pid, n.node.dataDir) !== "gone").map((n) => `${n.name} pid ${n.node.pid}`) : [];
  }

  /**
   * Attaches to the cluster described by `<dir>/cluster.json` (started by another process).
   * Daemons this handle starts (restart, addGroup) are detached unless `detach` is false.
   */
  static load(dir: string, opts: { log?: (line: string) => void; detach?: boolean } = {}): LocalCluster {
    const c = new LocalCluster(dir, opts.detach ?? true, opts.log ?? (() => undefined));
    if (!readClusterFile(c.dir)) throw new Error(`no cluster in ${c.dir} (no cluster.json); start one with: shardkv-local up --dir ${dir}`);
    return c;
  }

  /** The current cluster.json. */
  get layout(): ClusterFile {
    const l = readClusterFile(this.dir);
    if (!l) throw new Error(`no cluster in ${this.dir} (cluster.json is gone)`);
    return l;
  }

  private get launcher(): LauncherFile {
    return readLauncherFile(this.dir);
  }

  /** Re-reads cluster.json, applies `fn`, writes it back. */
  private update<T>(fn: (l: ClusterFile) => T): T {
    const l = this.layout;
    const r = fn(l);
    writeClusterFile(this.dir, l);
    return r;
  }

  controllerAddrs(): string[] {
    return this.layout.controllers.map((n) => n.addr);
  }

  /** Whether the cluster runs on mutual TLS (`up` without `insecure`). */
  get secure(): boolean {
    return this.layout.tls === true;
  }

  /** The TLS files of the cluster's admin or client identity; undefined for an insecure cluster. */
  tlsFiles(who: LocalIdentity): TlsFiles | undefined {
    return this.secure ? identityTlsFiles(this.dir, who) : undefined;
  }

  /**
   * The Security of this handle's own calls (status, join, leave): the admin identity, or
   * plaintext for an insecure cluster. Made once per handle; closed by close().
   */
  get security(): Security {
    this.adminSecurity ??= securityOf(this.tlsFiles("admin"), { reloadIntervalMs: 0 });
    return this.adminSecurity;
  }

  /** What ShardKV.connect needs to reach this cluster as its client identity. */
  clientOptions(): { controllers: string[]; tls?: TlsFiles } {
    const tls = this.tlsFiles("client");
    return { controllers: this.controllerAddrs(), ...(tls ? { tls } : {}) };
  }

  /** What a ControllerClient needs to reach this cluster as its admin identity. */
  controllerOptions(): { controllers: string[]; security: Security } {
    return { controllers: this.controllerAddrs(), security: this.security };
  }

  /**
   * The environment the CLIs (shardkv, shardctl) need for this cluster: $SHARDKV_CONTROLLERS
   * and, for a secure cluster, the admin identity's $SHARDKV_TLS_CA, $SHARDKV_TLS_CERT,
   * $SHARDKV_TLS_KEY (what `shardkv-local env` prints).
   */
  cliEnv(): Record<string, string> {
    const tls = this.tlsFiles("admin");
    return {
      SHARDKV_CONTROLLERS: this.controllerAddrs().join(","),
      ...(tls ? { [tlsEnv.ca]: tls.ca, [tlsEnv.cert]: tls.cert, [tlsEnv.key]: tls.key } : {}),
    };
  }

  groupAddrs(gid: number): string[] {
    const g = this.layout.groups.find((x) => x.gid === gid);
    if (!g) throw new Error(`no group ${gid} (groups: ${this.layout.groups.map((x) => x.gid).join(", ") || "none"})`);
    return g.servers.map((s) => s.addr);
  }

  /** Group ids, ascending. */
  gids(): number[] {
    return this.layout.groups.map((g) => g.gid).sort((a, b) => a - b);
  }

  /** Every node name, controllers first. */
  nodeNames(): string[] {
    return allNodes(this.layout).map((n) => n.name);
  }

  /** A node by name (`c1`, `g2n3`), with its metrics endpoint when it has one; throws listing the valid names. */
  node(name: string): { addr: string; pid: number | null; log: string; dataDir: string; metrics?: string } {
    const { node } = this.find(this.layout, name);
    return { addr: node.addr, pid: node.pid, log: node.log, dataDir: node.dataDir, ...(node.metrics !== undefined ? { metrics: node.metrics } : {}) };
  }

  /** Whether the node's process exists (running or paused). */
  isRunning(name: string): boolean {
    const n = this.node(name);
    return procState(n.pid, n.dataDir) !== "gone";
  }

  /**
   * How each run of the node that this handle started ended, oldest first: "code 0",
   * "signal SIGKILL" (empty while its first run lasts, and for runs other processes started).
   */
  exits(name: string): readonly string[] {
    this.find(this.layout, name);
    return this.exitLog.get(name) ?? [];
  }

  /** The nodes of the controllers (`"controllers"`) or of group `gid`, in id order. */
  private members(of: GroupRef): { name: string; node: NodeEntry }[] {
    return groupNodes(this.layout, of).map((n) => ({ name: nodeNameIn(of, n.id), node: n }));
  }

  /** Node names of the controllers (`c1`, ...) or of group `gid` (`g<gid>n1`, ...), in id order. */
  nodesOf(of: "controllers" | number): string[] {
    return this.members(of).map((m) => m.name);
  }

  /** Ids of the controllers (or of group `gid`'s replicas) whose process runs, ascending. */
  aliveIds(of: "controllers" | number): number[] {
    return this.members(of).filter((m) => procState(m.node.pid, m.node.dataDir) !== "gone").map((m) => m.node.id);
  }

  /**
   * Waits until exactly one running member of the controllers (or of group `gid`) is leader
   * and a majority of the group's members agree on it (same leader, same term); returns its
   * id. Throws after `timeoutMs` naming what it saw last.
   */
  async waitLeader(of: "controllers" | number, timeoutMs = 20_000): Promise<number> {
    let leader = 0;
    let why = "no member answered";
    const what = of === "controllers" ? "a controller leader agreed by a majority" : `a leader of group ${of} agreed by a majority`;
    await waitUntil(async () => {
      const ms = this.members(of);
      const ss = (await Promise.all(ms.map((m) => this.roleOf(m.name, m.node)))).filter((s) => s !== undefined);
      const leaders = ss.filter((s) => s.role === "leader");
      const l = leaders[0];
      if (leaders.length !== 1 || !l) {
        why = `${leaders.length} leaders among ${ss.length} answering of ${ms.length}`;
        return false;
      }
      const agree = ss.filter((s) => s.leader === l.id && s.term === l.term).length;
      why = `${agree} of ${ms.length} agree on leader ${l.id} in term ${l.term}`;
      if (agree * 2 <= ms.length) return false;
      leader = l.id;
      return true;
    }, { timeoutMs, what, why: () => why, intervalMs: 50 });
    return leader;
  }

  /** A running node's view of its group's leadership, or undefined if it does not answer. */
  private async roleOf(name: string, node: NodeEntry): Promise<{ id: number; role: string; term: number; leader: number } | undefined> {
    if (procState(node.pid, node.dataDir) !== "running") return undefined;
    const s = parseNodeName(name)?.kind === "controller" ? await this.controllerStatus(name, 700) : await this.replicaStatus(name, 700);
    return s && { id: Number(s.id), role: s.role, term: Number(s.term), leader: Number(s.leader) };
  }

  /** The Status reply of controller `name` (`c1`), or undefined if it does not answer within `timeoutMs`. */
  controllerStatus(name: string, timeoutMs = 1000): Promise<ControllerStatus | undefined> {
    return this.probeController().status(this.node(name).addr, timeoutMs).catch(() => undefined);
  }

  /** The Status reply of shard server `name` (`g1n2`), or undefined if it does not answer within `timeoutMs`. */
  replicaStatus(name: string, timeoutMs = 1000): Promise<ShardStatusReply | undefined> {
    return this.serverStatus(this.node(name).addr, timeoutMs).catch(() => undefined);
  }

  /** The last `lines` lines of every node's log, each under `--- <node>` (for test failure messages). */
  logTails(lines = 20): string {
    return this.nodeNames().map((n) => `--- ${n}\n${logTail(this.node(n).log, lines)}`).join("\n");
  }

  /** Resolves once a process this handle started has exited and its exit is recorded (at most 2 s). */
  private async reaped(pid: number | null): Promise<void> {
    const p = pid === null ? undefined : this.exited.get(pid);
    if (!p) return;
    let cancel = (): void => undefined;
    await Promise.race([p, new Promise<void>((r) => (cancel = realClock.after(2000, r)))]);
    cancel();
    this.exited.delete(pid!);
  }

  private find(l: ClusterFile, name: string): { kind: "controller" | "server"; gid?: number; node: NodeEntry } {
    const p = parseNodeName(name);
    const hit = allNodes(l).find((n) => n.name === name);
    if (!p || !hit) {
      throw new Error(`unknown node ${JSON.stringify(name)}; nodes: ${allNodes(l).map((n) => n.name).join(" ")}`);
    }
    return { kind: p.kind, gid: hit.gid, node: hit.node };
  }

  // ---------------------------------------------------------------- processes

  /**
   * The command line of node `name` of layout `l`. `peers`: the --peers value, when not the
   * one cluster.json gives (peersArg: the group's nodes it lists).
   */
  private argsOf(l: ClusterFile, name: string, peers?: string): { kind: "controller" | "server"; args: string[] } {
    const { kind, gid, node } = this.find(l, name);
    const launcher = this.launcher;
    const common = [
      "--id", String(node.id), "--listen", node.addr, "--data", node.dataDir, "--shards", String(l.shards),
      ...(launcher.tickMs !== undefined ? ["--tick-ms", String(launcher.tickMs)] : []),
      ...(node.metrics !== undefined ? ["--metrics-listen", node.metrics] : []),
      ...(l.nats !== null ? ["--nats", l.nats] : []),
    ];
    common.push(...(l.tls === true ? ["--tls-dir", nodeTlsDirOf(this.dir, name)] : ["--insecure"]));
    const own = launcher.nodeArgs?.[name] ?? [];
    if (kind === "controller") {
      return { kind, args: [...common, "--peers", peers ?? peersArg(l, "controllers"), ...launcher.extraArgs, ...(launcher.controllerArgs ?? []), ...own] };
    }
    const controllers = l.controllers.map((n) => n.addr).join(",");
    return {
      kind,
      args: ["--gid", String(gid), ...common, "--peers", peers ?? peersArg(l, gid!), "--controllers", controllers, ...launcher.extraArgs, ...(launcher.serverArgs ?? []), ...own],
    };
  }

  /** Spawns node `name` of layout `l` and records its pid in `node` (the caller writes the layout). */
  private start(l: ClusterFile, name: string, node: NodeEntry, peers?: string): void {
    const { kind, args } = this.argsOf(l, name, peers);
    let exited!: () => void;
    const done = new Promise<void>((r) => (exited = r));
    const launcher = this.launcher;
    const pid = spawnDaemon({
      kind, args, logFile: node.log, env: launcher.env, prefix: launcher.spawnPrefix?.[name],
      onExit: (how) => {
        this.exitLog.set(name, [...(this.exitLog.get(name) ?? []), how]);
        owned.delete(pid);
        exited();
      },
    });
    this.exited.set(pid, done);
    if (!this.detach) own(pid, node.dataDir);
    node.pid = pid;
    this.say(`started ${name} (pid ${pid}) on ${node.addr}, log ${node.log}`);
  }

  /** Waits until each named node answers Status; fails at once if one's process is gone. */
  private async waitAnswering(names: readonly string[], timeoutMs: number): Promise<void> {
    const pending = new Set(names);
    await waitUntil(async () => {
      const l = this.layout;
      await Promise.all([...pending].map(async (name) => {
        const { kind, node } = this.find(l, name);
        if (procState(node.pid, node.dataDir) === "gone") {
          throw new Error(`${name} exited while starting; last lines of ${node.log}:\n${logTail(node.log)}`);
        }
        const ok = kind === "controller"
          ? await this.probeController().status(node.addr, 500).then(() => true, () => false)
          : await this.serverStatus(node.addr, 500).then(() => true, () => false);
        if (ok) pending.delete(name);
      }));
      return pending.size === 0;
    }, { timeoutMs, what: "every node to answer Status", why: () => `not yet: ${[...pending].join(" ")}`, intervalMs: 100 });
  }

  /** SIGKILL (kill -9); resolves once the process is gone. */
  async kill(name: string): Promise<void> {
    const { node } = this.find(this.layout, name);
    if (!signalNode(node.pid, node.dataDir, "SIGKILL")) throw new Error(`${name} is not running`);
    if (!(await waitGone(node.pid, node.dataDir, 10_000))) throw new Error(`${name} (pid ${node.pid}) survived SIGKILL`);
    await this.reaped(node.pid);
    this.update((l) => {
      const n = this.find(l, name).node;
      if (n.pid === node.pid) n.pid = null;
    });
  }

  /**
   * Stops one node as `down()` stops every node: SIGTERM (and SIGCONT), SIGKILL after
   * `graceMs` (default: process.ts defaultGraceMs); resolves once it is gone with how it ended ("term", or "kill" when it needed
   * SIGKILL). Its address and data directory stay for `restart`.
   */
  async stop(name: string, graceMs?: number): Promise<"term" | "kill"> {
    const { node } = this.find(this.layout, name);
    const how = await stopNode(node.pid, node.dataDir, graceMs);
    if (how === "none") throw new Error(`${name} is not running`);
    await this.reaped(node.pid);
    this.update((l) => {
      const n = this.find(l, name).node;
      if (n.pid === node.pid) n.pid = null;
    });
    return how;
  }

  /** SIGSTOP: the process stays but does nothing (a hung node). */
  pause(name: string): Promise<void> {
    return this.signal(name, "SIGSTOP", "running");
  }

  /** SIGCONT after pause. */
  resume(name: string): Promise<void> {
    return this.signal(name, "SIGCONT", "paused");
  }

  private async signal(name: string, sig: NodeJS.Signals, want: ProcState): Promise<void> {
    const { node } = this.find(this.layout, name);
    const st = procState(node.pid, node.dataDir);
    if (st !== want) throw new Error(`${name} is ${st === "gone" ? "not running" : st}`);
    signalNode(node.pid, node.dataDir, sig);
    const target: ProcState = sig === "SIGSTOP" ? "paused" : "running";
    await waitUntil(() => procState(node.pid, node.dataDir) !== want, { timeoutMs: 5000, what: `${name} to be ${target}` });
  }

  /**
   * Starts the node again on the same address and data directory (stopping it first,
   * gracefully, if it runs) and waits until it answers Status. Returns the new pid. `args`
   * replaces the node's own extra flags (LocalClusterOptions.nodeArgs) from now on.
   */
  async restart(name: string, opts: { graceMs?: number; timeoutMs?: number; args?: readonly string[] } = {}): Promise<number> {
    const { node } = this.find(this.layout, name);
    await stopNode(node.pid, node.dataDir, opts.graceMs);
    await this.reaped(node.pid);
    if (opts.args) {
      const l = this.launcher;
      writeLauncherFile(this.dir, { ...l, nodeArgs: { ...l.nodeArgs, [name]: [...opts.args] } });
    }
    const startWith = (peers?: string): number => this.update((l) => {
      const n = this.find(l, name).node;
      this.start(l, name, n, peers);
      return n.pid!;
    });
    const pid = startWith();
    try {
      await this.waitAnswering([name], opts.timeoutMs ?? 60_000);
      return pid;
    } catch (e) {
      // A replica that was down while its group changed holds the older configuration and
      // refuses --peers naming the current members: start it with the members it names; it
      // learns the change from the leader (operations.md, "Replacing a replica").
      const stored = storedMembersRefusal(logTail(node.log, 5));
      if (stored === undefined) throw e;
      const { of } = this.locate(name);
      const peers = olderPeersArg(this.layout, of, stored, this.launcher.retired ?? {});
      this.say(`${name} holds an older configuration of its group (replicas {${stored.join(",")}}); starting it with --peers ${peers}`);
      await this.reaped(pid);
      const again = startWith(peers);
      await this.waitAnswering([name], opts.timeoutMs ?? 60_000);
      return again;
    }
  }

  /**
   * Stops every node: SIGTERM, SIGKILL after `graceMs` (0: SIGKILL at once; default: 5 s,
   * 60 s for a daemon started with a profiling flag of Node's, so that its profile is
   * written: process.ts defaultGraceMs); resolves when every process is gone. The servers go first, then the controllers: a stopping server's
   * migration driver may be in the middle of a controller query, which would otherwise wait
   * out its deadline against stopped controllers. cluster.json stays, every pid null.
   */
  async down(graceMs?: number): Promise<DownReport> {
    const stopped: string[] = [];
    const killed: string[] = [];
    // Re-read until nothing listed runs: a node another process started meanwhile (a
    // restart, a new group) is stopped too, never left behind as an orphan.
    for (let round = 0; round < 5; round++) {
      const l = readClusterFile(this.dir);
      if (!l) break;
      const live = allNodes(l).filter((n) => procState(n.node.pid, n.node.dataDir) !== "gone");
      const stop = (nodes: typeof live): Promise<unknown> => Promise.all(nodes.map(async ({ name, node }) => {
        let how: "none" | "term" | "kill" = "none";
        if (graceMs === undefined || graceMs > 0) how = await stopNode(node.pid, node.dataDir, graceMs);
        else if (signalNode(node.pid, node.dataDir, "SIGKILL")) {
          await waitGone(node.pid, node.dataDir, 10_000);
          how = "kill";
        }
        if (how !== "none") stopped.push(name);
        if (how === "kill") killed.push(name);
        await this.reaped(node.pid);
        if (node.pid !== null) owned.delete(node.pid);
      }));
      await stop(live.filter((n) => n.gid !== undefined));
      await stop(live.filter((n) => n.gid === undefined));
      // Every listed node whose process is gone is marked down.
      this.update((now) => {
        for (const { node } of allNodes(now)) if (procState(node.pid, node.dataDir) === "gone") node.pid = null;
      });
      if (live.length === 0) break;
    }
    this.close();
    const order = this.nodeNamesIfAny();
    const sorted = (xs: string[]): string[] => [...new Set(xs)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return { stopped: sorted(stopped), killed: sorted(killed) };
  }

  private nodeNamesIfAny(): string[] {
    const l = readClusterFile(this.dir);
    return l ? allNodes(l).map((n) => n.name) : [];
  }

  /** Closes this handle's gRPC channels (the cluster keeps running). */
  close(): void {
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
    this.ctlChange?.close();
    this.ctlProbe?.close();
    this.ctlChange = this.ctlProbe = undefined;
    this.adminSecurity?.close();
    this.adminSecurity = undefined;
  }

  // ---------------------------------------------------------------- RPCs

  /** A controller client for changes (Join/Leave), deadline 30 s. */
  controller(): ControllerClient {
    this.ctlChange ??= new ControllerClient({ ...this.controllerOptions(), deadlineMs: 30_000 });
    return this.ctlChange;
  }

  private probeController(): ControllerClient {
    this.ctlProbe ??= new ControllerClient({ ...this.controllerOptions(), deadlineMs: 2000, attemptMs: 1000 });
    return this.ctlProbe;
  }

  /** A ShardKV stub for the server at `addr`, kept until close() or down(). */
  shardStub(addr: string): ShardKVStub {
    let s = this.stubs.get(addr);
    if (!s) {
      s = shardKVStub(addr, this.security);
      this.stubs.set(addr, s);
    }
    return s;
  }

  /** The Status reply of the shard server at `addr` (throws the typed error). */
  serverStatus(addr: string, timeoutMs = 1000): Promise<ShardStatusReply> {
    return shardServerStatus(this.shardStub(addr), addr, timeoutMs);
  }

  /** Status replies of every answering server of `gid`. */
  private async groupStatuses(g: GroupEntry, timeoutMs = 700): Promise<ShardStatusReply[]> {
    const rs = await Promise.all(g.servers.map((s) => (procState(s.pid, s.dataDir) === "running"
      ? this.serverStatus(s.addr, timeoutMs).catch(() => undefined)
      : undefined)));
    return rs.filter((r) => r !== undefined);
  }

  /** The leader among replies (the highest term), if any. */
  private static leaderOf(rs: readonly ShardStatusReply[]): ShardStatusReply | undefined {
    let best: ShardStatusReply | undefined;
    for (const r of rs) if (r.role === "leader" && (!best || Number(r.term) > Number(best.term))) best = r;
    return best;
  }

  // ---------------------------------------------------------------- status

  /** Every node (process state, role, term, leader, config) and the controller's shard map. */
  async status(): Promise<ClusterStatus> {
    const l = this.layout;
    const replies = new Map<string, ShardStatusReply>();
    const probed = await Promise.all(allNodes(l).map(async ({ name, gid, node }): Promise<NodeStatus> => {
      const kind = gid === undefined ? "controller" : "server";
      const base = {
        name, kind, gid, id: node.id, addr: node.addr, ...(node.metrics !== undefined ? { metrics: node.metrics } : {}), pid: node.pid, log: node.log, dataDir: node.dataDir,
      } as const;
      const ps = procState(node.pid, node.dataDir);
      if (ps === "gone") return { ...base, pid: null, state: "down" };
      if (ps === "paused") return { ...base, state: "paused" };
      try {
        if (kind === "controller") {
          const s: ControllerStatus = await this.probeController().status(node.addr, 1000);
          return {
            ...base, state: "up", role: s.role, term: Number(s.term), leader: Number(s.leader), configNum: Number(s.latestConfigNum), ...replicaDetail(s),
          };
        }
        const s = await this.serverStatus(node.addr, 1000);
        replies.set(name, s);
        return {
          ...base, state: "up", role: s.role, term: Number(s.term), leader: Number(s.leader), configNum: Number(s.configNum), ...replicaDetail(s),
          shards: s.shards.map((x) => ({
            shard: Number(x.shard), state: shardStateName(x.state), configNum: Number(x.configNum), keys: Number(x.keys), bytes: Number(x.bytes),
          })),
        };
      } catch {
        return { ...base, state: "unresponsive" };
      }
    }));
    // The controllers' members as their leader sees them (RaftMembers); the servers' from their group leader's Status.
    const ctlLeader = probed.find((n) => n.kind === "controller" && n.role === "leader");
    const ctlMembers = ctlLeader ? await raftMembers(ctlLeader.addr, 1000, this.security).then((r) => r.members, () => undefined) : undefined;
    const nodes = probed.map((n) => ({ ...n, ...memberOf(n, n.kind === "controller" ? ctlMembers : groupLeaderMembers(n, [...replies.values()])) }));
    const out: ClusterStatus = { dir: this.dir, shardCount: l.shards, nats: l.nats, nodes };
    try {
      const { config: cfg, clusterId } = await this.probeController().queryCluster();
      return {
        ...out,
        ...(clusterId ? { clusterId } : {}),
        config: { num: cfg.num, shards: [...cfg.shards], groups: Object.fromEntries([...cfg.groups].map(([g, a]) => [String(g), [...a]])) },
        shardMap: Object.fromEntries([...shardMapOf(cfg)].map(([g, s]) => [String(g), s])),
      };
    } catch (e) {
      return { ...out, configError: (e as Error).message };
    }
  }

  // ---------------------------------------------------------------- settling

  /**
   * One look at the cluster: is every shard of the controller's latest config Serving at its
   * owner's leader, with every group of the config led and at that config, and no shard of
   * any group still Pulling, in Handoff or in Gc (every migration finished and collected)?
   */
  async servingProgress(others: readonly GroupEntry[] = []): Promise<{ progress?: ServingProgress; why: string }> {
    let cfg: Config;
    try {
      cfg = await this.probeController().query();
    } catch (e) {
      return { why: `controller: ${(e as Error).message}` };
    }
    const l = this.layout;
    const missing: string[] = [];
    const gids = [...cfg.groups.keys()];
    const view = async (g: GroupEntry): Promise<GroupView> => {
      const leader = LocalCluster.leaderOf(await this.groupStatuses(g));
      return {
        gid: g.gid,
        ...(leader ? {
          leader: {
            name: serverName(g.gid, Number(leader.id)), configNum: Number(leader.configNum),
            shards: shardViewsOf(leader),
          },
        } : {}),
      };
    };
    const groups = await Promise.all(gids.map((gid) => {
      const g = l.groups.find((x) => x.gid === gid);
      if (!g) missing.push(`group ${gid} of config ${cfg.num} is not in cluster.json`);
      return g ? view(g) : { gid };
    }));
    const p = migrationProgress({ num: cfg.num, shards: cfg.shards, gids }, groups, await Promise.all(others.map(view)));
    const why = [...missing, ...p.why];
    return { progress: { ...p, done: why.length === 0, why }, why: why.join("; ") };
  }

  /**
   * Waits until every shard of the latest config is Serving at its owner (see
   * servingProgress); `onProgress` gets each poll. `watch`: nodes whose exit fails the wait
   * at once (default: every node with a pid).
   */
  async waitAllServing(timeoutMs = settleMsDefault, onProgress?: (p: ServingProgress) => void, watch?: readonly string[]): Promise<void> {
    let why = "";
    await waitUntil(async () => {
      const l = this.layout;
      for (const { name, node } of allNodes(l)) {
        if (watch ? !watch.includes(name) : node.pid === null) continue;
        if (procState(node.pid, node.dataDir) === "gone") throw new Error(`${name} exited; last lines of ${node.log}:\n${logTail(node.log)}`);
      }
      const r = await this.servingProgress();
      why = r.why;
      if (r.progress) onProgress?.(r.progress);
      return r.progress?.done ?? false;
    }, { timeoutMs, what: "every shard to be Serving", why: () => why, intervalMs: 100 });
  }

  // ---------------------------------------------------------------- scale

  // ---------------------------------------------------------------- replicas

  /**
   * Adds a replica to the controllers or to group `gid`: starts it with `--join` (an empty
   * data directory, no bootstrap configuration) on the next unused id (nextReplicaId) and a
   * free port, listed in cluster.json from then on. `member`: "joining" (default) returns once
   * it answers Status, before anyone adds it (the caller drives the change); "learner" also
   * stores the intent to add it as a learner in the controller and waits until the group's
   * leader carried it out; "voter" then also stores and waits for its promotion.
   */
  async addReplica(
    of: GroupRef, opts: ReplicaOpOptions & { readonly member?: "joining" | "learner" | "voter" } = {},
  ): Promise<{ name: string; id: number; addr: string }> {
    const added = await this.startJoining(of, opts);
    if ((opts.member ?? "joining") === "joining") return added;
    const id = added.id as NodeId;
    await this.storeChange(of, { kind: "addLearner", id, address: added.addr }, opts, added.name);
    await this.waitReplicaChange(of, { kind: "addLearner", id, address: added.addr }, opts, realClock.nowMs() + (opts.timeoutMs ?? settleMsDefault));
    if (opts.member === "voter") {
      await this.storeChange(of, { kind: "promote", id }, opts);
      await this.waitReplicaChange(of, { kind: "promote", id }, opts, realClock.nowMs() + (opts.timeoutMs ?? settleMsDefault));
    }
    this.joined(added.name);
    return added;
  }

  /**
   * Replaces replica `name` (`g1n2`, `c3`): starts a new one with `--join` (new id, new port,
   * empty data directory), stores the intent to replace the old by it in the controller, waits
   * until the group's leader carried it out (learner, caught up, one joint change, leave-joint,
   * reported done: the controller's config has the new members), then stops the old replica
   * if it still runs and drops it from cluster.json. Its data directory stays where it was
   * (its id is never reused). When the controller already holds this replacement (an earlier
   * run interrupted), it waits for that one instead of starting another replica.
   */
  async replaceReplica(name: string, opts: ReplicaOpOptions = {}): Promise<{ added: string; removed: string }> {
    const { of, node: old } = this.locate(name);
    const { config, replicas } = await this.controller().queryCluster();
    const gid = groupIdOf(of);
    const pending = replicas.intents.get(gid)?.change;
    const members = membersOf(config, replicas, gid);
    if (!members.some((m) => m.id === old.id) && pending === undefined) {
      // An earlier run stored it and was interrupted, and the leader finished it since: the
      // replica that run started is a voter still marked as joining.
      const done = groupNodes(this.layout, of).find((n) => members.some((m) => m.id === n.id && !m.learner) && this.launcher.nodeArgs?.[nodeNameIn(of, n.id)]?.includes("--join"));
      if (!done) throw new Error(`${name} is no member of ${describeGroup(gid)} in config ${config.num}; drop it with: shardkv-local remove-replica ${name}`);
      const addedName = nodeNameIn(of, done.id);
      this.say(`${describeGroup(gid)} already carried out this replacement (by ${addedName})`);
      await this.retire(name, opts.graceMs);
      this.joined(addedName);
      return { added: addedName, removed: name };
    }
    const resumed = pending?.kind === "replace" && pending.oldId === old.id
      ? groupNodes(this.layout, of).find((n) => n.id === pending.newId && n.addr === pending.address)
      : undefined;
    let added: { name: string; id: number; addr: string };
    if (resumed) {
      added = { name: nodeNameIn(of, resumed.id), id: resumed.id, addr: resumed.addr };
      this.say(`${describeGroup(gid)} already holds this replacement (by ${added.name}); waiting for it`);
    } else {
      added = await this.startJoining(of, opts);
    }
    const change: ReplicaChange = { kind: "replace", oldId: old.id as NodeId, newId: added.id as NodeId, address: added.addr };
    if (!resumed) await this.storeChange(of, change, opts, added.name);
    await this.waitReplicaChange(of, change, opts, realClock.nowMs() + (opts.timeoutMs ?? settleMsDefault));
    await this.retire(name, opts.graceMs);
    this.joined(added.name);
    return { added: added.name, removed: name };
  }

  /**
   * Removes replica `name` from its group: stores the intent, waits until the group's leader
   * carried it out (every remaining member applied the removal, so stopping it is safe), then
   * stops it and drops it from cluster.json; its data directory stays. A node that is no member
   * of its group (a replica started to join that never was added) is stopped and dropped at
   * once. The controller refuses removing the last voter, with one line.
   */
  async removeReplica(name: string, opts: ReplicaOpOptions = {}): Promise<void> {
    const { of, node } = this.locate(name);
    const change: ReplicaChange = { kind: "remove", id: node.id as NodeId };
    const gid = groupIdOf(of);
    const { config, replicas } = await this.controller().queryCluster();
    const member = membersOf(config, replicas, gid).some((m) => m.id === node.id);
    const live = await this.liveMembers(of);
    if (!member && !live?.members?.some((m) => Number(m.id) === node.id) && replicas.intents.get(gid) === undefined) {
      this.say(`${name} is no member of ${describeGroupRef(of)} (config ${config.num}); stopping it`);
    } else {
      const pending = replicas.intents.get(gid);
      if (!(pending?.change.kind === "remove" && pending.change.id === node.id)) await this.storeChange(of, change, opts);
      await this.waitReplicaChange(of, change, opts, realClock.nowMs() + (opts.timeoutMs ?? settleMsDefault));
    }
    await this.retire(name, opts.graceMs);
  }

  /** The group of node `name` and its entry (throws naming the nodes when unknown). */
  private locate(name: string): { of: GroupRef; node: NodeEntry } {
    const { kind, gid, node } = this.find(this.layout, name);
    return { of: kind === "controller" ? "controllers" : gid!, node };
  }

  /** Starts a replica of `of` with --join (see addReplica) and waits until it answers Status. */
  private async startJoining(of: GroupRef, opts: ReplicaOpOptions): Promise<{ name: string; id: number; addr: string }> {
    const [free] = await allocateNodeAddrs(1, this.launcher.metrics === true, opts.basePort, this.layout) as [NodeAddrs];
    const near = opts.onHostOf === undefined ? undefined : this.find(this.layout, opts.onHostOf).node.addr;
    const onHost = (a: string): string => (near === undefined ? a : `${near.slice(0, near.lastIndexOf(":"))}${a.slice(a.lastIndexOf(":"))}`);
    const addr = onHost(free.addr);
    const metrics = free.metrics && onHost(free.metrics);
    // A secure cluster's new replica needs its certificate before it starts: issued for the
    // id it will get, which must still be the next one when it is added.
    const certified = nextReplicaId(this.layout, of, dataNames(this.dir));
    if (this.secure) await issueNodeCert(this.dir, nodeNameIn(of, certified), addr);
    const added = this.update((l) => {
      const id = nextReplicaId(l, of, dataNames(this.dir));
      if (id !== certified) throw new Error(`${describeGroupRef(of)} changed while adding a replica (another process added ${nodeNameIn(of, id - 1)}); try again`);
      const name = nodeNameIn(of, id);
      const node: NodeEntry = { id, addr, pid: null, dataDir: dataDirOf(this.dir, name), log: logFileOf(this.dir, name), ...(metrics ? { metrics } : {}) };
      addNode(l, of, node);
      const launcher = this.launcher;
      const own = (launcher.nodeArgs?.[name] ?? []).filter((a) => a !== "--join");
      const prefix = opts.onHostOf === undefined ? undefined : launcher.spawnPrefix?.[opts.onHostOf];
      writeLauncherFile(this.dir, {
        ...launcher, nodeArgs: { ...launcher.nodeArgs, [name]: [...own, "--join"] },
        ...(prefix ? { spawnPrefix: { ...launcher.spawnPrefix, [name]: prefix } } : {}),
      });
      this.start(l, name, node);
      return { name, id, addr: node.addr };
    });
    await this.waitAnswering([added.name], settleMsDefault);
    return added;
  }

  /** Drops `--join` from a replica that is a member now (a restart starts it as any other). */
  private joined(name: string): void {
    const launcher = this.launcher;
    const own = launcher.nodeArgs?.[name];
    if (!own?.includes("--join")) return;
    writeLauncherFile(this.dir, { ...launcher, nodeArgs: { ...launcher.nodeArgs, [name]: own.filter((a) => a !== "--join") } });
  }

  /**
   * Stores `change` for `of` in the controller. When the controller refuses it and `started`
   * names a replica started for it, that replica is stopped and forgotten (its data directory,
   * empty but for the joining record, is removed), so a refused change leaves nothing behind.
   */
  private async storeChange(of: GroupRef, change: ReplicaChange, opts: ReplicaOpOptions, started?: string): Promise<void> {
    try {
      await this.controller().replicaChange(groupIdOf(of), change, { force: opts.force === true });
    } catch (e) {
      if (started !== undefined) {
        const { node } = this.find(this.layout, started);
        await this.retire(started, 0);
        rmSync(node.dataDir, { recursive: true, force: true });
        const { [started]: _joining, ...nodeArgs } = this.launcher.nodeArgs ?? {};
        const { [started]: _never, ...retired } = this.launcher.retired ?? {};
        writeLauncherFile(this.dir, { ...this.launcher, nodeArgs, retired });
      }
      throw e;
    }
    this.say(`stored in the controller: ${describeGroup(groupIdOf(of))}: ${describeReplicaChange(change)}`);
  }

  /**
   * Waits until the controller reports `change` of `of` done (see changeOutcome), calling
   * `onProgress` with each new step or blocked reason. Throws when someone cancelled it, and
   * at the deadline, saying that the change stays stored and how to cancel it.
   */
  private async waitReplicaChange(of: GroupRef, change: ReplicaChange, opts: ReplicaOpOptions, deadline: number): Promise<void> {
    const gid = groupIdOf(of);
    let outcome = "pending" as "pending" | "done" | "dropped";
    let last = "";
    let why = "no answer from the controller yet";
    try {
      await waitUntil(async () => {
        let q: Awaited<ReturnType<ControllerClient["queryCluster"]>>;
        try {
          q = await this.probeController().queryCluster();
        } catch (e) {
          why = `controller: ${(e as Error).message}`;
          return false;
        }
        const intent = q.replicas.intents.get(gid);
        outcome = changeOutcome(change, intent, membersOf(q.config, q.replicas, gid));
        if (outcome !== "pending") return true;
        const p: ReplicaChangeProgress = { group: describeGroupRef(of), change, step: liveStep(change, await this.liveMembers(of)), blocked: intent?.blocked ?? "" };
        why = `${p.step ? `step ${p.step}` : `no leader of ${p.group} answers`}${p.blocked ? `, blocked: ${p.blocked}` : ""}`;
        const key = `${p.step}|${p.blocked}`;
        if (key !== last) opts.onProgress?.(p);
        last = key;
        return false;
      }, { timeoutMs: Math.max(1, Math.round(deadline - realClock.nowMs())), what: `${describeGroupRef(of)} to ${describeReplicaChange(change)}`, why: () => why, intervalMs: 250 });
    } catch (e) {
      if ((e as Error).message.startsWith("timed out")) throw new Error(`${(e as Error).message}; ${pendingChangeHint(gid, this.controllerAddrs())}`);
      throw e;
    }
    if (outcome === "dropped") throw new Error(`the change was cancelled (${describeReplicaChange(change)}): ${describeGroup(gid)}'s stored intent is gone and its members are not what it asked`);
    this.say(`${describeGroupRef(of)}: done: ${describeReplicaChange(change)}`);
  }

  /** The group's configuration as the leader among its running replicas lists it (RaftMembers). */
  private liveMembers(of: GroupRef): Promise<RaftMembersReply | undefined> {
    return leaderMembers(groupNodes(this.layout, of).filter((n) => procState(n.pid, n.dataDir) === "running").map((n) => n.addr), 700, this.security);
  }

  /**
   * Stops replica `name` if it runs (SIGTERM, SIGKILL after `graceMs`) and drops it from
   * cluster.json; its data directory and log stay. The controller clients are rebuilt, as
   * the controller addresses may have changed.
   */
  private async retire(name: string, graceMs?: number): Promise<void> {
    const { node } = this.find(this.layout, name);
    await stopNode(node.pid, node.dataDir, graceMs);
    await this.reaped(node.pid);
    this.update((l) => removeNode(l, name));
    const launcher = this.launcher;
    writeLauncherFile(this.dir, { ...launcher, retired: { ...launcher.retired, [name]: node.addr } });
    this.close();
    this.say(`stopped ${name} and dropped it from cluster.json (data kept in ${node.dataDir})`);
  }

  /**
   * Starts a new group (gid: `opts.gid`, else one above every gid this directory has seen; an
   * old data directory is never reused), joins it and waits until every shard is Serving
   * again. With `join: false` it only starts the servers and waits until each answers Status
   * (the caller joins the group, or never does).
   */
  async addGroup(opts: {
    gid?: number; replicas?: number; basePort?: number; join?: boolean; timeoutMs?: number; onProgress?: (p: ServingProgress) => void;
  } = {}): Promise<number> {
    const replicas = opts.replicas ?? 3;
    const addrs = await allocateNodeAddrs(replicas, this.launcher.metrics === true, opts.basePort, this.layout);
    const newGid = (l: ClusterFile): number => {
      const seen = [...l.groups.map((g) => g.gid), ...gidsWithData(this.dir)];
      if (opts.gid !== undefined && (!Number.isSafeInteger(opts.gid) || opts.gid < 1 || seen.includes(opts.gid))) {
        throw new Error(`cannot add group ${opts.gid}: ${seen.includes(opts.gid) ? "this cluster has or had it" : "want an integer >= 1"}`);
      }
      return opts.gid ?? Math.max(0, ...seen) + 1;
    };
    const certified = newGid(this.layout);
    if (this.secure) {
      for (const [i, a] of addrs.entries()) await issueNodeCert(this.dir, serverName(certified, i + 1), a.addr);
    }
    const { gid, names } = this.update((l) => {
      const gid = newGid(l);
      if (gid !== certified) throw new Error(`the cluster changed while adding group ${certified} (another process added it); try again`);
      const g: GroupEntry = {
        gid,
        servers: addrs.map((a, i) => ({
          id: i + 1, addr: a.addr, pid: null, dataDir: dataDirOf(this.dir, serverName(gid, i + 1)), log: logFileOf(this.dir, serverName(gid, i + 1)),
          ...(a.metrics ? { metrics: a.metrics } : {}),
        })),
      };
      l.groups.push(g);
      for (const s of g.servers) this.start(l, serverName(gid, s.id), s);
      return { gid, names: g.servers.map((s) => serverName(gid, s.id)) };
    });
    const timeoutMs = opts.timeoutMs ?? settleMsDefault;
    await this.waitAnswering(names, timeoutMs);
    if (opts.join === false) return gid;
    const num = await this.controller().join(new Map([[gid as GroupId, this.groupAddrs(gid)]]));
    this.say(`joined group ${gid} (config ${num})`);
    await this.waitAllServing(timeoutMs, opts.onProgress, names);
    return gid;
  }

  /**
   * Leave: waits until the group's shards have moved and been garbage-collected (its
   * answering servers are at the new config, own no shard and hold zero keys; every
   * remaining shard is Serving, none in Gc), then stops its servers and drops it from
   * cluster.json. Its data directories stay (the gid is never reused).
   */
  async removeGroup(gid: number, opts: { graceMs?: number; timeoutMs?: number; onProgress?: (p: ServingProgress) => void } = {}): Promise<RemovedGroup> {
    const g = this.layout.groups.find((x) => x.gid === gid);
    if (!g) throw new Error(`no group ${gid} (groups: ${this.gids().join(", ") || "none"})`);
    const num = await this.controller().leave([gid as GroupId]);
    this.say(`group ${gid} left (config ${num}); waiting for its shards to move`);
    const timeoutMs = opts.timeoutMs ?? settleMsDefault;
    let why = "";
    let drained: ShardStatusReply[] = [];
    await waitUntil(async () => {
      // Progress first: the shards leave while the group still holds them.
      const p = await this.servingProgress([g]);
      if (p.progress) opts.onProgress?.(p.progress);
      const rs = await this.groupStatuses(g);
      drained = rs;
      if (rs.length * 2 <= g.servers.length) {
        why = `only ${rs.length} of group ${gid}'s servers answer`;
        return false;
      }
      for (const r of rs) {
        const held = r.shards.filter((s) => s.state !== ShardState.SHARD_NOT_OWNED || Number(s.keys) > 0);
        if (Number(r.configNum) < num || held.length > 0) {
          why = `g${gid}n${Number(r.id)} at config ${Number(r.configNum)} still holds shards ${held.map((s) => `${s.shard}:${shardStateName(s.state)}/${Number(s.keys)} keys`).join(" ")}`;
          return false;
        }
      }
      why = p.why;
      return p.progress?.done ?? false;
    }, { timeoutMs, what: `group ${gid}'s shards to move and be collected`, why: () => why, intervalMs: 100 });
    await Promise.all(g.servers.map((s) => stopNode(s.pid, s.dataDir, opts.graceMs)));
    this.update((l) => (l.groups = l.groups.filter((x) => x.gid !== gid)));
    this.say(`group ${gid} stopped and removed`);
    return {
      configNum: num,
      drained: drained.map((r) => ({
        name: serverName(gid, Number(r.id)), configNum: Number(r.configNum),
        ownedShards: r.shards.filter((s) => s.state !== ShardState.SHARD_NOT_OWNED).length,
        keys: r.shards.reduce((n, s) => n + Number(s.keys), 0),
      })),
    };
  }

  /** The full log of a node, readable (common/log-line.ts: JSON lines as text; for tests and their failure messages). */
  logOf(name: string): string {
    try {
      return readableLog(readFileSync(this.node(name).log, "utf8"));
    } catch {
      return "";
    }
  }
}

/**
 * `n` loopback ports: consecutive from `basePort` (refusing reserved ones and, for a running
 * cluster `l`, ports it already uses), else free ones picked by the kernel.
 */
export async function allocatePorts(n: number, basePort?: number, l?: ClusterFile): Promise<number[]> {
  const portOf = (a: string): number => Number(a.split(":").pop());
  const used = new Set(l ? allNodes(l).flatMap((x) => [portOf(x.node.addr), ...(x.node.metrics !== undefined ? [portOf(x.node.metrics)] : [])]) : []);
  if (basePort !== undefined) {
    const ports = Array.from({ length: n }, (_, i) => basePort + i);
    const bad = ports.filter((p) => reservedPorts.includes(p) || used.has(p) || p > 65535);
    if (bad.length > 0) throw new Error(`--base-port ${basePort}: ports ${ports[0]}-${ports.at(-1)} include ${bad.join(", ")} (reserved, in use by this cluster, or > 65535)`);
    return ports;
  }
  const out: number[] = [];
  while (out.length < n) {
    for (const p of await freePorts(n - out.length)) if (!reservedPorts.includes(p) && !used.has(p) && !out.includes(p)) out.push(p);
  }
  return out;
}

/** A new node's gRPC address and, when the cluster has metrics, its metrics endpoint's. */
export interface NodeAddrs {
  readonly addr: string;
  readonly metrics?: string;
}

/**
 * Loopback addresses of `n` new nodes (allocatePorts): a gRPC port each and, with `metrics`,
 * a metrics port each (with `basePort`: the n metrics ports follow the n gRPC ports).
 */
export async function allocateNodeAddrs(n: number, metrics: boolean, basePort?: number, l?: ClusterFile): Promise<NodeAddrs[]> {
  const ports = await allocatePorts(metrics ? 2 * n : n, basePort, l);
  return Array.from({ length: n }, (_, i) => ({ addr: `127.0.0.1:${ports[i]!}`, ...(metrics ? { metrics: `127.0.0.1:${ports[n + i]!}` } : {}) }));
}

/** The controller's gid of a layout group (the controllers: gid 0). */
const groupIdOf = (of: GroupRef): GroupId => (of === "controllers" ? controllerGid : (of as GroupId));

/** Milliseconds since `t0` (realClock), for progress output. */
export const sinceMs = (t0: number): number => Math.round(realClock.nowMs() - t0);

/** The Status fields every replica reports (both kinds), for NodeStatus (the reply's `lag` is `applyLag` there). */
function replicaDetail(s: ControllerStatus | ShardStatusReply): Partial<NodeStatus> {
  const { lag, ...d } = replicaStatusDetail(s);
  return { commitIndex: Number(s.commitIndex), appliedIndex: Number(s.appliedIndex), ...d, applyLag: lag };
}

/** The members of server `n`'s group as its leader (among `replies`) reports them. */
function groupLeaderMembers(n: NodeStatus, replies: readonly ShardStatusReply[]): ShardStatusReply["members"] | undefined {
  let leader: ShardStatusReply | undefined;
  for (const r of replies) {
    if (Number(r.gid) === n.gid && r.role === "leader" && (!leader || Number(r.term) > Number(leader.term))) leader = r;
  }
  return leader?.members;
}

/** Node `n`'s member role and lag in `members` (its group leader's list). */
function memberOf(n: NodeStatus, members: ShardStatusReply["members"] | undefined): { member?: string; lag?: number } {
  const m = members?.find((x) => Number(x.id) === n.id);
  if (!m) return {};
  return { member: m.joint ? `${m.role} (${m.joint})` : m.role ?? "", ...(m.hasProgress ? { lag: Number(m.lag) } : {}) };
}
