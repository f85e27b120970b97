/**
 * The fault schedule of a nemesis run, drawn from a seed (pure: the same seed, time, kinds and
 * topology give the same schedule) and written to `<out>/schedule.json`; `--schedule FILE`
 * replays a file exactly (every parameter is in it, none is drawn again).
 *
 * Shape: a quiet lead-in, then fault windows separated by quiet gaps, each window a fault of
 * the next kind of a shuffled round of the chosen kinds (so every kind comes up), sometimes
 * with a second fault of another layer inside it (a shard move during a partition); the last
 * window ends a gap before the workload does. Times are ms since the workload started.
 */
import { readFileSync } from "node:fs";
import { SimRng } from "../../common/seeded-rng";
import { type FaultParams, type Topology, faultKind, faultKinds } from "./kinds";
import type { WorkloadShape } from "./worker";

export interface ScheduledFault {
  readonly kind: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly params: FaultParams;
}

export interface Schedule {
  readonly version: 1;
  readonly seed: number;
  /** How long the workload (and the faults) run. */
  readonly timeMs: number;
  readonly kinds: readonly string[];
  readonly topology: Topology;
  readonly workload: WorkloadShape;
  readonly faults: readonly ScheduledFault[];
}

export const defaultWorkload: WorkloadShape = {
  registers: 4, appenders: 2, keyPeriodMs: 10_000, opDeadlineMs: 3000, unknownMaxPerKey: 2, thinkMsMax: 40,
};

/** Lengths (ms) of the lead-in, windows and gaps. Short runs get shorter windows. */
function timings(timeMs: number): { leadMs: number; windowMs: [number, number]; gapMs: [number, number]; tailMs: number } {
  return timeMs < 120_000
    ? { leadMs: 4000, windowMs: [5000, 9000], gapMs: [3000, 5000], tailMs: 3000 }
    : { leadMs: 8000, windowMs: [8000, 20_000], gapMs: [4000, 10_000], tailMs: 6000 };
}

/** Draws the schedule of a run. */
export function planSchedule(o: { seed: number; timeMs: number; kinds: readonly string[]; topology: Topology; workload?: WorkloadShape }): Schedule {
  const kinds = o.kinds.map(faultKind);
  const rng = new SimRng(o.seed);
  const t = timings(o.timeMs);
  const faults: ScheduledFault[] = [];
  let round: typeof kinds = [];
  let at = t.leadMs;
  for (;;) {
    const len = rng.range(t.windowMs[0], t.windowMs[1]);
    if (at + len > o.timeMs - t.tailMs) break;
    if (round.length === 0) round = rng.shuffle(kinds);
    const k = round.shift()!;
    faults.push({ kind: k.name, startMs: at, endMs: at + len, params: k.plan(rng.fork(`${faults.length}`), o.topology) });
    // A second fault of another layer within the window, a quarter of the time.
    const others = kinds.filter((x) => x.layer !== k.layer);
    if (others.length > 0 && rng.bool(0.25)) {
      const k2 = rng.pick(others);
      const start = at + rng.range(0, Math.floor(len / 3));
      const end = Math.min(at + len, start + rng.range(Math.floor(len / 3), len));
      faults.push({ kind: k2.name, startMs: start, endMs: end, params: k2.plan(rng.fork(`${faults.length}`), o.topology) });
    }
    at += len + rng.range(t.gapMs[0], t.gapMs[1]);
  }
  return { version: 1, seed: o.seed, timeMs: o.timeMs, kinds: o.kinds, topology: o.topology, workload: o.workload ?? defaultWorkload, faults };
}

/** Reads a schedule file; throws one line naming what is wrong. */
export function readSchedule(file: string): Schedule {
  let s: Schedule;
  try {
    s = JSON.parse(readFileSync(file, "utf8")) as Schedule;
  } catch (e) {
    throw new Error(`cannot read the schedule ${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (s?.version !== 1 || !Array.isArray(s.faults) || typeof s.timeMs !== "number" || typeof s.topology !== "object") {
    throw new Error(`${file} is no nemesis schedule (want version 1 with timeMs, topology and faults, as a run's schedule.json)`);
  }
  for (const f of s.faults) faultKind(f.kind);
  return s;
}

/** Whether any fault of the schedule needs the daemons under libfaketime. */
export const needsFaketime = (s: Schedule): boolean => s.faults.some((f) => faultKind(f.kind).needsFaketime === true);

/** Whether any fault of the schedule needs the shard replicas' data on lazyfs. */
export const needsDiskFaults = (s: Schedule): boolean => s.faults.some((f) => faultKind(f.kind).needsDiskFaults === true);

/** The names `all` stands for. */
export const allKinds = (): string[] => faultKinds.map((k) => k.name);
