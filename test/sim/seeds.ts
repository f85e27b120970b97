/**
 * Helpers for whatever runs simulation seeds (cli.ts, the test files): one seed's failure
 * message with the command that replays it, and the fixed seed lists CI runs.
 */
import { realRng } from "../../common/real-env";

/** The simulator's modes: one Raft group (run.ts), the controller group (controller-run.ts), the whole cluster (shard-run.ts). */
export type SimMode = "raft" | "controller" | "cluster";

/** The fixed seeds CI runs, split in halves so two test files run them in parallel. */
export const fixedSeedsA: readonly number[] = Array.from({ length: 150 }, (_, i) => i + 1);
export const fixedSeedsB: readonly number[] = Array.from({ length: 150 }, (_, i) => i + 151);

/** `n` random seeds (real randomness: each CI run explores new ones; they are printed). */
export function randomSeeds(n: number): number[] {
  return Array.from({ length: n }, () => realRng.int(2 ** 32));
}

/**
 * The command that replays seed `seed` of `mode`; `flags`: the other options of the run that
 * failed (a replay must use the same ones), e.g. `--no-buggify`.
 */
export function replayCommand(seed: number, mode: SimMode, flags: readonly string[] = []): string {
  const all = [...(mode === "raft" ? [] : [`--${mode}`]), ...flags];
  return `SEED=${seed} npm run sim${all.length > 0 ? ` -- ${all.join(" ")}` : ""}`;
}

/**
 * The message a failed seed reports: its first line, how to replay it, then the details
 * (`flags` as for replayCommand).
 */
export function failureReport(r: { readonly seed: number; readonly failure?: string }, mode: SimMode = "raft", flags: readonly string[] = []): string {
  const [first, ...rest] = (r.failure ?? "").split("\n");
  const details = rest.length > 0 ? `\n${rest.join("\n")}` : "";
  return `FAIL ${mode === "raft" ? "" : `${mode} `}seed=${r.seed}: ${first}\nreproduce with ${replayCommand(r.seed, mode, flags)}${details}\n`;
}
