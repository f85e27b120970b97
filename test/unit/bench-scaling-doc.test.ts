/**
 * The scaling tables and the idle-elections line that `npm run bench` writes
 * (bench/scaling-report.ts): a row per group count with CPU per op against 1 group's, a row
 * per data set size with the restart and the gets after it, failed runs shown as failed,
 * their place in the generated section (before the errors), and the flags that select them
 * (bench/run-args.ts).
 */
import { describe, expect, it } from "vitest";
import { parseRunArgs, runUsage, scenarioNames } from "../../bench/run-args";
import { type BenchJson, type BenchReport, type CellOutcome, matrix, renderSection } from "../../bench/report";
import {
  type IdleElectionsResult, type RestartSizeResult, type ScalingResult, electionsPerHour, idleElectionsSection, restartSizeSection, scalingSection,
} from "../../bench/scaling-report";
import { diskBytesFor, sizeFill, warmedUp, warmupRunsMax } from "../../bench/scaling";
import { fillFor } from "../../bench/scenarios";

function cell(opsPerSec: number, p50: number, p99: number, daemonCpuSeconds: number, ops = 1000): CellOutcome {
  const result: BenchJson = { ops, opsPerSec, errors: { total: 0, byType: {} }, latencyMs: { p50, p90: p50, p99, p999: p99, max: p99 }, clientCpuUsPerOp: 40 };
  return { ok: true, result, daemonCpuSeconds };
}

const scaling: ScalingResult = {
  rows: [
    { groups: 1, idleCores: 0.06, cells: { "put@64": cell(2000, 10, 30, 0.2), "get@64": cell(4000, 5, 12, 0.1) }, runs: { "put@64": 3, "get@64": 2 } },
    { groups: 3, idleCores: 0.17, cells: { "put@64": cell(1800, 12, 40, 0.3), "get@64": { ok: false, error: "load generator exited 1" } } },
  ],
};

const restartSize: RestartSizeResult = {
  rows: [
    { mib: 102, valueBytes: 256 * 1024, fillConcurrency: 16, fillClients: 4, fillMs: 4200, answerMs: 1300, servingMs: 1900, gets: cell(3000, 4, 9.5, 0.1) },
    { mib: 1024, valueBytes: 256 * 1024, fillConcurrency: 8, fillMs: 41_000, answerMs: 1400, servingMs: 2600, gets: cell(2900, 4.2, 11, 0.1) },
    { mib: 4096, error: "not run: 3.0 GiB free in /tmp/x, 30.8 GiB needed" },
  ],
};

describe("scalingSection", () => {
  const md = scalingSection(scaling).join("\n");
  it("a row per group count: idle cores, ops/s, CPU per op and its ratio to 1 group's", () => {
    expect(md).toContain("### Scaling: CPU per operation by number of groups");
    expect(md).toContain("| 1 | 0.06 | 2,000 | 0.200 | 1.00x | 4,000 | 0.100 | 1.00x |");
    // 3 groups: puts 0.3 s per 1,000 = 1.5x the 1-group row's 0.2; its gets failed.
    expect(md).toContain("| 3 | 0.17 | 1,800 | 0.300 | 1.50x | failed | failed | - |");
  });
  it("says the warm-up rule and how many runs each cell took", () => {
    expect(md).toContain("two runs in a row agree within 10 % in ops/s (at most 4 runs");
    expect(md).toContain("(runs per row, puts/gets: 1g 3/2, 3g -/-)");
  });
});

describe("warmedUp: a cell runs until two runs in a row agree within 10 % in ops/s", () => {
  const runner = (rates: (number | null)[]) => {
    let i = 0;
    return async (): Promise<CellOutcome> => {
      const r = rates[i++];
      return r === null ? { ok: false, error: "load generator exited 1" } : cell(r!, 1, 2, 0.1);
    };
  };
  const put = matrix.find((c) => c.id === "put@64")!;
  it("a cold first run, then stable: the third run is reported", async () => {
    const w = await warmedUp(runner([1000, 2000, 2100, 9999]), put);
    expect(w.runs).toBe(3);
    expect(w.outcome.ok && w.outcome.result.opsPerSec).toBe(2100);
  });
  it("never stable: stops after warmupRunsMax runs, the last reported", async () => {
    const w = await warmedUp(runner([1000, 2000, 3000, 4000, 5000, 6000]), put);
    expect(w.runs).toBe(warmupRunsMax);
    expect(w.outcome.ok && w.outcome.result.opsPerSec).toBe(1000 * warmupRunsMax);
  });
  it("a failed run is reported at once", async () => {
    const w = await warmedUp(runner([1000, null, 1000]), put);
    expect(w.runs).toBe(2);
    expect(w.outcome.ok).toBe(false);
  });
});

describe("sizeFill: the restart-size table's fill", () => {
  it("256 KiB values, 16 in flight over 4 clients, at every size", () => {
    for (const mib of [102, 1024, 4096]) expect(sizeFill(mib)).toEqual({ mib, valueBytes: 256 * 1024, concurrency: 16, clients: 4 });
  });
});

describe("restartSizeSection", () => {
  const md = restartSizeSection(restartSize).join("\n");
  it("a row per size: the fill, Status and serving after the restart, the gets after it", () => {
    expect(md).toContain("### Restart by data set size");
    expect(md).toContain("| 102 MiB | 4.2 s = 24.3 MiB/s (256 KiB values, 16 in flight over 4 clients) | 1.3 s | 1.9 s | 4.00 / 9.50 | 3,000 |");
    expect(md).toContain("| 1 GiB | 41.0 s = 25.0 MiB/s (256 KiB values, 8 in flight over 1 client) | 1.4 s | 2.6 s | 4.20 / 11.0 | 2,900 |");
  });
  it("a size not run says why", () => {
    expect(md).toContain("| 4 GiB | failed: not run: 3.0 GiB free in /tmp/x, 30.8 GiB needed |");
  });
});

describe("the scaling tables in the generated section", () => {
  const report: BenchReport = {
    dateIso: "2026-12-06T08:00:00.000Z", quick: true, etcd: false, durationMs: 2000, warmupMs: 500, keys: 1000,
    machine: { cores: 2, cpuModel: "Test CPU", memoryGiB: 8, os: "Linux 6.1", node: "v20.20.2" },
    command: "npm run bench -- --quick", cellCommand: { shardkv: "bin/shardkv bench ...", etcd: "-" },
    results: { shardkv1: new Map(matrix.map((c) => [c.id, cell(1000, 1, 2, 0.1)])), shardkv3: new Map(), etcd: new Map() },
    idleCores: { shardkv1: 0.05, shardkv3: 0.1, etcd: undefined },
  };
  it("come before the list of errors", () => {
    const md = renderSection(report, [...scalingSection(scaling), "", ...restartSizeSection(restartSize)]);
    const at = (s: string) => md.indexOf(s);
    expect(at("### Scaling: CPU per operation")).toBeGreaterThan(at("### CPU per operation"));
    expect(at("### Restart by data set size")).toBeGreaterThan(at("### Scaling: CPU per operation"));
    expect(at("### Errors")).toBeGreaterThan(at("### Restart by data set size"));
  });
  it("are absent without them", () => {
    expect(renderSection(report)).not.toContain("### Scaling");
  });
});

describe("idleElectionsSection", () => {
  const r: IdleElectionsResult = {
    groups: 3, durationMs: 1_200_000, elections: 1, leaderChangesSeen: 3,
    byGroup: [
      { name: "controllers", termBefore: 2, termAfter: 2, leaderChanges: 0 },
      { name: "group 1", termBefore: 1, termAfter: 2, leaderChanges: 3 },
    ],
  };
  it("elections per group and per hour", () => {
    expect(electionsPerHour(r)).toBe(3);
    const md = idleElectionsSection(r).join("\n");
    expect(md).toContain("watched for 20.0 min: 1 election (term increments: controllers 0, group 1 1), 3.0 per hour (target 0); 3 leader changes seen");
  });
});

describe("flags", () => {
  it("--no-scaling skips the tables; the scenarios can be run alone", () => {
    expect(parseRunArgs([])).toMatchObject({ scaling: true });
    expect(parseRunArgs(["--no-scaling"])).toMatchObject({ scaling: false });
    for (const n of ["idle-elections", "scaling", "restart-size"]) expect(scenarioNames).toContain(n);
    expect(parseRunArgs(["--scenario", "scaling,restart-size"])).toMatchObject({ only: ["scaling", "restart-size"] });
    expect(runUsage).toContain("--no-scaling");
  });
  it("idle-elections watches for --duration, else 10 minutes (quick: 20 s)", () => {
    expect(parseRunArgs(["--scenario", "idle-elections"])).toMatchObject({ idleElectionsMs: 600_000 });
    expect(parseRunArgs(["--scenario", "idle-elections", "--quick"])).toMatchObject({ idleElectionsMs: 20_000 });
    expect(parseRunArgs(["--scenario", "idle-elections", "--duration", "30m"])).toMatchObject({ idleElectionsMs: 1_800_000 });
  });
});

describe("restart sizes", () => {
  it("fill 4 GiB with the largest values, more in flight; smaller sizes as the restart scenario does", () => {
    expect(fillFor(4096)).toEqual({ mib: 4096, valueBytes: 1024 * 1024, concurrency: 16 });
    expect(fillFor(1024)).toEqual({ mib: 1024, valueBytes: 256 * 1024, concurrency: 8 });
  });
  it("count the disk for three replicas, log and state each", () => {
    expect(diskBytesFor(1024)).toBeGreaterThanOrEqual(3 * 2 * 1024 ** 3);
  });
});
