/**
 * Clock skew and jumps per daemon with Debian's libfaketime (package `faketime`), for a run
 * started with `up --faketime`: every daemon runs with libfaketimeMT preloaded, reading its
 * offset from its own file `<dir>/clocks/<node>` ("+0" at start; FAKETIME_CACHE_DURATION=1),
 * so rewriting the file makes that process's wall clock (Date.now, what leader-assigned
 * timestamps, dedup expiry and certificate checks read) jump while it runs, once libfaketime
 * re-reads the file (measured by hosts-clock-jump.test.ts on a running Node process:
 * 0.03-2.1 s), or at once when it is restarted. The monotonic clock (timers, elections, leases) is left alone
 * (FAKETIME_DONT_FAKE_MONOTONIC=1): skew is a wall-clock fault; a pause of the monotonic
 * clock is what SIGSTOP gives.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { daemonHosts, type HostsFile } from "./hosts-file";

/** `<dir>/clocks/<node>`: the offset file of a daemon. */
export const clockFileOf = (dir: string, node: string): string => join(resolve(dir), "clocks", node);

/** The preloaded library, wherever Debian put it for this architecture; undefined when not installed. */
export function libfaketimePath(): string | undefined {
  for (const arch of existsSync("/usr/lib") ? readdirSync("/usr/lib") : []) {
    const p = join("/usr/lib", arch, "faketime", "libfaketimeMT.so.1");
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The environment assignments (for `env`) that put daemon `node` on its offset file, and the
 * file itself (created at "+0").
 */
export function faketimeEnv(dir: string, node: string, lib: string): string[] {
  const file = clockFileOf(dir, node);
  mkdirSync(join(resolve(dir), "clocks"), { recursive: true });
  if (!existsSync(file)) writeFileSync(file, "+0\n");
  return [`LD_PRELOAD=${lib}`, `FAKETIME_TIMESTAMP_FILE=${file}`, "FAKETIME_CACHE_DURATION=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"];
}

/** "+3600", "-90", "+0": libfaketime's relative offset in whole seconds. */
const offsetText = (ms: number): string => `${ms < 0 ? "-" : "+"}${Math.round(Math.abs(ms) / 1000)}`;

/** Sets daemon `node`'s wall clock to real time plus `offsetMs` (whole seconds), within a few seconds. */
export function skewClock(dir: string, h: HostsFile, node: string, offsetMs: number): void {
  if (!h.faketime) throw new Error(`run ${h.run} was started without --faketime: its daemons' clocks cannot be skewed`);
  if (!daemonHosts(h).some((x) => x.name === node)) throw new Error(`${node} is no daemon of run ${h.run} (daemons: ${daemonHosts(h).map((x) => x.name).join(" ")})`);
  writeFileSync(clockFileOf(dir, node), `${offsetText(offsetMs)}\n`);
}

/** Daemon `node`'s clock offset in ms (0 without faketime). */
export function clockOffsetMs(dir: string, node: string): number {
  try {
    const m = /^([+-])(\d+)/.exec(readFileSync(clockFileOf(dir, node), "utf8"));
    return m ? (m[1] === "-" ? -1 : 1) * Number(m[2]) * 1000 : 0;
  } catch {
    return 0;
  }
}

/** Every daemon's clock back to real time (part of heal). */
export function resetClocks(dir: string, h: HostsFile): void {
  if (!h.faketime) return;
  for (const x of daemonHosts(h)) writeFileSync(clockFileOf(dir, x.name), "+0\n");
}

/**
 * Removes libfaketime's shared memory of processes that are gone: libfaketime 0.9.10 makes
 * /dev/shm/faketime_shm_<pid> and sem.faketime_sem_<pid> for each daemon it starts in (the
 * pid is that of the first process of the daemon's start to load it) and leaves them when it
 * ends. Files of a running process are kept (a zombie not yet reaped counts as gone). Returns the names removed. `down` of a --faketime run calls it.
 */
export function removeStaleFaketimeShm(): string[] {
  const removed: string[] = [];
  for (const f of existsSync("/dev/shm") ? readdirSync("/dev/shm") : []) {
    const m = /^(?:faketime_shm_|sem\.faketime_sem_)(\d+)$/.exec(f);
    if (!m || running(Number(m[1]))) continue;
    rmSync(join("/dev/shm", f), { force: true });
    removed.push(f);
  }
  return removed;
}

/** Whether `pid` exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
