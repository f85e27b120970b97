/**
 * The rebalancer: pure, deterministic, balanced, minimal movement (docs/design.md#4-controller).
 *
 * Given the previous shard assignment and the groups of the new config, it returns an
 * assignment where every group owns floor(n/k) or ceil(n/k) shards (k = min(groups, shards);
 * with more groups than shards the extra groups own nothing) and as few shards as possible
 * change owner:
 *  1. Active groups: all, or with more groups than shards the n groups owning the most shards
 *     now (ties: smaller gid).
 *  2. Targets: floor(n/k) each; the n mod k extra shards go to the groups owning the most now
 *     (ties: smaller gid), so no group is asked to give up a shard it could keep.
 *  3. Shards of departed or inactive groups, and the highest-numbered excess shards of groups
 *     above target, go to a pool; the pool (ascending) fills groups below target in gid order.
 * Each moved shard is either orphaned or an unavoidable excess, so the number of moves is the
 * minimum over all balanced assignments (checked against a brute force in the tests).
 * Iteration order never depends on Map insertion order, time or randomness.
 */
import type { GroupId } from "../common/ids";

export function rebalance(prev: readonly GroupId[], gids: readonly GroupId[]): GroupId[] {
  const n = prev.length;
  const groups = [...new Set(gids)].sort((a, b) => a - b);
  if (groups.length === 0) return new Array<GroupId>(n).fill(0 as GroupId);

  const owned = new Map<GroupId, number[]>();
  for (const g of groups) owned.set(g, []);
  for (let s = 0; s < n; s++) owned.get(prev[s]!)?.push(s);
  const byCountDesc = [...groups].sort((a, b) => owned.get(b)!.length - owned.get(a)!.length || a - b);

  const k = Math.min(groups.length, n);
  const active = byCountDesc.slice(0, k);
  const base = Math.floor(n / k);
  const extra = n % k;
  const target = new Map<GroupId, number>();
  active.forEach((g, i) => target.set(g, base + (i < extra ? 1 : 0)));

  const next = [...prev];
  const pool: number[] = [];
  for (let s = 0; s < n; s++) if (!owned.has(prev[s]!)) pool.push(s); // unassigned or departed
  for (const g of groups) {
    const mine = owned.get(g)!;
    const t = target.get(g) ?? 0;
    // Give up the highest-numbered excess shards.
    for (let i = t; i < mine.length; i++) pool.push(mine[i]!);
  }
  pool.sort((a, b) => a - b);
  let p = 0;
  for (const g of [...active].sort((a, b) => a - b)) {
    const need = target.get(g)! - Math.min(owned.get(g)!.length, target.get(g)!);
    for (let i = 0; i < need; i++) next[pool[p++]!] = g;
  }
  return next;
}
