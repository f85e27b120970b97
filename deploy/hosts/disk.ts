/**
 * Disk faults: a daemon that loses the writes it had not fsynced, as after a power loss. For a
 * run started with `up --disk-faults`, each chosen daemon's data directory `<dir>/data/<node>`
 * is a mount of deploy/hosts/lazyfs.py (FUSE, Debian's python3-fusepy) over the backing
 * directory `<dir>/disk/<node>`: file data written stays in the lazyfs process's memory until
 * the daemon fsyncs (or fdatasyncs) that file, as a page cache holds it until then, and only
 * then reaches the backing directory. loseUnsyncedWrites kills the daemon with SIGKILL, tells
 * its lazyfs to drop every unsynced write (SIGUSR1; it writes a report of what it dropped and
 * fails every call from then on), unmounts it, mounts a fresh lazyfs over the backing
 * directory (which holds exactly what was synced) and restarts the daemon.
 *
 * Faithful because the loss happens below the process, at the system call boundary RocksDB
 * relies on: what the daemon wrote with write(2) and did not fsync(2)/fdatasync(2) is gone,
 * whatever the daemon believed; what it synced is there. Metadata operations (create, rename,
 * unlink, mkdir) are durable as soon as they return (lazyfs.py says why): stricter than ext4,
 * where they wait for a journal commit, so a bug that needs a rename lost after it returned is
 * not found here. Writes are lost whole pages at a time, never torn inside a page.
 *
 * Each lazyfs process runs in the machine's root namespaces (mount and network), detached
 * (its stderr in `<dir>/disk/<node>.lazyfs.log`);
 * its mount is named `skvh-lazyfs:<run>:<node>` in /proc/self/mountinfo, so that `down`
 * (and `down --all-runs` after a crash) finds and removes every mount of a run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { delay, realClock } from "../../common/real-env";
import { LocalCluster } from "../local/cluster";
import { dataDirOf } from "../local/layout";
import { repoRoot } from "../local/process";
import { type HostsFile, daemonHosts } from "./hosts-file";
import { aptRequire } from "./net";

/** The file system (deploy/hosts/lazyfs.py). */
export const lazyfsScript = join(repoRoot, "deploy", "hosts", "lazyfs.py");
/** Debian's Python, which has python3-fusepy (a pyenv or venv python3 on PATH may not). */
export const lazyfsPython = "/usr/bin/python3";
/** Every lazyfs mount's name starts with this, then `<run>:<node>`. */
export const lazyfsNamePrefix = "skvh-lazyfs:";

/** Installs python3-fusepy when Debian's Python cannot import it; throws one line without /dev/fuse. */
export function ensureLazyfs(say: (line: string) => void = () => undefined): void {
  if (!existsSync("/dev/fuse")) throw new Error("disk faults need FUSE: /dev/fuse is missing (modprobe fuse, or give the container /dev/fuse)");
  const ok = (): boolean => spawnSync(lazyfsPython, ["-c", "import fusepy"], { stdio: "ignore" }).status === 0;
  if (!ok()) aptRequire(["python3-fusepy"], ["python3-fusepy (fusepy for /usr/bin/python3)"], say);
}

/** A lazyfs mount of this machine. */
export interface LazyMount {
  readonly mountpoint: string;
  /** `skvh-lazyfs:<run>:<node>`. */
  readonly name: string;
  readonly run: string;
  readonly node: string;
}

/** Every lazyfs mount of the root mount namespace (from /proc/self/mountinfo). */
export function lazyMounts(): LazyMount[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").flatMap((l) => {
    const [left, right] = l.split(" - ");
    const [fstype, source] = (right ?? "").split(" ");
    if (fstype !== "fuse.lazyfs" || !source?.startsWith(lazyfsNamePrefix)) return [];
    const [run = "", node = ""] = source.slice(lazyfsNamePrefix.length).split(":");
    return [{ mountpoint: unescape(left!.split(" ")[4]!), name: source, run, node }];
  });
}

/** The pids of the lazyfs processes serving `mountpoint` (by their command line). */
export function lazyfsPids(mountpoint?: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (argv.includes(lazyfsScript) && (mountpoint === undefined || argv.includes(resolve(mountpoint)))) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Where one lazyfs keeps things. */
export interface LazyfsPaths {
  /** The "disk": what was synced. */
  readonly backing: string;
  /** Where it is mounted (the daemon's data directory). */
  readonly mountpoint: string;
  /** Where a drop writes its report (JSON). */
  readonly report: string;
  /** The lazyfs process's stderr. */
  readonly log: string;
}

/** The lazyfs paths of daemon `node` of the run in `dir`. */
export function nodeDisk(dir: string, node: string): LazyfsPaths {
  const d = resolve(dir);
  return { backing: join(d, "disk", node), mountpoint: dataDirOf(d, node), report: join(d, "disk", `${node}.dropped.json`), log: join(d, "disk", `${node}.lazyfs.log`) };
}

/**
 * Mounts a lazyfs named `name` over `p.backing` at `p.mountpoint` (both created when missing)
 * and resolves once it serves; returns the lazyfs pid. Throws with its last error line when
 * it does not come up within 15 s.
 */
export async function mountLazyfs(p: LazyfsPaths, name: string): Promise<number> {
  for (const d of [p.backing, p.mountpoint]) mkdirSync(d, { recursive: true });
  mkdirSync(join(p.log, ".."), { recursive: true });
  const err = openSync(p.log, "a");
  const child = spawn(lazyfsPython, [lazyfsScript, resolve(p.backing), resolve(p.mountpoint), "--name", name, "--report", resolve(p.report)], {
    detached: true, stdio: ["ignore", "pipe", err],
  });
  closeSync(err);
  const failed = await new Promise<string | undefined>((res) => {
    const cancel = realClock.after(15_000, () => res("no \"ready\" within 15 s"));
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      if (s.includes("ready")) {
        cancel();
        res(undefined);
      }
    });
    child.once("exit", (code) => {
      cancel();
      res(`exited (${code})`);
    });
    child.once("error", (e) => res(`cannot run ${lazyfsPython}: ${e.message}`));
  });
  child.stdout!.destroy();
  child.unref();
  if (failed !== undefined || !lazyMounts().some((m) => m.mountpoint === resolve(p.mountpoint))) {
    if (child.pid !== undefined) killQuietly(child.pid);
    const why = existsSync(p.log) ? readFileSync(p.log, "utf8").trim().split("\n").at(-1) ?? "" : "";
    throw new Error(`lazyfs on ${p.mountpoint} did not come up: ${failed ?? "not in /proc/self/mountinfo"}${why ? `: ${why}` : ""}`);
  }
  return child.pid!;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Unmounts the lazyfs at `mountpoint` and ends its process. Copies of the mount in the mount
 * namespaces that `ip netns exec` made meanwhile keep the FUSE connection open (the root
 * mount is private here: an unmount does not propagate), so the process is SIGKILLed; that
 * aborts the connection, and those copies fail with ENOTCONN until their namespaces end.
 * Unsynced writes still cached are lost, as they would be at power off.
 */
export async function unmountLazyfs(mountpoint: string): Promise<void> {
  const mp = resolve(mountpoint);
  const pids = lazyfsPids(mp);
  if (lazyMounts().some((m) => m.mountpoint === mp)) {
    const r = spawnSync("umount", [mp], { encoding: "utf8" });
    if (r.status !== 0) {
      const lazy = spawnSync("umount", ["-l", mp], { encoding: "utf8" });
      if (lazy.status !== 0) throw new Error(`umount ${mp} failed: ${(lazy.stderr || r.stderr).trim()}`);
    }
  }
  for (const pid of pids) killQuietly(pid);
  const end = realClock.nowMs() + 10_000;
  while (lazyfsPids(mp).length > 0) {
    if (realClock.nowMs() > end) throw new Error(`lazyfs of ${mp} (pids ${lazyfsPids(mp).join(" ")}) survived SIGKILL`);
    await delay(20);
  }
}

/** What a drop lost: per file the bytes written and not synced (overlaps counted again), pages, size then and size on disk. */
export interface DroppedWrites {
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly pages: number; readonly size: number; readonly durableSize: number }[];
  readonly bytes: number;
  readonly pages: number;
}

/**
 * Makes the lazyfs at `p.mountpoint` drop every unsynced write and fail from then on (its
 * SIGUSR1), and returns its report. Stop the process that writes there first.
 */
export async function dropUnsynced(p: LazyfsPaths): Promise<DroppedWrites> {
  const [pid, ...more] = lazyfsPids(p.mountpoint);
  if (pid === undefined || more.length > 0) throw new Error(`want one lazyfs serving ${p.mountpoint}, found ${pid === undefined ? "none" : [pid, ...more].join(" ")}`);
  rmSync(p.report, { force: true });
  process.kill(pid, "SIGUSR1");
  const end = realClock.nowMs() + 10_000;
  while (!existsSync(p.report) || statSync(p.report).size === 0) {
    if (realClock.nowMs() > end) throw new Error(`lazyfs of ${p.mountpoint} (pid ${pid}) wrote no report ${p.report} within 10 s`);
    await delay(20);
  }
  return JSON.parse(readFileSync(p.report, "utf8")) as DroppedWrites;
}

/** The daemons of run `h` whose data directories are on lazyfs. */
export const diskFaultNodes = (h: HostsFile): readonly string[] => h.diskFaults ?? [];

/** Which daemons `--disk-faults` names: "all" daemons, "servers" (shard replicas), or a list. */
export function resolveDiskFaultNodes(h: HostsFile, which: "all" | "servers" | readonly string[]): string[] {
  const daemons = daemonHosts(h);
  if (which === "all") return daemons.map((x) => x.name);
  if (which === "servers") return daemons.filter((x) => x.role === "server").map((x) => x.name);
  const unknown = which.filter((n) => !daemons.some((x) => x.name === n));
  if (unknown.length > 0) throw new Error(`--disk-faults: ${unknown.join(" ")} is no daemon of this run (daemons: ${daemons.map((x) => x.name).join(" ")})`);
  return [...which];
}

/**
 * Mounts a lazyfs on the data directory of each of `nodes` (before the daemons start), each
 * over a new, empty backing directory.
 */
export async function mountRunDisks(dir: string, h: HostsFile, nodes: readonly string[]): Promise<void> {
  for (const n of nodes) {
    const p = nodeDisk(dir, n);
    rmSync(p.backing, { recursive: true, force: true });
    await mountLazyfs(p, `${lazyfsNamePrefix}${h.run}:${n}`);
  }
}

/** Unmounts every lazyfs of run `run` (down; also of a crashed run); returns their mountpoints. */
export async function unmountRunDisks(run: string): Promise<string[]> {
  const ms = lazyMounts().filter((m) => m.run === run);
  for (const m of ms) await unmountLazyfs(m.mountpoint);
  return ms.map((m) => m.mountpoint);
}

/** The runs that have lazyfs mounts on this machine. */
export const lazyMountRuns = (): string[] => [...new Set(lazyMounts().map((m) => m.run))].sort();

/** What loseUnsyncedWrites did. */
export interface LostWrites extends DroppedWrites {
  readonly node: string;
  /** Whether the daemon was running (and so was killed) when the fault hit. */
  readonly killed: boolean;
}

/**
 * The disk fault: daemon `node` of the run in `dir` (one on lazyfs: `up --disk-faults`) is
 * killed with SIGKILL, every write it had not fsynced is dropped, its lazyfs is remounted over
 * what was synced, and `restart` (the harness's restartNode, from the control host) starts
 * it again. Returns what was dropped. harness.ts's loseUnsyncedWrites(dir, node) is this with
 * the run's hosts and restart.
 */
export async function crashDisk(dir: string, h: HostsFile, node: string, restart: (node: string) => Promise<void>): Promise<LostWrites> {
  if (!diskFaultNodes(h).includes(node)) {
    throw new Error(`${node}'s data is not on lazyfs (run ${h.run} has disk faults on: ${diskFaultNodes(h).join(" ") || "none; start it with up --disk-faults"})`);
  }
  const c = LocalCluster.load(dir);
  let killed = false;
  try {
    if (c.isRunning(node)) {
      await c.kill(node);
      killed = true;
    }
  } finally {
    c.close();
  }
  const p = nodeDisk(dir, node);
  const dropped = await dropUnsynced(p);
  await unmountLazyfs(p.mountpoint);
  await mountLazyfs(p, `${lazyfsNamePrefix}${h.run}:${node}`);
  await restart(node);
  return { node, killed, ...dropped };
}
