/**
 * Helpers for test files that run simulation seeds: one seed's failure message (with the
 * line that replays it) and the fixed seed lists CI runs.
 */
import { realRng } from "../../common/real-env";
import type { RunResult } from "./run";

/** The fixed seeds CI runs, split in halves so two test files run them in parallel. */
export const fixedSeedsA: readonly number[] = Array.from({ length: 150 }, (_, i) => i + 1);
export const fixedSeedsB: readonly number[] = Array.from({ length: 150 }, (_, i) => i + 151);

/** `n` random seeds (real randomness: each CI run explores new ones; they are printed). */
export function randomSeeds(n: number): number[] {
  return Array.from({ length: n }, () => realRng.int(2 ** 32));
}

/** The message a failed seed reports: the failure, how to replay it, then the details. */
export function failureReport(r: RunResult): string {
  const [first, ...rest] = (r.failure ?? "").split("\n");
  const details = rest.length > 0 ? `\n${rest.join("\n")}` : "";
  return `FAIL seed=${r.seed}: ${first}\nreproduce with SEED=${r.seed} npm run sim${details}\n`;
}
