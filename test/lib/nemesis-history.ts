/**
 * A made-up but plausible nemesis run for the latency plot's tests and example picture
 * (test/unit/nemesis-plot.test.ts, test/perf/nemesis-plot-example.ts): several clients doing
 * get/put/cas/append at a steady rate, and fault windows that change how they are answered:
 * a partition (some operations fail fast, some time out, a leader election's gap), a kill -9
 * (an instant), a pause (everything waits until it ends), network delay with jitter, and a
 * clock skew overlapping it. Seeded, so a failing test sees the same input again.
 */
import type { FaultWindow, LatencyPlotInput, LatencyPoint } from "../../deploy/nemesis/plot";
import { SimRng } from "../sim/rng";

/** The shape of the run: its length, how many operations, the seed. */
export interface SyntheticRunOptions {
  readonly durationMs: number;
  readonly opsTotal: number;
  readonly seed: number;
}

/** The client's timeout: an operation unanswered by then is `unknown` with this latency. */
export const syntheticTimeoutMs = 1000;

/** The fault windows of a run of `durationMs`, at fixed fractions of it. */
export function syntheticWindows(durationMs: number): FaultWindow[] {
  const at = (f: number): number => Math.round(durationMs * f);
  return [
    { startMs: at(0.12), endMs: at(0.22), kind: "partition", label: "partition halves n1,n2 | n3,n4,n5" },
    { startMs: at(0.33), endMs: at(0.33), kind: "kill", label: "kill -9 g1n1 (leader)" },
    { startMs: at(0.45), endMs: at(0.5), kind: "pause", label: "SIGSTOP g1n2 (leader)" },
    { startMs: at(0.62), endMs: at(0.82), kind: "netem", label: "delay 50ms ±40ms, loss 5% on all links" },
    { startMs: at(0.7), endMs: at(0.9), kind: "clock", label: "clock skew +30s on n3" },
    { startMs: at(0.75), endMs: at(0.78), kind: "move", label: "move shard 3 → g2" },
  ];
}

const opMedianMs: Readonly<Record<string, number>> = { get: 1.5, put: 4, cas: 5, append: 6 };
const opNames = Object.keys(opMedianMs);

/** The run: points in time order, with the windows of syntheticWindows. */
export function syntheticRun(opts: SyntheticRunOptions): LatencyPlotInput {
  const rng = new SimRng(opts.seed);
  const windows = syntheticWindows(opts.durationMs);
  const within = (t: number, kind: string): FaultWindow | undefined => windows.find((w) => w.kind === kind && t >= w.startMs && t <= w.endMs);
  const kill = windows.find((w) => w.kind === "kill")!;
  const points: LatencyPoint[] = [];
  for (let i = 0; i < opts.opsTotal; i++) {
    const tMs = (i / opts.opsTotal) * opts.durationMs;
    const op = opNames[rng.int(opNames.length)]!;
    // A log-normal spread around the operation's median, a slow tail now and then.
    let latencyMs = opMedianMs[op]! * Math.exp(0.5 * gaussian(rng)) * (rng.float() < 0.01 ? 10 : 1);
    let outcome: LatencyPoint["outcome"] = "ok";
    if (within(tMs, "partition") !== undefined && rng.float() < 0.4) {
      [latencyMs, outcome] = rng.float() < 0.5 ? [0.5 + rng.float(), "fail"] : [syntheticTimeoutMs, "unknown"];
    }
    if (tMs >= kill.startMs && tMs < kill.startMs + 1500) {
      // The election after the kill: waits for a new leader, some time out.
      latencyMs = Math.min(syntheticTimeoutMs, kill.startMs + 1500 - tMs + latencyMs);
      if (latencyMs >= syntheticTimeoutMs) outcome = "unknown";
    }
    const pause = within(tMs, "pause");
    if (pause !== undefined && outcome === "ok") {
      latencyMs = pause.endMs - tMs + latencyMs;
      if (latencyMs > syntheticTimeoutMs) [latencyMs, outcome] = [syntheticTimeoutMs, "unknown"];
    }
    if (within(tMs, "netem") !== undefined && outcome === "ok") {
      latencyMs += 10 + rng.float() * 90;
      if (rng.float() < 0.01) outcome = "fail";
    }
    points.push({ tMs, latencyMs, op, outcome });
  }
  return { title: `synthetic nemesis run (seed ${opts.seed})`, durationMs: opts.durationMs, points, windows };
}

/** A standard normal draw (Box-Muller). */
function gaussian(rng: SimRng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
}
