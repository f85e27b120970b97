/**
 * Warming a fresh cluster before its first measured cell (`npm run bench`: bench/run.ts and
 * bench/scaling.ts). A fresh cluster's daemons compile their hot paths while the first loads
 * run; with 3 groups that is 9 shard servers and 3 controllers JIT-compiling on 2 cores, and
 * successive 10 s put loads on one fresh 3-group cluster gave 1,060, 1,411, 1,683, 1,425 and
 * 1,534 ops/s: a cell's own 2 s warmup caught the climb and charged it to the cluster with more
 * processes. So the driver first runs rounds of a mixed load (half gets, half puts, 64 clients:
 * both paths compile) until two rounds in a row agree on ops/s within `warmTolerance`, and at
 * least `warmRoundsMin` rounds have run, or until the time allowed is spent. The minimum is
 * there because a cold 3-group cluster can give two flat rounds before its climb (session 16:
 * two rounds within 10 %, then the first cell ran while TurboFan still took 21 % of a leader's
 * samples). etcd is Go, compiled ahead of time: it needs none.
 */

/** Two successive warm-up rounds within this fraction of each other: warm. */
export const warmTolerance = 0.1;
/** The fewest rounds a warm-up runs before it may call the cluster warm (fewer only when the time allowed holds fewer). */
export const warmRoundsMin = 4;
/** One warm-up round's load (quick runs: a tenth). */
export const warmRoundMs = 5_000;
/** The warm-up rounds' load generator flags, before --duration. */
export const warmFlags = ["--workload", "mixed:50", "--concurrency", "64", "--warmup", "0", "--key-prefix", "bench-warm-"];

/** Whether the last two rounds' ops/s agree within `tolerance` (of the larger). */
export function warmedUp(opsPerSec: readonly number[], tolerance = warmTolerance): boolean {
  if (opsPerSec.length < 2) return false;
  const a = opsPerSec[opsPerSec.length - 2]!;
  const b = opsPerSec[opsPerSec.length - 1]!;
  return a > 0 && b > 0 && Math.abs(a - b) <= tolerance * Math.max(a, b);
}

export interface WarmResult {
  /** ops/s of each round, in order (a failed round: 0). */
  readonly rounds: number[];
  readonly warm: boolean;
}

/**
 * Runs `round` (one load of `roundMs`, resolving with its ops/s, or undefined when it failed)
 * until warmedUp after at least `minRounds` rounds (or as many as `maxMs` holds, if fewer),
 * or until the next round would pass `maxMs` in all.
 */
export async function warmUntilSteady(round: (roundMs: number) => Promise<number | undefined>, roundMs: number, maxMs: number, minRounds = warmRoundsMin): Promise<WarmResult> {
  const rounds: number[] = [];
  const atLeast = Math.min(minRounds, Math.floor(maxMs / roundMs));
  for (let spent = 0; spent + roundMs <= maxMs; spent += roundMs) {
    rounds.push((await round(roundMs)) ?? 0);
    if (rounds.length >= atLeast && warmedUp(rounds)) return { rounds, warm: true };
  }
  return { rounds, warm: false };
}
