/**
 * The bench report (bench/load-report.ts): the exact JSON line (one line, rounded numbers,
 * NaN as null, error types sorted), the text report and the timeline table; and the tool
 * shell (bench/load-tool.ts) with a fake target: one JSON line on stdout, no progress line
 * when stdout is not a terminal, usage errors with exit 2.
 */
import { describe, expect, it } from "vitest";
import type { BenchArgsSpec } from "../../bench/load-args";
import { Histogram } from "../../bench/histogram";
import type { BenchTarget } from "../../bench/load";
import { type BenchResult, formatJson, formatProgress, formatText, formatTimeline, latencyOf } from "../../bench/load-report";
import { runBenchTool } from "../../bench/load-tool";

const result: BenchResult = {
  target: "shardkv", workload: "mixed:95", keys: 1000, valueBytes: 128, concurrency: 64, warmupMs: 2000,
  preloadedKeys: 1000, elapsedMs: 20_000.04, ops: 123_456, opsPerSec: 6172.8123,
  errors: { total: 3, byType: { Timeout: 2, Backpressure: 1 } },
  latencyMs: { p50: 9.8765, p90: 12.1, p99: 20.3333, p999: 35.2, max: 60.1, mean: 10.00049 },
  clientCpuUsPerOp: 45.26,
};

describe("report", () => {
  it("the JSON line", () => {
    const line = formatJson(result);
    expect(line.endsWith("\n")).toBe(true);
    expect(line.trimEnd()).not.toContain("\n");
    expect(line).toBe(
      '{"target":"shardkv","workload":"mixed:95","keys":1000,"valueBytes":128,"concurrency":64,"warmupMs":2000,' +
        '"preloadedKeys":1000,"elapsedMs":20000,"ops":123456,"opsPerSec":6172.8,' +
        '"errors":{"total":3,"byType":{"Backpressure":1,"Timeout":2}},' +
        '"latencyMs":{"p50":9.877,"p90":12.1,"p99":20.333,"p999":35.2,"max":60.1,"mean":10},"clientCpuUsPerOp":45.3}\n',
    );
  });

  it("no operations: latencies are null, not NaN", () => {
    const empty = { ...result, ops: 0, opsPerSec: NaN, latencyMs: latencyOf(new Histogram()), clientCpuUsPerOp: NaN };
    const j = JSON.parse(formatJson(empty));
    expect(j.latencyMs).toEqual({ p50: null, p90: null, p99: null, p999: null, max: null, mean: null });
    expect(j.opsPerSec).toBeNull();
    expect(formatText(empty)).toContain("p50 -");
  });

  it("latencyOf: microseconds in, milliseconds out", () => {
    const h = new Histogram();
    for (let us = 1; us <= 1000; us++) h.record(us);
    expect(latencyOf(h)).toEqual({ p50: 0.5, p90: 0.9, p99: 0.99, p999: 0.999, max: 1, mean: 0.5005 });
  });

  it("the text report", () => {
    expect(formatText(result)).toBe([
      "shardkv mixed:95: 1000 keys, 128-byte values, concurrency 64, 1000 keys preloaded, warmup 2.0 s",
      "ops        123456 in 20.00 s = 6172.8 ops/s",
      "latency ms p50 9.877  p90 12.100  p99 20.333  p99.9 35.200  max 60.100  (mean 10.000)",
      "errors     3 (Backpressure 1, Timeout 2)",
      "client CPU 45.3 µs/op",
      "",
    ].join("\n"));
  });

  it("the timeline table and the progress line", () => {
    expect(formatTimeline([{ tMs: 0, ops: 50, opsPerSec: 500, p99Ms: 3.25 }, { tMs: 100, ops: 0, opsPerSec: 0, p99Ms: null }])).toBe(
      "    t_ms     ops     ops/s    p99_ms\n" +
        "       0      50       500     3.250\n" +
        "     100       0         0         -\n",
    );
    expect(formatProgress({ phase: "measure", elapsedMs: 3500, opsPerSec: 5123.4, errors: 2 })).toBe("measure 3.5 s  5123 ops/s  2 errors");
  });
});

describe("runBenchTool", () => {
  const spec: BenchArgsSpec = { tool: "fake-bench", addressFlag: "--endpoints", addressEnv: "FAKE", valueBytesMax: 1000, shardkvFlags: false };
  const target: BenchTarget = {
    name: "fake",
    get: async () => undefined,
    put: async () => undefined,
    append: async () => undefined,
    putMany: async () => undefined,
    errorType: () => "x",
  };
  function io(isTTY: boolean) {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: { write: (s: string) => out.push(s), isTTY }, stderr: { write: (s: string) => err.push(s) }, env: {} } };
  }

  it("--json: exactly one JSON line on stdout, nothing else when stdout is not a terminal", async () => {
    const { out, err, io: tio } = io(false);
    let closed = false;
    const code = await runBenchTool(spec, async () => ({ target, close: () => (closed = true) }), ["--endpoints", "a:1", "--ops", "100", "--json", "--phase-marks"], tio);
    expect(code).toBe(0);
    expect(closed).toBe(true);
    const stdout = out.join("");
    expect(stdout.split("\n")).toHaveLength(2);
    expect(JSON.parse(stdout)).toMatchObject({ target: "fake", ops: 100, errors: { total: 0, byType: {} } });
    expect(err.join("")).toBe("bench: measure-start\nbench: measure-end\n");
  });

  it("usage errors: one line naming the flag, exit 2, no connection", async () => {
    const { out, err, io: tio } = io(false);
    let connected = false;
    const code = await runBenchTool(spec, async () => { connected = true; return { target, close: () => undefined }; }, ["--endpoints", "a:1", "--keys", "x"], tio);
    expect([code, connected, out.join("")]).toEqual([2, false, ""]);
    expect(err.join("")).toBe('fake-bench: invalid --keys: want an integer in [1, 10000000], got "x" (see fake-bench --help)\n');
  });

  it("a failed setup: one line, exit 3", async () => {
    const { err, io: tio } = io(false);
    const code = await runBenchTool(spec, async () => { throw new Error("no\nconnection"); }, ["--endpoints", "a:1", "--ops", "1"], tio);
    expect(code).toBe(3);
    expect(err.join("")).toBe("fake-bench: no connection\n");
  });
});
