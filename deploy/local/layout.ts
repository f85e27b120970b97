/**
 * The on-disk layout of a local cluster (deploy/local/cluster.ts): `<dir>/cluster.json` (the
 * public description of every node, in the format the README documents under "Local cluster"), `<dir>/launcher.json` (what
 * the launcher needs to start a node again from another process: tick, extra flags,
 * environment), `<dir>/data/<node>` (one RocksDB directory per node) and
 * `<dir>/logs/<node>.log`. Node names: `c<id>` for controllers, `g<gid>n<id>` for servers.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** One daemon as cluster.json lists it. `pid` is null while the node is down. */
export interface NodeEntry {
  id: number;
  addr: string;
  pid: number | null;
  dataDir: string;
  log: string;
  /** Its metrics endpoint (--metrics-listen: /metrics, /healthz, /readyz); absent: none. */
  metrics?: string;
}

export interface GroupEntry {
  gid: number;
  servers: NodeEntry[];
}

/** The content of `<dir>/cluster.json`, exactly these keys. */
export interface ClusterFile {
  controllers: NodeEntry[];
  groups: GroupEntry[];
  nats: string | null;
  shards: number;
  /**
   * true: every daemon runs with mutual TLS on the certificates in `<dir>/certs/`
   * (deploy/local/certs.ts); false: `up --insecure`. Absent in older files (insecure then).
   */
  tls?: boolean;
}

/** The content of `<dir>/launcher.json`: how to (re)start a node. */
export interface LauncherFile {
  /** Raft tick of every daemon (--tick-ms); undefined = the daemons' default. */
  tickMs?: number;
  /** Passed to every daemon after its own flags. */
  extraArgs: string[];
  /** Whether new nodes get a metrics endpoint (--metrics-listen); absent in older files (none). */
  metrics?: boolean;
  /** Passed to every shard server after those (e.g. --migration-rate); absent in older files. */
  serverArgs?: string[];
  /** Passed to every controller after extraArgs (e.g. --snapshot-every); absent in older files. */
  controllerArgs?: string[];
  /** Node name -> flags passed to that node last (e.g. failpoints on one server); absent in older files. */
  nodeArgs?: Record<string, string[]>;
  /** Added to the environment of every daemon. */
  env: Record<string, string>;
  /**
   * Node name -> the command that runs that node's daemon (spawnDaemon's `prefix`, e.g.
   * `ip netns exec NS` for the test hosts of deploy/hosts/); absent: started directly.
   */
  spawnPrefix?: Record<string, string[]>;
  /**
   * Node name -> last address of each replica removed from its group (replace,
   * remove-replica), for starting a replica that still holds a configuration naming it.
   */
  retired?: Record<string, string>;
}

export const clusterFileName = "cluster.json";
export const launcherFileName = "launcher.json";

/** A parsed node name. */
export type NodeName = { kind: "controller"; id: number } | { kind: "server"; gid: number; id: number };

export const controllerName = (id: number): string => `c${id}`;
export const serverName = (gid: number, id: number): string => `g${gid}n${id}`;

export function parseNodeName(name: string): NodeName | undefined {
  let m = /^c([1-9]\d*)$/.exec(name);
  if (m) return { kind: "controller", id: Number(m[1]) };
  m = /^g([1-9]\d*)n([1-9]\d*)$/.exec(name);
  if (m) return { kind: "server", gid: Number(m[1]), id: Number(m[2]) };
  return undefined;
}

/** Every node of the cluster with its name, controllers first. */
export function allNodes(c: ClusterFile): { name: string; gid?: number; node: NodeEntry }[] {
  return [
    ...c.controllers.map((n) => ({ name: controllerName(n.id), node: n })),
    ...c.groups.flatMap((g) => g.servers.map((n) => ({ name: serverName(g.gid, n.id), gid: g.gid, node: n }))),
  ];
}

export const dataDirOf = (dir: string, name: string): string => join(resolve(dir), "data", name);
export const logFileOf = (dir: string, name: string): string => join(resolve(dir), "logs", `${name}.log`);

export function readClusterFile(dir: string): ClusterFile | undefined {
  const p = join(dir, clusterFileName);
  if (!existsSync(p)) return undefined;
  const c = JSON.parse(readFileSync(p, "utf8")) as ClusterFile;
  if (!Array.isArray(c.controllers) || !Array.isArray(c.groups) || typeof c.shards !== "number") {
    throw new Error(`${p} is not a shardkv-local cluster file`);
  }
  return c;
}

/** Replaces the file atomically (write to a temporary file, rename). */
function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  renameSync(tmp, path);
}

export function writeClusterFile(dir: string, c: ClusterFile): void {
  // Key order fixed, no extra keys: the format is a contract (README, "Local cluster").
  const node = (n: NodeEntry): NodeEntry => ({ id: n.id, addr: n.addr, pid: n.pid, dataDir: n.dataDir, log: n.log, ...(n.metrics !== undefined ? { metrics: n.metrics } : {}) });
  writeJsonAtomic(join(dir, clusterFileName), {
    controllers: c.controllers.map(node),
    groups: c.groups.map((g) => ({ gid: g.gid, servers: g.servers.map(node) })),
    nats: c.nats,
    shards: c.shards,
    tls: c.tls === true,
  });
}

export function readLauncherFile(dir: string): LauncherFile {
  const p = join(dir, launcherFileName);
  if (!existsSync(p)) return { extraArgs: [], env: {} };
  return JSON.parse(readFileSync(p, "utf8")) as LauncherFile;
}

export function writeLauncherFile(dir: string, l: LauncherFile): void {
  writeJsonAtomic(join(dir, launcherFileName), l);
}

/**
 * Removes what a local cluster created in `dir` (data/, logs/, cluster.json, launcher.json)
 * and nothing else, then the directory itself if that left it empty.
 */
export function wipeClusterDir(dir: string): void {
  for (const p of ["data", "logs", "certs", clusterFileName, launcherFileName, ".lock"]) rmSync(join(dir, p), { recursive: true, force: true });
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // absent or not empty: leave it
  }
}

/** Every gid that ever had a data directory in `dir` (so a new group never reuses one). */
export function gidsWithData(dir: string): number[] {
  return dataNames(dir).flatMap((n) => {
    const p = parseNodeName(n);
    return p?.kind === "server" ? [p.gid] : [];
  });
}

export function ensureDirs(dir: string): void {
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
}

/** A replica group of the layout: the controllers, or shard group `gid`. */
export type GroupRef = "controllers" | number;

/** "the controllers", "group 3" (for messages). */
export const describeGroupRef = (of: GroupRef): string => (of === "controllers" ? "the controllers" : `group ${of}`);

/** The group node `name` belongs to, by its name alone. */
export const groupOfName = (n: NodeName): GroupRef => (n.kind === "controller" ? "controllers" : n.gid);

/** The name of replica `id` of `of`. */
export const nodeNameIn = (of: GroupRef, id: number): string => (of === "controllers" ? controllerName(id) : serverName(of, id));

/**
 * The nodes `l` lists for `of` (the array itself, so a caller may change it); throws naming
 * the groups when `of` is not one of them.
 */
export function groupNodes(l: ClusterFile, of: GroupRef): NodeEntry[] {
  if (of === "controllers") return l.controllers;
  const g = l.groups.find((x) => x.gid === of);
  if (!g) throw new Error(`no group ${of} (groups: ${l.groups.map((x) => x.gid).join(", ") || "none"})`);
  return g.servers;
}

/**
 * The `--peers` value of every node of `of`: each node cluster.json lists for it, `id=addr`,
 * ascending ids. cluster.json lists a group's current members (and a replica being added), so
 * this is the set a started daemon's stored configuration holds (raft/daemon-node.ts refuses
 * a --peers naming other ids).
 */
export function peersArg(l: ClusterFile, of: GroupRef): string {
  return [...groupNodes(l, of)].sort((a, b) => a.id - b.id).map((n) => `${n.id}=${n.addr}`).join(",");
}

/**
 * The id of a new replica of `of`: one above every id cluster.json lists for it and every id
 * with a data directory (`dataNames`: the names under `<dir>/data`). A removed replica's data
 * directory stays, so an id is never reused: Raft must never see an old replica's log under
 * a new member's id.
 */
export function nextReplicaId(l: ClusterFile, of: GroupRef, dataNames: readonly string[]): number {
  const seen = dataNames.flatMap((n) => {
    const p = parseNodeName(n);
    return p && groupOfName(p) === of ? [p.id] : [];
  });
  return Math.max(0, ...groupNodes(l, of).map((n) => n.id), ...seen) + 1;
}

/** Adds node `node` to `of` in `l` (kept in id order). */
export function addNode(l: ClusterFile, of: GroupRef, node: NodeEntry): void {
  const nodes = groupNodes(l, of);
  if (nodes.some((n) => n.id === node.id)) throw new Error(`${nodeNameIn(of, node.id)} is in cluster.json already`);
  nodes.push(node);
  nodes.sort((a, b) => a.id - b.id);
}

/** Drops node `name` from `l`; returns its entry, undefined if `l` does not list it. */
export function removeNode(l: ClusterFile, name: string): NodeEntry | undefined {
  const p = parseNodeName(name);
  if (!p) return undefined;
  const of = groupOfName(p);
  if (of !== "controllers" && !l.groups.some((g) => g.gid === of)) return undefined;
  const nodes = groupNodes(l, of);
  const i = nodes.findIndex((n) => n.id === p.id);
  if (i < 0) return undefined;
  return nodes.splice(i, 1)[0];
}

/** The names under `<dir>/data` ([] when there is none). */
export function dataNames(dir: string): string[] {
  try {
    return readdirSync(join(dir, "data"));
  } catch {
    return [];
  }
}
