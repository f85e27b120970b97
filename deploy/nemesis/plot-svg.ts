/**
 * The nemesis report's latency picture as SVG text (deploy/nemesis/plot.ts turns it into a
 * PNG): a Jepsen-style latency-over-time scatter (log scale) above a throughput panel, with
 * every fault window shaded across both and labelled in lanes above them, and a legend.
 *
 * Scale: a run of 300 s with several clients has about 500,000 operations, so nothing here
 * emits an element per operation. The scatter is binned: each operation falls into a small
 * cell of the plot (a square of okCellPx for acknowledged ones, of failCellPx for failed and
 * unknown ones), and each occupied cell is drawn once, as one sub-path of a single <path> per
 * category. The picture is the same as drawing every point with that marker, at a cost
 * bounded by the plot's area instead of the number of operations. A scatter as noisy as
 * random dots all over the panel could still make a PNG over pngBytesMax: the caller then
 * draws it again with the next, coarser, of scatterResolutions. Throughput is counted per
 * second (a longer bucket when the run has more seconds than the panel has 2 px columns).
 *
 * Odd input is drawn, not refused: points after durationMs (or before 0) widen the time axis,
 * zero or negative latencies sit on the bottom edge and non-finite ones on the top edge, a
 * window whose end is not a finite number lasts to the end of the axis, one that ends before
 * it starts is an instant, and points or windows whose time is not a number are left out (the
 * subtitle counts left-out points).
 */

/** One operation of the history: when it started, how long it took and how it ended. */
export interface LatencyPoint {
  /** Milliseconds since the workload started. */
  readonly tMs: number;
  /** The operation's latency in milliseconds. */
  readonly latencyMs: number;
  /** get, put, cas, append, or any other name (coloured by name). */
  readonly op: string;
  /** ok: acknowledged; fail: a definite error; unknown: timed out (may or may not have happened). */
  readonly outcome: "ok" | "fail" | "unknown";
}

/** A fault in force from startMs to endMs (milliseconds since the workload started). */
export interface FaultWindow {
  readonly startMs: number;
  readonly endMs: number;
  /** The fault kind (partition, kill, pause, ...): one colour per kind. */
  readonly kind: string;
  /** What this window did, written on its bar (shortened to fit). */
  readonly label: string;
}

/** What renderLatencyPlot draws. */
export interface LatencyPlotInput {
  readonly title: string;
  /** The workload's length in milliseconds: the time axis covers at least 0..durationMs. */
  readonly durationMs: number;
  readonly points: readonly LatencyPoint[];
  readonly windows: readonly FaultWindow[];
}

/** The picture's size in pixels (the PNG's IHDR width and height). */
export const plotWidthPx = 1400;
export const plotHeightPx = 900;

/** How finely the scatter is binned, in pixels. */
export interface ScatterResolution {
  /** Side of the cell an acknowledged operation's mark stands for, and of the mark itself (drawn without anti-aliasing, which keeps the PNG small). */
  readonly okCellPx: number;
  /** Side of the cell a failed or unknown operation's mark stands for (the marks are 6 to 9 px whatever the cell). */
  readonly failCellPx: number;
}

/** The binnings tried in turn, finest first, until the PNG is under pngBytesMax. */
export const scatterResolutions: readonly ScatterResolution[] = [
  { okCellPx: 2, failCellPx: 5 },
  { okCellPx: 3, failCellPx: 8 },
  { okCellPx: 4, failCellPx: 12 },
];

/** The PNG's size limit (a report's picture): a coarser binning is tried above it. */
export const pngBytesMax = 1 << 20;

const marginLeftPx = 72;
const legendWidthPx = 230;
const lanesTopPx = 54;
const laneHeightPx = 15;
const lanesMax = 6;
const panelGapPx = 36;
const throughputHeightPx = 170;
const bottomMarginPx = 44;
/** Lowest latency the axis goes down to (10 µs): anything below is drawn on the bottom edge. */
const latencyFloorMs = 0.01;
/** Entries the legend lists of operations and of fault kinds (the rest are counted): what fits beside the panels. */
const legendOpsMax = 12;
const legendKindsMax = 14;
/** A fault bar at least this wide has its label inside; a narrower one has it after it, at most barLabelOutsidePx wide. */
const barLabelInsideMinPx = 60;
const barLabelOutsidePx = 220;
/** DejaVu Sans's mean advance width per em, to shorten labels so they fit their bars. */
const charWidthEm = 0.62;

/** Okabe-Ito colours (distinct for colour-blind readers) for the usual operations, then more. */
const opColours: ReadonlyMap<string, string> = new Map([["get", "#0072B2"], ["put", "#009E73"], ["cas", "#CC79A7"], ["append", "#8C564B"]]);
const extraOpColours = ["#56B4E9", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#000000"];
const failColour = "#D7191C";
const unknownColour = "#F39C12";
const unknownStroke = "#A65F00";
const okRateColour = "#333333";
/** Fault kinds: [strong, pale] pairs (Tableau 20), given out in the kinds' sorted order. */
const kindColours: ReadonlyArray<readonly [string, string]> = [
  ["#1F77B4", "#AEC7E8"], ["#FF7F0E", "#FFBB78"], ["#2CA02C", "#98DF8A"], ["#9467BD", "#C5B0D5"],
  ["#8C564B", "#C49C94"], ["#E377C2", "#F7B6D2"], ["#7F7F7F", "#C7C7C7"], ["#BCBD22", "#DBDB8D"],
  ["#17BECF", "#9EDAE5"], ["#D62728", "#FF9896"],
];

/** A rectangle in picture pixels. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** A fault window made drawable: finite times inside the axis, and its lane (0 at the top). */
export interface Band {
  readonly startMs: number;
  readonly endMs: number;
  readonly kind: string;
  readonly label: string;
  readonly lane: number;
}

/** Where everything goes, for a given input (exported so tests can find a band's pixels). */
export interface PlotGeometry {
  /** The time axis, in ms since the workload started. */
  readonly startMs: number;
  readonly endMs: number;
  /** The latency axis (log scale), in ms: powers of ten. */
  readonly latencyLoMs: number;
  readonly latencyHiMs: number;
  readonly lanes: Rect;
  readonly latency: Rect;
  readonly throughput: Rect;
  readonly bands: readonly Band[];
  /** The x pixel of a time (ms), the y pixel of a latency (ms) in the latency panel. */
  xPx(tMs: number): number;
  yPx(latencyMs: number): number;
}

/** Lays the picture out for `input`: axes' ranges, panels, fault lanes. */
export function plotGeometry(input: LatencyPlotInput): PlotGeometry {
  const { startMs, endMs } = timeAxis(input);
  const { loMs, hiMs } = latencyAxis(input.points);
  const plotW = plotWidthPx - marginLeftPx - legendWidthPx;
  const xPx = (tMs: number): number => marginLeftPx + ((tMs - startMs) / (endMs - startMs)) * plotW;
  const bands = assignLanes(input.windows, { startMs, endMs }, xPx);
  const laneCount = bands.reduce((n, b) => Math.max(n, b.lane + 1), 0);
  const lanes = { x: marginLeftPx, y: lanesTopPx, w: plotW, h: laneCount * laneHeightPx };
  const throughput = { x: marginLeftPx, y: plotHeightPx - bottomMarginPx - throughputHeightPx, w: plotW, h: throughputHeightPx };
  const latencyTop = lanes.y + lanes.h + 6;
  const latency = { x: marginLeftPx, y: latencyTop, w: plotW, h: throughput.y - panelGapPx - latencyTop };
  const decades = Math.log10(hiMs / loMs);
  const yPx = (latencyMs: number): number => {
    if (Number.isNaN(latencyMs) || latencyMs >= hiMs) return latency.y;
    if (latencyMs <= loMs) return latency.y + latency.h;
    return latency.y + latency.h * (1 - Math.log10(latencyMs / loMs) / decades);
  };
  return { startMs, endMs, latencyLoMs: loMs, latencyHiMs: hiMs, lanes, latency, throughput, bands, xPx, yPx };
}

/** The time axis: 0..durationMs, widened to every point and window time, at least 1 s long. */
function timeAxis(input: LatencyPlotInput): { startMs: number; endMs: number } {
  let startMs = 0;
  let endMs = Number.isFinite(input.durationMs) ? Math.max(0, input.durationMs) : 0;
  for (const p of input.points) {
    if (!Number.isFinite(p.tMs)) continue;
    if (p.tMs < startMs) startMs = p.tMs;
    if (p.tMs > endMs) endMs = p.tMs;
  }
  for (const w of input.windows) {
    for (const t of [w.startMs, w.endMs]) {
      if (!Number.isFinite(t)) continue;
      if (t < startMs) startMs = t;
      if (t > endMs) endMs = t;
    }
  }
  return { startMs, endMs: Math.max(endMs, startMs + 1000) };
}

/** The latency axis: the decades around every positive finite latency, at least one. */
function latencyAxis(points: readonly LatencyPoint[]): { loMs: number; hiMs: number } {
  let min = Infinity;
  let max = 0;
  for (const p of points) {
    const l = p.latencyMs;
    if (!(l > 0) || l === Infinity) continue;
    if (l < min) min = l;
    if (l > max) max = l;
  }
  if (max === 0) return { loMs: 1, hiMs: 1000 };
  const loMs = 10 ** Math.floor(Math.log10(Math.max(min, latencyFloorMs)));
  const hiMs = Math.max(10 ** Math.ceil(Math.log10(max)), loMs * 10);
  return { loMs, hiMs };
}

/**
 * The windows with times made finite and each put in the first lane whose last bar ends (in
 * pixels) before it starts, so overlapping windows sit one above the other; past lanesMax
 * lanes a window shares the lane that frees up first.
 */
function assignLanes(windows: readonly FaultWindow[], axis: { startMs: number; endMs: number }, xPx: (t: number) => number): Band[] {
  const usable = windows
    .filter((w) => Number.isFinite(w.startMs))
    .map((w) => ({ startMs: w.startMs, endMs: Number.isFinite(w.endMs) ? Math.max(w.endMs, w.startMs) : axis.endMs, kind: w.kind, label: w.label }))
    .sort((a, b) => a.startMs - b.startMs || b.endMs - a.endMs);
  const laneEndsPx: number[] = [];
  return usable.map((w) => {
    const startPx = xPx(w.startMs);
    let lane = laneEndsPx.findIndex((endPx) => endPx + 2 <= startPx);
    if (lane < 0) lane = laneEndsPx.length < lanesMax ? laneEndsPx.length : laneEndsPx.indexOf(Math.min(...laneEndsPx));
    laneEndsPx[lane] = startPx + barLabel(w.label || w.kind, xPx(w.endMs) - startPx).endPx;
    return { ...w, lane };
  });
}

/** The whole picture as SVG text. */
export function buildLatencySvg(input: LatencyPlotInput, resolution: ScatterResolution = scatterResolutions[0]!): string {
  const g = plotGeometry(input);
  const kinds = kindPalette(g.bands);
  const ops = opPalette(input.points);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${plotWidthPx}" height="${plotHeightPx}" viewBox="0 0 ${plotWidthPx} ${plotHeightPx}" font-family="DejaVu Sans" font-size="12">`,
    `<rect width="${plotWidthPx}" height="${plotHeightPx}" fill="#ffffff"/>`,
    titleSvg(input, g),
    bandsSvg(g, kinds),
    latencyPanelSvg(input.points, g, ops, resolution),
    throughputPanelSvg(input.points, g),
    legendSvg(g, ops, kinds, resolution),
    "</svg>",
  ];
  return parts.join("\n");
}

/** Each fault kind's [strong, pale] colours, by sorted kind name. */
function kindPalette(bands: readonly Band[]): Map<string, readonly [string, string]> {
  const names = [...new Set(bands.map((b) => b.kind))].sort();
  return new Map(names.map((k, i) => [k, kindColours[i % kindColours.length]!]));
}

/** Each operation name's colour and count of ok operations, most frequent first. */
function opPalette(points: readonly LatencyPoint[]): Array<{ op: string; colour: string; count: number }> {
  const counts = new Map<string, number>();
  for (const p of points) counts.set(p.op, (counts.get(p.op) ?? 0) + (p.outcome === "ok" ? 1 : 0));
  const names = [...counts.keys()].sort();
  let extra = 0;
  const entries = names.map((op) => ({ op, colour: opColours.get(op) ?? extraOpColours[extra++ % extraOpColours.length]!, count: counts.get(op)! }));
  return entries.sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
}

function titleSvg(input: LatencyPlotInput, g: PlotGeometry): string {
  let ok = 0;
  let fail = 0;
  let unknown = 0;
  let dropped = 0;
  for (const p of input.points) {
    if (!Number.isFinite(p.tMs)) dropped++;
    else if (p.outcome === "ok") ok++;
    else if (p.outcome === "fail") fail++;
    else unknown++;
  }
  const seconds = fmt((g.endMs - g.startMs) / 1000);
  let summary = `${count(ok + fail + unknown)} operations over ${seconds} s: ${count(ok)} ok, ${count(fail)} failed, ${count(unknown)} unknown (timed out); ${g.bands.length} fault windows`;
  if (dropped > 0) summary += `; ${count(dropped)} left out (time not a number)`;
  return [
    `<text x="${marginLeftPx}" y="24" font-size="18" font-weight="bold">${esc(fitLabel(input.title, (plotWidthPx - marginLeftPx - 10) / 1.1, 18))}</text>`,
    `<text x="${marginLeftPx}" y="43" fill="#555555">${esc(summary)}</text>`,
  ].join("\n");
}

/** The lanes' labelled bars and the shading of both panels under every window. */
function bandsSvg(g: PlotGeometry, kinds: Map<string, readonly [string, string]>): string {
  const out: string[] = [];
  if (g.bands.length > 0) out.push(`<text x="${marginLeftPx - 6}" y="${r1(g.lanes.y + 11)}" text-anchor="end" font-size="10" fill="#555555">faults</text>`);
  for (const b of g.bands) {
    const [strong, pale] = kinds.get(b.kind)!;
    const x0 = g.xPx(b.startMs);
    const w = Math.max(2, g.xPx(b.endMs) - x0);
    const laneY = g.lanes.y + b.lane * laneHeightPx;
    out.push(`<rect x="${r1(x0)}" y="${laneY}" width="${r1(w)}" height="${laneHeightPx - 2}" fill="${pale}" stroke="${strong}" stroke-width="1"/>`);
    const label = barLabel(b.label || b.kind, w);
    if (label.text !== "") out.push(`<text x="${r1(x0 + label.xPx)}" y="${laneY + 10}" font-size="10" fill="#222222">${esc(label.text)}</text>`);
    for (const panel of [g.latency, g.throughput]) {
      out.push(`<rect x="${r1(x0)}" y="${panel.y}" width="${r1(w)}" height="${panel.h}" fill="${pale}" fill-opacity="0.45"/>`);
      out.push(`<line x1="${r1(x0)}" y1="${panel.y}" x2="${r1(x0)}" y2="${panel.y + panel.h}" stroke="${strong}" stroke-opacity="0.7"/>`);
    }
  }
  return out.join("\n");
}

/** Grid, axes, the binned scatter and, over it, the failed and unknown operations. */
function latencyPanelSvg(points: readonly LatencyPoint[], g: PlotGeometry, ops: ReadonlyArray<{ op: string; colour: string }>, res: ScatterResolution): string {
  const p = g.latency;
  const out = [timeGridSvg(g, p), latencyGridSvg(g)];
  const okCells = new Map(ops.map((o) => [o.op, new Set<number>()]));
  const failCells = new Set<number>();
  const unknownCells = new Set<number>();
  // A cell's id: row * 4096 + column (a panel is narrower than 4096 cells); a point on the
  // right or bottom edge goes into the last cell, inside the frame.
  const cell = (x: number, y: number, side: number): number => {
    const column = Math.min(Math.floor((x - p.x) / side), Math.ceil(p.w / side) - 1);
    const row = Math.min(Math.floor((y - p.y) / side), Math.ceil(p.h / side) - 1);
    return row * 4096 + column;
  };
  for (const pt of points) {
    if (!Number.isFinite(pt.tMs)) continue;
    const x = g.xPx(pt.tMs);
    const y = g.yPx(pt.latencyMs);
    if (pt.outcome === "ok") okCells.get(pt.op)!.add(cell(x, y, res.okCellPx));
    else (pt.outcome === "fail" ? failCells : unknownCells).add(cell(x, y, res.failCellPx));
  }
  const at = (id: number, side: number): [number, number] => [p.x + (id % 4096) * side + side / 2, p.y + Math.floor(id / 4096) * side + side / 2];
  for (const { op, colour } of ops) {
    const d: string[] = [];
    for (const id of okCells.get(op)!) {
      const [cx, cy] = at(id, res.okCellPx);
      const side = res.okCellPx;
      d.push(`M${r1(cx - side / 2)} ${r1(cy - side / 2)}h${side}v${side}h-${side}z`);
    }
    if (d.length > 0) out.push(`<path fill="${colour}" shape-rendering="crispEdges" d="${d.join("")}"/>`);
  }
  out.push(markPath(unknownCells, (id) => triangle(...at(id, res.failCellPx)), `fill="${unknownColour}" stroke="${unknownStroke}" stroke-width="0.8"`));
  out.push(markPath(failCells, (id) => cross(...at(id, res.failCellPx)), `fill="none" stroke="${failColour}" stroke-width="1.5"`));
  if (points.length === 0) out.push(`<text x="${r1(p.x + p.w / 2)}" y="${r1(p.y + p.h / 2)}" text-anchor="middle" font-size="16" fill="#888888">no operations recorded</text>`);
  out.push(frameSvg(p));
  out.push(`<text transform="translate(18 ${r1(p.y + p.h / 2)}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`);
  return out.join("\n");
}

function markPath(cells: Set<number>, mark: (id: number) => string, attrs: string): string {
  if (cells.size === 0) return "";
  return `<path ${attrs} d="${[...cells].map(mark).join("")}"/>`;
}

function cross(x: number, y: number): string {
  return `M${r1(x - 3)} ${r1(y - 3)}l6 6m0 -6l-6 6`;
}

function triangle(x: number, y: number): string {
  return `M${r1(x)} ${r1(y - 4.5)}l4.5 8h-9z`;
}

/** Horizontal lines at each power of ten (labelled) and at 2 and 5 times it. */
function latencyGridSvg(g: PlotGeometry): string {
  const p = g.latency;
  const out: string[] = [];
  for (let decade = g.latencyLoMs; decade <= g.latencyHiMs * 1.0001; decade *= 10) {
    const y = r1(g.yPx(decade));
    out.push(`<line x1="${p.x}" y1="${y}" x2="${p.x + p.w}" y2="${y}" stroke="#c8c8c8"/>`);
    out.push(`<text x="${p.x - 6}" y="${r1(y + 4)}" text-anchor="end">${fmt(decade)}</text>`);
    for (const m of [2, 5]) {
      if (decade * m >= g.latencyHiMs) continue;
      const ym = r1(g.yPx(decade * m));
      out.push(`<line x1="${p.x}" y1="${ym}" x2="${p.x + p.w}" y2="${ym}" stroke="#ececec"/>`);
    }
  }
  return out.join("\n");
}

/** Vertical lines at round seconds across `panel`, labelled under it. */
function timeGridSvg(g: PlotGeometry, panel: Rect): string {
  const out: string[] = [];
  for (const s of niceTicks(g.startMs / 1000, g.endMs / 1000, 12)) {
    const x = r1(g.xPx(s * 1000));
    out.push(`<line x1="${x}" y1="${panel.y}" x2="${x}" y2="${panel.y + panel.h}" stroke="#e2e2e2"/>`);
    out.push(`<text x="${x}" y="${panel.y + panel.h + 15}" text-anchor="middle">${fmt(s)}</text>`);
  }
  return out.join("\n");
}

function frameSvg(p: Rect): string {
  return `<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" fill="none" stroke="#777777"/>`;
}

/**
 * Operations per second by outcome, in buckets of bucketMs: 1 s, or longer when the axis has
 * more seconds than the panel has 2 px columns. Bucket i covers [edgesMs[i], edgesMs[i + 1]):
 * whole multiples of bucketMs since the workload started, cut to the axis. Every bucket is
 * divided by the whole bucketMs, so a sliver cut off at an end of the axis (the last point a
 * few ms after durationMs) reads low instead of as a spike.
 */
export interface Throughput {
  readonly bucketMs: number;
  readonly edgesMs: readonly number[];
  readonly ok: readonly number[];
  readonly fail: readonly number[];
  readonly unknown: readonly number[];
}

/** The throughput of `points` over the time axis of `g`, drawn `widthPx` wide. */
export function throughputOf(points: readonly LatencyPoint[], axis: { startMs: number; endMs: number }, widthPx: number): Throughput {
  const bucketMs = Math.max(1000, niceStepUp((axis.endMs - axis.startMs) / (widthPx / 2)));
  const first = Math.floor(axis.startMs / bucketMs);
  const n = Math.max(1, Math.ceil(axis.endMs / bucketMs) - first);
  const counts = { ok: new Array<number>(n).fill(0), fail: new Array<number>(n).fill(0), unknown: new Array<number>(n).fill(0) };
  for (const pt of points) {
    if (!Number.isFinite(pt.tMs)) continue;
    const outcome = pt.outcome === "ok" || pt.outcome === "fail" ? pt.outcome : "unknown";
    counts[outcome][Math.min(n - 1, Math.floor(pt.tMs / bucketMs) - first)]! += 1;
  }
  const perSecond = (c: number[]): number[] => c.map((v) => v / (bucketMs / 1000));
  const edgesMs = Array.from({ length: n + 1 }, (_, i) => Math.min(axis.endMs, Math.max(axis.startMs, (first + i) * bucketMs)));
  return { bucketMs, edgesMs, ok: perSecond(counts.ok), fail: perSecond(counts.fail), unknown: perSecond(counts.unknown) };
}

/** Acknowledged operations per second as a step line over the failed and unknown ones as stacked areas. */
function throughputPanelSvg(points: readonly LatencyPoint[], g: PlotGeometry): string {
  const p = g.throughput;
  const series = throughputOf(points, g, p.w);
  const { bucketMs } = series;
  const n = series.ok.length;
  const notOk = series.fail.map((f, i) => f + series.unknown[i]!);
  const top = niceStepUp(Math.max(1, ...series.ok, ...notOk));
  const yOf = (rate: number): number => p.y + p.h * (1 - rate / top);
  const out = [timeGridSvg(g, p)];
  for (const v of niceTicks(0, top, 5)) {
    const y = r1(yOf(v));
    out.push(`<line x1="${p.x}" y1="${y}" x2="${p.x + p.w}" y2="${y}" stroke="#e2e2e2"/>`);
    out.push(`<text x="${p.x - 6}" y="${r1(y + 4)}" text-anchor="end">${fmt(v)}</text>`);
  }
  const edgesPx = series.edgesMs.map((t) => r1(g.xPx(t)));
  // The corners of a step line through `rates`, left to right: each bucket's rate across its width.
  const corners = (rates: readonly number[]): string[] => rates.flatMap((rate, i) => [`${edgesPx[i]} ${r1(yOf(rate))}`, `${edgesPx[i + 1]} ${r1(yOf(rate))}`]);
  const area = (upper: readonly number[], lower: readonly number[]): string => `M${[...corners(upper), ...corners(lower).reverse()].join("L")}Z`;
  // Failed at the bottom, unknown stacked on them: the top of the two is every operation not acknowledged.
  out.push(`<path fill="${failColour}" fill-opacity="0.55" d="${area(series.fail, new Array<number>(n).fill(0))}"/>`);
  out.push(`<path fill="${unknownColour}" fill-opacity="0.55" d="${area(notOk, series.fail)}"/>`);
  out.push(`<path fill="none" stroke="${okRateColour}" stroke-width="1.4" stroke-linejoin="round" d="M${corners(series.ok).join("L")}"/>`);
  out.push(frameSvg(p));
  const per = bucketMs === 1000 ? "per second" : `per ${fmt(bucketMs / 1000)} s`;
  out.push(`<text transform="translate(18 ${r1(p.y + p.h / 2)}) rotate(-90)" text-anchor="middle">ops/s</text>`);
  out.push(`<text x="${r1(p.x + p.w / 2)}" y="${p.y + p.h + 34}" text-anchor="middle">time since the workload started (s); throughput counted ${per}</text>`);
  return out.join("\n");
}

/** The key on the right: operations, outcomes, throughput lines, fault kinds. */
function legendSvg(g: PlotGeometry, ops: ReadonlyArray<{ op: string; colour: string; count: number }>, kinds: Map<string, readonly [string, string]>, res: ScatterResolution): string {
  const x = plotWidthPx - legendWidthPx + 22;
  let y = g.latency.y + 4;
  const out: string[] = [];
  const heading = (text: string): void => {
    out.push(`<text x="${x}" y="${y + 10}" font-weight="bold">${esc(text)}</text>`);
    y += 20;
  };
  const entry = (swatch: string, text: string): void => {
    out.push(swatch, `<text x="${x + 22}" y="${y + 10}">${esc(fitLabel(text, legendWidthPx - 50, 12))}</text>`);
    y += 18;
  };
  heading("ok, by operation (count)");
  for (const o of ops.slice(0, legendOpsMax)) entry(`<rect x="${x + 4}" y="${y + 2}" width="9" height="9" fill="${o.colour}"/>`, `${o.op} (${count(o.count)})`);
  if (ops.length > legendOpsMax) entry("", `and ${ops.length - legendOpsMax} more`);
  if (ops.length === 0) entry("", "none");
  y += 8;
  heading("not ok (any operation)");
  entry(`<path fill="none" stroke="${failColour}" stroke-width="1.5" d="${cross(x + 8, y + 6)}"/>`, "failed (definite error)");
  entry(`<path fill="${unknownColour}" stroke="${unknownStroke}" stroke-width="0.8" d="${triangle(x + 8, y + 7)}"/>`, "unknown (timed out)");
  y += 8;
  heading("throughput (lower panel)");
  entry(`<line x1="${x}" y1="${y + 6}" x2="${x + 16}" y2="${y + 6}" stroke="${okRateColour}" stroke-width="2"/>`, "ok ops/s");
  for (const [colour, text] of [[unknownColour, "unknown ops/s (stacked)"], [failColour, "failed ops/s"]] as const) {
    entry(`<rect x="${x}" y="${y}" width="16" height="12" fill="${colour}" fill-opacity="0.55"/>`, text);
  }
  y += 8;
  heading("fault windows (shaded)");
  const windowsOf = new Map<string, number>();
  for (const b of g.bands) windowsOf.set(b.kind, (windowsOf.get(b.kind) ?? 0) + 1);
  for (const [kind, [strong, pale]] of [...kinds].slice(0, legendKindsMax)) {
    entry(`<rect x="${x}" y="${y}" width="16" height="12" fill="${pale}" stroke="${strong}"/>`, `${kind || "(no kind)"} (${windowsOf.get(kind)})`);
  }
  if (kinds.size > legendKindsMax) entry("", `and ${kinds.size - legendKindsMax} more`);
  if (kinds.size === 0) entry("", "none");
  y += 8;
  out.push(`<text x="${x}" y="${y + 10}" font-size="10" fill="#666666">a mark stands for every operation</text>`);
  out.push(`<text x="${x}" y="${y + 23}" font-size="10" fill="#666666">in its ${res.okCellPx} px cell (failures: ${res.failCellPx} px)</text>`);
  return out.join("\n");
}

/** `text` shortened with an ellipsis to fit `widthPx` at `fontPx`; "" when not even 3 characters fit. */
function fitLabel(text: string, widthPx: number, fontPx: number): string {
  const fits = Math.floor(widthPx / (charWidthEm * fontPx));
  if (text.length <= fits) return text;
  return fits < 3 ? "" : `${text.slice(0, fits - 1)}…`;
}

/**
 * Where a fault bar `barPx` wide writes `label` (10 px text), relative to the bar's start:
 * inside it, shortened to fit, or, when the bar is too narrow for a readable label (a kill
 * is an instant), after it, up to barLabelOutsidePx wide. endPx: where the bar and its label
 * end, so that the lanes keep the next bar clear of both.
 */
function barLabel(label: string, barPx: number): { text: string; xPx: number; endPx: number } {
  const bar = Math.max(2, barPx);
  if (bar >= barLabelInsideMinPx) return { text: fitLabel(label, bar - 4, 10), xPx: 3, endPx: bar };
  const text = fitLabel(label, barLabelOutsidePx, 10);
  return { text, xPx: bar + 3, endPx: bar + 6 + text.length * charWidthEm * 10 };
}

/** About `count` round values (1, 2 or 5 times a power of ten apart) from lo to hi. */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const step = niceStepUp((hi - lo) / count);
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  return ticks;
}

/** The smallest of 1, 2, 5 times a power of ten that is at least `v` (> 0). */
function niceStepUp(v: number): number {
  const pow = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * pow >= v * (1 - 1e-9)) return m * pow;
  return 10 * pow;
}

/** A number without float noise: at most 3 decimals, no trailing zeros. */
function fmt(v: number): string {
  return String(Number(v.toFixed(3)));
}

/** A whole number with thousands separators (1,234,567), the same on every machine. */
function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ",");
}

function r1(v: number): number {
  return Math.round(v * 10) / 10;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}
