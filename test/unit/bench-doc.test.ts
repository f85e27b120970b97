/**
 * The Markdown that `npm run bench` writes (bench/report.ts): the generated section
 * replaces only what is between its markers (the rest of docs/benchmarks.md is kept), the
 * tables hold every cell with ratios against etcd, CPU per 1,000 ops, failures and errors,
 * the targets docs/benchmarks.md compares against etcd; and the driver's flags (bench/run.ts).
 */
import { describe, expect, it } from "vitest";
import { parseRunArgs, runUsage, scenarioNames } from "../../bench/run-args";
import {
  type BenchJson, type BenchReport, type CellOutcome, clientCpuPer1k, clientCpuRanges, cpuPer1k, failoverResumeMs, fmtRatio, matrix, meanRate, renderSection, replaceSection,
  metricsCostSpec, metricsScrapeEveryMs, sectionEnd, sectionStart, type ShardMoveResult, tlsCostCells, tlsCostTarget, type WindowJson, windowP99s,
} from "../../bench/report";
import { keysOfShard } from "../../bench/scenarios";
import { shardOf } from "../../controller/shard-of";

function json(opsPerSec: number, p50: number, p99: number, ops = 1000, errors: Record<string, number> = {}, clientCpuUsPerOp: number | null = 40): BenchJson {
  const total = Object.values(errors).reduce((a, b) => a + b, 0);
  return { ops, opsPerSec, errors: { total, byType: errors }, latencyMs: { p50, p90: p50, p99, p999: p99, max: p99 }, clientCpuUsPerOp };
}

function report(over: Partial<BenchReport> = {}): BenchReport {
  const all = (f: (id: string) => CellOutcome) => new Map(matrix.map((c) => [c.id, f(c.id)]));
  return {
    dateIso: "2026-11-21T14:00:00.000Z", quick: false, etcd: true, durationMs: 20_000, warmupMs: 2_000, keys: 10_000,
    machine: { cores: 2, cpuModel: "Test CPU", memoryGiB: 23.4, os: "Linux 6.1", node: "v20.20.2", etcd: "3.4.23" },
    command: "npm run bench", cellCommand: { shardkv: "bin/shardkv bench ...", etcd: "npx tsx bench/etcd-load.ts ..." },
    results: {
      shardkv1: all(() => ({ ok: true, result: json(2000, 10, 30), daemonCpuSeconds: 1 })),
      shardkv3: all(() => ({ ok: true, result: json(3000, 8, 20), daemonCpuSeconds: 1.5 })),
      etcd: all(() => ({ ok: true, result: json(1000, 20, 60), daemonCpuSeconds: 2 })),
    },
    idleCores: { shardkv1: 0.05, shardkv3: 0.123, etcd: 0.01 },
    ...over,
  };
}

describe("replaceSection", () => {
  const doc = "# Benchmarks\n\nintro\n\n## Moving one large shard\n\nkept text\n";
  it("appends the section (with markers) when the file has none, keeping everything", () => {
    const out = replaceSection(doc, "## Generated\n\nnumbers\n");
    expect(out.startsWith(doc.trimEnd())).toBe(true);
    expect(out).toContain(`${sectionStart}\n## Generated\n\nnumbers\n${sectionEnd}\n`);
  });

  it("replaces only what is between the markers", () => {
    const once = replaceSection(doc + "\n## After\n", "old numbers");
    const withTail = once + "\ntrailing text\n";
    const twice = replaceSection(withTail, "new numbers");
    expect(twice).toContain("new numbers");
    expect(twice).not.toContain("old numbers");
    expect(twice).toContain("kept text");
    expect(twice).toContain("trailing text");
    expect(twice.split(sectionStart)).toHaveLength(2);
    expect(twice.split(sectionEnd)).toHaveLength(2);
  });
});

describe("renderSection", () => {
  it("every cell, the ratios, the machine and the commands", () => {
    const md = renderSection(report());
    expect(md).toContain("Machine: 2 cores (Test CPU), 23.4 GiB memory, Linux 6.1, Node.js v20.20.2, etcd 3.4.23");
    expect(md).toContain("npm run bench\n");
    expect(md).toContain("With no load the daemons used 0.05 cores (shardkv, 1 group), 0.12 (3 groups) and 0.01 (etcd)");
    expect(md).toContain("| put | 64 | 2,000 | 10.0 / 30.0 | 3,000 | 8.00 / 20.0 | 1,000 | 20.0 / 60.0 | 2.00x | 0.50x |");
    expect(md).toContain("| get (linearizable) | 1 |");
    expect(md).toContain("| mixed 95% get | 64 |");
    expect(md).toContain("| append | 64 |");
    // CPU: 1 s / 1000 ops = 1.000 s per 1k; etcd 2.000; ratio 0.50x; client 40 µs/op = 0.040 s per 1k.
    expect(md).toContain("| workload | clients | shardkv 1 group server | client | shardkv 3 groups server | client | etcd server | client | server ratio | client ratio |");
    expect(md).toContain("| put | 256 | 1.000 | 0.040 | 1.500 | 0.040 | 2.000 | 0.040 | 0.50x | 1.00x |");
    expect(md).toContain("The load goes to etcd's leader");
    expect(md).toContain("| puts at 64, 1 group: ops/s >= etcd's | 2,000 | 1,000 | met |");
    expect(md).toContain("| linearizable gets at 64: ops/s >= 1.5x etcd's | 2,000 | 1,000 | met |");
    expect(md).toContain("None: every operation of every cell succeeded.");
    expect(md).not.toContain("Quick run");
    for (const c of matrix) expect(md).toContain(`| ${c.concurrency} |`);
  });

  it("opens with what the ratios measure: servers (CPU per op) or client libraries and servers (ops/s, latency)", () => {
    const r = report();
    // etcd's client: 400 µs/op at puts at 1, 300 elsewhere; shardkv's 40: 7.5-10x; share 0.3/2.3 .. 0.4/2.4.
    for (const c of matrix) {
      const o = r.results.etcd.get(c.id)!;
      if (o.ok) r.results.etcd.set(c.id, { ...o, result: { ...o.result, clientCpuUsPerOp: c.id === "put@1" ? 400 : 300 } });
    }
    const md = renderSection(r);
    const first = md.split("\n").slice(0, 4).join("\n");
    expect(first).toContain("**What the ratios measure.** The server CPU per operation");
    expect(first).toContain("measures the servers");
    expect(first).toContain("Throughput and latency (ops/s, p50, p99) measure client library and servers together");
    expect(first).toContain("spent 7.5-10.0x the CPU per operation of shardkv's, and 13-17 % of all the CPU of an etcd cell (servers and client) was its client's.");
    expect(md).toContain("| put | 1 | 1.000 | 0.040 | 1.500 | 0.040 | 2.000 | 0.400 | 0.50x | 0.10x |");
    expect(clientCpuRanges(r)).toEqual({ ratio: { min: 7.5, max: 10 }, etcdShare: { min: 0.3 / 2.3, max: 0.4 / 2.4 } });
    // Without etcd there is nothing to compare: no opening lines, no etcd or ratio columns.
    const alone = renderSection(report({ etcd: false }));
    expect(alone).not.toContain("What the ratios measure");
    expect(alone).toContain("| workload | clients | shardkv 1 group server | client | shardkv 3 groups server | client |\n|---|---:|---:|---:|---:|---:|\n");
    expect(alone).toContain("| put | 64 | 1.000 | 0.040 | 1.500 | 0.040 |\n");
  });

  it("client CPU per 1,000 ops: from the load generator's µs per op; undefined when it was not measured", () => {
    expect(clientCpuPer1k({ ok: true, result: json(1, 1, 1, 1000, {}, 250) })).toBe(0.25);
    expect(clientCpuPer1k({ ok: true, result: json(1, 1, 1, 1000, {}, null) })).toBeUndefined();
    expect(clientCpuPer1k({ ok: false, error: "x" })).toBeUndefined();
    expect(clientCpuPer1k(undefined)).toBeUndefined();
    const none = report();
    for (const c of matrix) none.results.etcd.set(c.id, { ok: false, error: "x" });
    expect(clientCpuRanges(none)).toEqual({});
    expect(renderSection(none)).toContain("| put | 64 | 1.000 | 0.040 | 1.500 | 0.040 | - | - | - | - |");
  });

  it("a target not met says by how much; failures and errors are listed", () => {
    const r = report();
    r.results.shardkv1.set("get@64", { ok: true, result: json(1200, 5, 9, 500, { Timeout: 2 }), daemonCpuSeconds: 1 });
    r.results.etcd.set("append@64", { ok: false, error: "etcd-load: connection refused" });
    const md = renderSection(r);
    expect(md).toContain("| linearizable gets at 64: ops/s >= 1.5x etcd's | 1,200 | 1,000 | not met (1.20x of etcd) |");
    expect(md).toContain("- shardkv 1 group, get at 64: 2 failed operations (Timeout 2)");
    expect(md).toContain("- etcd, append at 64: failed: etcd-load: connection refused");
    expect(md).toMatch(/\| append \| 64 \| 2,000 \| 10.0 \/ 30.0 \| 3,000 \| 8.00 \/ 20.0 \| failed \| failed \| - \| - \|/);
  });

  it("puts at 64: one pair compares the matrix cells; with paired repeats, the medians of every run", () => {
    const one = renderSection(report());
    expect(one).toContain("| cluster CPU per write (s/1k puts at 64) <= etcd's | 1.000 | 2.000 | met |");
    expect(one).not.toContain("more times in pairs");
    const cpu = (s: number): CellOutcome => ({ ok: true, result: json(2000, 10, 30), daemonCpuSeconds: s });
    // shardkv 1.0 (matrix), 2.5, 2.2 -> median 2.2; etcd 2.0 (matrix), 2.1, 1.0 -> median 2.0.
    const r = report({ writeRepeats: { shardkv: [cpu(2.5), cpu(2.2)], etcd: [cpu(2.1), { ok: false, error: "x" }, cpu(1)] } });
    const md = renderSection(r);
    expect(md).toContain("| cluster CPU per write (s/1k puts at 64; median of 3 paired runs) <= etcd's | 2.200 (1.000, 2.500, 2.200) | 2.000 (2.000, 2.100, 1.000) | not met (1.10x of etcd) |");
    expect(md).toContain("Puts at 64 ran 2 more times in pairs");
    // Throughput and p99 of puts at 64 also by their medians: etcd's 1,000 (matrix) and 2,000 twice.
    expect(md).toContain("| puts at 64, 1 group: ops/s >= etcd's (median of 3 paired runs) | 2,000 (2,000, 2,000, 2,000) | 2,000 (1,000, 2,000, 2,000) | met |");
    expect(md).toContain("| puts at 64, 1 group: p99 <= etcd's (ms; median of 3 paired runs) | 30.0 (30.0, 30.0, 30.0) | 30.0 (60.0, 30.0, 30.0) | met |");
    expect(one).toContain("| puts at 64, 1 group: p99 <= etcd's (ms) | 30.0 | 60.0 | met |");
    // An even count takes the mean of the middle two.
    const even = renderSection(report({ writeRepeats: { shardkv: [cpu(3)], etcd: [cpu(4)] } }));
    expect(even).toContain("| 2.000 (1.000, 3.000) | 3.000 (2.000, 4.000) | met |");
  });

  it("--no-etcd: no etcd columns and no targets; --quick is flagged", () => {
    const md = renderSection(report({ etcd: false, quick: true, results: { ...report().results, etcd: new Map() } }));
    expect(md).not.toContain("etcd ops/s");
    expect(md).not.toContain("### Targets");
    expect(md).toContain("Quick run");
    expect(md).toContain("| put | 64 | 2,000 | 10.0 / 30.0 | 3,000 | 8.00 / 20.0 |\n");
  });

  it("helpers", () => {
    expect(fmtRatio(3, 2)).toBe("1.50x");
    expect(fmtRatio(3, 0)).toBe("-");
    expect(fmtRatio(null, 2)).toBe("-");
    expect(cpuPer1k({ ok: true, result: json(1, 1, 1, 2000), daemonCpuSeconds: 3 })).toBe(1.5);
    expect(cpuPer1k({ ok: true, result: json(1, 1, 1, 2000) })).toBeUndefined();
    expect(cpuPer1k({ ok: false, error: "x" })).toBeUndefined();
  });
});

describe("the cost of mutual TLS", () => {
  // cpu: daemon CPU seconds over 1,000 ops (= ms per op); client CPU 40 µs/op unless given.
  const run = (cpu: number, opsPerSec = 2000, p99 = 30, clientUs = 40): CellOutcome => ({ ok: true, result: json(opsPerSec, 10, p99, 1000, {}, clientUs), daemonCpuSeconds: cpu });

  it("per cell: medians of server CPU off / on and their ratio against the 1.15x target, ops/s, p99, client CPU", () => {
    expect(tlsCostCells).toEqual(["put@64", "get@64"]);
    expect(tlsCostTarget).toBe(1.15);
    const md = renderSection(report({
      tlsCost: {
        // puts: off 1.0, 1.2, 1.1 -> 1.1; on 1.3, 1.2, 1.25 -> 1.25: 1.14x, met.
        "put@64": { off: [run(1.0, 2000, 30), run(1.2, 1800, 40), run(1.1, 1900, 35)], on: [run(1.3, 1700, 45, 60), run(1.2, 1800, 40, 50), run(1.25, 1750, 42, 55)] },
        // gets: 0.5 -> 0.6, 1.20x, not met.
        "get@64": { off: [run(0.5, 4000, 10)], on: [run(0.6, 3500, 12)] },
      },
    }));
    expect(md).toContain("### Cost of mutual TLS");
    expect(md).toContain("| workload | clients | pairs | server CPU ms/op off / on | ratio (target <= 1.15x) | ops/s off / on | p99 ms off / on | client CPU ms/op off / on |");
    expect(md).toContain("| put | 64 | 3 | 1.100 (1.000, 1.200, 1.100) / 1.250 (1.300, 1.200, 1.250) | 1.14x (met) | 1,900 (2,000, 1,800, 1,900) / 1,750 (1,700, 1,800, 1,750) | " +
      "35.0 (30.0, 40.0, 35.0) / 42.0 (45.0, 40.0, 42.0) | 0.040 (0.040, 0.040, 0.040) / 0.055 (0.060, 0.050, 0.055) |");
    expect(md).toContain("| get (linearizable) | 64 | 1 | 0.500 / 0.600 | 1.20x (not met) | 4,000 / 3,500 | 10.0 / 12.0 | 0.040 / 0.040 |");
    // Rows in the matrix's order, after the matrix tables, before the errors.
    expect(md.indexOf("| put | 64 | 3 |")).toBeLessThan(md.indexOf("| get (linearizable) | 64 | 1 |"));
    expect(md.indexOf("### CPU per operation")).toBeLessThan(md.indexOf("### Cost of mutual TLS"));
    expect(md.indexOf("### Cost of mutual TLS")).toBeLessThan(md.indexOf("### Errors"));
    expect(md).toContain("None: every operation of every cell succeeded.");
  });

  it("not run: no section; a failed run is listed under errors and left out of the medians", () => {
    expect(renderSection(report())).not.toContain("Cost of mutual TLS");
    const md = renderSection(report({
      tlsCost: {
        "put@64": {
          off: [run(1.0), { ok: true, result: json(2000, 10, 30, 1000, { Timeout: 3 }), daemonCpuSeconds: 1.0 }],
          on: [{ ok: false, error: "shardkv bench: no answer" }, run(2.0)],
        },
      },
    }));
    expect(md).toContain("| put | 64 | 2 | 1.000 (1.000, 1.000) / 2.000 | 2.00x (not met) |");
    expect(md).not.toContain("| get (linearizable) | 64 | 1 |");
    expect(md).toContain("- shardkv 1 group with mutual TLS, put at 64 (pair 1): failed: shardkv bench: no answer");
    expect(md).toContain("- shardkv 1 group without TLS, put at 64 (pair 2): 3 failed operations (Timeout 3)");
    // Nothing measured on one side: no ratio, no verdict.
    const none = renderSection(report({ tlsCost: { "get@64": { off: [{ ok: false, error: "x" }], on: [run(1)] } } }));
    expect(none).toContain("| get (linearizable) | 64 | 1 | - / 1.000 | - (-) |");
  });
});

describe("the cost of metrics", () => {
  const run = (cpu: number, opsPerSec = 2000, p99 = 30): CellOutcome => ({ ok: true, result: json(opsPerSec, 10, p99, 1000, {}, 40), daemonCpuSeconds: cpu });

  it("puts at 64 against the 1.05x target, after the cost of mutual TLS; its failed runs listed under errors", () => {
    expect(metricsCostSpec.cells).toEqual(["put@64"]);
    expect(metricsCostSpec.target).toBe(1.05);
    const md = renderSection(report({
      tlsCost: { "put@64": { off: [run(1.0)], on: [run(1.1)] } },
      // off 1.0, 1.1, 1.0 -> 1.0; on 1.04, 1.2, { failed } -> median of 1.04, 1.2 = 1.12: 1.12x, not met.
      metricsCost: { "put@64": { off: [run(1.0), run(1.1), run(1.0)], on: [run(1.04), run(1.2), { ok: false, error: "scrape of 127.0.0.1:1: HTTP 500" }] } },
    }));
    expect(md).toContain("### Cost of metrics");
    expect(md).toContain(`scraped every ${metricsScrapeEveryMs / 1000} s during the cells`);
    expect(md).toContain("| workload | clients | pairs | server CPU ms/op off / on | ratio (target <= 1.05x) |");
    expect(md).toContain("| put | 64 | 3 | 1.000 (1.000, 1.100, 1.000) / 1.120 (1.040, 1.200) | 1.12x (not met) |");
    expect(md).toContain("- shardkv 1 group with metrics, put at 64 (pair 3): failed: scrape of 127.0.0.1:1: HTTP 500");
    expect(md.indexOf("### Cost of mutual TLS")).toBeLessThan(md.indexOf("### Cost of metrics"));
    expect(md.indexOf("### Cost of metrics")).toBeLessThan(md.indexOf("### Errors"));
    expect(renderSection(report())).not.toContain("Cost of metrics");
  });

  it("--no-metrics-cost skips it; --scenario metrics-cost runs it alone", () => {
    expect(parseRunArgs([])).toMatchObject({ metricsCost: true });
    expect(parseRunArgs(["--no-metrics-cost"])).toMatchObject({ metricsCost: false });
    expect(parseRunArgs(["--scenario", "metrics-cost,tls-cost"])).toMatchObject({ only: ["tls-cost", "metrics-cost"] });
    expect(runUsage).toContain("--no-metrics-cost");
  });
});

describe("failover analysis", () => {
  /** Windows of 100 ms with these op counts. */
  const tl = (ops: number[]): WindowJson[] => ops.map((n, i) => ({ tMs: i * 100, ops: n, opsPerSec: n * 10, p99Ms: n > 0 ? 5 : null }));

  it("the stall: from the kill to the first window with writes after the first empty one", () => {
    // Killed at 250 ms; windows 3..11 empty; writes again from 1200 ms.
    expect(failoverResumeMs(tl([50, 50, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30, 50]), 250)).toBe(950);
    // In-flight writes still completing in the kill's window do not hide the stall.
    expect(failoverResumeMs(tl([50, 50, 10, 0, 0, 20, 50]), 210)).toBe(290);
  });

  it("no empty window: 0; never resumed: Infinity", () => {
    expect(failoverResumeMs(tl([50, 50, 20, 30, 50]), 200)).toBe(0);
    expect(failoverResumeMs(tl([50, 50, 0, 0]), 150)).toBe(Infinity);
  });

  it("meanRate over whole windows inside the range", () => {
    expect(meanRate(tl([10, 20, 30, 40]), 0, 200)).toBe(150);
    expect(meanRate(tl([10, 20, 30, 40]), 100, 350)).toBe(250);
    expect(meanRate(tl([10]), 500, 600)).toBeNaN();
  });

  it("rendered with its target", () => {
    const f = { killed: "g1n2", killAtMs: 5000, resumeMs: 1300, opsPerSecBefore: 400, opsPerSecAfter: 380, p99MsBefore: 40, maxMs: 1500, errors: 0, concurrency: 16 };
    const md = renderSection(report({ failover: f }));
    expect(md).toContain("kill -9 of group 1's leader (g1n2) 5.0 s into a put load at concurrency 16");
    expect(md).toContain("writes completed again 1.30 s after the kill (target: under 1 s: not met)");
    expect(renderSection(report({ failover: { ...f, resumeMs: 240 } }))).toContain("writes completed again 0.24 s after the kill (target: under 1 s: met)");
    expect(renderSection(report({ failover: { error: "no leader" } }))).toContain("### Scenario: leader failover\n\nFailed: no leader");
    expect(renderSection(report())).not.toContain("Scenario");
  });
});

describe("shard move analysis", () => {
  const w = (p99s: (number | null)[]): WindowJson[] => p99s.map((p, i) => ({ tMs: i * 100, ops: p === null ? 0 : 10, opsPerSec: p === null ? 0 : 100, p99Ms: p }));

  it("windowP99s: median and worst of the windows inside the range, empty windows skipped", () => {
    expect(windowP99s(w([5, 7, 6, 40, 50, null, 45, 8]), 0, 300)).toEqual({ opsPerSec: 100, p99MedianMs: 6, p99WorstMs: 7 });
    expect(windowP99s(w([5, 7, 6, 40, 50, null, 45, 8]), 300, 700)).toEqual({ opsPerSec: 75, p99MedianMs: 45, p99WorstMs: 50 });
    expect(windowP99s(w([5]), 500, 900)).toEqual({ opsPerSec: NaN, p99MedianMs: null, p99WorstMs: null });
  });

  it("keysOfShard: n distinct keys, all in the shard", () => {
    const ks = keysOfShard(5, 64, 40);
    expect(new Set(ks).size).toBe(40);
    for (const k of ks) expect(shardOf(k, 64)).toBe(5);
  });

  it("rendered with its targets", () => {
    const m: ShardMoveResult = {
      rateMiB: 0, pacing: "adaptive", shard: 0, from: 1, to: 2, mib: 100, keys: 400, fillMs: 30_000, moveMs: 12_300, moveAtMs: 10_000, concurrency: 16, workload: "mixed:50",
      before: { opsPerSec: 500, p99MedianMs: 20, p99WorstMs: 35 }, during: { opsPerSec: 450, p99MedianMs: 30, p99WorstMs: 90 }, errors: 0,
    };
    const md = renderSection(report({ shardMove: m }));
    expect(md).toContain("shard 0 (100 MiB in 400 values, written in 30.0 s) moved from group 1 to group 2");
    expect(md).toContain("the move took 12.3 s (target: at most 10 s: not met)");
    expect(md).toContain("pace the move by the receiving group's insert latency (`--migration-pacing adaptive`), without a migration rate cap");
    expect(renderSection(report({ shardMove: { ...m, rateMiB: 4, pacing: "off" } }))).toContain("do not adapt the pace (`--migration-pacing off`), with `--migration-rate 4`");
    expect(md).toContain("| before the move | 500 | 20.0 | 35.0 |");
    expect(md).toContain("| during the move | 450 | 30.0 | 90.0 |");
    expect(md).toContain("p99 during / before (medians): 1.50x (target: within 1.5x: met)");
    const fast = renderSection(report({ shardMove: { ...m, moveMs: 9_000 } }));
    expect(fast).toContain("(target: at most 10 s: met)");
    const slow = renderSection(report({ shardMove: { ...m, moveMs: 45_000, during: { ...m.during, p99MedianMs: 31 } } }));
    expect(slow).toContain("1.55x (target: within 1.5x: not met)");
  });
});

describe("restart scenario", () => {
  it("rendered with its target only for 1 GiB", () => {
    const x = { node: "g1n2", mib: 1024, values: 4096, fillMs: 120_000, keys: 30_000, answerMs: 2100, servingMs: 4200 };
    const md = renderSection(report({ restart: x }));
    expect(md).toContain("### Scenario: restart of a server holding a large data set");
    expect(md).toContain("1 group; 1,024 MiB written (4096 values of 256 KiB, in 120.0 s; 30,000 keys in all), then follower g1n2 killed");
    expect(md).toContain("served every shard with every key after 4.2 s (target for 1 GiB: within 5 s: met)");
    expect(renderSection(report({ restart: { ...x, servingMs: 7000 } }))).toContain("within 5 s: not met");
    expect(renderSection(report({ restart: { ...x, mib: 50 } }))).toContain("within 5 s: - (smaller data set)");
    expect(renderSection(report({ restart: { error: "boom" } }))).toContain("Failed: boom");
  });
});

describe("parseRunArgs", () => {
  it("defaults and --quick", () => {
    expect(parseRunArgs([])).toMatchObject({ quick: false, etcd: true, durationMs: 20_000, warmupMs: 2_000, keys: 10_000 });
    expect(parseRunArgs(["--quick", "--no-etcd"])).toMatchObject({ quick: true, etcd: false, durationMs: 2_000, warmupMs: 500, keys: 1_000, scenarios: true });
    expect(parseRunArgs(["--no-scenarios"])).toMatchObject({ scenarios: false });
    expect(parseRunArgs([])).toMatchObject({ tlsCost: true, tls: false });
    expect(parseRunArgs(["--quick", "--no-tls-cost"])).toMatchObject({ quick: true, tlsCost: false });
    expect(runUsage).toContain("--no-tls-cost");
    expect(parseRunArgs(["--duration", "10s", "--warmup", "0", "--keys", "500"])).toMatchObject({ durationMs: 10_000, warmupMs: 0, keys: 500 });
    expect(parseRunArgs(["--help"])).toBe("help");
    // Each fresh cluster is warmed before its first cell: up to 60 s (quick 1 s); 0 turns it off.
    expect(parseRunArgs([])).toMatchObject({ clusterWarmupMs: 60_000 });
    expect(parseRunArgs(["--quick"])).toMatchObject({ clusterWarmupMs: 1_000 });
    expect(parseRunArgs(["--cluster-warmup", "0"])).toMatchObject({ clusterWarmupMs: 0 });
    expect(runUsage).toContain("--cluster-warmup D");
  });

  it("says how the clusters were warmed, when they were", () => {
    expect(renderSection(report({ clusterWarmupMs: 60_000 }))).toContain("Each fresh shardkv cluster was warmed before its first cell (its daemons JIT-compile the hot paths under the first loads): 5 s rounds of a mixed load (half gets) at 64 clients for at least 4 rounds (or as many as the time allowed holds) and until two rounds in a row agreed on ops/s within 10 %, for at most 60 s.");
    expect(renderSection(report({ clusterWarmupMs: 0 }))).not.toContain("was warmed");
    expect(renderSection(report())).not.toContain("was warmed");
  });

  it("bad flags name the flag", () => {
    expect(() => parseRunArgs(["--duration", "x"])).toThrow(/invalid --duration/);
    expect(() => parseRunArgs(["--keys", "0"])).toThrow(/invalid --keys/);
    expect(() => parseRunArgs(["--frob"])).toThrow(/unknown flag "--frob"/);
    expect(() => parseRunArgs(["--out"])).toThrow(/invalid --out: missing value/);
  });

  it("--scenario: only the scenarios named, in their running order; --help lists every one", () => {
    expect(parseRunArgs([])).not.toHaveProperty("only");
    expect(parseRunArgs(["--scenario", "unreliable"])).toMatchObject({ only: ["unreliable"], scenarios: true });
    expect(parseRunArgs(["--scenario", "unreliable,failover", "--quick"])).toMatchObject({ only: ["failover", "unreliable"], quick: true });
    expect(scenarioNames).toEqual(["failover", "restart", "shard-move", "unreliable", "tls-cost", "metrics-cost", "idle-elections", "scaling", "restart-size"]);
    expect(runUsage).toContain("npm run bench -- --scenario NAME[,NAME...]");
    expect(runUsage).toContain("failover, restart, shard-move, unreliable, tls-cost, metrics-cost, idle-elections, scaling, restart-size");
    expect(() => parseRunArgs(["--scenario", "lossy"])).toThrow(
      'invalid --scenario: want failover, restart, shard-move, unreliable, tls-cost, metrics-cost, idle-elections, scaling or restart-size (comma-separated), got "lossy"',
    );
    expect(() => parseRunArgs(["--scenario"])).toThrow("invalid --scenario: missing value");
    expect(() => parseRunArgs(["--scenario", "failover", "--no-scenarios"])).toThrow("give either --scenario or --no-scenarios, not both");
  });

  it("--cells: only the cells named, in the matrix's order; --help lists every one", () => {
    expect(parseRunArgs([])).not.toHaveProperty("cells");
    expect(parseRunArgs(["--cells", "get@64,put@64"])).toMatchObject({ cells: ["put@64", "get@64"] });
    expect(parseRunArgs(["--cells", "mixed:95@64", "--quick"])).toMatchObject({ cells: ["mixed:95@64"], quick: true });
    expect(runUsage).toContain(matrix.map((c) => c.id).join(", "));
    expect(() => parseRunArgs(["--cells", "put@32"])).toThrow(/^invalid --cells: want cells of the matrix \(comma-separated\): put@1, put@16, .*; got "put@32"$/);
    expect(() => parseRunArgs(["--cells"])).toThrow("invalid --cells: missing value");
  });
});
