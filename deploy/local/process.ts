/**
 * The daemons of a local cluster as OS processes: spawning one (its own process group, output
 * appended to its log file), and signalling or probing a pid only after checking that it
 * still belongs to that daemon. A pid is ours when /proc/<pid>/cmdline has the node's data
 * directory as an argument (`--data <dir>`; data directories are absolute and unique), so a
 * pid the kernel reused for another program is never signalled.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readableLogLine } from "../../common/log-line";
import { delay, realClock } from "../../common/real-env";

/**
 * The root of the repository (or of the installed package): the nearest directory above this
 * module that holds a package.json. This module runs from deploy/local/ (TypeScript, tests)
 * and bundled into dist/ (the commands), so a fixed number of ".." would be wrong in one.
 */
export const repoRoot = packageRootOf(dirname(fileURLToPath(import.meta.url)));

function packageRootOf(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

/** What a pid is, for a node. */
export type ProcState = "running" | "paused" | "gone";

const hasProc = existsSync("/proc/self/cmdline");

/** The state of `pid` if it is still the daemon with data directory `dataDir`, else "gone". */
export function procState(pid: number | null, dataDir: string): ProcState {
  if (pid === null || !(pid > 0)) return "gone";
  if (!hasProc) {
    try {
      process.kill(pid, 0);
      return "running";
    } catch {
      return "gone";
    }
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    // Empty for a moment while the process execs (bin/* wrappers exec node): still ours
    // (a test saw a freshly restarted daemon reported "exited while starting"); a zombie
    // also reads empty and is caught by the state below.
    if (cmdline !== "" && !cmdline.split("\0").includes(dataDir)) return "gone";
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X" || state === "x") return "gone";
    if (state === "T" || state === "t") return "paused";
    return "running";
  } catch {
    return "gone";
  }
}

/** Sends `signal` if `pid` is still the daemon of `dataDir`; says whether it did. */
export function signalNode(pid: number | null, dataDir: string, signal: NodeJS.Signals): boolean {
  if (procState(pid, dataDir) === "gone") return false;
  try {
    process.kill(pid!, signal);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true once the daemon is gone, false if it is still there after `timeoutMs`. */
export async function waitGone(pid: number | null, dataDir: string, timeoutMs: number): Promise<boolean> {
  const end = realClock.nowMs() + timeoutMs;
  for (;;) {
    if (procState(pid, dataDir) === "gone") return true;
    if (realClock.nowMs() >= end) return false;
    await delay(25);
  }
}

/** Default grace period between SIGTERM and SIGKILL. */
export const graceMsDefault = 5000;

/**
 * Default grace period for a daemon that writes a profile when it exits (Node's `--cpu-prof`,
 * `--heap-prof`, `--prof`, given through SHARDKV_NODE_FLAGS): writing it takes seconds on a
 * loaded machine, and a SIGKILL meanwhile loses the profile.
 */
export const profilingGraceMsDefault = 60_000;

/** Node's flags that make a process write a profile as it exits. */
const profilingFlags = new Set(["--cpu-prof", "--heap-prof", "--prof"]);

/**
 * The grace period a stop gives the daemon `pid` (of `dataDir`) when none was asked for:
 * profilingGraceMsDefault if it runs with a profiling flag of Node's, else graceMsDefault.
 */
export function defaultGraceMs(pid: number | null, dataDir: string): number {
  if (procState(pid, dataDir) === "gone" || !hasProc) return graceMsDefault;
  try {
    // Anywhere on the command line: the daemons take no such flag of their own (they refuse
    // unknown flags), so it is Node's.
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return args.some((a) => profilingFlags.has(a)) ? profilingGraceMsDefault : graceMsDefault;
  } catch {
    return graceMsDefault;
  }
}

/** The grace period `graceMs` (undefined: the defaults) in words, for messages. */
export function describeGrace(graceMs: number | undefined): string {
  return graceMs !== undefined ? `${graceMs} ms` : `${graceMsDefault / 1000} s (${profilingGraceMsDefault / 1000} s for a daemon writing a profile)`;
}

/**
 * SIGTERM (and SIGCONT, so a paused daemon can handle it), then SIGKILL after `graceMs`
 * (default: defaultGraceMs, longer for a daemon writing a profile); resolves when the
 * process is gone, with how it ended: "none" (was not running), "term" (stopped within the
 * grace period), "kill" (needed SIGKILL).
 */
export async function stopNode(pid: number | null, dataDir: string, graceMs?: number): Promise<"none" | "term" | "kill"> {
  const grace = graceMs ?? defaultGraceMs(pid, dataDir);
  if (!signalNode(pid, dataDir, "SIGTERM")) return "none";
  signalNode(pid, dataDir, "SIGCONT");
  if (await waitGone(pid, dataDir, grace)) return "term";
  signalNode(pid, dataDir, "SIGKILL");
  if (!(await waitGone(pid, dataDir, 10_000))) throw new Error(`pid ${pid} (${dataDir}) survived SIGKILL`);
  return "kill";
}

/** The programs of the two daemons (bash wrappers that exec node, so the pid stays). */
export const daemonBin = {
  controller: join(repoRoot, "bin", "shardkv-controller"),
  server: join(repoRoot, "bin", "shardkv-server"),
} as const;

/**
 * Starts a daemon in its own process group, stdout and stderr appended to `logFile`, not
 * holding the launcher's event loop open (so `shardkv-local up` can exit while it runs).
 * Returns its pid. `onExit` gets how it ended ("code 0", "signal SIGKILL") if it ends while
 * this process runs.
 */
export function spawnDaemon(opts: {
  kind: "controller" | "server";
  args: readonly string[];
  logFile: string;
  env: Record<string, string>;
  onExit?: (how: string) => void;
  /**
   * A command that runs the daemon and must exec it in its place, so the pid stays the
   * daemon's (`ip netns exec NS`: the test hosts of deploy/hosts/). Default: none.
   */
  prefix?: readonly string[];
}): number {
  const log = openSync(opts.logFile, "a");
  try {
    const [file, ...args] = [...(opts.prefix ?? []), daemonBin[opts.kind], ...opts.args];
    const child = spawn(file!, args, {
      cwd: repoRoot,
      detached: true,
      stdio: ["ignore", log, log],
      env: { ...process.env, ...opts.env },
    });
    if (child.pid === undefined) throw new Error(`cannot start ${daemonBin[opts.kind]}`);
    child.on("error", () => undefined);
    child.once("exit", (code, signal) => opts.onExit?.(signal ? `signal ${signal}` : `code ${code}`));
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/**
 * The last `lines` lines of a log file (error messages, `shardkv-local logs`): readable
 * (common/log-line.ts: the daemons' JSON lines as text), or `raw` as written.
 */
export function logTail(path: string, lines = 15, form: "readable" | "raw" = "readable"): string {
  try {
    const tail = readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines);
    return (form === "raw" ? tail : tail.map(readableLogLine)).join("\n");
  } catch {
    return "(no log)";
  }
}

/** `n` distinct free loopback ports (bind to port 0, read the port, close). */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}
