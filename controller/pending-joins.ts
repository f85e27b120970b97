/**
 * Pending joins and their abort (docs/controller.md "A join that never comes up"): the pure
 * bookkeeping the controller state machine (controller/state-machine.ts) runs in its log.
 *
 * A group is **pending** from the config that joins it until one of its replicas acknowledges
 * the join (AckJoin, which its leader sends before it pulls anything for that config). For
 * each shard handed to a pending group the controller remembers who held it before (0 =
 * unassigned). While a group is pending:
 *  - no config may move a shard away from it to another group, and no Leave may remove a
 *    group holding data it is to receive (both refused as retryable: they wait for the ack);
 *  - a Leave of the pending group itself is an **abort**: the next config removes it and gives
 *    every shard it owns back to the group that held it before; shards nobody held before (the
 *    cluster's first join) go to the remaining groups as the rebalancer places them; no other
 *    shard moves. The abort is recorded in the config (`abortedJoins`) so shard servers see
 *    it: the old owners stop waiting for a pull that never comes, a group given a shard nobody
 *    held serves it empty at once (it has no data anywhere: the aborted group never applied a
 *    config owning it, docs/design.md#53-joining-a-group), and the aborted group's servers, if
 *    they ever come up, skip its configs owning nothing.
 * Deterministic: maps are iterated in sorted order only.
 */
import type { ConfigNum, GroupId, ShardId } from "../common/ids";
import { type AbortedJoin, type Config, allGroupMembers, makeConfig, sortedGids } from "./config";
import { rebalance } from "./rebalance";

/** A group joined in config `joinNum` that none of its replicas has acknowledged yet. */
export interface PendingJoin {
  readonly gid: GroupId;
  readonly joinNum: ConfigNum;
  /** Each shard handed to the group while pending -> the group that held it before (0: unassigned). */
  readonly handedFrom: ReadonlyMap<ShardId, GroupId>;
}

/** Shards as a short list for messages: "0,1,5" (at most 8, then "... (N in all)"). */
function shardList(shards: readonly number[]): string {
  const shown = shards.slice(0, 8).join(",");
  return shards.length > 8 ? `${shown}... (${shards.length} in all)` : shown;
}

/**
 * Why the config `next` that a change would create from `latest` must wait until a pending
 * group acknowledges its join (a retryable refusal), or undefined when it need not.
 * `leaving`: the gids a Leave removes (empty for other changes). Pure.
 */
export function stackingRefusal(
  latest: Config, next: Config, leaving: readonly GroupId[], pending: ReadonlyMap<GroupId, PendingJoin>,
): string | undefined {
  for (const gid of sortedGids(pending)) {
    const p = pending.get(gid)!;
    const wait = `group ${gid} has not acknowledged its join (config ${p.joinNum}) yet; retry once it has, or abort the join with a leave of group ${gid}`;
    for (const l of leaving) {
      const held = [...p.handedFrom].filter(([, from]) => from === l).map(([s]) => s).sort((a, b) => a - b);
      if (held.length > 0) return `group ${l} still holds shards ${shardList(held)} that group ${gid} is to receive: ${wait}`;
    }
    const away = latest.shards.flatMap((g, s) => (g === gid && next.shards[s] !== gid ? [s] : []));
    if (away.length > 0) return `this change would move shards ${shardList(away)} away from group ${gid}: ${wait}`;
    // A leave whose rebalance hands the leaving group's shards to the pending group: an abort
    // could not give them back.
    const fromLeaving = next.shards.flatMap((g, s) => (g === gid && leaving.includes(latest.shards[s]!) ? [s] : []));
    if (fromLeaving.length > 0) return `this leave would hand shards ${shardList(fromLeaving)} to group ${gid}: ${wait}`;
  }
  return undefined;
}

/** The pending joins after `next` was created from `latest`: new groups become pending; shards handed to pending groups are recorded. */
export function trackHandoffs(
  latest: Config, next: Config, pending: ReadonlyMap<GroupId, PendingJoin>,
): Map<GroupId, PendingJoin> {
  const out = new Map(pending);
  for (const gid of sortedGids(next.groups)) {
    if (!latest.groups.has(gid)) out.set(gid, { gid, joinNum: next.num, handedFrom: new Map() });
  }
  for (const gid of sortedGids(out)) {
    const p = out.get(gid)!;
    let handedFrom: Map<ShardId, GroupId> | undefined;
    next.shards.forEach((g, s) => {
      if (g === gid && latest.shards[s] !== gid && !p.handedFrom.has(s as ShardId)) {
        handedFrom ??= new Map(p.handedFrom);
        // From a group gone in `next`: only an abort hands a departed group's shards to a
        // pending group, and only shards that group got from nobody (abortConfig).
        const from = latest.shards[s]!;
        handedFrom.set(s as ShardId, next.groups.has(from) ? from : (0 as GroupId));
      }
    });
    if (handedFrom) out.set(gid, { ...p, handedFrom });
  }
  return out;
}

/**
 * The config that aborts the joins of the pending groups `gids` (every one pending): they
 * leave, each shard they own goes back to the group that held it before, each shard nobody
 * held before goes where the rebalancer puts it among the remaining groups (unassigned only
 * when no group remains), nothing else moves, and the aborts are added to `abortedJoins`. Pure.
 */
export function abortConfig(latest: Config, gids: readonly GroupId[], pending: ReadonlyMap<GroupId, PendingJoin>): Config {
  const num = (latest.num + 1) as ConfigNum;
  const shards = [...latest.shards];
  const members = allGroupMembers(latest);
  const aborted: AbortedJoin[] = [...(latest.abortedJoins ?? [])];
  for (const gid of [...gids].sort((a, b) => a - b)) {
    const p = pending.get(gid)!;
    shards.forEach((g, s) => {
      if (g === gid) shards[s] = p.handedFrom.get(s as ShardId) ?? (0 as GroupId);
    });
    members.delete(gid);
    aborted.push({ gid, joinNum: p.joinNum, abortNum: num });
  }
  // Only the unassigned shards take the rebalancer's placement: a shard someone holds stays.
  const placed = rebalance(shards, sortedGids(members));
  return makeConfig({ num, shards: shards.map((g, s) => (g === 0 ? placed[s]! : g)), members, abortedJoins: aborted });
}

/**
 * The outcome of AckJoin(gid, joinNum) against the pending joins and the latest config:
 * "acked" (the join was pending: it no longer is), "aborted" with the abort's config number,
 * or "noop" (already acknowledged, or not a join this controller tracks). Pure.
 */
export function ackOutcome(
  latest: Config, pending: ReadonlyMap<GroupId, PendingJoin>, gid: GroupId, joinNum: ConfigNum,
): { readonly kind: "acked" } | { readonly kind: "aborted"; readonly abortNum: ConfigNum } | { readonly kind: "noop" } {
  if (pending.get(gid)?.joinNum === joinNum) return { kind: "acked" };
  const a = (latest.abortedJoins ?? []).find((x) => x.gid === gid && x.joinNum === joinNum);
  return a ? { kind: "aborted", abortNum: a.abortNum } : { kind: "noop" };
}
