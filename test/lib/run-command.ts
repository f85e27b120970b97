/**
 * Runs a program as a user would from a shell, for tests of the commands themselves (bin/*,
 * npm, the README's shell blocks): its exit code and everything it printed.
 */
import { execFile, spawnSync } from "node:child_process";

export interface CommandRun {
  /** Exit code; -1 when it was killed by a signal or by `timeoutMs`. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `file args...` in `cwd` (default: this process's); resolves when it exits. */
export function runCommand(
  file: string,
  args: readonly string[],
  opts: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {},
): Promise<CommandRun> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}

/** Pids of the processes whose command line mentions `text` (`pgrep -f`; daemons name their data directory in it). */
export function pidsMentioning(text: string): number[] {
  return spawnSync("pgrep", ["-f", text], { encoding: "utf8" }).stdout.split("\n").filter((l) => l !== "").map(Number);
}
