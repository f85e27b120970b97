/**
 * A linearizability checker for key/value histories (Wing & Gong's search, with the
 * P-compositionality and memoization of Lowe / Horn & Kroening as used by Porcupine).
 *
 *  - Partitioning: linearizability is local (Herlihy & Wing), and every operation touches one
 *    key, so a history is linearizable iff each key's sub-history is. Each key is checked
 *    alone; the state of one key is its value (string | undefined = absent).
 *  - Search: the key's call and return events are sorted by time (calls before returns at equal
 *    times, so touching intervals count as concurrent) into a doubly-linked list. The search
 *    repeatedly linearizes a call whose operation is legal in the current state and removes
 *    ("lifts") it and its return from the list; meeting a return event whose call has not been
 *    linearized means backtracking (undo the last linearization, try the next call).
 *  - Memoization: a (set of linearized operations, state) pair already explored is never
 *    explored again. The set is a bitset (Uint32Array) with an incrementally maintained
 *    Zobrist hash; the cache maps that hash to the (bitset, state) pairs seen with it.
 *  - An operation that never returned (`output` undefined) has response time +infinity: it may
 *    take effect at any point after its call, or never (placing it after everything else is the
 *    same as never). Gets that never returned constrain nothing and are dropped.
 *
 * Clocks are injected (`clock`, default the real one) so the simulator and tests can drive the
 * timeout deterministically.
 */
import { splitmix32 } from "../../common/seeded-rng";
import type { Clock } from "../../common/env";
import { realClock } from "../../common/real-env";

/** The value of a key; undefined = absent. */
export type Value = string | undefined;

/** The acknowledgement of a put or append. */
export interface Ack {
  readonly ok: true;
}

export type KvOperation =
  | { readonly op: "get"; readonly input: { readonly key: string }; readonly output?: { readonly value: Value } }
  | { readonly op: "put"; readonly input: { readonly key: string; readonly value: string }; readonly output?: Ack }
  | { readonly op: "append"; readonly input: { readonly key: string; readonly value: string }; readonly output?: Ack }
  | { readonly op: "delete"; readonly input: { readonly key: string }; readonly output?: { readonly existed: boolean } }
  | {
      readonly op: "cas";
      /** Swaps to `value` iff the current value is `expected` (undefined = the key is absent). */
      readonly input: { readonly key: string; readonly expected: Value; readonly value: string };
      readonly output?: { readonly swapped: boolean };
    };

/**
 * One call of a client. `output` undefined: the call never returned (timed out, connection
 * lost); it may or may not have taken effect and `returnMs` is ignored (taken as +infinity).
 */
export type HistoryEntry = KvOperation & {
  readonly clientId: string | number;
  readonly callMs: number;
  readonly returnMs?: number;
};

export type CheckResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** The first key (in sorted order) whose sub-history is not linearizable. */
      readonly key: string;
      readonly reason: string;
      /**
       * The operations of `key` called up to the earliest return after which the sub-history
       * can no longer be linearized, by call time (all of the key's operations if that search
       * ran out of time).
       */
      readonly minimalPrefix?: readonly HistoryEntry[];
    }
  | { readonly ok: "unknown"; readonly key: string };

export interface CheckOptions {
  /** Gives up with `{ ok: "unknown" }` after this long (whole check). Default: no limit. */
  readonly timeoutMs?: number;
  /** The clock of the timeout. Default: the real clock. */
  readonly clock?: Clock;
  /** Compute `minimalPrefix` (a few more searches on the failing key). Default: true. */
  readonly minimize?: boolean;
}

/** Checks `history` (any order of entries) and reports the first non-linearizable key. */
export function checkLinearizable(history: readonly HistoryEntry[], options: CheckOptions = {}): CheckResult {
  const clock = options.clock ?? realClock;
  const deadline = options.timeoutMs === undefined ? Infinity : clock.nowMs() + options.timeoutMs;
  const byKey = new Map<string, HistoryEntry[]>();
  for (const e of history) {
    validate(e);
    let list = byKey.get(e.input.key);
    if (!list) byKey.set(e.input.key, (list = []));
    list.push(e);
  }
  let unknownKey: string | undefined;
  for (const key of [...byKey.keys()].sort()) {
    const ops = byKey.get(key)!;
    const verdict = checkKey(ops, clock, deadline);
    if (verdict === "unknown") {
      unknownKey ??= key;
      if (clock.nowMs() >= deadline) break; // out of time: the other keys cannot be checked either
      continue;
    }
    if (verdict === "ok") continue;
    return failure(key, ops, options.minimize ?? true, clock, deadline);
  }
  return unknownKey === undefined ? { ok: true } : { ok: "unknown", key: unknownKey };
}

/** A one-line description: `client 3: get("k") -> "v" [10, 12]`. */
export function formatEntry(e: HistoryEntry): string {
  const q = (v: Value) => (v === undefined ? "absent" : JSON.stringify(v));
  const key = JSON.stringify(e.input.key);
  let call: string;
  let out: string | undefined;
  switch (e.op) {
    case "get":
      call = `get(${key})`;
      out = e.output && q(e.output.value);
      break;
    case "put":
    case "append":
      call = `${e.op}(${key}, ${JSON.stringify(e.input.value)})`;
      out = e.output && "ok";
      break;
    case "delete":
      call = `delete(${key})`;
      out = e.output && `existed=${e.output.existed}`;
      break;
    case "cas":
      call = `cas(${key}, ${q(e.input.expected)}, ${JSON.stringify(e.input.value)})`;
      out = e.output && `swapped=${e.output.swapped}`;
      break;
  }
  const span = e.output === undefined ? `[${e.callMs}, never returned]` : `[${e.callMs}, ${e.returnMs}]`;
  return `client ${e.clientId}: ${call} -> ${out ?? "?"} ${span}`;
}

// ---------------------------------------------------------------------------------------------
// The model

const REJECT: unique symbol = Symbol("reject");

/** The state after `e` from `state`, or REJECT if `e`'s output is impossible in `state`. */
function step(state: Value, e: HistoryEntry): Value | typeof REJECT {
  switch (e.op) {
    case "get":
      return e.output === undefined || e.output.value === state ? state : REJECT;
    case "put":
      return e.input.value;
    case "append":
      return (state ?? "") + e.input.value;
    case "delete":
      return e.output !== undefined && e.output.existed !== (state !== undefined) ? REJECT : undefined;
    case "cas": {
      const swap = state === e.input.expected;
      if (e.output !== undefined && e.output.swapped !== swap) return REJECT;
      return swap ? e.input.value : state;
    }
  }
}

function validate(e: HistoryEntry): void {
  if (!Number.isFinite(e.callMs)) throw new Error(`linearizability: callMs must be finite: ${formatEntry(e)}`);
  if (e.output !== undefined) {
    if (e.returnMs === undefined || !Number.isFinite(e.returnMs)) {
      throw new Error(`linearizability: a returned call needs a finite returnMs: ${formatEntry(e)}`);
    }
    if (e.returnMs < e.callMs) throw new Error(`linearizability: returnMs < callMs: ${formatEntry(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The search (one key)

type Verdict = "ok" | "fail" | "unknown";

/** How many search steps between two looks at the clock. */
const CLOCK_EVERY = 4096;

interface CacheEntry {
  readonly bits: Uint32Array;
  readonly state: Value;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkKey(all: readonly HistoryEntry[], clock: Clock, deadline: number): Verdict {
  // Gets that never returned neither change the state nor constrain it.
  const ops = all.filter((e) => !(e.op === "get" && e.output === undefined));
  const n = ops.length;
  if (n === 0) return "ok";

  // Events: node 0 is the head; nodes 1..2n are calls and returns sorted by time, calls first
  // on ties, then by operation index (deterministic).
  const events: { t: number; ret: 0 | 1; op: number }[] = [];
  for (let i = 0; i < n; i++) {
    const e = ops[i]!;
    events.push({ t: e.callMs, ret: 0, op: i });
    events.push({ t: e.output === undefined ? Infinity : e.returnMs!, ret: 1, op: i });
  }
  events.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.ret - b.ret || a.op - b.op));
  const size = 2 * n + 1;
  const prev = new Int32Array(size);
  const next = new Int32Array(size);
  const nodeOp = new Int32Array(size);
  const isCall = new Uint8Array(size);
  const match = new Int32Array(size); // call node -> its return node
  const callNode = new Int32Array(n);
  for (let k = 0; k < events.length; k++) {
    const node = k + 1;
    const ev = events[k]!;
    nodeOp[node] = ev.op;
    if (ev.ret === 0) {
      isCall[node] = 1;
      callNode[ev.op] = node;
    } else {
      match[callNode[ev.op]!] = node;
    }
  }
  for (let node = 0; node < size; node++) {
    prev[node] = node - 1;
    next[node] = node + 1 < size ? node + 1 : -1;
  }

  // Removes a call and its return from the list; unlift undoes the latest lift (LIFO).
  const lift = (c: number): void => {
    const r = match[c]!;
    next[prev[c]!] = next[c]!;
    if (next[c] !== -1) prev[next[c]!] = prev[c]!;
    next[prev[r]!] = next[r]!;
    if (next[r] !== -1) prev[next[r]!] = prev[r]!;
  };
  const unlift = (c: number): void => {
    const r = match[c]!;
    next[prev[r]!] = r;
    if (next[r] !== -1) prev[next[r]!] = r;
    next[prev[c]!] = c;
    if (next[c] !== -1) prev[next[c]!] = c;
  };

  // Zobrist hashing of the linearized set: two 32-bit halves combined into a 53-bit key.
  const z1 = new Uint32Array(n);
  const z2 = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    z1[i] = splitmix32(i * 2 + 0x1234567);
    z2[i] = splitmix32(i * 2 + 1 + 0x7654321);
  }
  const bits = new Uint32Array((n + 31) >>> 5);
  let h1 = 0;
  let h2 = 0;
  const toggle = (op: number): void => {
    bits[op >>> 5]! ^= 1 << (op & 31);
    h1 ^= z1[op]!;
    h2 ^= z2[op]!;
  };
  const cache = new Map<number, CacheEntry[]>();
  /** Records (bits, state); false if it was already there. */
  const remember = (state: Value): boolean => {
    const hash = (h1 >>> 0) * 2097152 + (h2 >>> 11);
    let bucket = cache.get(hash);
    if (bucket === undefined) {
      cache.set(hash, (bucket = []));
    } else {
      for (const c of bucket) if (c.state === state && sameBits(c.bits, bits)) return false;
    }
    bucket.push({ bits: bits.slice(), state });
    return true;
  };

  const stackNode: number[] = [];
  const stackState: Value[] = [];
  let state: Value = undefined;
  let entry = next[0]!;
  let steps = 0;
  while (next[0] !== -1) {
    if (deadline !== Infinity && ++steps % CLOCK_EVERY === 0 && clock.nowMs() >= deadline) return "unknown";
    if (isCall[entry] === 1) {
      const op = nodeOp[entry]!;
      const after = step(state, ops[op]!);
      if (after !== REJECT) {
        toggle(op);
        if (remember(after)) {
          stackNode.push(entry);
          stackState.push(state);
          state = after;
          lift(entry);
          entry = next[0]!;
          continue;
        }
        toggle(op);
      }
      entry = next[entry]!;
    } else {
      // A return whose call is not linearized: the current prefix cannot be extended.
      if (stackNode.length === 0) return "fail";
      entry = stackNode.pop()!;
      state = stackState.pop();
      toggle(nodeOp[entry]!);
      unlift(entry);
      entry = next[entry]!;
    }
  }
  return "ok";
}

// ---------------------------------------------------------------------------------------------
// Failure reports

/**
 * The key's operations as seen at time `t` (the moment just after the returns at `t`): those
 * called by then, with the ones that had not returned yet made pending.
 */
function cutAt(ops: readonly HistoryEntry[], t: number): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const e of ops) {
    if (e.callMs > t) continue;
    out.push(e.output !== undefined && e.returnMs! > t ? ({ ...e, output: undefined, returnMs: undefined } as HistoryEntry) : e);
  }
  return out;
}

function failure(key: string, ops: readonly HistoryEntry[], minimize: boolean, clock: Clock, deadline: number): CheckResult {
  const byCall = [...ops].sort((a, b) => a.callMs - b.callMs);
  const head = `key ${JSON.stringify(key)}: no linearization of its ${ops.length} operations`;
  if (!minimize) return { ok: false, key, reason: head };
  // A prefix of a linearizable history is linearizable, so "the cut at t fails" is monotone
  // in t: binary search the earliest return time whose cut fails.
  const times = [...new Set(ops.filter((e) => e.output !== undefined).map((e) => e.returnMs!))].sort((a, b) => a - b);
  if (times.length === 0) return { ok: false, key, reason: head, minimalPrefix: byCall }; // not reached: nothing returned, nothing to contradict
  let lo = 0;
  let hi = times.length - 1; // the cut at the last return fails like the whole history
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = checkKey(cutAt(ops, times[mid]!), clock, deadline);
    if (v === "unknown") return { ok: false, key, reason: `${head} (ran out of time finding the minimal prefix)`, minimalPrefix: byCall };
    if (v === "fail") hi = mid;
    else lo = mid + 1;
  }
  const t = times[lo]!;
  const prefix = byCall.filter((e) => e.callMs <= t);
  const culprits = ops.filter((e) => e.output !== undefined && e.returnMs === t).map(formatEntry);
  const reason = `${head}; it is already not linearizable once ${culprits.join(" and ")} returns `
    + `(minimal prefix: the ${prefix.length} operations called by t=${t})`;
  return { ok: false, key, reason, minimalPrefix: prefix };
}
