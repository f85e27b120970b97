import { describe, expect, it } from "vitest";
import type { Clock } from "../../common/env";
import { checkLinearizable, formatEntry, type CheckResult, type HistoryEntry, type Value } from "../../deploy/check/linearizability";
import { SimRng } from "../sim/rng";

// ---------------------------------------------------------------------------------------------
// Builders: [call, return]; `lost(e)` makes an entry one that never returned.

type Span = readonly [number, number];
const get = (c: number, key: string, value: Value, [callMs, returnMs]: Span): HistoryEntry =>
  ({ clientId: c, op: "get", input: { key }, output: { value }, callMs, returnMs });
const put = (c: number, key: string, value: string, [callMs, returnMs]: Span): HistoryEntry =>
  ({ clientId: c, op: "put", input: { key, value }, output: { ok: true }, callMs, returnMs });
const append = (c: number, key: string, value: string, [callMs, returnMs]: Span): HistoryEntry =>
  ({ clientId: c, op: "append", input: { key, value }, output: { ok: true }, callMs, returnMs });
const del = (c: number, key: string, existed: boolean, [callMs, returnMs]: Span): HistoryEntry =>
  ({ clientId: c, op: "delete", input: { key }, output: { existed }, callMs, returnMs });
const cas = (c: number, key: string, expected: Value, value: string, swapped: boolean, [callMs, returnMs]: Span): HistoryEntry =>
  ({ clientId: c, op: "cas", input: { key, expected, value }, output: { swapped }, callMs, returnMs });
/** The call never returned: no output, response time +infinity. */
const lost = (e: HistoryEntry): HistoryEntry => ({ ...e, output: undefined, returnMs: undefined }) as HistoryEntry;

const verdict = (r: CheckResult): "ok" | "fail" | "unknown" => (r.ok === true ? "ok" : r.ok === false ? "fail" : "unknown");

// ---------------------------------------------------------------------------------------------
// Table

interface Case {
  readonly name: string;
  readonly history: readonly HistoryEntry[];
  readonly want: "ok" | "fail";
  /** For "fail": the key reported. */
  readonly key?: string;
}

const K = "k";
const cases: readonly Case[] = [
  // Sequential histories.
  { name: "empty history", history: [], want: "ok" },
  { name: "get of an absent key", history: [get(1, K, undefined, [0, 1])], want: "ok" },
  { name: "get of an absent key sees a value", history: [get(1, K, "x", [0, 1])], want: "fail" },
  {
    name: "sequential put/get/append/delete",
    history: [
      put(1, K, "a", [0, 1]), get(2, K, "a", [2, 3]), append(1, K, "b", [4, 5]), get(3, K, "ab", [6, 7]),
      del(2, K, true, [8, 9]), get(1, K, undefined, [10, 11]), append(3, K, "c", [12, 13]), get(2, K, "c", [14, 15]),
    ],
    want: "ok",
  },
  { name: "stale read after a completed put", history: [put(1, K, "x", [0, 1]), put(1, K, "y", [2, 3]), get(2, K, "x", [4, 5])], want: "fail" },
  { name: "read of absent after a completed put", history: [put(1, K, "x", [0, 1]), get(2, K, undefined, [2, 3])], want: "fail" },
  { name: "reads go back in time", history: [put(1, K, "x", [0, 10]), get(2, K, "x", [1, 2]), get(3, K, undefined, [3, 4])], want: "fail" },

  // Concurrency: either order is fine.
  { name: "concurrent put/get: get sees the old value", history: [put(1, K, "x", [0, 10]), get(2, K, undefined, [1, 2])], want: "ok" },
  { name: "concurrent put/get: get sees the new value", history: [put(1, K, "x", [0, 10]), get(2, K, "x", [1, 2])], want: "ok" },
  { name: "touching intervals count as concurrent", history: [put(1, K, "x", [0, 5]), get(2, K, undefined, [5, 6])], want: "ok" },
  {
    name: "concurrent puts: readers agree on an order",
    history: [put(1, K, "x", [0, 10]), put(2, K, "y", [0, 10]), get(3, K, "y", [1, 2]), get(3, K, "x", [3, 4]), get(4, K, "x", [11, 12])],
    want: "ok",
  },
  {
    name: "concurrent puts: readers disagree on the order",
    history: [put(1, K, "x", [0, 10]), put(2, K, "y", [0, 10]), get(3, K, "y", [1, 2]), get(3, K, "x", [3, 4]), get(4, K, "y", [11, 12])],
    want: "fail",
  },

  // Appends.
  { name: "append applied twice", history: [append(1, K, "a", [0, 1]), get(2, K, "aa", [2, 3])], want: "fail" },
  { name: "two appends, seen twice", history: [append(1, K, "a", [0, 1]), append(2, K, "a", [0, 1]), get(3, K, "aa", [2, 3])], want: "ok" },
  {
    name: "concurrent appends in either order",
    history: [append(1, K, "a", [0, 10]), append(2, K, "b", [0, 10]), get(3, K, "ba", [11, 12])],
    want: "ok",
  },
  { name: "append on top of a lost put", history: [put(1, K, "x", [0, 1]), append(2, K, "y", [2, 3]), get(3, K, "y", [4, 5])], want: "fail" },

  // Lost acknowledged writes.
  { name: "lost acknowledged put", history: [put(1, K, "a", [0, 1]), put(2, K, "b", [2, 3]), get(3, K, "a", [4, 5]), get(3, K, "a", [6, 7])], want: "fail" },
  { name: "lost acknowledged append", history: [put(1, K, "a", [0, 1]), append(2, K, "b", [2, 3]), get(3, K, "a", [4, 5])], want: "fail" },

  // Timed-out operations may or may not have happened.
  { name: "timed-out put that happened", history: [lost(put(1, K, "x", [0, 1])), get(2, K, "x", [5, 6])], want: "ok" },
  { name: "timed-out put that did not happen", history: [lost(put(1, K, "x", [0, 1])), get(2, K, undefined, [5, 6])], want: "ok" },
  {
    name: "timed-out put happens late (long after the client gave up)",
    history: [lost(put(1, K, "x", [0, 1])), get(2, K, undefined, [5, 6]), get(2, K, undefined, [50, 51]), get(3, K, "x", [100, 101])],
    want: "ok",
  },
  {
    name: "timed-out put cannot happen twice",
    history: [lost(put(1, K, "x", [0, 1])), get(2, K, "x", [5, 6]), put(3, K, "y", [7, 8]), get(2, K, "x", [9, 10])],
    want: "fail",
  },
  { name: "timed-out put cannot take effect before its call", history: [get(2, K, "x", [0, 1]), lost(put(1, K, "x", [5, 6]))], want: "fail" },
  {
    name: "timed-out append applied at most once",
    history: [lost(append(1, K, "a", [0, 1])), get(2, K, "a", [5, 6]), get(2, K, "aa", [7, 8])],
    want: "fail",
  },
  { name: "timed-out get constrains nothing", history: [put(1, K, "x", [0, 1]), lost(get(2, K, "zzz", [2, 3]))], want: "ok" },
  {
    name: "timed-out delete may have happened",
    history: [put(1, K, "x", [0, 1]), lost(del(2, K, true, [2, 3])), get(3, K, "x", [4, 5]), get(3, K, undefined, [6, 7])],
    want: "ok",
  },

  // cas.
  { name: "cas from absent swaps", history: [cas(1, K, undefined, "a", true, [0, 1]), get(2, K, "a", [2, 3])], want: "ok" },
  { name: "cas from absent must swap on an absent key", history: [cas(1, K, undefined, "a", false, [0, 1])], want: "fail" },
  { name: "cas with a matching value swaps", history: [put(1, K, "x", [0, 1]), cas(1, K, "x", "y", true, [2, 3]), get(2, K, "y", [4, 5])], want: "ok" },
  { name: "cas with a stale expectation fails", history: [put(1, K, "x", [0, 1]), cas(1, K, "w", "y", false, [2, 3]), get(2, K, "x", [4, 5])], want: "ok" },
  { name: "cas swapped but the value did not change", history: [put(1, K, "x", [0, 1]), cas(1, K, "x", "y", true, [2, 3]), get(2, K, "x", [4, 5])], want: "fail" },
  { name: "cas not swapped but the value changed", history: [put(1, K, "x", [0, 1]), cas(1, K, "x", "y", false, [2, 3]), get(2, K, "y", [4, 5])], want: "fail" },
  { name: "cas swapped with a wrong expectation", history: [put(1, K, "x", [0, 1]), cas(1, K, "w", "y", true, [2, 3])], want: "fail" },
  {
    name: "two concurrent cas from absent: one wins",
    history: [cas(1, K, undefined, "a", true, [0, 10]), cas(2, K, undefined, "b", false, [0, 10]), get(3, K, "a", [11, 12])],
    want: "ok",
  },
  {
    name: "two concurrent cas from absent: both win",
    history: [cas(1, K, undefined, "a", true, [0, 10]), cas(2, K, undefined, "b", true, [0, 10])],
    want: "fail",
  },
  {
    name: "concurrent cas chain resolves in one order",
    history: [cas(1, K, "b", "c", true, [0, 10]), cas(2, K, "a", "b", true, [0, 10]), put(3, K, "a", [0, 1]), get(4, K, "c", [11, 12])],
    want: "ok",
  },
  {
    name: "timed-out cas may have swapped",
    history: [put(1, K, "x", [0, 1]), lost(cas(2, K, "x", "y", true, [2, 3])), get(3, K, "y", [4, 5])],
    want: "ok",
  },

  // delete.
  { name: "delete of an absent key", history: [del(1, K, false, [0, 1]), get(1, K, undefined, [2, 3])], want: "ok" },
  { name: "delete claims an absent key existed", history: [del(1, K, true, [0, 1])], want: "fail" },
  { name: "delete claims a present key did not exist", history: [put(1, K, "x", [0, 1]), del(2, K, false, [2, 3])], want: "fail" },
  { name: "delete then the value comes back", history: [put(1, K, "x", [0, 1]), del(2, K, true, [2, 3]), get(3, K, "x", [4, 5])], want: "fail" },
  { name: "two concurrent deletes: one existed", history: [put(1, K, "x", [0, 1]), del(2, K, true, [2, 5]), del(3, K, false, [2, 5])], want: "ok" },
  { name: "two concurrent deletes: both existed", history: [put(1, K, "x", [0, 1]), del(2, K, true, [2, 5]), del(3, K, true, [2, 5])], want: "fail" },

  // Per-key partitioning.
  {
    name: "two keys are independent",
    history: [
      put(1, "a", "1", [0, 10]), put(2, "b", "2", [0, 10]), get(3, "a", undefined, [1, 2]), get(3, "b", "2", [3, 4]),
      get(4, "b", undefined, [1, 2]), get(4, "a", "1", [3, 4]), get(5, "a", "1", [11, 12]), get(5, "b", "2", [11, 12]),
    ],
    want: "ok",
  },
  {
    name: "a write to one key is not seen on another",
    history: [put(1, "a", "1", [0, 1]), get(2, "b", "1", [2, 3])],
    want: "fail",
    key: "b",
  },
  {
    name: "the failing key is reported",
    history: [put(1, "a", "1", [0, 1]), get(2, "a", "1", [2, 3]), put(1, "b", "x", [0, 1]), get(2, "b", undefined, [2, 3]), get(3, "c", undefined, [0, 1])],
    want: "fail",
    key: "b",
  },
];

describe("checkLinearizable: table", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const r = checkLinearizable(c.history);
    expect(verdict(r), r.ok === false ? r.reason : "").toBe(c.want);
    if (r.ok === false) {
      expect(r.key).toBe(c.key ?? K);
      expect(r.reason).toContain(JSON.stringify(r.key));
      expect(r.minimalPrefix).toBeDefined();
      expect(r.minimalPrefix!.every((e) => e.input.key === r.key)).toBe(true);
    }
    // The verdict does not depend on the order of the entries.
    expect(verdict(checkLinearizable([...c.history].reverse()))).toBe(c.want);
  });
});

describe("checkLinearizable: reports", () => {
  it("the minimal prefix ends at the first operation that cannot be explained", () => {
    const bad = get(3, K, "x", [4, 5]);
    const history = [
      put(1, K, "x", [0, 1]), put(2, K, "y", [2, 3]), bad,
      // Later operations, fine on their own, are not part of the minimal prefix.
      put(1, K, "z", [6, 7]), get(2, K, "z", [8, 9]), get(4, K, "z", [10, 11]),
    ];
    const r = checkLinearizable(history);
    expect(r.ok).toBe(false);
    if (r.ok !== false) return;
    expect(r.minimalPrefix).toEqual(history.slice(0, 3));
    expect(r.reason).toContain(formatEntry(bad));
    expect(formatEntry(bad)).toBe('client 3: get("k") -> "x" [4, 5]');
  });

  it("minimize: false skips the prefix", () => {
    const r = checkLinearizable([put(1, K, "x", [0, 1]), get(2, K, undefined, [2, 3])], { minimize: false });
    expect(r).toMatchObject({ ok: false, key: K });
    expect(r.ok === false && r.minimalPrefix).toBeFalsy();
  });

  it("times out with ok: unknown (clock injected)", () => {
    let now = 0;
    const ticking: Clock = { nowMs: () => (now += 1000), after: () => () => {} };
    const history = generate(7, { clients: 8, keys: 1, ops: 3000 }).history;
    const r = checkLinearizable(history, { timeoutMs: 1, clock: ticking });
    expect(r).toEqual({ ok: "unknown", key: "k0" });
  });

  it("rejects malformed entries", () => {
    expect(() => checkLinearizable([put(1, K, "x", [5, 4])])).toThrow(/returnMs < callMs/);
    expect(() => checkLinearizable([{ ...put(1, K, "x", [0, 1]), returnMs: undefined }])).toThrow(/finite returnMs/);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized: histories of real sequential executions with overlapping intervals

interface Generated {
  readonly history: HistoryEntry[];
}

interface GenOptions {
  readonly clients: number;
  readonly keys: number;
  readonly ops: number;
  /** Probability a call never returns (it then takes effect or not, at random). Default 0.05. */
  readonly lostP?: number;
}

/**
 * Each client issues calls one after another; every call gets a linearization point inside its
 * interval (any time after the call for one that never returns, or none at all). Executing the
 * calls sequentially in linearization-point order on a Map gives the outputs: by construction
 * the history is linearizable.
 */
function generate(seed: number, opts: GenOptions): Generated {
  const rng = new SimRng(seed);
  const lostP = opts.lostP ?? 0.05;
  const cursor = Array.from({ length: opts.clients }, () => rng.between(0, 5));
  const written: Value[][] = Array.from({ length: opts.keys }, () => [undefined]);
  interface Pending { spec: HistoryEntry; lp: number; lost: boolean }
  const pending: Pending[] = [];
  for (let i = 0; i < opts.ops; i++) {
    const c = rng.int(opts.clients);
    const k = rng.int(opts.keys);
    const key = `k${k}`;
    const callMs = cursor[c]! + rng.between(0, 3);
    const lpOffset = rng.between(0, 10);
    const returnMs = callMs + lpOffset + rng.between(0, 10);
    cursor[c] = returnMs;
    const isLost = rng.bool(lostP);
    const lp = isLost ? (rng.bool() ? callMs + rng.between(0, 100) : Infinity) : callMs + lpOffset;
    const roll = rng.float();
    const base = { clientId: c, callMs, returnMs };
    let spec: HistoryEntry;
    if (roll < 0.35) spec = { ...base, op: "get", input: { key } };
    else if (roll < 0.55) {
      const value = `v${i}`;
      written[k]!.push(value);
      spec = { ...base, op: "put", input: { key, value } };
    } else if (roll < 0.7) spec = { ...base, op: "append", input: { key, value: `+${i}` } };
    else if (roll < 0.8) spec = { ...base, op: "delete", input: { key } };
    else {
      const value = `c${i}`;
      const recent = written[k]!.slice(-3);
      const expected = recent[rng.int(recent.length)];
      written[k]!.push(value);
      spec = { ...base, op: "cas", input: { key, expected, value } };
    }
    pending.push({ spec, lp, lost: isLost });
  }
  const store = new Map<string, string>();
  const outputs = new Map<Pending, HistoryEntry["output"]>();
  for (const p of [...pending].sort((a, b) => a.lp - b.lp)) {
    if (p.lp === Infinity) break;
    const e = p.spec;
    const cur = store.get(e.input.key);
    switch (e.op) {
      case "get": outputs.set(p, { value: cur }); break;
      case "put": store.set(e.input.key, e.input.value); outputs.set(p, { ok: true }); break;
      case "append": store.set(e.input.key, (cur ?? "") + e.input.value); outputs.set(p, { ok: true }); break;
      case "delete": store.delete(e.input.key); outputs.set(p, { existed: cur !== undefined }); break;
      case "cas": {
        const swapped = cur === e.input.expected;
        if (swapped) store.set(e.input.key, e.input.value);
        outputs.set(p, { swapped });
        break;
      }
    }
  }
  const history = pending.map((p) =>
    (p.lost ? { ...p.spec, output: undefined, returnMs: undefined } : { ...p.spec, output: outputs.get(p) }) as HistoryEntry);
  return { history };
}

/** Replaces the output of the `which`-th completed get (mod their number) with `value(e)`. */
function corruptRead(history: readonly HistoryEntry[], which: number, value: (e: HistoryEntry, i: number) => Value): HistoryEntry[] {
  const reads = history.map((e, i) => [e, i] as const).filter(([e]) => e.op === "get" && e.output !== undefined);
  const [target, at] = reads[which % reads.length]!;
  const out = [...history];
  out[at] = { ...target, output: { value: value(target, at) } } as HistoryEntry;
  return out;
}

describe("checkLinearizable: randomized", () => {
  const seeds = Array.from({ length: 25 }, (_, i) => i + 1);

  it.each(seeds)("seed %i: a real execution is linearizable", (seed) => {
    const { history } = generate(seed, { clients: 5, keys: 2, ops: 300 });
    expect(checkLinearizable(history)).toEqual({ ok: true });
  });

  it.each(seeds)("seed %i: a read of a value never written is caught", (seed) => {
    const { history } = generate(seed, { clients: 5, keys: 2, ops: 300 });
    const rng = new SimRng(seed).fork("corrupt");
    const bad = corruptRead(history, rng.int(1000), () => "never-written");
    const r = checkLinearizable(bad);
    expect(r.ok).toBe(false);
    if (r.ok !== false) return;
    expect(r.minimalPrefix!.some((e) => e.op === "get" && e.output?.value === "never-written")).toBe(true);
  });

  it("a stale read is caught (fixed seed)", () => {
    // The read returns a value its key held long before: one that an earlier completed read,
    // finished well before this read started, already saw replaced by a later completed read.
    const { history } = generate(42, { clients: 5, keys: 2, ops: 400, lostP: 0 });
    const reads = history.filter((e) => e.op === "get" && e.output !== undefined);
    let victim: HistoryEntry | undefined;
    let stale: Value;
    for (const late of reads) {
      const v = late.output as { value: Value };
      const earlier = reads.filter((e) => e.input.key === late.input.key && e.returnMs! + 30 < late.callMs);
      const old = earlier.find((e) => {
        const ov = (e.output as { value: Value }).value;
        return ov !== undefined && ov !== v.value
          && earlier.some((m) => m.callMs > e.returnMs! && (m.output as { value: Value }).value !== ov);
      });
      if (old) {
        victim = late;
        stale = (old.output as { value: Value }).value;
        break;
      }
    }
    expect(victim).toBeDefined();
    const bad = history.map((e) => (e === victim ? ({ ...e, output: { value: stale } } as HistoryEntry) : e));
    const r = checkLinearizable(bad);
    expect(r.ok).toBe(false);
  });

  it("most reads swapped for another value of the same key are caught (fixed seed)", () => {
    const { history } = generate(1234, { clients: 5, keys: 2, ops: 300 });
    const rng = new SimRng(1234).fork("swap");
    let caught = 0;
    const trials = 40;
    for (let t = 0; t < trials; t++) {
      const bad = corruptRead(history, rng.int(10_000), (target) => {
        // Some other value this key held (as seen by another read).
        const others = history
          .filter((e) => e.op === "get" && e.input.key === target.input.key && e.output !== undefined)
          .map((e) => (e.output as { value: Value }).value)
          .filter((v) => v !== (target.output as { value: Value }).value);
        return others.length > 0 ? others[rng.int(others.length)] : "never-written";
      });
      if (checkLinearizable(bad).ok === false) caught++;
    }
    expect(caught).toBeGreaterThanOrEqual(trials * 0.9);
  });
});

describe("checkLinearizable: performance", () => {
  it("returns on a 2,000-operation history with 8 concurrent clients over 3 keys", () => {
    const { history } = generate(2024, { clients: 8, keys: 3, ops: 2000 });
    expect(checkLinearizable(history, { timeoutMs: 60_000 })).toEqual({ ok: true });
  });

  it("returns on the same history with one read corrupted", () => {
    const { history } = generate(2024, { clients: 8, keys: 3, ops: 2000 });
    const bad = corruptRead(history, 777, () => "never-written");
    const r = checkLinearizable(bad, { timeoutMs: 60_000 });
    expect(r.ok).toBe(false);
  });
});
