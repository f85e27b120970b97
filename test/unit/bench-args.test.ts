/**
 * Flags of the load generators (bench/load-args.ts) and the `shardkv bench` dispatch
 * (client/cli-lib.ts benchArgv): defaults, every flag, and one-line usage errors naming the flag.
 */
import { describe, expect, it } from "vitest";
import {
  type BenchArgsSpec, type BenchParse, benchUsage, durationMsDefault, parseBenchArgs, warmupMsDefault, workloadName,
} from "../../bench/load-args";
import { benchArgv } from "../../client/cli-lib";

const spec: BenchArgsSpec = { tool: "shardkv bench", addressFlag: "--controllers", addressEnv: "SHARDKV_CONTROLLERS", valueBytesMax: 1024 * 1024, shardkvFlags: true };
const etcdSpec: BenchArgsSpec = { tool: "etcd-load", addressFlag: "--endpoints", addressEnv: "ETCD_ENDPOINTS", valueBytesMax: 1024 * 1024, shardkvFlags: false };
const C = ["--controllers", "h1:1,h2:2"];

function options(r: BenchParse) {
  if (r.kind !== "run") throw new Error(`expected options, got ${JSON.stringify(r)}`);
  return r.options;
}

describe("parseBenchArgs", () => {
  it("defaults", () => {
    expect(options(parseBenchArgs(spec, C))).toEqual({
      addresses: ["h1:1", "h2:2"], workload: { kind: "put" }, keys: 10_000, valueBytes: 128, concurrency: 64,
      stop: { kind: "duration", ms: durationMsDefault }, warmupMs: warmupMsDefault, json: false, timeline: false,
      timeoutMs: 10_000, keyPrefix: "bench:", seed: 1, phaseMarks: false,
    });
  });

  it("every flag, = or separate value", () => {
    const o = options(parseBenchArgs(spec, [
      "--controllers=a:1", "--workload", "mixed:95", "--keys=500", "--value-bytes", "0", "--concurrency", "256",
      "--duration", "1.5s", "--warmup", "0", "--json", "--timeline", "--timeout", "3s", "--key-prefix", "x/", "--seed", "7",
      "--phase-marks", "--nats", "nats://127.0.0.1:4222", "--exclude-shard", "3",
    ]));
    expect(o).toEqual({
      addresses: ["a:1"], workload: { kind: "mixed", readPercent: 95 }, keys: 500, valueBytes: 0, concurrency: 256,
      stop: { kind: "duration", ms: 1500 }, warmupMs: 0, json: true, timeline: true, timeoutMs: 3000, keyPrefix: "x/",
      seed: 7, phaseMarks: true, nats: "nats://127.0.0.1:4222", excludeShard: 3,
    });
  });

  it("--ops: no warmup unless given", () => {
    expect(options(parseBenchArgs(spec, [...C, "--ops", "200"]))).toMatchObject({ stop: { kind: "ops", ops: 200 }, warmupMs: 0 });
    expect(options(parseBenchArgs(spec, [...C, "--ops", "200", "--warmup", "1s"]))).toMatchObject({ warmupMs: 1000 });
  });

  it("workloads", () => {
    for (const [arg, name] of [["put", "put"], ["get", "get"], ["append", "append"], ["mixed:0", "mixed:0"], ["mixed:50", "mixed:50"], ["mixed:100", "mixed:100"]]) {
      expect(workloadName(options(parseBenchArgs(spec, [...C, "--workload", arg!])).workload)).toBe(name);
    }
  });

  it("the address list from the environment; the etcd spec's own flag", () => {
    expect(options(parseBenchArgs(spec, [], { SHARDKV_CONTROLLERS: "e:1" })).addresses).toEqual(["e:1"]);
    expect(options(parseBenchArgs(etcdSpec, ["--endpoints", "127.0.0.1:2379"])).addresses).toEqual(["127.0.0.1:2379"]);
  });

  it("help", () => {
    expect(parseBenchArgs(spec, ["--help"])).toEqual({ kind: "help" });
    expect(benchUsage(spec)).toMatch(/^usage: shardkv bench --controllers/);
    expect(benchUsage(etcdSpec)).not.toMatch(/--nats/);
  });

  const errors: [string, BenchArgsSpec, string[], string][] = [
    ["no servers", spec, [], "invalid --controllers: missing (or set $SHARDKV_CONTROLLERS)"],
    ["bad address", spec, ["--controllers", "nohost"], "--controllers"],
    ["unknown workload", spec, [...C, "--workload", "scan"], 'invalid --workload: want put, get, append or mixed:R, got "scan"'],
    ["mixed over 100", spec, [...C, "--workload", "mixed:101"], "invalid --workload: want mixed:R"],
    ["mixed without a number", spec, [...C, "--workload", "mixed"], "invalid --workload: want mixed:R"],
    ["keys 0", spec, [...C, "--keys", "0"], 'invalid --keys: want an integer in [1, 10000000], got "0"'],
    ["keys not a number", spec, [...C, "--keys", "lots"], 'invalid --keys: want an integer in [1, 10000000], got "lots"'],
    ["value too large", spec, [...C, "--value-bytes", "1048577"], 'invalid --value-bytes: want an integer in [0, 1048576], got "1048577"'],
    ["negative value bytes", spec, [...C, "--value-bytes=-1"], "invalid --value-bytes"],
    ["concurrency 0", spec, [...C, "--concurrency", "0"], "invalid --concurrency: want an integer in [1, 10000]"],
    ["bad duration", spec, [...C, "--duration", "soon"], 'invalid --duration: want a duration like 500ms, 10s or 2m'],
    ["bad warmup", spec, [...C, "--warmup", "-1s"], "invalid --warmup: want a duration"],
    ["ops 0", spec, [...C, "--ops", "0"], "invalid --ops: want an integer in [1, 1000000000]"],
    ["duration and ops", spec, [...C, "--duration", "1s", "--ops", "5"], "invalid --ops: give either --duration or --ops, not both"],
    ["missing value", spec, [...C, "--keys"], "invalid --keys: missing value"],
    ["flag as value", spec, [...C, "--keys", "--json"], "invalid --keys: missing value"],
    ["value on a switch", spec, [...C, "--json=yes"], "invalid --json: takes no value"],
    ["unknown flag", spec, [...C, "--frob"], 'unknown flag "--frob"'],
    ["stray argument", spec, [...C, "extra"], 'unexpected argument "extra"'],
    ["--nats for etcd", etcdSpec, ["--endpoints", "a:1", "--nats", "nats://x:1"], 'unknown flag "--nats"'],
    ["--exclude-shard for etcd", etcdSpec, ["--endpoints", "a:1", "--exclude-shard", "1"], 'unknown flag "--exclude-shard"'],
    ["bad shard", spec, [...C, "--exclude-shard", "x"], 'invalid --exclude-shard: want an integer'],
    ["bad nats URL", spec, [...C, "--nats", "http://x"], "invalid --nats"],
  ];
  it.each(errors)("usage error: %s", (_name, s, argv, message) => {
    const r = parseBenchArgs(s, argv);
    expect(r.kind).toBe("usage-error");
    if (r.kind !== "usage-error") return;
    expect(r.message).toContain(message);
    expect(r.message).not.toContain("\n");
  });
});

describe("benchArgv (the shardkv CLI's bench dispatch)", () => {
  it("finds bench as the command word, global options before it kept", () => {
    expect(benchArgv(["bench", "--ops", "5"])).toEqual(["--ops", "5"]);
    expect(benchArgv(["--controllers", "a:1", "bench", "--json"])).toEqual(["--controllers", "a:1", "--json"]);
    expect(benchArgv(["--timeout", "2s", "--json", "bench"])).toEqual(["--timeout", "2s", "--json"]);
  });

  it("other commands and bench as a key are not the bench", () => {
    expect(benchArgv(["get", "bench"])).toBeUndefined();
    expect(benchArgv(["--controllers", "bench:1", "get", "k"])).toBeUndefined();
    expect(benchArgv(["--", "bench"])).toBeUndefined();
    expect(benchArgv([])).toBeUndefined();
  });
});
