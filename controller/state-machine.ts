/**
 * The controller's pure state machine (DESIGN.md §4): applies Join/Leave/Move commands to the
 * latest configuration, creating the next one, with at-most-once execution per (clientId,
 * seq). Deterministic: every replica applying the same commands in the same order reaches the
 * same configs and the same duplicate table. Persistence is the server's job
 * (controller/rocks-state.ts); this module does no I/O.
 */
import { assert } from "../common/assert";
import { InvalidArgumentError } from "../common/errors";
import type { ConfigNum, GroupId, LogIndex, ShardId } from "../common/ids";
import { type Config, groupServersMax, sortedGids, validateAddress } from "./config";
import { rebalance } from "./rebalance";

export type ControllerOp =
  | { readonly kind: "join"; readonly groups: ReadonlyMap<GroupId, readonly string[]> }
  | { readonly kind: "leave"; readonly gids: readonly GroupId[] }
  | { readonly kind: "move"; readonly shard: ShardId; readonly gid: GroupId };

export interface ControllerCommand {
  /** Hex of the client's random 128-bit id. */
  readonly clientId: string;
  readonly seq: number;
  readonly op: ControllerOp;
  /** The proposer's shard count (checked against the replica's own when applied). */
  readonly shardCount: number;
}

/**
 * The log entry that establishes the cluster's id (proposed by a leader that finds none
 * applied; the first one committed wins, later ones change nothing). Not a ControllerCommand:
 * it carries no request id and is not de-duplicated.
 */
export interface ClusterInit {
  readonly kind: "init-cluster";
  readonly clusterId: string;
}

/** A new config number, or why the command was refused (no config was created). */
export type CommandResult =
  | { readonly ok: true; readonly configNum: ConfigNum }
  | { readonly ok: false; readonly field: string; readonly reason: string };

export interface DedupEntry {
  readonly seq: number;
  readonly result: CommandResult;
  /** Log index of the last request from this client (eviction order). */
  readonly lastIndex: LogIndex;
}

/** Clients remembered for duplicate detection; the least recently seen is evicted beyond it. */
export const dedupClientsMax = 10000;

const gidMax = Number.MAX_SAFE_INTEGER;

function validGid(field: string, gid: number): void {
  if (!Number.isSafeInteger(gid) || gid <= 0 || gid > gidMax) {
    throw new InvalidArgumentError(field, `gid must be a positive integer, got ${gid}`);
  }
}

/**
 * Checks `op` against the latest config; throws InvalidArgumentError naming the field and
 * what was sent. Used at the gateway (fast rejection) and again when applying (authoritative:
 * the config may have changed in between).
 */
export function validateOp(latest: Config, op: ControllerOp): void {
  switch (op.kind) {
    case "join": {
      if (op.groups.size === 0) throw new InvalidArgumentError("groups", "join needs at least one group");
      for (const [gid, servers] of op.groups) {
        validGid("gid", gid);
        if (latest.groups.has(gid)) throw new InvalidArgumentError("gid", `group ${gid} is already in config ${latest.num}`);
        if (servers.length === 0) throw new InvalidArgumentError("servers", `group ${gid} has an empty server list`);
        if (servers.length > groupServersMax) {
          throw new InvalidArgumentError("servers", `group ${gid} lists ${servers.length} servers, at most ${groupServersMax}`);
        }
        if (new Set(servers).size !== servers.length) throw new InvalidArgumentError("servers", `group ${gid} lists a server twice`);
        for (const s of servers) validateAddress(`servers of group ${gid}`, s);
      }
      return;
    }
    case "leave": {
      if (op.gids.length === 0) throw new InvalidArgumentError("gids", "leave needs at least one gid");
      if (new Set(op.gids).size !== op.gids.length) throw new InvalidArgumentError("gids", `gid listed twice in [${op.gids.join(",")}]`);
      for (const gid of op.gids) {
        validGid("gid", gid);
        if (!latest.groups.has(gid)) throw new InvalidArgumentError("gid", `group ${gid} is not in config ${latest.num}`);
      }
      if (op.gids.length === latest.groups.size) {
        // Decision (docs/controller.md): with no group left every shard, and its data, would
        // be orphaned. Refused; to retire a cluster, stop it.
        throw new InvalidArgumentError("gids", `leaving every group (${op.gids.join(",")}) would orphan all ${latest.shards.length} shards`);
      }
      return;
    }
    case "move": {
      if (!Number.isSafeInteger(op.shard) || op.shard < 0 || op.shard >= latest.shards.length) {
        throw new InvalidArgumentError("shard", `shard must be in [0, ${latest.shards.length}), got ${op.shard}`);
      }
      validGid("gid", op.gid);
      if (!latest.groups.has(op.gid)) throw new InvalidArgumentError("gid", `group ${op.gid} is not in config ${latest.num}`);
      return;
    }
  }
}

/** The config that `op` creates from `latest` (op already validated). Pure. */
export function nextConfig(latest: Config, op: ControllerOp): Config {
  const num = (latest.num + 1) as ConfigNum;
  switch (op.kind) {
    case "join": {
      const groups = new Map(latest.groups);
      for (const [gid, servers] of op.groups) groups.set(gid, [...servers]);
      return { num, shards: rebalance(latest.shards, sortedGids(groups)), groups: sortedMap(groups) };
    }
    case "leave": {
      const groups = new Map(latest.groups);
      for (const gid of op.gids) groups.delete(gid);
      return { num, shards: rebalance(latest.shards, sortedGids(groups)), groups: sortedMap(groups) };
    }
    case "move": {
      const shards = [...latest.shards];
      shards[op.shard] = op.gid;
      return { num, shards, groups: latest.groups };
    }
  }
}

function sortedMap<V>(m: ReadonlyMap<GroupId, V>): Map<GroupId, V> {
  return new Map(sortedGids(m).map((g) => [g, m.get(g)!]));
}

/** What one apply did: the result for the caller, and the new config (if one was created). */
export interface ApplyOutcome {
  readonly result: CommandResult;
  readonly created?: Config;
  /** The duplicate-table entry written for this client, and any client evicted. */
  readonly dedup: { readonly clientId: string; readonly entry: DedupEntry; readonly evicted?: string };
  /** True when the command was a retry of the client's last request (not executed again). */
  readonly duplicate: boolean;
}

export class ControllerCore {
  constructor(
    private latestConfig: Config,
    private readonly dedup: Map<string, DedupEntry>,
  ) {}

  get latest(): Config {
    return this.latestConfig;
  }

  dedupEntries(): ReadonlyMap<string, DedupEntry> {
    return this.dedup;
  }

  apply(cmd: ControllerCommand, index: LogIndex): ApplyOutcome {
    // A replica created with another shard count would build different configs from the same
    // log: refuse to go on (a configuration error, not a request error).
    assert(cmd.shardCount === this.latestConfig.shards.length,
      () => `entry ${index} was proposed for ${cmd.shardCount} shards but this replica has ${this.latestConfig.shards.length}: ` +
        "every controller replica must be created with the same --shards");
    const prev = this.dedup.get(cmd.clientId);
    if (prev && cmd.seq <= prev.seq) {
      const result: CommandResult = cmd.seq === prev.seq
        ? prev.result
        : { ok: false, field: "id.seq", reason: `request ${cmd.seq} is older than this client's last request ${prev.seq}` };
      const entry = { ...prev, lastIndex: index };
      this.dedup.set(cmd.clientId, entry);
      return { result, dedup: { clientId: cmd.clientId, entry }, duplicate: true };
    }
    let result: CommandResult;
    let created: Config | undefined;
    try {
      validateOp(this.latestConfig, cmd.op);
      created = nextConfig(this.latestConfig, cmd.op);
      assert(created.num === this.latestConfig.num + 1, "config numbers are consecutive");
      this.latestConfig = created;
      result = { ok: true, configNum: created.num };
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      result = { ok: false, field: e.field, reason: e.reason };
    }
    const entry: DedupEntry = { seq: cmd.seq, result, lastIndex: index };
    this.dedup.set(cmd.clientId, entry);
    let evicted: string | undefined;
    if (this.dedup.size > dedupClientsMax) {
      // Deterministic: the client with the oldest last request (smallest index; ties cannot
      // occur, one request per index) is forgotten.
      let oldest: string | undefined;
      let oldestIndex = Infinity;
      for (const [id, e] of this.dedup) if (e.lastIndex < oldestIndex) { oldest = id; oldestIndex = e.lastIndex; }
      this.dedup.delete(oldest!);
      evicted = oldest;
    }
    return { result, created, dedup: { clientId: cmd.clientId, entry, evicted }, duplicate: false };
  }
}
