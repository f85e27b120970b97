/**
 * Polling with a deadline for the launcher (deploy/ must not import test/lib/wait.ts). Time
 * comes from common/real-env.ts, the one module allowed to touch timers.
 */
import { delay, realClock } from "../../common/real-env";

/**
 * Resolves once `cond()` returns true (it is evaluated once more at the deadline); throws
 * `timed out after <ms>ms waiting for <what>` plus `why()` (the last reason it was false)
 * when the deadline passes. An exception from `cond` propagates at once.
 */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  opts: { timeoutMs: number; what: string; intervalMs?: number; why?: () => string },
): Promise<void> {
  const end = realClock.nowMs() + opts.timeoutMs;
  for (;;) {
    if (await cond()) return;
    const left = end - realClock.nowMs();
    if (left <= 0) {
      const why = opts.why?.();
      throw new Error(`timed out after ${opts.timeoutMs}ms waiting for ${opts.what}${why ? ` (${why})` : ""}`);
    }
    await delay(Math.min(opts.intervalMs ?? 100, left));
  }
}
