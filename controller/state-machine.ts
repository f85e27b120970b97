/**
 * The controller's pure state machine (docs/design.md#4-controller): applies Join/Leave/Move commands to the
 * latest configuration, creating the next one, and keeps each group's pending replica change
 * (controller/replica-intents.ts), with at-most-once execution per (clientId, seq). Deterministic: every replica applying the same commands in the same order reaches the
 * same configs and the same duplicate table. Persistence is the server's job
 * (controller/rocks-state.ts); this module does no I/O.
 */
import { assert } from "../common/assert";
import { InvalidArgumentError } from "../common/errors";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId } from "../common/ids";
import type { Member, ReplicaChange, ReplicaIntent } from "../common/replica-change";
import {
  type Config, allGroupMembers, controllerGid, groupMembers, groupServersMax, membersEqual, sortedGids, successor,
  unknownMemberId, validateAddress,
} from "./config";
import {
  type ReplicaState, intentSatisfied, noReplicaState, validateBlocked, validateMembers, validateReplicaChange, validateTargetGroup,
} from "./replica-intents";
import { type PendingJoin, abortConfig, ackOutcome, stackingRefusal, trackHandoffs } from "./pending-joins";
import { rebalance } from "./rebalance";

export type ControllerOp =
  /**
   * ids: gid -> the replica id of each of its servers (parallel to `groups`; 0 = not known),
   * as the join check learned them; absent: none known (a forced join).
   */
  | { readonly kind: "join"; readonly groups: ReadonlyMap<GroupId, readonly string[]>; readonly ids?: ReadonlyMap<GroupId, readonly NodeId[]> }
  | { readonly kind: "leave"; readonly gids: readonly GroupId[] }
  | { readonly kind: "move"; readonly shard: ShardId; readonly gid: GroupId }
  /** A replica of `gid` acknowledges its join in config `joinNum` (controller/pending-joins.ts). */
  | { readonly kind: "ackJoin"; readonly gid: GroupId; readonly joinNum: ConfigNum }
  /** Stores group `gid`'s intent (gid 0: the controller group); creates no config. */
  | { readonly kind: "replicaChange"; readonly gid: GroupId; readonly change: ReplicaChange; readonly force: boolean }
  /** Drops group `gid`'s pending intent. */
  | { readonly kind: "replicaCancel"; readonly gid: GroupId }
  /** Group `gid`'s leader reports its members: a new config with them (if they changed); clears a satisfied intent. */
  | { readonly kind: "replicaDone"; readonly gid: GroupId; readonly members: readonly Member[] }
  /** Group `gid`'s leader reports why its intent cannot progress ("" = it can). */
  | { readonly kind: "replicaProgress"; readonly gid: GroupId; readonly blocked: string };

/** The ops that never change the shard assignment (and never wait for a pending join). */
const replicaOps: ReadonlySet<ControllerOp["kind"]> = new Set(["ackJoin", "replicaChange", "replicaCancel", "replicaDone", "replicaProgress"]);

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

/**
 * A new config number (AckJoin: the latest config's, and `abortedNum` when the join was
 * aborted in that config), or why the command was refused (no config was created). A
 * `retryable` refusal waits for a pending group's acknowledgement: it is not remembered in the
 * duplicate table, so the client's retry with the same id is applied afresh.
 */
export type CommandResult =
  | { readonly ok: true; readonly configNum: ConfigNum; readonly abortedNum?: ConfigNum }
  | { readonly ok: false; readonly field: string; readonly reason: string; readonly retryable?: true };

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
 * Checks `op` against the latest config, the pending joins and the replica state (intents,
 * the controller group's members); throws InvalidArgumentError
 * naming the field and what was sent. Used at the gateway (fast rejection) and again when
 * applying (authoritative: the config may have changed in between).
 */
export function validateOp(
  latest: Config, op: ControllerOp, pending: ReadonlyMap<GroupId, PendingJoin> = new Map(),
  replicas: ReplicaState = noReplicaState,
): void {
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
        const ids = op.ids?.get(gid);
        if (ids === undefined) continue;
        if (ids.length !== servers.length) throw new InvalidArgumentError("ids", `group ${gid} has ${ids.length} ids for ${servers.length} servers`);
        const known = ids.filter((i) => i !== unknownMemberId);
        if (known.some((i) => !Number.isSafeInteger(i) || i < 1)) throw new InvalidArgumentError("ids", `group ${gid}: replica ids must be positive integers`);
        if (new Set(known).size !== known.length) throw new InvalidArgumentError("ids", `group ${gid} lists a replica id twice`);
      }
      for (const gid of op.ids?.keys() ?? []) if (!op.groups.has(gid)) throw new InvalidArgumentError("ids", `ids of group ${gid}, which is not joined`);
      return;
    }
    case "leave": {
      if (op.gids.length === 0) throw new InvalidArgumentError("gids", "leave needs at least one gid");
      if (new Set(op.gids).size !== op.gids.length) throw new InvalidArgumentError("gids", `gid listed twice in [${op.gids.join(",")}]`);
      for (const gid of op.gids) {
        validGid("gid", gid);
        if (!latest.groups.has(gid)) throw new InvalidArgumentError("gid", `group ${gid} is not in config ${latest.num}`);
      }
      const aborts = op.gids.filter((g) => pending.has(g));
      if (aborts.length > 0 && aborts.length < op.gids.length) {
        const other = op.gids.find((g) => !pending.has(g))!;
        throw new InvalidArgumentError("gids", `group ${aborts[0]} has not acknowledged its join: a leave of it aborts the join, so leave it on its own, not with group ${other}`);
      }
      // An abort gives the shards back to their previous holders (none orphaned).
      if (aborts.length === 0 && op.gids.length === latest.groups.size) {
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
    case "ackJoin":
      validGid("gid", op.gid);
      if (!Number.isSafeInteger(op.joinNum) || op.joinNum < 1) throw new InvalidArgumentError("join_num", `must be a config number >= 1, got ${op.joinNum}`);
      return;
    case "replicaChange":
      validateReplicaChange(latest, replicas, op.gid, op.change);
      return;
    case "replicaCancel":
    case "replicaProgress":
      validateTargetGroup(latest, replicas, op.gid);
      if (!replicas.intents.has(op.gid)) throw new InvalidArgumentError("gid", `${op.gid === controllerGid ? "the controller group" : `group ${op.gid}`} has no pending replica change`);
      if (op.kind === "replicaProgress") validateBlocked(op.blocked);
      return;
    case "replicaDone":
      // The controller group's first report records its members.
      if (op.gid !== controllerGid) validateTargetGroup(latest, replicas, op.gid);
      validateMembers(op.gid, op.members);
      return;
  }
}

/**
 * The config that `op` (a join, leave, move or replicaDone) creates from `latest` (op already
 * validated), carrying the aborted joins and the controller group's members forward; a Leave
 * of pending groups is their abort. Pure.
 */
export function nextConfig(latest: Config, op: ControllerOp, pending: ReadonlyMap<GroupId, PendingJoin> = new Map()): Config {
  const members = allGroupMembers(latest);
  switch (op.kind) {
    case "join": {
      for (const [gid, servers] of op.groups) {
        const ids = op.ids?.get(gid);
        members.set(gid, servers.map((address, i) => ({ id: ids?.[i] ?? unknownMemberId, address, learner: false })));
      }
      return successor(latest, rebalance(latest.shards, sortedGids(members)), members);
    }
    case "leave": {
      if (op.gids.length > 0 && op.gids.every((g) => pending.has(g))) return abortConfig(latest, op.gids, pending);
      for (const gid of op.gids) members.delete(gid);
      return successor(latest, rebalance(latest.shards, sortedGids(members)), members);
    }
    case "move": {
      const shards = [...latest.shards];
      shards[op.shard] = op.gid;
      return successor(latest, shards, members);
    }
    case "replicaDone": {
      assert(op.gid !== controllerGid, "the controller group's members are in no config");
      members.set(op.gid, op.members);
      return successor(latest, latest.shards, members);
    }
    default:
      throw new InvalidArgumentError("op", `a ${op.kind} creates no config`);
  }
}

/** What one apply did: the result for the caller, and the new config (if one was created). */
export interface ApplyOutcome {
  readonly result: CommandResult;
  readonly created?: Config;
  /** The duplicate-table entry written for this client, and any client evicted (none for a retryable refusal). */
  readonly dedup?: { readonly clientId: string; readonly entry: DedupEntry; readonly evicted?: string };
  /** True when the command was a retry of the client's last request (not executed again). */
  readonly duplicate: boolean;
  /** True when the pending joins changed (a join, a handoff to a pending group, an ack, an abort). */
  readonly pendingChanged: boolean;
  /**
   * True when the replica state changed: an intent stored, cancelled, updated or cleared (a
   * done, a leave), the controller group's members recorded.
   */
  readonly intentsChanged?: boolean;
}

export class ControllerCore {
  private pending: Map<GroupId, PendingJoin>;
  private intents: Map<GroupId, ReplicaIntent>;
  private controllers: readonly Member[];

  constructor(
    private latestConfig: Config,
    private readonly dedup: Map<string, DedupEntry>,
    pending: ReadonlyMap<GroupId, PendingJoin> = new Map(),
    replicas: ReplicaState = noReplicaState,
  ) {
    this.pending = new Map(pending);
    this.intents = new Map(replicas.intents);
    this.controllers = replicas.controllers;
  }

  /** The pending replica change of each group (gid 0: the controller group). */
  replicaIntents(): ReadonlyMap<GroupId, ReplicaIntent> {
    return this.intents;
  }

  /** The controller group's own members (empty: not recorded yet). */
  controllerMembers(): readonly Member[] {
    return this.controllers;
  }

  /** The intents and the controller group's members. */
  replicaState(): ReplicaState {
    return { intents: this.intents, controllers: this.controllers };
  }

  get latest(): Config {
    return this.latestConfig;
  }

  dedupEntries(): ReadonlyMap<string, DedupEntry> {
    return this.dedup;
  }

  /** The joins no replica has acknowledged yet, by gid. */
  pendingJoins(): ReadonlyMap<GroupId, PendingJoin> {
    return this.pending;
  }

  /**
   * Why `op` must wait for a pending group's acknowledgement (the retryable refusal), or
   * undefined. `op` must be valid (validateOp). Changes of replicas never wait (they move no shard).
   */
  stackingRefusal(op: ControllerOp): string | undefined {
    if (replicaOps.has(op.kind) || this.pending.size === 0) return undefined;
    const leaving = op.kind === "leave" ? op.gids : [];
    if (leaving.length > 0 && leaving.every((g) => this.pending.has(g))) return undefined; // an abort
    return stackingRefusal(this.latestConfig, nextConfig(this.latestConfig, op, this.pending), leaving, this.pending);
  }

  /** Applies AckJoin: the result says whether the join was aborted (then in which config). */
  private ack(gid: GroupId, joinNum: ConfigNum): CommandResult {
    const o = ackOutcome(this.latestConfig, this.pending, gid, joinNum);
    if (o.kind === "acked") this.pending.delete(gid);
    return o.kind === "aborted"
      ? { ok: true, configNum: this.latestConfig.num, abortedNum: o.abortNum }
      : { ok: true, configNum: this.latestConfig.num };
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
      return { result, dedup: { clientId: cmd.clientId, entry }, duplicate: true, pendingChanged: false };
    }
    let result: CommandResult;
    let created: Config | undefined;
    const pendingBefore = this.pending;
    const intentsBefore = this.intents;
    const controllersBefore = this.controllers;
    try {
      validateOp(this.latestConfig, cmd.op, this.pending, this.replicaState());
      const wait = this.stackingRefusal(cmd.op);
      if (wait !== undefined) {
        // Not remembered: the client's retry (same id) must be applied afresh once the
        // pending group has acknowledged its join.
        return { result: { ok: false, field: "config", reason: wait, retryable: true }, duplicate: false, pendingChanged: false };
      }
      if (cmd.op.kind === "ackJoin") {
        this.pending = new Map(this.pending);
        result = this.ack(cmd.op.gid, cmd.op.joinNum);
      } else if (this.applyIntentOp(cmd.op)) {
        result = { ok: true, configNum: this.latestConfig.num };
      } else {
        created = nextConfig(this.latestConfig, cmd.op, this.pending);
        assert(created.num === this.latestConfig.num + 1, "config numbers are consecutive");
        this.pending = trackHandoffs(this.latestConfig, created, this.pending);
        if (cmd.op.kind === "leave") {
          for (const g of cmd.op.gids) this.pending.delete(g);
          this.dropIntents(cmd.op.gids);
        }
        if (cmd.op.kind === "replicaDone") this.clearSatisfied(cmd.op.gid, cmd.op.members);
        this.latestConfig = created;
        result = { ok: true, configNum: created.num };
      }
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      result = { ok: false, field: e.field, reason: e.reason };
    }
    const pendingChanged = !pendingMapsEqual(pendingBefore, this.pending);
    const intentsChanged = intentsBefore !== this.intents || controllersBefore !== this.controllers;
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
    return { result, created, dedup: { clientId: cmd.clientId, entry, evicted }, duplicate: false, pendingChanged, intentsChanged };
  }

  /**
   * Applies a replica op that creates no config (op already validated): stores, cancels or
   * updates an intent; a ReplicaDone of the controller group records its members; one whose
   * members equal the current ones only clears a satisfied intent. Returns false for an op that creates a config. Every change replaces
   * `intents` (so the apply sees that it changed).
   */
  private applyIntentOp(op: ControllerOp): boolean {
    switch (op.kind) {
      case "replicaChange":
        this.intents = new Map(this.intents).set(op.gid, { change: op.change, force: op.force });
        return true;
      case "replicaCancel":
        this.dropIntents([op.gid]);
        return true;
      case "replicaProgress": {
        const { change, force } = this.intents.get(op.gid)!;
        this.intents = new Map(this.intents).set(op.gid, op.blocked === "" ? { change, force } : { change, force, blocked: op.blocked });
        return true;
      }
      case "replicaDone":
        if (op.gid === controllerGid) {
          if (!membersEqual(this.controllers, op.members)) this.controllers = op.members;
        } else if (!membersEqual(groupMembers(this.latestConfig, op.gid), op.members)) {
          return false;
        }
        this.clearSatisfied(op.gid, op.members);
        return true;
      default:
        return false;
    }
  }

  private dropIntents(gids: readonly GroupId[]): void {
    if (!gids.some((g) => this.intents.has(g))) return;
    this.intents = new Map(this.intents);
    for (const g of gids) this.intents.delete(g);
  }

  /** Drops group `gid`'s intent if `members` carry it out. */
  private clearSatisfied(gid: GroupId, members: readonly Member[]): void {
    const i = this.intents.get(gid);
    if (i !== undefined && intentSatisfied(i.change, members)) this.dropIntents([gid]);
  }
}

function pendingMapsEqual(a: ReadonlyMap<GroupId, PendingJoin>, b: ReadonlyMap<GroupId, PendingJoin>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [g, p] of a) {
    const q = b.get(g);
    if (!q || q.joinNum !== p.joinNum || q.handedFrom.size !== p.handedFrom.size) return false;
    for (const [s, f] of p.handedFrom) if (q.handedFrom.get(s) !== f) return false;
  }
  return true;
}
