/**
 * The configuration model (docs/design.md#4-controller): which group owns which shard, and each group's
 * members (replica id, address, learner or voter). Configurations are numbered; config 0 has
 * no groups and every shard unassigned (gid 0).
 *
 * One representation of a group's servers: its members. `Config.groups` (gid -> addresses,
 * what clients and migration route by) is derived from them by `makeConfig`, the only way the
 * controller builds a config.
 */
import { InvalidArgumentError } from "../common/errors";
export { addressBytesMax, validateAddress } from "../common/address";
import type { ConfigNum, GroupId, NodeId } from "../common/ids";
import type { Member } from "../common/replica-change";

/** Shards per cluster unless chosen otherwise at creation. */
export const shardCountDefault = 64;
export const shardCountMax = 16384;
/** Servers listed for one group. */
export const groupServersMax = 64;

/** The NATS subject on which the controller leader publishes each new config (protobuf). */
export const configSubject = "shardkv.config";

/**
 * A join aborted before any replica of the group acknowledged it (controller/pending-joins.ts):
 * the group was in configs joinNum .. abortNum - 1 and never received a shard; config abortNum
 * gave its shards back to their previous holders, and those nobody held before to the
 * remaining groups (new and empty: docs/design.md#53-joining-a-group).
 */
export interface AbortedJoin {
  readonly gid: GroupId;
  readonly joinNum: ConfigNum;
  readonly abortNum: ConfigNum;
}

export interface Config {
  readonly num: ConfigNum;
  /** shards[s] = gid owning shard s; 0 = unassigned. Length = the cluster's shard count. */
  readonly shards: readonly GroupId[];
  /**
   * gid -> server addresses, for every group in this config: derived from `members` (voters
   * in member order, then learners), the view clients and migration route by.
   */
  readonly groups: ReadonlyMap<GroupId, readonly string[]>;
  /**
   * gid -> members, the source of `groups`. Absent in a config built from addresses alone (a
   * test's literal; decoded ones always have it): then each address is a voter of unknown id
   * (`groupMembers`).
   */
  readonly members?: ReadonlyMap<GroupId, readonly Member[]>;
  /** Every join aborted up to this config, in abort order (absent or empty: none). */
  readonly abortedJoins?: readonly AbortedJoin[];
}

/** The id of a member the controller does not know (a group joined with --force, a config of an earlier version). */
export const unknownMemberId = 0 as NodeId;

/**
 * The controller group's gid in replica changes (`shardctl controller ...`). Its members are
 * not part of any config (clients reach the controllers by --controllers): the controller
 * keeps them as a record of its own (ControllerCore.controllerMembers).
 */
export const controllerGid = 0 as GroupId;

/** The addresses a group's members are reached at, voters (in member order) first, then learners. */
export function memberAddresses(members: readonly Member[]): string[] {
  return [...members.filter((m) => !m.learner), ...members.filter((m) => m.learner)].map((m) => m.address);
}

/** The members of group `gid` in `c` (empty if absent); see Config.members. */
export function groupMembers(c: Config, gid: GroupId): readonly Member[] {
  const m = c.members?.get(gid);
  if (m !== undefined) return m;
  return (c.groups.get(gid) ?? []).map((address) => ({ id: unknownMemberId, address, learner: false }));
}

/** Every group's members in `c`, gids ascending. */
export function allGroupMembers(c: Config): Map<GroupId, readonly Member[]> {
  return new Map(sortedGids(c.groups).map((g) => [g, groupMembers(c, g)]));
}

/**
 * A config from its parts, `groups` derived from `members` (gids sorted). The one way the
 * controller builds a config, so the two never disagree.
 */
export function makeConfig(parts: {
  readonly num: ConfigNum;
  readonly shards: readonly GroupId[];
  readonly members: ReadonlyMap<GroupId, readonly Member[]>;
  readonly abortedJoins?: readonly AbortedJoin[];
}): Config {
  const gids = sortedGids(parts.members);
  const members = new Map(gids.map((g) => [g, parts.members.get(g)!]));
  return {
    num: parts.num,
    shards: parts.shards,
    groups: new Map(gids.map((g) => [g, memberAddresses(members.get(g)!)])),
    members,
    ...(parts.abortedJoins && parts.abortedJoins.length > 0 ? { abortedJoins: parts.abortedJoins } : {}),
  };
}

/** `c` as the next config `num` with `shards` and `members` (the rest carried forward). */
export function successor(c: Config, shards: readonly GroupId[], members: ReadonlyMap<GroupId, readonly Member[]>): Config {
  return makeConfig({ num: (c.num + 1) as ConfigNum, shards, members, abortedJoins: c.abortedJoins });
}

export function membersEqual(a: readonly Member[], b: readonly Member[]): boolean {
  return a.length === b.length && a.every((m, i) => m.id === b[i]!.id && m.address === b[i]!.address && m.learner === b[i]!.learner);
}

/**
 * The aborted join covering config `num` of group `gid` (joinNum <= num < abortNum), if `c`
 * records one: a shard handed to that group in config `num` is never pulled.
 */
export function abortedJoinCovering(c: Config, gid: GroupId, num: ConfigNum): AbortedJoin | undefined {
  return c.abortedJoins?.find((a) => a.gid === gid && a.joinNum <= num && num < a.abortNum);
}

export function initialConfig(shardCount: number): Config {
  validateShardCount(shardCount);
  return { num: 0 as ConfigNum, shards: new Array<GroupId>(shardCount).fill(0 as GroupId), groups: new Map() };
}

export function validateShardCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > shardCountMax) {
    throw new InvalidArgumentError("shards", `shard count must be an integer in [1, ${shardCountMax}], got ${n}`);
  }
}

/** Groups sorted by gid (the only iteration order the model uses). */
export function sortedGids(groups: ReadonlyMap<GroupId, unknown>): GroupId[] {
  return [...groups.keys()].sort((a, b) => a - b);
}

/** Shard counts per gid of the config (every group present, possibly 0). */
export function shardCounts(c: Config): Map<GroupId, number> {
  const m = new Map<GroupId, number>();
  for (const g of sortedGids(c.groups)) m.set(g, 0);
  for (const g of c.shards) if (g !== 0) m.set(g, (m.get(g) ?? 0) + 1);
  return m;
}


export function configsEqual(a: Config, b: Config): boolean {
  if (a.num !== b.num || a.shards.length !== b.shards.length || a.groups.size !== b.groups.size) return false;
  for (let i = 0; i < a.shards.length; i++) if (a.shards[i] !== b.shards[i]) return false;
  for (const [g, addrs] of a.groups) {
    const o = b.groups.get(g);
    if (!o || o.length !== addrs.length || o.some((x, i) => x !== addrs[i])) return false;
    if (!membersEqual(groupMembers(a, g), groupMembers(b, g))) return false;
  }
  const aa = a.abortedJoins ?? [];
  const ba = b.abortedJoins ?? [];
  return aa.length === ba.length && aa.every((x, i) => x.gid === ba[i]!.gid && x.joinNum === ba[i]!.joinNum && x.abortNum === ba[i]!.abortNum);
}
