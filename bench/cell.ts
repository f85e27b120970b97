/**
 * One run of a load generator as a child process, for `npm run bench` (bench/run.ts)
 * and its scenarios (bench/scenarios.ts): its JSON line, and the CPU the daemons spent
 * during its measured phase (utime + stime from /proc/<pid>/stat, sampled at its phase marks).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { delay, realClock } from "../common/real-env";
import type { CellOutcome } from "./report";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const shardkvBin = join(root, "bin", "shardkv");

// ---------------------------------------------------------------- CPU accounting

const clockTicksPerSec = ((): number => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/** CPU seconds (user + system) of `pid` so far, or undefined when it is gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / clockTicksPerSec;
  } catch {
    return undefined;
  }
}

/** Sum of the CPU seconds of `pids`, and how many of them were gone. */
export function cpuSecondsOfAll(pids: readonly number[]): { seconds: number; gone: number } {
  let seconds = 0;
  let gone = 0;
  for (const pid of pids) {
    const s = cpuSecondsOf(pid);
    if (s === undefined) gone++;
    else seconds += s;
  }
  return { seconds, gone };
}

/** CPU cores the daemons use with no load: their CPU seconds over `ms` of wall time / seconds. */
export async function idleCores(pids: readonly number[], ms: number): Promise<number | undefined> {
  const a = cpuSecondsOfAll(pids);
  const t0 = realClock.nowMs();
  await delay(ms);
  const b = cpuSecondsOfAll(pids);
  if (a.gone > 0 || b.gone > 0) return undefined;
  return (b.seconds - a.seconds) / ((realClock.nowMs() - t0) / 1000);
}

// ---------------------------------------------------------------- one child

/**
 * Runs one load generator child (`argv` after node), sampling the daemons' CPU at its phase
 * marks; resolves with its JSON result and the daemons' CPU seconds of the measured phase.
 */
export function runCell(
  command: string, args: readonly string[], daemonPids: readonly number[], hardMs: number,
  onMeasureStart?: () => void,
): Promise<CellOutcome> {
  return new Promise((resolveCell) => {
    const child = spawn(command, [...args, "--json", "--phase-marks"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    liveChildren.add(child);
    child.once("exit", () => liveChildren.delete(child));
    let stdout = "";
    let stderr = "";
    let errBuf = "";
    let cpuStart: number | undefined;
    let cpuSeconds: number | undefined;
    let gone = 0;
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      errBuf += s;
      let nl: number;
      while ((nl = errBuf.indexOf("\n")) >= 0) {
        const line = errBuf.slice(0, nl);
        errBuf = errBuf.slice(nl + 1);
        if (line === "bench: measure-start") {
          cpuStart = cpuSecondsOfAll(daemonPids).seconds;
          onMeasureStart?.();
        }
        else if (line === "bench: measure-end" && cpuStart !== undefined) {
          const end = cpuSecondsOfAll(daemonPids);
          cpuSeconds = end.seconds - cpuStart;
          gone = end.gone;
        } else stderr += line + "\n";
      }
    });
    const cancel = realClock.after(hardMs, () => {
      stderr += `killed after ${hardMs} ms\n`;
      child.kill("SIGKILL");
    });
    child.once("error", (e) => {
      cancel();
      resolveCell({ ok: false, error: `could not start ${command}: ${e.message}` });
    });
    child.once("close", (code, signal) => {
      cancel();
      const line = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        const why = (stderr.trim().split("\n").at(-1) ?? "") || `exit ${code ?? signal}`;
        resolveCell({ ok: false, error: why });
        return;
      }
      try {
        const result = JSON.parse(line);
        resolveCell({ ok: true, result, ...(cpuSeconds !== undefined && gone === 0 ? { daemonCpuSeconds: cpuSeconds } : {}) });
      } catch (e) {
        resolveCell({ ok: false, error: `unparsable output: ${line.slice(0, 200)}` });
      }
    });
  });
}

/** Load generators running now: killed when this process exits. */
const liveChildren = new Set<ChildProcess>();

/**
 * Ctrl-C or SIGTERM: exit through process.exit, so the exit hooks run: LocalCluster and
 * EtcdCluster SIGKILL the daemons they started (a signal's default action would skip them and
 * leave the shardkv daemons, which run in their own process groups, behind).
 */
export function exitOnSignals(): void {
  process.once("exit", () => {
    for (const c of liveChildren) c.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      process.stderr.write(`bench: ${sig}: stopping every process it started\n`);
      process.exit(130);
    });
  }
}
