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
  /** Passed to every shard server after those (e.g. --migration-rate); absent in older files. */
  serverArgs?: string[];
  /** Passed to every controller after extraArgs (e.g. --snapshot-every); absent in older files. */
  controllerArgs?: string[];
  /** Node name -> flags passed to that node last (e.g. failpoints on one server); absent in older files. */
  nodeArgs?: Record<string, string[]>;
  /** Added to the environment of every daemon. */
  env: Record<string, string>;
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
  const node = (n: NodeEntry): NodeEntry => ({ id: n.id, addr: n.addr, pid: n.pid, dataDir: n.dataDir, log: n.log });
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
  try {
    return readdirSync(join(dir, "data")).flatMap((n) => {
      const p = parseNodeName(n);
      return p?.kind === "server" ? [p.gid] : [];
    });
  } catch {
    return [];
  }
}

export function ensureDirs(dir: string): void {
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
}
