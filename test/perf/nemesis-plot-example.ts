/**
 * An example of the nemesis report's latency plot (deploy/nemesis/plot.ts) from a synthetic
 * run (test/lib/nemesis-history.ts), to look at and to time:
 *
 *   npx tsx test/perf/nemesis-plot-example.ts [--ops 500000] [--seconds 300] [--seed 1] [--out FILE]
 *
 * Writes the PNG (default test-results/nemesis-plot-example.png; docs/nemesis-plot-example.png
 * is made this way with the defaults) and prints one line: operations, SVG and PNG sizes, and
 * the CPU and wall time of building the SVG and of the whole render. Not a test: the test is
 * test/unit/nemesis-plot.test.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { realClock } from "../../common/real-env";
import { renderLatencyPlot } from "../../deploy/nemesis/plot";
import { buildLatencySvg } from "../../deploy/nemesis/plot-svg";
import { syntheticRun } from "../lib/nemesis-history";

const root = resolve(import.meta.dirname, "../..");
const { values } = parseArgs({
  options: {
    ops: { type: "string", default: "500000" },
    seconds: { type: "string", default: "300" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: join(root, "test-results", "nemesis-plot-example.png") },
  },
});
const positive = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} takes a positive whole number, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
};
const input = syntheticRun({ opsTotal: positive("ops", values.ops!), durationMs: positive("seconds", values.seconds!) * 1000, seed: positive("seed", values.seed!) });

/** CPU ms (user + system) and wall ms of `fn`. */
async function timed<T>(fn: () => Promise<T> | T): Promise<{ result: T; cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const wall0 = realClock.nowMs();
  const result = await fn();
  const cpu = process.cpuUsage(cpu0);
  return { result, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: realClock.nowMs() - wall0 };
}

const svg = await timed(() => buildLatencySvg(input));
const png = await timed(() => renderLatencyPlot(input));
const out = resolve(values.out!);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, png.result);
const kb = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
process.stdout.write(
  `${input.points.length} ops: svg ${kb(svg.result.length)} in ${svg.cpuMs.toFixed(0)} ms cpu / ${svg.wallMs.toFixed(0)} ms wall; ` +
    `png ${kb(png.result.length)} in ${png.cpuMs.toFixed(0)} ms cpu / ${png.wallMs.toFixed(0)} ms wall (svg again + rasterize) -> ${out}\n`,
);
