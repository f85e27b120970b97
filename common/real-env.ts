/**
 * The real Env: the only module allowed to use Date.now, setTimeout, setInterval,
 * performance.now and Math.random (enforced by scripts/check-layers.ts).
 */
import { performance } from "node:perf_hooks";
import { randomInt } from "node:crypto";
import type { Clock, Rng } from "./env";

export const realClock: Clock = {
  nowMs: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Wall-clock milliseconds since the epoch, for leader-assigned timestamps and logs. */
export const wallClockMs = (): number => Date.now();

export const realRng: Rng = {
  float: () => Math.random(),
  int: (n) => randomInt(n),
};

/** Resolves after `ms` (real time). For backoff loops, never as a stand-in for a condition. */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` on the next macrotask turn (lets I/O callbacks run first). */
export const nextTurn = (fn: () => void): void => {
  setImmediate(fn);
};
