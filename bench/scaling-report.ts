/**
 * The scaling tables of `npm run bench` (bench/scaling.ts runs them): CPU per op and ops/s by
 * number of groups, restart time and get p99 by data set size; and the idle-elections
 * scenario's result. Pure (test/unit/bench-scaling-doc.test.ts).
 */
import { type CellOutcome, cpuPer1k, fmtMs, fmtRate, fmtRatio } from "./report";

/** The group counts of the scaling table (`--quick`: the first two). */
export const scalingGroups = [1, 2, 3, 6] as const;
/** The cells each group count runs (matrix ids). */
export const scalingCells = ["put@64", "get@64"] as const;

/** One row of the scaling table: a fresh cluster of `groups` groups. */
export interface ScalingRow {
  readonly groups: number;
  /** CPU cores the daemons used with no load, before the cells. */
  readonly idleCores: number | undefined;
  /** By cell id (scalingCells). */
  readonly cells: Readonly<Record<string, CellOutcome>>;
  /** By cell id: runs of the cell until its ops/s was stable, the last one reported (bench/scaling.ts warmedUp). */
  readonly runs?: Readonly<Record<string, number>>;
}

export interface ScalingResult {
  readonly rows: readonly ScalingRow[];
}

/** The data set sizes of the restart-size table, in MiB (`--quick`: restartSizesQuickMiB). */
export const restartSizesMiB = [102, 1024, 4096] as const;
export const restartSizesQuickMiB = [10, 50] as const;

/** One restart at one data set size (bench/scenarios.ts restartHolding, then a get load). */
export interface RestartSizeRow {
  readonly mib: number;
  /** Bytes of each value written to reach the size. */
  readonly valueBytes: number;
  /** Writes in flight while filling. */
  readonly fillConcurrency: number;
  /** Clients sharing them. */
  readonly fillClients?: number;
  readonly fillMs: number;
  /** From the start of the killed follower to its first Status answer. */
  readonly answerMs: number;
  /** From the start to every shard Serving with every key at that replica. */
  readonly servingMs: number;
  /** Linearizable gets of 128-byte values at concurrency 16 after the restart. */
  readonly gets: CellOutcome;
}

export interface RestartSizeResult {
  readonly rows: readonly (RestartSizeRow | { readonly mib: number; readonly error: string })[];
}

/** What the idle-elections scenario measured (bench/scenarios.ts runIdleElections). */
export interface IdleElectionsResult {
  readonly groups: number;
  readonly durationMs: number;
  /** Per Raft group ("controllers", "group 1", ...): term at the start and at the end, leader changes seen. */
  readonly byGroup: readonly { readonly name: string; readonly termBefore: number; readonly termAfter: number; readonly leaderChanges: number }[];
  /** Elections (term increments summed over the groups). */
  readonly elections: number;
  /** `shardkv_raft_leader_changes_seen_total` increments summed over every replica. */
  readonly leaderChangesSeen: number;
}

/** Elections per hour of an idle-elections result. */
export function electionsPerHour(r: IdleElectionsResult): number {
  return r.durationMs > 0 ? (r.elections * 3_600_000) / r.durationMs : NaN;
}

const fmtCpu = (x: number | undefined): string => (x === undefined ? "-" : x.toFixed(3));

/** The scaling table: per group count, per cell, ops/s and server CPU per op, and its ratio to 1 group's. */
export function scalingSection(r: ScalingResult): string[] {
  const base = r.rows.find((x) => x.groups === 1);
  const rows = r.rows.map((x) => {
    const cols = scalingCells.flatMap((id) => {
      const o = x.cells[id];
      if (o !== undefined && !o.ok) return ["failed", "failed", "-"];
      const cpu = cpuPer1k(o);
      return [fmtRate(o?.ok ? o.result.opsPerSec : undefined), fmtCpu(cpu), fmtRatio(cpu, cpuPer1k(base?.cells[id]))];
    });
    return `| ${x.groups} | ${x.idleCores === undefined ? "-" : x.idleCores.toFixed(2)} | ${cols.join(" | ")} |`;
  });
  return [
    "### Scaling: CPU per operation by number of groups",
    "",
    "A fresh cluster per row (3 controllers, N groups of 3 replicas, 64 shards spread over the groups); puts and linearizable gets at 64 clients " +
      "over every shard. Server CPU in ms per op (all the daemons, idle cost included), and its ratio to the 1-group row (target: 3 groups at most 1.5x). " +
      "Warmed up: each cell runs again until two runs in a row agree within 10 % in ops/s (at most 4 runs; a fresh cluster JIT-compiles for 10 s and more), " +
      `and the last run is reported (runs per row, puts/gets: ${r.rows.map((x) => `${x.groups}g ${scalingCells.map((id) => x.runs?.[id] ?? "-").join("/")}`).join(", ")}).`,
    "",
    "| groups | idle cores | puts ops/s | puts CPU ms/op | vs 1 group | gets ops/s | gets CPU ms/op | vs 1 group |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ];
}

/** The restart-size table: per data set size, the restart until the replica serves and the get p99 after it. */
export function restartSizeSection(r: RestartSizeResult): string[] {
  const rows = r.rows.map((x) => {
    const size = x.mib >= 1024 ? `${(x.mib / 1024).toFixed(x.mib % 1024 === 0 ? 0 : 1)} GiB` : `${x.mib} MiB`;
    if ("error" in x) return `| ${size} | failed: ${x.error} | | | | |`;
    const g = x.gets.ok ? x.gets.result : undefined;
    const rate = x.fillMs > 0 ? ` = ${(x.mib / (x.fillMs / 1000)).toFixed(1)} MiB/s` : "";
    const fill = `${(x.fillMs / 1000).toFixed(1)} s${rate} (${x.valueBytes / 1024} KiB values, ${x.fillConcurrency} in flight over ${x.fillClients ?? 1} client${(x.fillClients ?? 1) === 1 ? "" : "s"})`;
    return `| ${size} | ${fill} | ${(x.answerMs / 1000).toFixed(1)} s | ${(x.servingMs / 1000).toFixed(1)} s | ` +
      `${x.gets.ok ? `${fmtMs(g?.latencyMs.p50)} / ${fmtMs(g?.latencyMs.p99)}` : "failed"} | ${fmtRate(g?.opsPerSec)} |`;
  });
  return [
    "### Restart by data set size",
    "",
    "A fresh 1-group cluster per row filled to the size, a follower killed with kill -9 and started again: Status answered, and every shard Serving with every key " +
      "at that replica (target for 1 GiB: within 5 s); then linearizable gets of 128-byte keys at 16 clients on the group holding the data.",
    "",
    "| data set | filled in | Status after | serving after | gets p50 / p99 ms | gets ops/s |",
    "|---|---|---:|---:|---:|---:|",
    ...rows,
  ];
}

/** The idle-elections line. */
export function idleElectionsSection(r: IdleElectionsResult): string[] {
  const per = r.byGroup.map((g) => `${g.name} ${g.termAfter - g.termBefore}`).join(", ");
  return [
    "### Idle elections",
    "",
    `An idle healthy cluster (3 controllers, ${r.groups} group${r.groups > 1 ? "s" : ""} of 3 replicas) watched for ${(r.durationMs / 60_000).toFixed(1)} min: ` +
      `${r.elections} election${r.elections === 1 ? "" : "s"} (term increments: ${per}), ${electionsPerHour(r).toFixed(1)} per hour (target 0); ` +
      `${r.leaderChangesSeen} leader changes seen by the replicas (\`shardkv_raft_leader_changes_seen_total\`).`,
  ];
}
