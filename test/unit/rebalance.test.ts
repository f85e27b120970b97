import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { GroupId } from "../../common/ids";
import { rebalance } from "../../controller/rebalance";

const g = (n: number) => n as GroupId;

function counts(shards: readonly GroupId[], gids: readonly GroupId[]): Map<GroupId, number> {
  const m = new Map<GroupId, number>(gids.map((x) => [x, 0]));
  for (const s of shards) if (s !== 0) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
}

function moves(a: readonly GroupId[], b: readonly GroupId[]): number {
  return a.reduce((n, x, i) => n + (x !== b[i] ? 1 : 0), 0);
}

/**
 * Brute-force reference: the fewest moves of any balanced assignment. Enumerates every way to
 * choose which groups are active and which get the extra shard (all subsets), keeping the
 * most shards in place: kept = sum over groups of min(owned, target).
 */
function minimalMoves(prev: readonly GroupId[], gids: readonly GroupId[]): number {
  const n = prev.length;
  const groups = [...new Set(gids)];
  if (groups.length === 0) return prev.filter((x) => x !== 0).length;
  const owned = counts(prev, groups);
  const k = Math.min(groups.length, n);
  const base = Math.floor(n / k);
  const extra = n % k;
  let bestKept = -1;
  // Each group's target is 0 (inactive), base, or base+1; enumerate all 3^|groups| choices.
  const total = 3 ** groups.length;
  for (let code = 0; code < total; code++) {
    let c = code;
    let active = 0;
    let plus = 0;
    let kept = 0;
    for (const gid of groups) {
      const choice = c % 3;
      c = Math.floor(c / 3);
      if (choice === 0) continue;
      active++;
      const t = base + (choice === 2 ? 1 : 0);
      if (choice === 2) plus++;
      kept += Math.min(owned.get(gid)!, t);
    }
    if (active === k && plus === extra && (base > 0 || plus === active)) bestKept = Math.max(bestKept, kept);
  }
  return n - bestKept;
}

function checkBalanced(next: readonly GroupId[], gids: readonly GroupId[]): void {
  const set = new Set(gids);
  for (const s of next) expect(gids.length === 0 ? s === 0 : set.has(s)).toBe(true);
  if (gids.length === 0) return;
  const c = [...counts(next, [...set]).values()].sort((a, b) => a - b);
  const owning = c.filter((x) => x > 0);
  if (set.size <= next.length) expect(c[c.length - 1]! - c[0]!).toBeLessThanOrEqual(1);
  else expect(owning.every((x) => x === 1) && owning.length === next.length).toBe(true);
}

describe("rebalance (table, from the standard sharded-KV lab)", () => {
  const empty = new Array<GroupId>(10).fill(g(0));

  it("join one: every shard to it", () => {
    expect(rebalance(empty, [g(1)])).toEqual(new Array(10).fill(1));
  });

  it("join several at once: balanced 4/3/3, deterministic", () => {
    const next = rebalance(empty, [g(3), g(1), g(2)]);
    checkBalanced(next, [g(1), g(2), g(3)]);
    expect(next).toEqual(rebalance(empty, [g(1), g(2), g(3)]));
  });

  it("join after join moves only shards to the new group", () => {
    const a = rebalance(empty, [g(1), g(2)]);
    const b = rebalance(a, [g(1), g(2), g(3)]);
    for (let s = 0; s < 10; s++) if (a[s] !== b[s]) expect(b[s]).toBe(3);
    expect(moves(a, b)).toBe(3);
  });

  it("leave moves only the departed group's shards", () => {
    const a = rebalance(empty, [g(1), g(2), g(3)]);
    const b = rebalance(a, [g(1), g(3)]);
    for (let s = 0; s < 10; s++) if (a[s] !== 2) expect(b[s]).toBe(a[s]);
    checkBalanced(b, [g(1), g(3)]);
  });

  it("leave several at once", () => {
    const a = rebalance(empty, [g(1), g(2), g(3), g(4)]);
    const b = rebalance(a, [g(4)]);
    expect(b).toEqual(new Array(10).fill(4));
  });

  it("move then rebalance on the next join restores balance with minimal moves", () => {
    const a = rebalance(empty, [g(1), g(2)]);
    const moved = [...a];
    for (let s = 0; s < 10; s++) moved[s] = g(1); // operator moved everything to 1
    const b = rebalance(moved, [g(1), g(2), g(3)]);
    checkBalanced(b, [g(1), g(2), g(3)]);
    expect(moves(moved, b)).toBe(minimalMoves(moved, [g(1), g(2), g(3)]));
  });

  it("more groups than shards: extra groups own nothing; each owner has one", () => {
    const gids = Array.from({ length: 15 }, (_, i) => g(i + 1));
    const next = rebalance(empty, gids);
    checkBalanced(next, gids);
    expect(new Set(next).size).toBe(10);
  });

  it("rejoin of a gid that left gets shards again", () => {
    const a = rebalance(empty, [g(1), g(2)]);
    const b = rebalance(a, [g(1)]);
    const c = rebalance(b, [g(1), g(2)]);
    expect(c.filter((x) => x === 2).length).toBe(5);
  });

  it("no groups: every shard unassigned", () => {
    expect(rebalance(rebalance(empty, [g(1)]), [])).toEqual(empty);
  });
});

describe("rebalance (properties against a brute-force reference)", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("join" as const), gids: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant("leave" as const), gids: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant("move" as const), shard: fc.nat(), gid: fc.integer({ min: 1, max: 7 }) }),
  );

  it("balanced, minimal moves, join/leave move only what they must, deterministic", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 25 }), (n, ops) => {
      let shards = new Array<GroupId>(n).fill(g(0));
      let groups = new Set<GroupId>();
      for (const o of ops) {
        if (o.kind === "move") {
          if (groups.size === 0) continue;
          const gid = g(o.gid);
          if (!groups.has(gid)) continue;
          shards = [...shards];
          shards[o.shard % n] = gid;
          continue;
        }
        const before = new Set(groups);
        const wasBalanced = isBalanced(shards, [...before]);
        if (o.kind === "join") for (const x of o.gids) groups.add(g(x));
        else for (const x of o.gids) groups.delete(g(x));
        const gids = [...groups].sort((a, b) => a - b);
        const next = rebalance(shards, gids);
        checkBalanced(next, gids);
        expect(moves(shards, next)).toBe(minimalMoves(shards, gids));
        // Same input in another order gives the same output (no Map-order dependence).
        expect(rebalance(shards, [...gids].reverse())).toEqual(next);
        if (o.kind === "join" && wasBalanced && before.size > 0 && gids.length <= n) {
          for (let s = 0; s < n; s++) if (shards[s] !== next[s]) expect(before.has(next[s]!)).toBe(false);
        }
        if (o.kind === "leave" && wasBalanced) {
          for (let s = 0; s < n; s++) if (groups.has(shards[s]!)) expect(next[s]).toBe(shards[s]);
        }
        shards = next;
      }
    }), { numRuns: 400 });
  });
});

function isBalanced(shards: readonly GroupId[], gids: readonly GroupId[]): boolean {
  if (gids.length === 0) return shards.every((s) => s === 0);
  if (gids.length > shards.length) return false;
  const set = new Set(gids);
  if (!shards.every((s) => set.has(s))) return false;
  const c = [...counts(shards, gids).values()];
  return Math.max(...c) - Math.min(...c) <= 1;
}
