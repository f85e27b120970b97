/**
 * The configuration model (docs/design.md#4-controller): which group owns which shard, and each group's
 * server addresses. Configurations are numbered; config 0 has no groups and every shard
 * unassigned (gid 0).
 */
import { InvalidArgumentError } from "../common/errors";
export { addressBytesMax, validateAddress } from "../common/address";
import type { ConfigNum, GroupId } from "../common/ids";

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
 * gave its shards back to their previous holders.
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
  /** gid -> server addresses, for every group in this config. */
  readonly groups: ReadonlyMap<GroupId, readonly string[]>;
  /** Every join aborted up to this config, in abort order (absent or empty: none). */
  readonly abortedJoins?: readonly AbortedJoin[];
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
  }
  const aa = a.abortedJoins ?? [];
  const ba = b.abortedJoins ?? [];
  return aa.length === ba.length && aa.every((x, i) => x.gid === ba[i]!.gid && x.joinNum === ba[i]!.joinNum && x.abortNum === ba[i]!.abortNum);
}
