/**
 * Polling for eventual outcomes in tests that use real time (integration tests, real-Env unit
 * tests). Time is read and waited for through common/real-env.ts, the one module allowed to
 * touch timers (scripts/check-layers.ts). Simulation tests never poll: they step virtual time.
 */
import { delay, realClock } from "../../common/real-env";

export interface WaitForOptions {
  /** Give up after this many milliseconds (real time). */
  readonly timeoutMs: number;
  /** What is awaited, for the error message: "a leader in group 1". */
  readonly what: string;
  /** Milliseconds between polls. Default 20. */
  readonly intervalMs?: number;
}

/**
 * Resolves as soon as `cond()` returns true; polls every `intervalMs` and throws
 * `timed out after <timeoutMs>ms waiting for <what>` when the deadline passes first. `cond` is
 * always evaluated once more at the deadline. An exception thrown by `cond` propagates at once
 * (catch inside `cond` what is expected to fail transiently).
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  { timeoutMs, what, intervalMs = 20 }: WaitForOptions,
): Promise<void> {
  if (!(timeoutMs >= 0)) throw new RangeError(`waitFor: timeoutMs must be >= 0, got ${timeoutMs}`);
  if (!(intervalMs > 0)) throw new RangeError(`waitFor: intervalMs must be > 0, got ${intervalMs}`);
  const deadline = realClock.nowMs() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    const remainingMs = deadline - realClock.nowMs();
    if (remainingMs <= 0) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await delay(Math.min(intervalMs, remainingMs));
  }
}
