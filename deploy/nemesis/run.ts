/**
 * One nemesis run (`npm run nemesis`): test hosts up (deploy/hosts/), a worker on every client
 * host (worker.ts), the faults of the schedule (schedule.ts, kinds.ts) applied and undone on
 * time, then the final heal, recovery (every group led, every shard Serving), the workers'
 * final reads, the checks (checks.ts) and the report (report.ts). The hosts are torn down at
 * the end, on failure and on SIGINT/SIGTERM, unless `keep`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { delay, realClock, wallClockMs } from "../../common/real-env";
import { repoRoot } from "../local/process";
import { removeStaleFaketimeShm } from "../hosts/clock";
import { execIn, execSpec, heal, hostsDown, hostsUp, loadHosts, removeRun } from "../hosts/harness";
import { readHostsFile } from "../hosts/hosts-file";
import { availabilityIn, checkAppends, checkFinalReads, checkRegisters, checkWorkload, type CheckOutcome, quietAvailability } from "./checks";
import { readHistory } from "./history";
import { type ActiveFault, faultKind, nemesisCli } from "./kinds";
import { type AppliedFault, writeReport } from "./report";
import { type Schedule, needsDiskFaults, needsFaketime } from "./schedule";
import type { WorkerSpec } from "./worker";

export interface NemesisOptions {
  readonly schedule: Schedule;
  /** The run's directory: schedule.json, history/, report.md, latency.png, cluster/ (the hosts' files and logs). */
  readonly out: string;
  /** Leave the hosts running at the end (and on failure). */
  readonly keep: boolean;
  /** How the run is replayed (for the report and the failure lines). */
  readonly replay: string;
  readonly log: (line: string) => void;
}

export interface NemesisResult {
  readonly reportPath: string;
  readonly checks: readonly CheckOutcome[];
  readonly passed: boolean;
}

/** How long the linearizability search may take on one key. */
const keySearchMs = 20_000;
/** Deadline of the recovery after the final heal. */
const recoverMs = 180_000;

const workerScript = join(repoRoot, "deploy", "nemesis", "worker.ts");
const tsx = join(repoRoot, "node_modules", ".bin", "tsx");

/** Resolves at `wall` (Date.now ms), at once when past. */
const until = (wall: number): Promise<void> => delay(Math.max(0, wall - wallClockMs()));

/** The workers of one phase: `go` starts them all on one time base; `done` resolves when all have exited. */
interface Workers {
  go(t0WallMs: number): void;
  readonly done: Promise<void>;
}

/**
 * Starts a worker on every client host with `spec` (but for client) and resolves once each
 * printed `ready` (its client connected; `readyMs` at most, else it throws naming the ones
 * that were not). A worker that fails is logged with its last line of stderr.
 */
async function startWorkers(dir: string, clients: readonly string[], spec: Omit<WorkerSpec, "client">, children: Set<ChildProcess>,
  log: (l: string) => void, readyMs = 180_000): Promise<Workers> {
  const started = clients.map((client) => {
    const { file, args, env, cwd } = execSpec(dir, client, [tsx, workerScript, JSON.stringify({ ...spec, client })]);
    const child = spawn(file, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    let err = "";
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (err = (err + s).slice(-2000)));
    const ready = new Promise<boolean>((res) => {
      child.stdout!.setEncoding("utf8").on("data", (s: string) => s.includes("ready") && res(true));
      child.once("close", () => res(false));
    });
    const done = new Promise<void>((res) => {
      child.once("error", (e) => log(`worker ${client}: cannot start: ${e.message}`));
      child.once("close", (code) => {
        children.delete(child);
        if (code !== 0) log(`worker ${client} exited ${code}: ${err.trim().split("\n").at(-1) ?? ""}`);
        res();
      });
    });
    return { client, child, ready, done, err: () => err };
  });
  let timer: (() => void) | undefined;
  const deadline = new Promise<"late">((res) => (timer = realClock.after(readyMs, () => res("late"))));
  const states = await Promise.all(started.map((w) => Promise.race([w.ready, deadline])));
  timer?.();
  const notReady = started.filter((_, i) => states[i] !== true);
  if (notReady.length > 0) {
    for (const w of started) w.child.kill("SIGKILL");
    throw new Error(`workers not ready within ${readyMs / 1000} s: ${notReady.map((w) => `${w.client} (${w.err().trim().split("\n").at(-1) ?? "no output"})`).join(", ")}`);
  }
  return {
    go: (t0) => {
      for (const w of started) w.child.stdin!.write(`go ${Math.round(t0)}\n`);
    },
    done: Promise.all(started.map((w) => w.done)).then(() => undefined),
  };
}

/**
 * Applies one scheduled fault on time and undoes it at its end; never throws (errors go in the
 * record). `after`: the previous fault of the same layer, which must have been undone first
 * (undoing a partition late must not erase the next one); a fault that starts late still
 * lasts its scheduled length.
 */
async function runFault(dir: string, t0: number, f: Schedule["faults"][number], after: Promise<unknown>, log: (l: string) => void): Promise<AppliedFault> {
  await until(t0 + f.startMs);
  await after;
  // Late (the previous fault of its layer took long to undo): it still lasts its whole window.
  const startMs = wallClockMs() - t0;
  const lateMs = Math.max(0, startMs - f.startMs);
  let active: ActiveFault | undefined;
  let error: string | undefined;
  try {
    active = await faultKind(f.kind).start({ dir, durationMs: f.endMs - f.startMs, log }, f.params);
    log(`${(startMs / 1000).toFixed(1)} s: applied in ${wallClockMs() - t0 - startMs} ms: ${active.label}`);
  } catch (e) {
    error = `start: ${(e as Error).message.split("\n")[0]}`;
    log(`${(startMs / 1000).toFixed(1)} s: ${f.kind} failed to start: ${error}`);
  }
  await until(t0 + f.endMs + lateMs);
  const stopAt = wallClockMs();
  try {
    await active?.stop();
    if (active) log(`${((stopAt - t0) / 1000).toFixed(1)} s: undone in ${wallClockMs() - stopAt} ms: ${active.label}`);
  } catch (e) {
    error = `${error ? `${error}; ` : ""}stop: ${(e as Error).message.split("\n")[0]}`;
    log(`${f.kind}: stop failed: ${error}`);
  }
  const endMs = wallClockMs() - t0;
  return { kind: f.kind, label: active?.label ?? `${f.kind} (not applied)`, startMs, endMs, ...(error ? { error } : {}) };
}

/** The whole run; resolves with the checks and the report's path. */
export async function runNemesis(o: NemesisOptions): Promise<NemesisResult> {
  const out = resolve(o.out);
  const dir = join(out, "cluster");
  const s = o.schedule;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "schedule.json"), `${JSON.stringify(s, null, 2)}\n`);
  const wall0 = realClock.nowMs();
  const children = new Set<ChildProcess>();
  let tornDown = false;
  const teardown = async (): Promise<void> => {
    if (tornDown || o.keep) return;
    tornDown = true;
    for (const c of children) c.kill("SIGKILL");
    const h = readHostsFile(dir);
    if (!h) return;
    try {
      await hostsDown(dir, 2000);
    } catch (e) {
      // Whatever stopping the daemons one by one ran into, nothing of the run may stay.
      o.log(`stopping the cluster failed (${(e as Error).message.split("\n")[0]}); killing what is left in the run's namespaces`);
      await removeRun(h.prefix);
      if (h.faketime) removeStaleFaketimeShm();
    }
  };
  // Every signal is handled (tsx forwards the one the terminal sent, so it comes twice): the
  // first tears down, the others wait for it.
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    o.log(`${sig}: ${o.keep ? "leaving the hosts up (--keep)" : "tearing the hosts down"}`);
    void teardown().catch((e: Error) => o.log(`teardown failed: ${e.message}`)).finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const t = s.topology;
    await hostsUp({
      dir, controllers: t.controllers, groups: t.groups, replicas: t.replicas, clients: t.clients, shards: t.shards,
      faketime: needsFaketime(s), ...(needsDiskFaults(s) ? { diskFaults: "servers" as const } : {}), log: (l) => o.log(`  ${l}`),
    });
    const clients = loadHosts(dir).hosts.filter((x) => x.role === "client").map((x) => x.name);
    const base = { out, untilMs: s.timeMs, seed: s.seed, ...s.workload };
    o.log(`hosts up; starting a worker on each of ${clients.join(" ")}`);
    const load = await startWorkers(dir, clients, base, children, o.log);
    const t0 = wallClockMs() + 200;
    load.go(t0);
    o.log(`workload for ${s.timeMs / 1000} s, ${s.faults.length} faults`);
    const lastOfLayer = new Map<string, Promise<unknown>>();
    const applied = await Promise.all(s.faults.map((f) => {
      const layer = faultKind(f.kind).layer;
      const p = runFault(dir, t0, f, lastOfLayer.get(layer) ?? Promise.resolve(), o.log);
      lastOfLayer.set(layer, p);
      return p;
    }));
    await load.done;

    o.log("final heal");
    const recover0 = realClock.nowMs();
    const healed = await heal(dir);
    o.log(`healed (continued: ${healed.resumed.join(" ") || "none"}; restarted: ${healed.restarted.join(" ") || "none"}); waiting for leaders and every shard Serving`);
    const r = await execIn(dir, "ctl", [...nemesisCli, "ctl-recover", "--dir", dir], { timeoutMs: recoverMs + 30_000 });
    const recovered = r.code === 0;
    if (!recovered) o.log(`recovery failed: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.code}`}`);
    const recoverTookMs = realClock.nowMs() - recover0;
    o.log(`final reads (recovery took ${Math.round(recoverTookMs / 1000)} s)`);
    const final = await startWorkers(dir, clients, { ...base, final: true, finalReadMs: 60_000 }, children, o.log);
    final.go(t0);
    await final.done;

    const records = readHistory(out);
    o.log(`checking ${records.length} operations`);
    const checks = [checkWorkload(records), checkRegisters(records, keySearchMs), await checkAppends(records), checkFinalReads(records)];
    const windows = applied.map((f) => availabilityIn(records, { label: f.label, startMs: f.startMs, endMs: f.endMs }));
    const reportPath = await writeReport({
      out, schedule: s, replay: o.replay, applied, windows, quiet: quietAvailability(records, applied, s.timeMs), checks, records,
      recoverMs: recoverTookMs, wallMs: realClock.nowMs() - wall0,
    });
    return { reportPath, checks, passed: checks.every((c) => c.status === "pass") };
  } finally {
    await teardown();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}
