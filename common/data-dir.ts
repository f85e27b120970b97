/**
 * The identity of a daemon's data directory (docs/design.md#92-every-directory-knows-what-it-is):
 * which kind of daemon it belongs to (controller or shard server), the cluster, the
 * shard group (0 for controllers), the replica id and the shard count. It lives in
 * `DIR/identity.json`, written when the directory is created, before anything else, and
 * checked by every daemon first thing at start, before RocksDB is opened (opening RocksDB on
 * a foreign directory already writes to it) and before waiting for anything.
 *
 * The file is replaced, never edited in place: the new content goes to a temporary file that
 * is fsynced, renamed over the old one, and the directory is fsynced (POSIX rename is
 * atomic), so a crash leaves the old identity or the new one, never a torn one.
 *
 * Fields learned after creation are added by rewriting the file: a shard server's shard
 * count (from --shards or from the controllers) and cluster id (from the controllers'
 * replies); a controller's cluster id (when its group commits one). The cluster id, once
 * recorded, never changes.
 *
 * A non-empty directory without an identity file was made by an earlier version: it is
 * adopted (its identity written from what its content shows and the command line) only when
 * the daemon's probe recognises its content as its own kind, and refused otherwise.
 */
import { constants } from "node:fs";
import { access, mkdir, open, readdir, readFile, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { DataDirError } from "./errors";

/** Which daemon a data directory belongs to. */
export type DataDirKind = "controller" | "shard-server";

/** What `DIR/identity.json` holds. */
export interface DataDirIdentity {
  readonly kind: DataDirKind;
  /** The shard group; 0 for controllers. */
  readonly gid: number;
  /** The replica id within its group. */
  readonly nodeId: number;
  /** The cluster's shard count; undefined until known (a shard server before it learns it). */
  readonly shardCount?: number;
  /** The cluster id the controllers established; undefined until known. */
  readonly clusterId?: string;
}

/** What a daemon's probe recognises in a directory of an earlier version (no identity file). */
export interface LegacyContent {
  readonly kind: DataDirKind;
  /** The group its state records (0 for controllers). */
  readonly gid: number;
  readonly shardCount: number;
}

/**
 * Recognises an earlier version's directory `dir` (read-only: it must write nothing), or
 * answers undefined when its content is not a recognisable data directory of either kind.
 */
export type LegacyProbe = (dir: string) => Promise<LegacyContent | undefined>;

/** The identity file's name inside the data directory. */
export const identityFileName = "identity.json";
const tempFileName = "identity.json.tmp";
/** Entries of an empty directory that are not ours (a file system's root). */
const ignoredEntries = new Set(["lost+found", tempFileName]);
const formatVersion = 1;
/** Cluster ids are printable tokens: hex from the controller, at most this long. */
const clusterIdCharsMax = 64;

/** "controller replica 1", "shard group 2 replica 3". */
export function describeReplica(i: Pick<DataDirIdentity, "kind" | "gid" | "nodeId">): string {
  return i.kind === "controller" ? `controller replica ${i.nodeId}` : `shard group ${i.gid} replica ${i.nodeId}`;
}

/** A file system error as one line in user terms, or undefined for an unexpected one. */
function fsReason(e: unknown): { reason: string; misuse: boolean } | undefined {
  switch ((e as NodeJS.ErrnoException)?.code) {
    case "ENOSPC":
    case "EDQUOT":
      return { reason: "no space left on the device", misuse: false };
    case "EROFS":
      return { reason: "the file system is read-only", misuse: false };
    case "EACCES":
    case "EPERM":
      return { reason: "permission denied", misuse: false };
    case "ENOTDIR":
    case "EEXIST":
      return { reason: "a component of the path is a file, not a directory", misuse: true };
    case "EIO":
      return { reason: "I/O error", misuse: false };
    default:
      return undefined;
  }
}

/** Runs a file system call on `dir`, turning the usual failures into one-line DataDirErrors. */
async function fsCall<T>(dir: string, doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const why = fsReason(e);
    if (!why) throw e;
    throw new DataDirError(dir, `cannot ${doing} data directory ${dir}: ${why.reason}`, why.misuse);
  }
}

/**
 * A storage failure while a daemon opens or writes its data directory `dir` (RocksDB reports
 * them as "IO error: ... No space left on device ..."), as the one-line DataDirError of
 * fsCall when it is one of the usual ones; anything else unchanged.
 */
export function asDataDirError(dir: string, e: unknown): unknown {
  if (e instanceof DataDirError || !(e instanceof Error)) return e;
  const code = /No space left on device/i.test(e.message) ? "ENOSPC"
    : /Read-only file system/i.test(e.message) ? "EROFS"
      : /Permission denied/i.test(e.message) ? "EACCES" : undefined;
  const why = code && fsReason({ code });
  return why ? new DataDirError(dir, `cannot write data directory ${dir}: ${why.reason}`, why.misuse) : e;
}

/** The identity as stored (JSON, one object). */
function encodeIdentity(i: DataDirIdentity): string {
  const o: Record<string, unknown> = { format: formatVersion, kind: i.kind, gid: i.gid, node: i.nodeId };
  if (i.shardCount !== undefined) o.shards = i.shardCount;
  if (i.clusterId !== undefined) o.cluster = i.clusterId;
  return JSON.stringify(o) + "\n";
}

/** Parses a stored identity; a DataDirError (misuse: not ours to fix by flags) when malformed. */
export function decodeIdentity(dir: string, text: string): DataDirIdentity {
  const bad = (why: string): DataDirError =>
    new DataDirError(dir, `data directory ${dir}: ${identityFileName} is not a shardkv identity (${why}); restore it or use another directory`, false);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad("not JSON");
  }
  if (typeof o !== "object" || o === null) throw bad("not an object");
  if (o.format !== formatVersion) throw bad(`format ${JSON.stringify(o.format)}, this version reads ${formatVersion}`);
  if (o.kind !== "controller" && o.kind !== "shard-server") throw bad(`kind ${JSON.stringify(o.kind)}`);
  const uint = (v: unknown, what: string, min: number): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw bad(`${what} ${JSON.stringify(v)}`);
    return v;
  };
  const gid = uint(o.gid, "gid", o.kind === "controller" ? 0 : 1);
  if (o.kind === "controller" && gid !== 0) throw bad(`gid ${gid} for a controller`);
  const out: { -readonly [K in keyof DataDirIdentity]: DataDirIdentity[K] } = { kind: o.kind, gid, nodeId: uint(o.node, "node", 1) };
  if (o.shards !== undefined) out.shardCount = uint(o.shards, "shards", 1);
  if (o.cluster !== undefined) {
    if (typeof o.cluster !== "string" || !validClusterId(o.cluster)) throw bad(`cluster ${JSON.stringify(o.cluster)}`);
    out.clusterId = o.cluster;
  }
  return out;
}

/** A cluster id as the controllers make them: 1..64 characters of [0-9a-z-]. */
export function validClusterId(id: string): boolean {
  return id.length > 0 && id.length <= clusterIdCharsMax && /^[0-9a-z-]+$/.test(id);
}

/** The identity stored in `dir`, or undefined when it has none. */
export async function readIdentity(dir: string): Promise<DataDirIdentity | undefined> {
  let text: string;
  try {
    text = await fsCall(dir, "read", () => readFile(join(dir, identityFileName), "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return decodeIdentity(dir, text);
}

/**
 * Stores `identity` in `dir` so that it cannot be torn: temporary file, fsync, rename over
 * the old one, fsync of the directory. A full or read-only disk is a one-line DataDirError.
 */
export async function writeIdentity(dir: string, identity: DataDirIdentity): Promise<void> {
  await fsCall(dir, "write", async () => {
    const tmp = join(dir, tempFileName);
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(encodeIdentity(identity));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, identityFileName));
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  });
}

/** What a daemon asks of its data directory at start (from its command line). */
export interface DataDirClaim {
  readonly kind: DataDirKind;
  /** 0 for controllers. */
  readonly gid: number;
  readonly nodeId: number;
  /** The shard count given on the command line (undefined: not given). */
  readonly shardCount?: number;
}

/** Why `found` is not the directory `claim` asks for, or undefined when it is. */
function mismatch(dir: string, found: Pick<DataDirIdentity, "kind" | "gid" | "nodeId" | "shardCount">, claim: DataDirClaim): DataDirError | undefined {
  if (found.kind !== claim.kind || found.gid !== claim.gid || found.nodeId !== claim.nodeId) {
    return new DataDirError(dir, `data directory ${dir} belongs to ${describeReplica(found)}, not ${describeReplica(claim)}`, true);
  }
  if (claim.shardCount !== undefined && found.shardCount !== undefined && found.shardCount !== claim.shardCount) {
    return new DataDirError(dir, `data directory ${dir} was created with ${found.shardCount} shards, --shards says ${claim.shardCount}`, true);
  }
  return undefined;
}

/**
 * Checks `dir` for the daemon described by `claim`, first thing at start, and returns its
 * identity. A missing or empty directory is created with the claim as its identity (the
 * shard count when given); so is one holding only an identity (nothing was created under
 * it). A directory with an identity and data must match the claim's kind, group and replica
 * (and shard count, when both are known). A non-empty directory without one is
 * adopted when `probe` recognises it as the claim's kind and group, and refused otherwise.
 * Every refusal is a DataDirError with one line naming both sides; nothing is written then.
 */
export async function claimDataDir(dir: string, claim: DataDirClaim, probe: LegacyProbe): Promise<DataDirIdentity> {
  const st = await fsCall(dir, "use", () => stat(dir)).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e;
  });
  if (st !== undefined && !st.isDirectory()) throw new DataDirError(dir, `data directory ${dir} is a file, not a directory`, true);
  if (st === undefined) {
    // A recursive mkdir reports ENOENT for a parent it could not create (EROFS, EACCES):
    // a plain mkdir of the directory then says why.
    await fsCall(dir, "create", () => mkdir(dir, { recursive: true }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
      await mkdir(dir);
    }));
  }
  else await fsCall(dir, "write to", () => access(dir, constants.W_OK));
  const found = await readIdentity(dir);
  const entries = (await fsCall(dir, "read", () => readdir(dir))).filter((e) => !ignoredEntries.has(e) && e !== identityFileName).sort();
  const err = found && mismatch(dir, found, claim);
  if (found !== undefined && err === undefined) {
    if (found.shardCount === undefined && claim.shardCount !== undefined) {
      const withCount = { ...found, shardCount: claim.shardCount };
      await writeIdentity(dir, withCount);
      return withCount;
    }
    return found;
  }
  // Another replica's identity on a directory that holds nothing else (a daemon that claimed
  // it and stopped before creating anything, e.g. one started with a mistyped --gid) guards
  // nothing: the claim replaces it. With anything else there, it is refused.
  if (err && entries.length > 0) throw err;
  let identity: DataDirIdentity = { kind: claim.kind, gid: claim.gid, nodeId: claim.nodeId, shardCount: claim.shardCount };
  if (found === undefined && entries.length > 0) {
    const legacy = await probe(dir);
    if (legacy === undefined || legacy.kind !== claim.kind) {
      const shown = entries.slice(0, 3).join(", ") + (entries.length > 3 ? `, ... (${entries.length} entries)` : "");
      const what = legacy === undefined ? `holds no shardkv data (${shown})` : `holds the data of a ${legacy.kind === "controller" ? "controller" : "shard server"}`;
      throw new DataDirError(dir, `data directory ${dir} has no ${identityFileName} and ${what}; not ${describeReplica(claim)}'s: use an empty or new directory`, true);
    }
    // An earlier version's directory of this kind: its state tells the group and shard
    // count; the replica id cannot be told from the content, so the command line's is taken.
    identity = { kind: claim.kind, gid: legacy.gid, nodeId: claim.nodeId, shardCount: legacy.shardCount };
    const wrong = mismatch(dir, identity, claim);
    if (wrong) throw wrong;
  }
  await writeIdentity(dir, identity);
  return identity;
}

/**
 * Records `clusterId` in `dir`'s identity when it has none; a DataDirError (misuse) naming
 * both when it records another one. `source` says where the id came from, as a noun phrase
 * ("the cluster of the controllers at 127.0.0.1:7001"). Returns the identity as now stored.
 */
export async function recordClusterId(dir: string, identity: DataDirIdentity, clusterId: string, source: string): Promise<DataDirIdentity> {
  if (identity.clusterId === clusterId) return identity;
  if (identity.clusterId !== undefined) {
    throw new DataDirError(dir, `data directory ${dir} belongs to cluster ${identity.clusterId}, not to cluster ${clusterId} (${source})`, true);
  }
  const next = { ...identity, clusterId };
  await writeIdentity(dir, next);
  return next;
}
