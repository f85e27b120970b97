/**
 * The benchmark matrix of `npm run bench` (bench/run.ts) and the Markdown it writes
 * into docs/benchmarks.md: the section between `<!-- bench:start -->` and `<!-- bench:end -->`
 * is generated, everything else in the file is kept. Pure (test/unit/bench-doc.test.ts).
 */
import { median } from "../common/stats";
import type { MigrationPacing } from "../shard-server/defaults";
import { warmRoundsMin } from "./warmup";

/** One cell of the matrix: a workload at a concurrency. */
export interface Cell {
  readonly id: string;
  readonly workload: string;
  readonly concurrency: number;
}

const cell = (workload: string, concurrency: number): Cell => ({ id: `${workload}@${concurrency}`, workload, concurrency });

/** The benchmark matrix: puts at 1/16/64/256, linearizable gets at 1/64, mixed 95/5 and 50/50, appends. */
export const matrix: readonly Cell[] = [
  cell("put", 1), cell("put", 16), cell("put", 64), cell("put", 256),
  cell("get", 1), cell("get", 64),
  cell("mixed:95", 64), cell("mixed:50", 64),
  cell("append", 64),
];

/** The fields of a load generator's JSON line (bench/load-report.ts formatJson) used here. */
export interface BenchJson {
  readonly ops: number;
  readonly opsPerSec: number | null;
  readonly errors: { readonly total: number; readonly byType: Readonly<Record<string, number>> };
  readonly latencyMs: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly p999: number | null; readonly max: number | null };
  readonly clientCpuUsPerOp: number | null;
}

/** A --timeline window as it appears in the JSON line. */
export interface WindowJson {
  readonly tMs: number;
  readonly ops: number;
  readonly opsPerSec: number | null;
  readonly p99Ms: number | null;
}

/** What the leader-failover scenario measured (bench/run.ts runFailover). */
export interface FailoverResult {
  /** The killed replica ("g1n2"). */
  readonly killed: string;
  /** When it was killed, ms after the measured phase started. */
  readonly killAtMs: number;
  /** From the kill to the first 100 ms window with completed writes after the stall; 0 = no empty window. */
  readonly resumeMs: number;
  readonly opsPerSecBefore: number;
  readonly opsPerSecAfter: number;
  readonly p99MsBefore: number | null;
  readonly maxMs: number | null;
  readonly errors: number;
  readonly concurrency: number;
}

/** The shard move's targets (issue 20): the move's duration, and the other shards' p99 during / before. */
export const moveTargetMs = 10_000;
export const moveP99Target = 1.5;

/** What the shard-move scenario measured (bench/scenarios.ts runShardMove). */
export interface ShardMoveResult {
  /** The shard servers' --migration-rate (MiB/s; 0 = no cap). */
  readonly rateMiB: number;
  /** Their --migration-pacing. */
  readonly pacing: MigrationPacing;
  readonly shard: number;
  readonly from: number;
  readonly to: number;
  readonly mib: number;
  readonly keys: number;
  /** Writing the shard's data before the load. */
  readonly fillMs: number;
  /** From the Move request to the new owner's leader serving the shard with every key. */
  readonly moveMs: number;
  /** When the move was requested, ms after the load's measured phase started. */
  readonly moveAtMs: number;
  readonly concurrency: number;
  readonly workload: string;
  /** Per-window p99 of the load (every shard but the moving one): median and worst window. */
  readonly before: { readonly opsPerSec: number; readonly p99MedianMs: number | null; readonly p99WorstMs: number | null };
  readonly during: { readonly opsPerSec: number; readonly p99MedianMs: number | null; readonly p99WorstMs: number | null };
  readonly errors: number;
}

/** What the restart scenario measured (bench/scenarios.ts runRestart). */
export interface RestartResult {
  /** The restarted follower ("g1n2"). */
  readonly node: string;
  readonly mib: number;
  readonly values: number;
  readonly fillMs: number;
  /** Keys the group holds (the big values and every earlier cell's keys). */
  readonly keys: number;
  /** From the start of the killed process to its first Status answer. */
  readonly answerMs: number;
  /** From the start to every shard Serving with all keys at that replica. */
  readonly servingMs: number;
}

/** Median and worst of the p99s of the windows entirely inside [fromMs, toMs), and their rate. */
export function windowP99s(windows: readonly WindowJson[], fromMs: number, toMs: number, windowMs = 100):
  { opsPerSec: number; p99MedianMs: number | null; p99WorstMs: number | null } {
  const ps = windows.filter((w) => w.tMs >= fromMs && w.tMs + windowMs <= toMs && w.p99Ms !== null).map((w) => w.p99Ms!).sort((a, b) => a - b);
  return {
    opsPerSec: meanRate(windows, fromMs, toMs, windowMs),
    p99MedianMs: ps.length > 0 ? ps[Math.floor((ps.length - 1) / 2)]! : null,
    p99WorstMs: ps.length > 0 ? ps[ps.length - 1]! : null,
  };
}

/**
 * The write stall after a kill at `killAtMs`, from a 100 ms timeline: the first window at or
 * after the kill's window with no completed operation starts the stall; the first later window
 * with operations ends it. resumeMs = that window's start - killAtMs (so the resolution is one
 * window); 0 when no window after the kill is empty (within `horizonMs`).
 */
export function failoverResumeMs(windows: readonly WindowJson[], killAtMs: number, windowMs = 100, horizonMs = 30_000): number {
  const from = Math.floor(killAtMs / windowMs);
  let stall = -1;
  for (let i = from; i < windows.length && windows[i]!.tMs <= killAtMs + horizonMs; i++) {
    if (windows[i]!.ops === 0) {
      stall = i;
      break;
    }
  }
  if (stall < 0) return 0;
  for (let i = stall + 1; i < windows.length; i++) if (windows[i]!.ops > 0) return Math.max(0, windows[i]!.tMs - killAtMs);
  return Infinity;
}

/** Mean ops/s of the windows entirely inside [fromMs, toMs). */
export function meanRate(windows: readonly WindowJson[], fromMs: number, toMs: number, windowMs = 100): number {
  const inside = windows.filter((w) => w.tMs >= fromMs && w.tMs + windowMs <= toMs);
  return inside.length === 0 ? NaN : (inside.reduce((n, w) => n + w.ops, 0) * 1000) / (inside.length * windowMs);
}

export type CellOutcome =
  | { readonly ok: true; readonly result: BenchJson; /** Daemons' CPU over the measured phase. */ readonly daemonCpuSeconds?: number }
  | { readonly ok: false; readonly error: string };

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly etcd?: string;
}

export interface BenchReport {
  readonly dateIso: string;
  readonly quick: boolean;
  readonly etcd: boolean;
  readonly durationMs: number;
  readonly warmupMs: number;
  /** The most time each fresh shardkv cluster was warmed before its first cell (bench/warmup.ts; 0 or absent: not warmed). */
  readonly clusterWarmupMs?: number;
  readonly keys: number;
  readonly machine: Machine;
  /** How the whole run was started. */
  readonly command: string;
  /** One cell's command line, per system. */
  readonly cellCommand: { readonly shardkv: string; readonly etcd: string };
  /** By system, by cell id. */
  readonly results: { shardkv1: Map<string, CellOutcome>; shardkv3: Map<string, CellOutcome>; etcd: Map<string, CellOutcome> };
  /** The leader-failover scenario, when it ran. */
  readonly failover?: FailoverResult | { readonly error: string };
  /** The restart scenario, when it ran. */
  readonly restart?: RestartResult | { readonly error: string };
  /** The shard-move scenario, when it ran. */
  readonly shardMove?: ShardMoveResult | { readonly error: string };
  /**
   * More paired runs of puts at 64 on one group (etcd's first in every other pair): the
   * targets for puts at 64 compare the medians over these and the matrix cell, since one 20 s
   * cell on a shared machine varies by tens of percent.
   */
  readonly writeRepeats?: { readonly shardkv: readonly CellOutcome[]; readonly etcd: readonly CellOutcome[] };
  /**
   * The cost of mutual TLS, when it ran: by cell id (puts and gets at 64), the runs on a 1-group
   * cluster without TLS and on one with mutual TLS, in interleaved pairs (see tlsCostCells).
   */
  readonly tlsCost?: Readonly<Record<string, CostRuns>>;
  /**
   * The cost of metrics, when it ran: by cell id (puts at 64), the runs on a 1-group cluster
   * without metrics endpoints and on one with them, scraped, in interleaved pairs.
   */
  readonly metricsCost?: Readonly<Record<string, CostRuns>>;
  /** CPU cores each cluster's daemons used with no load, measured before its cells. */
  readonly idleCores: { readonly shardkv1: number | undefined; readonly shardkv3: number | undefined; readonly etcd: number | undefined };
}

/** One cell's paired runs without (`off`) and with (`on`) a feature (mutual TLS, metrics), in running order. */
export interface CostRuns {
  readonly off: readonly CellOutcome[];
  readonly on: readonly CellOutcome[];
}

/** What a "cost of" section compares: a 1-group cluster without and with one feature. */
export interface CostSpec {
  /** The section's heading, without the ###. */
  readonly title: string;
  /** The cells it runs (matrix ids). */
  readonly cells: readonly string[];
  /** The target: server CPU per op with the feature at most this many times without. */
  readonly target: number;
  /** How the two clusters differ, for the section's first sentence. */
  readonly clusters: string;
  /** "with TLS": the figures' second side, in the text and in the list of errors. */
  readonly on: string;
  readonly off: string;
}

/** The cost of mutual TLS: puts and gets at 64; server CPU per op with mTLS at most 1.15x without. */
export const tlsCostSpec: CostSpec = {
  title: "Cost of mutual TLS",
  cells: ["put@64", "get@64"],
  target: 1.15,
  clusters: "without TLS and one with mutual TLS (certificates as `shardkv-local` makes them; the load generator with a client certificate)",
  on: "with mutual TLS",
  off: "without TLS",
};
export const tlsCostCells = tlsCostSpec.cells;
export const tlsCostTarget = tlsCostSpec.target;

/** Every how many milliseconds the metrics cost scrapes every daemon (Prometheus' default is 15 s). */
export const metricsScrapeEveryMs = 5_000;

/** The cost of metrics: puts at 64; server CPU per op with metrics at most 1.05x without. */
export const metricsCostSpec: CostSpec = {
  title: "Cost of metrics",
  cells: ["put@64"],
  target: 1.05,
  clusters: "without metrics (no `--metrics-listen`: nothing is measured) and one with them " +
    `(every daemon with \`--metrics-listen\`, each scraped every ${metricsScrapeEveryMs / 1000} s during the cells, three times as often as Prometheus' default)`,
  on: "with metrics",
  off: "without metrics",
};

export const sectionStart = "<!-- bench:start: generated by `npm run bench` (bench/run.ts); edits inside are overwritten -->";
export const sectionEnd = "<!-- bench:end -->";

/** `doc` with its generated section replaced by `section` (appended when it has none). */
export function replaceSection(doc: string, section: string): string {
  const startAt = doc.indexOf("<!-- bench:start");
  const endAt = doc.indexOf(sectionEnd);
  const block = `${sectionStart}\n${section.trimEnd()}\n${sectionEnd}`;
  if (startAt >= 0 && endAt > startAt) return doc.slice(0, startAt) + block + doc.slice(endAt + sectionEnd.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

const ok = (o: CellOutcome | undefined): BenchJson | undefined => (o?.ok ? o.result : undefined);

/** "12,345" */
export function fmtRate(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "-" : Math.round(x).toLocaleString("en-US");
}

export function fmtMs(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** a / b as "1.23x"; "-" when either is missing or b is 0. */
export function fmtRatio(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "-";
  return `${(a / b).toFixed(2)}x`;
}

/** Cluster-wide CPU seconds per 1,000 operations, or undefined. */
export function cpuPer1k(o: CellOutcome | undefined): number | undefined {
  if (!o?.ok || o.daemonCpuSeconds === undefined || o.result.ops <= 0) return undefined;
  return (o.daemonCpuSeconds / o.result.ops) * 1000;
}

/**
 * The load generator's own CPU seconds per 1,000 operations (its process.cpuUsage() over the
 * measured phase / the phase's operations; the same unit as cpuPer1k), or undefined.
 */
export function clientCpuPer1k(o: CellOutcome | undefined): number | undefined {
  const us = o?.ok ? o.result.clientCpuUsPerOp : null;
  return us === null || us === undefined || !Number.isFinite(us) ? undefined : us / 1000;
}

/** The smallest and largest of `f` over the matrix's cells where it is defined. */
function rangeOverCells(f: (id: string) => number | undefined): { min: number; max: number } | undefined {
  const xs = matrix.map((c) => f(c.id)).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length === 0 ? undefined : { min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * Over the matrix: etcd's client CPU per op / shardkv's (1 group), and the client's share of
 * an etcd cell's CPU (client / (client + servers)).
 */
export function clientCpuRanges(r: BenchReport): { ratio?: { min: number; max: number }; etcdShare?: { min: number; max: number } } {
  const ratio = rangeOverCells((id) => {
    const ours = clientCpuPer1k(r.results.shardkv1.get(id));
    const theirs = clientCpuPer1k(r.results.etcd.get(id));
    return ours !== undefined && theirs !== undefined && ours > 0 ? theirs / ours : undefined;
  });
  const etcdShare = rangeOverCells((id) => {
    const client = clientCpuPer1k(r.results.etcd.get(id));
    const server = cpuPer1k(r.results.etcd.get(id));
    return client !== undefined && server !== undefined && client + server > 0 ? client / (client + server) : undefined;
  });
  return { ...(ratio ? { ratio } : {}), ...(etcdShare ? { etcdShare } : {}) };
}

const fmtCpu = (x: number | undefined): string => (x === undefined ? "-" : x.toFixed(3));
const fmtCores = (x: number | undefined): string => (x === undefined ? "-" : x.toFixed(2));

function latencyCell(o: CellOutcome | undefined): string {
  if (o && !o.ok) return "failed";
  const r = ok(o);
  return r ? `${fmtMs(r.latencyMs.p50)} / ${fmtMs(r.latencyMs.p99)}` : "-";
}

function rateCell(o: CellOutcome | undefined): string {
  if (o && !o.ok) return "failed";
  return fmtRate(ok(o)?.opsPerSec);
}

const label = (c: Cell): string => (c.workload.startsWith("mixed:") ? `mixed ${c.workload.slice(6)}% get` : c.workload === "get" ? "get (linearizable)" : c.workload);

export { median } from "../common/stats";

/** `metric` of each of `runs` that measured it, their median, and how to show them. */
function overRuns(runs: readonly (CellOutcome | undefined)[], metric: (o: CellOutcome | undefined) => number | undefined, fmt: (x: number | undefined) => string): { median: number | undefined; text: string } {
  const xs = runs.map(metric).filter((x): x is number => x !== undefined && Number.isFinite(x));
  const m = median(xs);
  return { median: m, text: xs.length > 1 ? `${fmt(m)} (${xs.map(fmt).join(", ")})` : fmt(m) };
}

/** The targets docs/benchmarks.md compares against etcd that the matrix measures, each with whether it is met. */
export function targets(r: BenchReport): string[] {
  const s1 = r.results.shardkv1;
  const e = r.results.etcd;
  const get1 = ok(s1.get("get@64"));
  const getE = ok(e.get("get@64"));
  const rows: string[] = [];
  const row = (what: string, ours: string, theirs: string, met: boolean | undefined, gap: string): void => {
    rows.push(`| ${what} | ${ours} | ${theirs} | ${met === undefined ? "-" : met ? "met" : `not met (${gap})`} |`);
  };
  const rate = (a?: BenchJson) => a?.opsPerSec ?? undefined;
  const p99 = (a?: BenchJson) => a?.latencyMs.p99 ?? undefined;
  const cmp = (a: number | undefined, b: number | undefined, f: (a: number, b: number) => boolean) =>
    a === undefined || b === undefined ? undefined : f(a, b);
  // Puts at 64: the matrix cell and its paired repeats, compared by their medians.
  const puts1 = [s1.get("put@64"), ...(r.writeRepeats?.shardkv ?? [])];
  const putsE = [e.get("put@64"), ...(r.writeRepeats?.etcd ?? [])];
  const paired = puts1.length > 1 ? `median of ${puts1.length} paired runs` : undefined;
  const pr1 = overRuns(puts1, (o) => rate(ok(o)), fmtRate);
  const prE = overRuns(putsE, (o) => rate(ok(o)), fmtRate);
  const pp1 = overRuns(puts1, (o) => p99(ok(o)), fmtMs);
  const ppE = overRuns(putsE, (o) => p99(ok(o)), fmtMs);
  const cw1 = overRuns(puts1, cpuPer1k, fmtCpu);
  const cwE = overRuns(putsE, cpuPer1k, fmtCpu);
  row(`puts at 64, 1 group: ops/s >= etcd's${paired ? ` (${paired})` : ""}`, pr1.text, prE.text, cmp(pr1.median, prE.median, (a, b) => a >= b), `${fmtRatio(pr1.median, prE.median)} of etcd`);
  row(`puts at 64, 1 group: p99 <= etcd's (ms${paired ? `; ${paired}` : ""})`, pp1.text, ppE.text, cmp(pp1.median, ppE.median, (a, b) => a <= b), `${fmtRatio(pp1.median, ppE.median)} of etcd`);
  row("linearizable gets at 64: ops/s >= 1.5x etcd's", fmtRate(rate(get1)), fmtRate(rate(getE)), cmp(rate(get1), rate(getE), (a, b) => a >= 1.5 * b), `${fmtRatio(rate(get1), rate(getE))} of etcd`);
  const cr1 = cpuPer1k(s1.get("get@64"));
  const crE = cpuPer1k(e.get("get@64"));
  row(`cluster CPU per write (s/1k puts at 64${paired ? `; ${paired}` : ""}) <= etcd's`, cw1.text, cwE.text,
    cmp(cw1.median, cwE.median, (a, b) => a <= b), `${fmtRatio(cw1.median, cwE.median)} of etcd`);
  row("cluster CPU per read (s/1k gets at 64) < etcd's", fmtCpu(cr1), fmtCpu(crE), cmp(cr1, crE, (a, b) => a < b), `${fmtRatio(cr1, crE)} of etcd`);
  return ["| target | shardkv | etcd | |", "|---|---|---|---|", ...rows];
}

/**
 * The section's first lines: which ratios measure the servers and which the client libraries,
 * with this run's ratio of the two libraries' CPU per operation.
 */
function whatRatiosMeasure(r: BenchReport): string[] {
  const { ratio, etcdShare } = clientCpuRanges(r);
  const span = (x: { min: number; max: number }, f: (v: number) => string): string => (f(x.min) === f(x.max) ? f(x.min) : `${f(x.min)}-${f(x.max)}`);
  const measured = ratio && etcdShare
    ? ` In this run etcd's client library (the \`etcd3\` package) spent ${span(ratio, (v) => v.toFixed(1))}x the CPU per operation of shardkv's, ` +
      `and ${span(etcdShare, (v) => (v * 100).toFixed(0))} % of all the CPU of an etcd cell (servers and client) was its client's.`
    : "";
  return [
    "**What the ratios measure.** The server CPU per operation (the table \"CPU per operation\" and the targets on cluster CPU) measures the servers: the daemons' own CPU, whatever the client. " +
      "Throughput and latency (ops/s, p50, p99) measure client library and servers together, and the client libraries weigh on them heavily: " +
      "the load generator shares this machine's cores with the servers, so the CPU its library spends is CPU the servers lack." +
      measured + " The client CPU per operation stands beside the server CPU in that table.",
  ];
}

/**
 * A table of the matrix: a row per cell with two columns per system (shardkv with 1 group, with
 * 3 groups, and etcd when it ran: `columns` names them, `cols` fills them from the cell's
 * outcome) and, with etcd, two ratio columns of shardkv (1 group) over etcd.
 */
function matrixTable(
  r: BenchReport,
  heads: { readonly columns: readonly [string, string]; readonly ratios: readonly [string, string] },
  cols: (o: CellOutcome | undefined) => readonly [string, string],
  ratios: (ours: CellOutcome | undefined, etcd: CellOutcome | undefined) => readonly [string, string],
): string[] {
  const { shardkv1: s1, shardkv3: s3, etcd: e } = r.results;
  const [c1, c2] = heads.columns;
  const systems = ["shardkv 1 group", "shardkv 3 groups", ...(r.etcd ? ["etcd"] : [])];
  const head = [...systems.flatMap((name) => [`${name} ${c1}`, c2]), ...(r.etcd ? heads.ratios : [])];
  const rows = matrix.map((c) => {
    const outcomes = [s1.get(c.id), s3.get(c.id), ...(r.etcd ? [e.get(c.id)] : [])];
    const cells = [...outcomes.flatMap((o) => cols(o)), ...(r.etcd ? ratios(s1.get(c.id), e.get(c.id)) : [])];
    return `| ${label(c)} | ${c.concurrency} | ${cells.join(" | ")} |`;
  });
  return [`| workload | clients | ${head.join(" | ")} |`, `|---|---:|${head.map(() => "---:|").join("")}`, ...rows];
}

/**
 * A "cost of" section (spec: mutual TLS, metrics): per cell, the medians over its paired runs of
 * server CPU per op without and with the feature and their ratio against the spec's target,
 * ops/s, p99 and client CPU per op.
 */
export function costSection(spec: CostSpec, cost: Readonly<Record<string, CostRuns>>): string[] {
  const rows = matrix.filter((c) => cost[c.id] !== undefined).map((c) => {
    const { off, on } = cost[c.id]!;
    const both = (metric: (o: CellOutcome | undefined) => number | undefined, fmt: (x: number | undefined) => string) =>
      [overRuns(off, metric, fmt), overRuns(on, metric, fmt)] as const;
    const [cpuOff, cpuOn] = both(cpuPer1k, fmtCpu);
    const [rateOff, rateOn] = both((o) => ok(o)?.opsPerSec ?? undefined, (x) => fmtRate(x));
    const [p99Off, p99On] = both((o) => ok(o)?.latencyMs.p99 ?? undefined, (x) => fmtMs(x));
    const [clientOff, clientOn] = both(clientCpuPer1k, fmtCpu);
    const ratio = cpuOff.median !== undefined && cpuOn.median !== undefined && cpuOff.median > 0 ? cpuOn.median / cpuOff.median : undefined;
    const met = ratio === undefined ? "-" : ratio <= spec.target ? "met" : "not met";
    return `| ${label(c)} | ${c.concurrency} | ${off.length} | ${cpuOff.text} / ${cpuOn.text} | ${fmtRatio(cpuOn.median, cpuOff.median)} (${met}) | ` +
      `${rateOff.text} / ${rateOn.text} | ${p99Off.text} / ${p99On.text} | ${clientOff.text} / ${clientOn.text} |`;
  });
  const target = `${spec.target.toFixed(2)}x`;
  return [
    `### ${spec.title}`,
    "",
    `A fresh cluster of 1 group (3 controllers, 3 replicas, 64 shards) ${spec.clusters}, both up, ` +
      `the one not measured paused (SIGSTOP); each cell runs ${spec.off} and ${spec.on} in interleaved pairs (${spec.on} first in every other pair), and each figure is the median of its runs (every run in brackets). ` +
      `Server CPU per op in ms (= s per 1,000 ops, all the daemons); the ratio is ${spec.on} over ${spec.off}, target at most ${target}.`,
    "",
    `| workload | clients | pairs | server CPU ms/op off / on | ratio (target <= ${target}) | ops/s off / on | p99 ms off / on | client CPU ms/op off / on |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ];
}

/**
 * The generated Markdown (without the markers); `more`: sections rendered elsewhere (the scaling
 * tables, bench/scaling-report.ts), placed before the list of errors.
 */
export function renderSection(r: BenchReport, more: readonly string[] = []): string {
  const m = r.machine;
  const { shardkv1: s1, shardkv3: s3, etcd: e } = r.results;
  const L: string[] = [];
  L.push(`## shardkv and etcd side by side (\`npm run bench\`, ${r.dateIso.slice(0, 16).replace("T", " ")} UTC)`, "");
  if (r.quick) L.push("**Quick run (`--quick`): a smoke test of the tooling with very short cells; the numbers are not measurements.**", "");
  if (r.etcd) L.push(...whatRatiosMeasure(r), "");
  L.push(
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}, Node.js ${m.node}` +
      `${m.etcd ? `, etcd ${m.etcd} (Debian etcd-server)` : ""}. Everything (servers, load generator, this driver) shares these cores over loopback.`,
    "",
    `- shardkv: a fresh cluster per column: 3 controllers and 1 (then 3) groups of 3 \`shardkv-server\` replicas, 64 shards, synced RocksDB, started by \`LocalCluster\` (deploy/local/cluster.ts).`,
    `- etcd: 3 members on loopback, default settings (fsync'd WAL), linearizable reads (range requests with serializable=false); append = get + compare-and-put transaction, retried on conflict. ` +
      "The load goes to etcd's leader (the load generator asks the members which one leads when it starts), as shardkv's client sends each request to its group's leader.",
    ...(r.etcd ? [`- Paired cells: etcd is up beside the 1-group shardkv cluster, and each etcd cell runs right after the shardkv cell of the same shape; the system not being measured is paused (SIGSTOP), so it takes no CPU, and the machine's drift over minutes stays out of the ratios.${r.writeRepeats ? ` Puts at 64 ran ${r.writeRepeats.shardkv.length} more times in pairs (etcd first in every other pair); the targets for puts at 64 compare the medians.` : ""}`] : []),
    `- Each cell: ${r.durationMs / 1000} s measured after ${r.warmupMs / 1000} s warmup, ${r.keys.toLocaleString("en-US")} keys chosen uniformly, 128-byte values; N workers with one operation in flight each through one client object; gets and mixed cells first write every key.` +
      (r.clusterWarmupMs ? ` Each fresh shardkv cluster was warmed before its first cell (its daemons JIT-compile the hot paths under the first loads): ${r.quick ? "0.5" : "5"} s rounds of a mixed load (half gets) at 64 clients for at least ${warmRoundsMin} rounds (or as many as the time allowed holds) and until two rounds in a row agreed on ops/s within 10 %, for at most ${r.clusterWarmupMs / 1000} s.` : ""),
    `- CPU: server CPU seconds per 1,000 operations = utime + stime of every daemon (/proc/<pid>/stat) over the measured phase / its operations; client CPU the same for the load generator's own process (process.cpuUsage() over the same phase).` +
      ` With no load the daemons used ${fmtCores(r.idleCores.shardkv1)} cores (shardkv, 1 group), ${fmtCores(r.idleCores.shardkv3)} (3 groups)${r.etcd ? ` and ${fmtCores(r.idleCores.etcd)} (etcd)` : ""}; that idle cost is part of every cell's CPU (it dominates at 1 client).`,
    "",
    "Commands:",
    "",
    "```sh",
    r.command,
    `${r.cellCommand.shardkv}    # one shardkv cell`,
    ...(r.etcd ? [`${r.cellCommand.etcd}    # one etcd cell`] : []),
    "```",
    "",
    "### Throughput and latency",
    "",
    `ops/s, and p50 / p99 latency in ms. Ratios are shardkv (1 group) over etcd: above 1x is better for ops/s, below 1x is better for p99.${r.etcd ? " They compare client library and servers together, on shared cores: see the client CPU below." : ""}`,
    "",
    ...matrixTable(r, { columns: ["ops/s", "p50 / p99"], ratios: ["ops/s ratio", "p99 ratio"] },
      (o) => [rateCell(o), latencyCell(o)],
      (a, x) => [fmtRatio(ok(a)?.opsPerSec, ok(x)?.opsPerSec), fmtRatio(ok(a)?.latencyMs.p99, ok(x)?.latencyMs.p99)]),
    "",
    "### CPU per operation",
    "",
    `CPU seconds per 1,000 operations (= ms per operation): server, all the daemons of the cluster; client, the load generator.${r.etcd ? " Ratios are shardkv (1 group) over etcd, below 1x is better: the server ratio compares the servers, the client ratio the client libraries." : ""}`,
    "",
    ...matrixTable(r, { columns: ["server", "client"], ratios: ["server ratio", "client ratio"] },
      (o) => [fmtCpu(cpuPer1k(o)), fmtCpu(clientCpuPer1k(o))],
      (a, x) => [fmtRatio(cpuPer1k(a), cpuPer1k(x)), fmtRatio(clientCpuPer1k(a), clientCpuPer1k(x))]),
  );
  if (r.etcd) L.push("", "### Targets", "", ...targets(r));
  if (r.tlsCost) L.push("", ...costSection(tlsCostSpec, r.tlsCost));
  if (r.metricsCost) L.push("", ...costSection(metricsCostSpec, r.metricsCost));
  if (r.failover) {
    L.push("", "### Scenario: leader failover", "");
    if ("error" in r.failover) L.push(`Failed: ${r.failover.error}`);
    else {
      const f = r.failover;
      const resume = f.resumeMs === 0 ? "no 100 ms window without completed writes" : Number.isFinite(f.resumeMs) ? `writes completed again ${(f.resumeMs / 1000).toFixed(2)} s after the kill` : "writes did not resume before the run ended";
      L.push(
        `kill -9 of group 1's leader (${f.killed}) ${(f.killAtMs / 1000).toFixed(1)} s into a put load at concurrency ${f.concurrency} (1 group, \`--timeline\`, 100 ms windows): ` +
          `${resume} (target: under 1 s: ${f.resumeMs < 1000 ? "met" : "not met"}). ` +
          `Before the kill ${fmtRate(f.opsPerSecBefore)} ops/s (worst 100 ms window p99 ${fmtMs(f.p99MsBefore)} ms); after recovery ${fmtRate(f.opsPerSecAfter)} ops/s (2 replicas left); ` +
          `longest operation ${fmtMs(f.maxMs)} ms; ${f.errors} failed operations.`,
      );
    }
  }
  if (r.restart) {
    L.push("", "### Scenario: restart of a server holding a large data set", "");
    if ("error" in r.restart) L.push(`Failed: ${r.restart.error}`);
    else {
      const x = r.restart;
      L.push(
        `1 group; ${x.mib.toLocaleString("en-US")} MiB written (${x.values} values of 256 KiB, in ${(x.fillMs / 1000).toFixed(1)} s; ${x.keys.toLocaleString("en-US")} keys in all), then follower ${x.node} killed with kill -9 and started again: ` +
          `it answered Status ${(x.answerMs / 1000).toFixed(1)} s after the start (Node.js and tsx start-up included) and served every shard with every key after ${(x.servingMs / 1000).toFixed(1)} s ` +
          `(target for 1 GiB: within 5 s: ${x.mib < 1024 ? "- (smaller data set)" : x.servingMs <= 5000 ? "met" : "not met"}).`,
      );
    }
  }
  if (r.shardMove) {
    L.push("", "### Scenario: moving a large shard under load", "");
    if ("error" in r.shardMove) L.push(`Failed: ${r.shardMove.error}`);
    else {
      const m = r.shardMove;
      const ratio = m.before.p99MedianMs && m.during.p99MedianMs ? m.during.p99MedianMs / m.before.p99MedianMs : undefined;
      L.push(
        `3 groups; shard ${m.shard} (${m.mib} MiB in ${m.keys} values, written in ${(m.fillMs / 1000).toFixed(1)} s) moved from group ${m.from} to group ${m.to} ` +
          `while a ${m.workload} load at concurrency ${m.concurrency} ran on every other shard (\`--exclude-shard ${m.shard} --timeline\`): ` +
          `the move took ${(m.moveMs / 1000).toFixed(1)} s (target: at most ${moveTargetMs / 1000} s: ${m.moveMs <= moveTargetMs ? "met" : "not met"}). ` +
          (m.pacing === "adaptive" ? "The shard servers pace the move by the receiving group's insert latency (`--migration-pacing adaptive`)" : "The shard servers do not adapt the pace (`--migration-pacing off`)") +
          (m.rateMiB > 0
            ? `, with \`--migration-rate ${m.rateMiB}\` (at most ${m.rateMiB} MiB/s of pulled data inserted): ` +
              "every byte moved is a synced log write and an apply on each of the receiving group's replicas, on the same two cores as the load."
            : ", without a migration rate cap."),
        "",
        "| other shards | ops/s | p99, median of 100 ms windows | p99, worst window |",
        "|---|---:|---:|---:|",
        `| before the move | ${fmtRate(m.before.opsPerSec)} | ${fmtMs(m.before.p99MedianMs)} | ${fmtMs(m.before.p99WorstMs)} |`,
        `| during the move | ${fmtRate(m.during.opsPerSec)} | ${fmtMs(m.during.p99MedianMs)} | ${fmtMs(m.during.p99WorstMs)} |`,
        "",
        `p99 during / before (medians): ${ratio === undefined ? "-" : `${ratio.toFixed(2)}x`} (target: within ${moveP99Target}x: ${ratio === undefined ? "-" : ratio <= moveP99Target ? "met" : "not met"}); ${m.errors} failed operations.`,
      );
    }
  }
  if (more.length > 0) L.push("", ...more);
  const problems: string[] = [];
  /** The line of a run that failed or had failed operations, named `which`. */
  const problem = (which: string, o: CellOutcome): void => {
    if (!o.ok) problems.push(`- ${which}: failed: ${o.error}`);
    else if (o.result.errors.total > 0) {
      const types = Object.entries(o.result.errors.byType).map(([t, n]) => `${t} ${n}`).join(", ");
      problems.push(`- ${which}: ${o.result.errors.total} failed operations (${types})`);
    }
  };
  const systems: [string, Map<string, CellOutcome>][] = [["shardkv 1 group", s1], ["shardkv 3 groups", s3], ["etcd", e]];
  for (const [name, res] of systems) {
    for (const c of matrix) {
      const o = res.get(c.id);
      if (o) problem(`${name}, ${c.workload} at ${c.concurrency}`, o);
    }
  }
  for (const [spec, cost] of [[tlsCostSpec, r.tlsCost], [metricsCostSpec, r.metricsCost]] as const) {
    for (const c of matrix) {
      const runs = cost?.[c.id];
      if (!runs) continue;
      for (const [side, outcomes] of [[spec.off, runs.off], [spec.on, runs.on]] as const) {
        outcomes.forEach((o, i) => problem(`shardkv 1 group ${side}, ${c.workload} at ${c.concurrency} (pair ${i + 1})`, o));
      }
    }
  }
  L.push("", "### Errors", "", ...(problems.length > 0 ? problems : ["None: every operation of every cell succeeded."]));
  return L.join("\n") + "\n";
}
