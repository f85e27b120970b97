/**
 * The simulator's BUGGIFY source (common/buggify.ts): per run, each fault point is enabled
 * with probability `buggifyEnableRate` (FoundationDB's 25 %), decided by the run's seed and
 * the point's name only; an enabled point fires at each call with its registry rate, drawn
 * from a stream of its own (so how often one point is reached never moves another's draws).
 * Disabled points draw nothing. Counts firings for the run's summary.
 */
import { nextTurn } from "../../common/real-env";
import { type BuggifyPoint, type BuggifySource, buggifyPointNames, buggifyPoints, buggifySource, setBuggifySource } from "../../common/buggify";
import { SimRng } from "./rng";

/** Probability that a point is enabled for a whole run. */
export const buggifyEnableRate = 0.25;

/** Which points a run enabled and how often each fired. */
export interface BuggifyStats {
  /** The enabled points, in registry order (empty when the run had BUGGIFY off). */
  readonly enabled: readonly BuggifyPoint[];
  /** Firings per enabled point that fired at least once. */
  readonly fired: Partial<Record<BuggifyPoint, number>>;
}

export class SimBuggify implements BuggifySource {
  private readonly streams = new Map<BuggifyPoint, SimRng>();
  private readonly counts = new Map<BuggifyPoint, number>();
  /** Receives one line per firing (the run's trace); set once the trace exists. */
  trace: ((line: string) => void) | undefined;

  /** `rng`: the run's own stream for BUGGIFY (e.g. `new SimRng(seed).fork("buggify")`). */
  constructor(rng: SimRng) {
    for (const p of buggifyPointNames) {
      if (rng.fork(`enable ${p}`).bool(buggifyEnableRate)) this.streams.set(p, rng.fork(`fire ${p}`));
    }
  }

  /**
   * Starts a run's BUGGIFY: installs a source for seed `seed` (or none when `on` is false)
   * in place of whatever a run that ended by throwing left installed.
   */
  static start(seed: number, on = true): SimBuggify | undefined {
    const b = on ? new SimBuggify(new SimRng(seed >>> 0).fork("buggify")) : undefined;
    setBuggifySource(b);
    return b;
  }

  /**
   * Ends the run's BUGGIFY: lets the promise chains the run left ready finish with its
   * source still installed (so they draw from this run's streams, never the next one's),
   * then uninstalls it and returns the summary.
   */
  static async finish(b: SimBuggify | undefined): Promise<BuggifyStats> {
    await new Promise<void>((r) => nextTurn(r));
    if (buggifySource() === b) setBuggifySource(undefined);
    return b?.stats() ?? { enabled: [], fired: {} };
  }

  fires(point: BuggifyPoint): boolean {
    const s = this.streams.get(point);
    if (s === undefined || !s.bool(buggifyPoints[point].rate)) return false;
    this.counts.set(point, (this.counts.get(point) ?? 0) + 1);
    this.trace?.(`buggify ${point}`);
    return true;
  }

  int(point: BuggifyPoint, n: number): number {
    const s = this.streams.get(point);
    return s === undefined ? 0 : s.int(n);
  }

  stats(): BuggifyStats {
    const fired: Partial<Record<BuggifyPoint, number>> = {};
    for (const [p, n] of this.counts) fired[p] = n;
    return { enabled: [...this.streams.keys()], fired };
  }
}

const raftPoints = buggifyPointNames.filter((p) => p.startsWith("raft."));

/**
 * The points each kind of run reaches (the simulation tests assert each fires over their
 * fixed seeds). The Raft runs (run.ts) and the controller runs reach the Raft driver's; the
 * whole cluster (shard-run.ts, the real client library over the simulated network) every one:
 * the shard server's, the migration driver's, the Batch stream's and the client's too.
 */
export const buggifyReach = {
  raft: raftPoints,
  controller: [...raftPoints, "controller.service.not-leader"],
  shards: buggifyPointNames,
} as const satisfies Record<string, readonly BuggifyPoint[]>;

/** Totals over many runs: per point, the runs that enabled it, the runs it fired in, and its firings. */
export class BuggifyTotals {
  private runs = 0;
  private readonly enabled = new Map<BuggifyPoint, number>();
  private readonly firedRuns = new Map<BuggifyPoint, number>();
  private readonly firings = new Map<BuggifyPoint, number>();

  add(s: BuggifyStats): void {
    this.runs++;
    for (const p of s.enabled) this.enabled.set(p, (this.enabled.get(p) ?? 0) + 1);
    for (const [p, n] of Object.entries(s.fired) as [BuggifyPoint, number][]) {
      this.firedRuns.set(p, (this.firedRuns.get(p) ?? 0) + 1);
      this.firings.set(p, (this.firings.get(p) ?? 0) + n);
    }
  }

  /** Points that never fired in any run. */
  neverFired(): BuggifyPoint[] {
    return this.missing(buggifyPointNames);
  }

  /** Those of `points` that never fired in any run. */
  missing(points: readonly BuggifyPoint[]): BuggifyPoint[] {
    return points.filter((p) => !this.firings.has(p));
  }

  /** One line per point (`point: enabled in E runs, fired in F runs, N times`), then the points that never fired. */
  describe(): string {
    const lines = buggifyPointNames.map((p) =>
      `  ${p}: enabled in ${this.enabled.get(p) ?? 0} runs, fired in ${this.firedRuns.get(p) ?? 0}, ${this.firings.get(p) ?? 0} times`);
    const never = this.neverFired();
    lines.push(never.length === 0 ? "  every point fired" : `  never fired: ${never.join(", ")}`);
    return `buggify over ${this.runs} runs:\n${lines.join("\n")}`;
  }
}

/** One run's summary on one line (`-v`): the enabled points with their firings. */
export function describeBuggifyStats(s: BuggifyStats): string {
  if (s.enabled.length === 0) return "buggify: off";
  return `buggify: ${s.enabled.map((p) => `${p}=${s.fired[p] ?? 0}`).join(" ")}`;
}
