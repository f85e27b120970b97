/**
 * The nemesis report's latency plot (deploy/nemesis/plot.ts, plot-svg.ts): real PNGs rendered
 * by resvg with Debian's DejaVu Sans and decoded again with pngjs, checked pixel by pixel where
 * the layout (plotGeometry) says a window, a failure or the title is. The synthetic runs come
 * from test/lib/nemesis-history.ts (seeded); the first picture is written to
 * test-results/nemesis-plot.png to look at (the README-sized example is
 * test/perf/nemesis-plot-example.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { type FaultWindow, type LatencyPlotInput, type LatencyPoint, renderLatencyPlot } from "../../deploy/nemesis/plot";
import { rasterizeSvg } from "../../deploy/nemesis/plot-raster";
import { buildLatencySvg, plotGeometry, plotHeightPx, plotWidthPx, pngBytesMax, throughputOf } from "../../deploy/nemesis/plot-svg";
import { SimRng } from "../sim/rng";
import { syntheticRun } from "../lib/nemesis-history";

const repoRoot = resolve(import.meta.dirname, "../..");
const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Checks the signature and the IHDR chunk (first, 13 bytes, width and height as the layout sets), then decodes. */
function decode(png: Buffer): PNG {
  expect(png.subarray(0, 8).equals(pngSignature)).toBe(true);
  expect(png.readUInt32BE(8)).toBe(13);
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  expect(png.readUInt32BE(16)).toBe(plotWidthPx);
  expect(png.readUInt32BE(20)).toBe(plotHeightPx);
  const image = PNG.sync.read(png);
  expect([image.width, image.height]).toEqual([plotWidthPx, plotHeightPx]);
  return image;
}

/** [r, g, b] of the pixel at (x, y), rounded to whole pixels. */
function rgb(image: PNG, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * image.width + Math.round(x)) * 4;
  return [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
}

/** How many pixels of the rectangle are dark (every channel under 100): drawn text or lines. */
function darkPixels(image: PNG, x0: number, y0: number, w: number, h: number): number {
  let n = 0;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (rgb(image, x, y).every((c) => c < 100)) n++;
  return n;
}

const window = (startMs: number, endMs: number, kind: string, label = kind): FaultWindow => ({ startMs, endMs, kind, label });
const point = (tMs: number, latencyMs: number, outcome: LatencyPoint["outcome"] = "ok", op = "get"): LatencyPoint => ({ tMs, latencyMs, op, outcome });

describe("renderLatencyPlot", () => {
  it("renders a synthetic run to a valid PNG of the layout's size, with its title drawn in the font", async () => {
    const input = syntheticRun({ durationMs: 60_000, opsTotal: 20_000, seed: 7 });
    const png = await renderLatencyPlot(input);
    mkdirSync(join(repoRoot, "test-results"), { recursive: true });
    writeFileSync(join(repoRoot, "test-results", "nemesis-plot.png"), png);
    const image = decode(png);
    // The title's glyphs (18 px, black, from x = 72 at the top): no font, no dark pixels.
    expect(darkPixels(image, 72, 8, 300, 20)).toBeGreaterThan(200);
  });

  it("shades each fault window across both panels and draws its bar in its lane", async () => {
    const input: LatencyPlotInput = {
      title: "windows",
      durationMs: 100_000,
      points: Array.from({ length: 1000 }, (_, i) => point(i * 100, 0.5)),
      windows: [window(20_300, 40_300, "partition"), window(30_300, 35_300, "pause"), window(70_300, 70_300, "kill")],
    };
    const g = plotGeometry(input);
    expect(g.bands.map((b) => b.lane)).toEqual([0, 1, 0]);
    const image = decode(await renderLatencyPlot(input));
    // Inside the partition (not the pause) against the same rows outside any window; the
    // points sit at the bottom of the latency panel, away from the rows compared.
    const inside = g.xPx(25_300);
    const outside = g.xPx(55_300);
    // Rows between grid lines: latency 0.1 to 1 ms has lines at 0.2 and 0.5 (0.4 h is 0.4 ms),
    // throughput 0 to 10/s every 2/s (0.3 h is 7/s).
    const row = g.latency.y + g.latency.h * 0.4;
    for (const y of [row, g.throughput.y + g.throughput.h * 0.3]) {
      expect(rgb(image, outside, y)).toEqual([255, 255, 255]);
      expect(rgb(image, inside, y)).not.toEqual([255, 255, 255]);
    }
    // The pause overlaps the partition: its band blends over the partition's, so it differs.
    expect(rgb(image, g.xPx(32_800), row)).not.toEqual(rgb(image, inside, row));
    // Each bar in its own lane: the partition's in lane 0, the pause's below it in lane 1.
    const laneY = (lane: number): number => g.lanes.y + lane * 15 + 12;
    expect(rgb(image, g.xPx(22_000), laneY(0))).not.toEqual([255, 255, 255]);
    expect(rgb(image, g.xPx(22_000), laneY(1))).toEqual([255, 255, 255]);
    expect(rgb(image, g.xPx(34_000), laneY(1))).not.toEqual([255, 255, 255]);
    // The instant kill is still a visible band.
    expect(rgb(image, g.xPx(70_300) + 1, row)).not.toEqual([255, 255, 255]);
  });

  it("marks a failed operation red and an unknown one orange, at their latencies", async () => {
    const input: LatencyPlotInput = {
      title: "failures",
      durationMs: 10_000,
      points: [point(2_000, 1), point(3_000, 10, "fail", "put"), point(7_000, 1000, "unknown", "cas"), point(5_000, 100)],
      windows: [],
    };
    const g = plotGeometry(input);
    const image = decode(await renderLatencyPlot(input));
    const near = (tMs: number, latencyMs: number, test: (c: [number, number, number]) => boolean): boolean => {
      for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) if (test(rgb(image, g.xPx(tMs) + dx, g.yPx(latencyMs) + dy))) return true;
      return false;
    };
    const red = ([r, gr, b]: [number, number, number]): boolean => r > 180 && gr < 80 && b < 80;
    const orange = ([r, gr, b]: [number, number, number]): boolean => r > 200 && gr > 120 && gr < 190 && b < 60;
    expect(near(3_000, 10, red)).toBe(true);
    expect(near(7_000, 1000, orange)).toBe(true);
    expect(near(2_000, 1, red)).toBe(false);
    expect(near(5_000, 100, orange)).toBe(false);
  });

  it("keeps 500,000 operations under 1 MB of PNG and a bounded SVG (binned, not one element per operation)", async () => {
    const input = syntheticRun({ durationMs: 300_000, opsTotal: 500_000, seed: 3 });
    const svg = buildLatencySvg(input);
    expect(svg.match(/<path /g)!.length).toBeLessThan(20);
    expect(svg.match(/</g)!.length).toBeLessThan(1000);
    expect(svg.length).toBeLessThan(16 << 20);
    const png = await renderLatencyPlot(input);
    decode(png);
    expect(png.length).toBeLessThan(1 << 20);
  });

  it("draws a scatter too noisy for 1 MB at the finest binning again more coarsely, under 1 MB", async () => {
    // 300,000 operations of 10 kinds at random times and latencies over 5 decades, 2 % failed
    // and 2 % unknown: no run looks like this, but nothing may make the picture too big.
    const rng = new SimRng(5);
    const ops = ["get", "put", "cas", "append", "a", "b", "c", "d", "e", "f"];
    const points = Array.from({ length: 300_000 }, (): LatencyPoint => {
      const outcome = rng.float() < 0.02 ? "fail" : rng.float() < 0.02 ? "unknown" : "ok";
      return point(rng.float() * 300_000, 10 ** (rng.float() * 5 - 1), outcome, ops[rng.int(ops.length)]);
    });
    const input: LatencyPlotInput = { title: "noise", durationMs: 300_000, points, windows: [] };
    expect(pngBytesMax).toBe(1 << 20);
    expect((await rasterizeSvg(buildLatencySvg(input))).length).toBeGreaterThan(pngBytesMax);
    const png = await renderLatencyPlot(input);
    decode(png);
    expect(png.length).toBeLessThanOrEqual(pngBytesMax);
  });

  it("renders an empty run: axes, no marks, says so", async () => {
    const input: LatencyPlotInput = { title: "", durationMs: 0, points: [], windows: [] };
    expect(buildLatencySvg(input)).toContain("no operations recorded");
    const g = plotGeometry(input);
    expect([g.startMs, g.endMs]).toEqual([0, 1000]);
    expect(g.lanes.h).toBe(0);
    decode(await renderLatencyPlot(input));
  });

  it("draws odd input instead of failing: late points, zero and non-finite latencies, open windows, markup in text", async () => {
    const input: LatencyPlotInput = {
      title: `<b>"quotes" & 'ampersands'</b>`,
      durationMs: 10_000,
      points: [point(15_000, 2), point(-500, 3), point(1_000, 0), point(1_100, -4), point(1_200, Number.NaN), point(1_300, Infinity, "unknown"), point(Number.NaN, 5), point(2_000, 1e-9), point(3_000, 7, "ok", "constructor")],
      windows: [window(8_000, Number.NaN, "clock", "skew <&>"), window(Infinity, 9_000, "pause"), window(6_000, 5_000, "kill"), window(1_000, 2_000, "", "")],
    };
    const g = plotGeometry(input);
    expect([g.startMs, g.endMs]).toEqual([-500, 15_000]);
    // The open window lasts to the end of the axis; the one ending before it starts is an instant; the unusable one is left out.
    expect(g.bands.map((b) => [b.kind, b.startMs, b.endMs])).toEqual([["", 1_000, 2_000], ["kill", 6_000, 6_000], ["clock", 8_000, 15_000]]);
    // Zero and negative latencies sit on the bottom edge, NaN and Infinity on the top one; 1e-9 ms on the axis' floor.
    const bottom = g.latency.y + g.latency.h;
    expect([g.yPx(0), g.yPx(-4), g.yPx(1e-9)]).toEqual([bottom, bottom, bottom]);
    expect([g.yPx(Number.NaN), g.yPx(Infinity)]).toEqual([g.latency.y, g.latency.y]);
    expect(g.latencyLoMs).toBe(0.01);
    const svg = buildLatencySvg(input);
    expect(svg).toContain("&lt;b&gt;&quot;quotes&quot; &amp; &apos;ampersands&apos;&lt;/b&gt;");
    expect(svg).toContain("1 left out (time not a number)");
    // An operation named like an Object property gets a colour of the palette, not the property.
    expect(svg).not.toContain("native code");
    decode(await renderLatencyPlot(input));
  });

  it("stays bounded when times are absolute (epoch ms) and there are many operation names and fault kinds", async () => {
    const epochMs = 1_765_000_000_000;
    const input: LatencyPlotInput = {
      title: "x".repeat(500),
      durationMs: 300_000,
      points: Array.from({ length: 4000 }, (_, i) => point(epochMs + i * 75, 1 + (i % 50), i % 7 === 0 ? "fail" : "ok", `op${i % 40}`)),
      windows: Array.from({ length: 600 }, (_, i) => window(epochMs + i * 500, epochMs + i * 500 + 2000, `kind${i % 30}`)),
    };
    const g = plotGeometry(input);
    expect([g.startMs, g.endMs]).toEqual([0, epochMs + 599 * 500 + 2000]);
    expect(throughputOf(input.points, g, g.throughput.w).ok.length).toBeLessThan(600);
    const svg = buildLatencySvg(input);
    expect(svg).toContain("and 28 more");
    expect(svg).toContain("and 16 more");
    expect(svg.length).toBeLessThan(1 << 20);
    decode(await renderLatencyPlot(input));
  });
});

describe("throughputOf", () => {
  it("counts per whole second since the start by outcome; a sliver past the end reads low, not as a spike", () => {
    const points = Array.from({ length: 3000 }, (_, i) => point(i * 100, 1, i % 10 === 0 ? "fail" : i % 10 === 1 ? "unknown" : "ok"));
    points.push(point(300_005, 1));
    const t = throughputOf(points, { startMs: 0, endMs: 300_005 }, 1000);
    expect(t.bucketMs).toBe(1000);
    expect(t.edgesMs.slice(0, 3)).toEqual([0, 1000, 2000]);
    expect(t.edgesMs.slice(-2)).toEqual([300_000, 300_005]);
    expect(t.ok.slice(0, 300).every((r) => r === 8)).toBe(true);
    expect(t.fail.slice(0, 300).every((r) => r === 1)).toBe(true);
    expect(t.unknown.slice(0, 300).every((r) => r === 1)).toBe(true);
    expect([t.ok[300], t.ok.length]).toEqual([1, 301]);
  });

  it("aligns buckets on whole seconds when the axis starts before 0, and widens them when the run is long", () => {
    const early = throughputOf([point(-500, 1), point(-1, 1), point(0, 1)], { startMs: -500, endMs: 2000 }, 1000);
    expect(early.edgesMs).toEqual([-500, 0, 1000, 2000]);
    expect(early.ok).toEqual([2, 1, 0]);
    const long = throughputOf([], { startMs: 0, endMs: 3_600_000 }, 1000);
    expect(long.bucketMs).toBe(10_000);
    expect(long.ok.length).toBe(360);
  });
});
