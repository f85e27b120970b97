/**
 * The scaling tables of `npm run bench` (rendered by bench/scaling-report.ts):
 *   scaling       a fresh cluster of 1, 2, 3 and 6 groups (quick: 1 and 2): idle CPU, then
 *                 puts and linearizable gets at 64 clients, server CPU per op and ops/s;
 *   restart-size  a fresh 1-group cluster holding 0.1, 1 and 4 GiB (quick: 10 and 50 MiB):
 *                 a follower killed and started again (until it serves), then gets at 16
 *                 clients. A size the disk cannot hold (three replicas, each with its Raft log
 *                 and its state) is reported as failed without being written.
 * The driver (bench/run.ts) hands in how to start a cluster and how to run a cell on it.
 */
import { statfsSync } from "node:fs";
import type { LocalCluster } from "../deploy/local/cluster";
import { idleCores } from "./cell";
import type { Cell, CellOutcome } from "./report";
import { matrix } from "./report";
import type { RunOptions } from "./run-args";
import { type FillSpec, moveValueBytes, restartHolding } from "./scenarios";
import { warmedUp as steady } from "./warmup";
import {
  type RestartSizeResult, type RestartSizeRow, type ScalingResult, type ScalingRow, restartSizesMiB, restartSizesQuickMiB, scalingCells, scalingGroups,
} from "./scaling-report";

/** What the driver provides: a fresh cluster in a directory named `name`, and a cell runner on it. */
export interface ScalingDriver {
  up(name: string, groups: number): Promise<LocalCluster>;
  cells(cluster: LocalCluster, name: string): (cell: Cell) => Promise<CellOutcome>;
  /** Warms a fresh cluster before its first cell (bench/warmup.ts). */
  warm(cluster: LocalCluster, name: string): Promise<void>;
  idleMs: number;
  say(line: string): void;
}

const daemonPids = (cluster: LocalCluster): number[] => cluster.nodeNames().map((n) => cluster.node(n).pid).filter((p): p is number => p !== null);

/** Runs `fn` on `cluster`, then takes it down. */
async function on<T>(cluster: LocalCluster, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await cluster.down(5000);
  }
}

/**
 * Runs `cell` until its ops/s is stable, the warm-up rule of the scaling table: a fresh
 * cluster's daemons JIT-compile for 10 s and more, so a first run measures a cold cluster.
 * The cell runs again until two runs in a row agree in ops/s as bench/warmup.ts's rounds must
 * (within `warmTolerance`), at most `warmupRunsMax` times; the last run is the measurement (after that many runs the cluster has
 * had several times the JIT's time under this load, stable or not).
 */
export async function warmedUp(run: (cell: Cell) => Promise<CellOutcome>, cell: Cell): Promise<{ outcome: CellOutcome; runs: number }> {
  const rates: number[] = [];
  let outcome: CellOutcome | undefined;
  let runs = 0;
  while (runs < warmupRunsMax) {
    outcome = await run(cell);
    runs++;
    const rate = outcome.ok ? outcome.result.opsPerSec ?? undefined : undefined;
    if (rate === undefined) break; // a failed run is reported as it is
    rates.push(rate);
    if (steady(rates)) break;
  }
  return { outcome: outcome!, runs };
}

/** Most runs of one cell of the scaling table (see warmedUp). */
export const warmupRunsMax = 4;

/** The scaling table: one fresh cluster per group count, its idle CPU, then puts and gets at 64. */
export async function runScaling(o: RunOptions, d: ScalingDriver): Promise<ScalingResult> {
  const groupCounts = o.quick ? scalingGroups.slice(0, 2) : scalingGroups;
  const cells = matrix.filter((c) => (scalingCells as readonly string[]).includes(c.id));
  const rows: ScalingRow[] = [];
  for (const groups of groupCounts) {
    const cluster = await d.up(`shardkv-scaling-${groups}g`, groups);
    rows.push(await on(cluster, async () => {
      const idle = await idleCores(daemonPids(cluster), d.idleMs);
      d.say(`  scaling ${groups}g: idle CPU ${idle === undefined ? "-" : idle.toFixed(3)} cores`);
      await d.warm(cluster, `shardkv ${groups}g`);
      const run = d.cells(cluster, `shardkv ${groups}g`);
      const out: Record<string, CellOutcome> = {};
      const runs: Record<string, number> = {};
      for (const cell of cells) {
        const w = await warmedUp(run, cell);
        out[cell.id] = w.outcome;
        runs[cell.id] = w.runs;
        d.say(`  scaling ${groups}g ${cell.id}: ${w.runs} run(s) until ops/s was stable`);
      }
      return { groups, idleCores: idle, cells: out, runs };
    }));
  }
  return { rows };
}

/**
 * Bytes of disk a data set of `mib` MiB takes on a 1-group cluster, counted high: three
 * replicas, each holding every value in its Raft log (until compacted) and in its state.
 */
export const diskBytesFor = (mib: number): number => 3 * 2 * mib * 1024 * 1024 * 1.2;

/**
 * The fill of the restart-size table at `mib` MiB, through the real client and Raft: 256 KiB
 * values, 16 puts in flight over 4 clients (4 MiB in flight). Not 1 MiB values 16 in flight
 * (the first runs' 4 GiB shape): each 1 MiB entry holds a replica's event loop for tens of ms
 * (CRC-32C in JS alone took 49 ms per MiB at load 37), and 16 MiB in flight stalled heartbeats
 * into elections on the loaded machine (docs/benchmarks.md, 2026-12-06).
 */
export const sizeFill = (mib: number): FillSpec => ({ mib, valueBytes: moveValueBytes, concurrency: 16, clients: 4 });

/** The restart-size table: one fresh 1-group cluster per size. */
export async function runRestartSize(o: RunOptions, d: ScalingDriver, workDir: string): Promise<RestartSizeResult> {
  const sizes = o.quick ? restartSizesQuickMiB : restartSizesMiB;
  const rows: RestartSizeResult["rows"][number][] = [];
  const gets: Cell = { id: "get@16", workload: "get", concurrency: 16 };
  for (const mib of sizes) {
    const fs = statfsSync(workDir);
    const free = fs.bavail * fs.bsize;
    if (free < diskBytesFor(mib) + 2 * 1024 ** 3) {
      rows.push({ mib, error: `not run: ${(free / 1024 ** 3).toFixed(1)} GiB free in ${workDir}, ${(diskBytesFor(mib) / 1024 ** 3 + 2).toFixed(1)} GiB needed` });
      d.say(`  restart-size ${mib} MiB: skipped (disk)`);
      continue;
    }
    const cluster = await d.up(`shardkv-restart-${mib}m`, 1);
    rows.push(await on(cluster, async () => {
      const fill = sizeFill(mib);
      const r = await restartHolding(cluster, fill, d.say);
      if ("error" in r) {
        d.say(`  restart-size ${mib} MiB: FAILED: ${r.error}`);
        return { mib, error: r.error };
      }
      d.say(`  restart-size ${mib} MiB: Status after ${(r.answerMs / 1000).toFixed(1)} s, serving after ${(r.servingMs / 1000).toFixed(1)} s`);
      const row: RestartSizeRow = {
        mib, valueBytes: fill.valueBytes, fillConcurrency: fill.concurrency, fillClients: fill.clients ?? 1, fillMs: r.fillMs, answerMs: r.answerMs, servingMs: r.servingMs,
        gets: await d.cells(cluster, `shardkv 1g ${mib} MiB`)(gets),
      };
      return row;
    }));
  }
  return { rows };
}
