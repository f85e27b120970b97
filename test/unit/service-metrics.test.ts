/**
 * The service, shard and controller metrics (common/hot-metrics.ts, common/service-metrics.ts,
 * shard-server/shard-metrics.ts, controller/controller-metrics.ts) without servers:
 *  - cells published at scrape time: counters sum over the sets of one registry and leave it
 *    with `close`; a cell histogram exposes exactly what prom-client's own histogram does for
 *    the same observations;
 *  - requests are counted by type and result, refusals by reason and limit name;
 *  - the shard series stay bounded: shards not serving listed first, then the largest, at most
 *    shardSeriesMax; a 16,384-shard group scrapes under the documented bound;
 *  - the dedup table size counts a client once per shard it wrote to;
 *  - the controller's gauges: shards per group (capped), pending joins, intents by kind and state.
 */
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BackpressureError, InvalidArgumentError, NotLeaderError, StoppedError, WrongGroupError } from "../../common/errors";
import type { ConfigNum, GroupId, NodeId, ShardId } from "../../common/ids";
import { MetricSet } from "../../common/hot-metrics";
import { checkLimit, keyBytesMax, LimitExceededError } from "../../common/limits";
import { operationSecondsBuckets, ServiceMetrics } from "../../common/service-metrics";
import { type Config, initialConfig } from "../../controller/config";
import { ControllerMetrics, groupSeriesMax } from "../../controller/controller-metrics";
import type { PendingJoin } from "../../controller/pending-joins";
import type { ReplicaIntent } from "../../common/replica-change";
import { ValueLimitError } from "../../shard-server/errors";
import { ShardServerMetrics, shardSeriesMax, type ShardMetricsView, summarizeShards } from "../../shard-server/shard-metrics";
import type { ClientWrite, ShardMeta } from "../../shard-server/types";
import { emptyEffects, ShardGroupCore } from "../../shard-server/state-machine";
import { shardOf } from "../../controller/shard-of";

type Value = { value: number; labels: Record<string, string | number>; metricName?: string };

/** Every value of metric `name` (after its collect ran). */
async function values(reg: Registry, name: string): Promise<Value[]> {
  const m = reg.getSingleMetric(name);
  expect(m, `metric ${name}`).toBeDefined();
  return (await m!.get()).values as Value[];
}

/** The value of `name` whose labels include `labels` (and whose series is `series`, for histograms); undefined if none. */
async function valueOf(reg: Registry, name: string, labels: Record<string, string>, series = name): Promise<number | undefined> {
  const found = (await values(reg, name)).filter((v) => (v.metricName ?? name) === series && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x));
  expect(found.length, `series of ${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

const spec = { name: "shardkv_test_things_total", help: "things", labelNames: ["kind"] };

describe("metric cells", () => {
  it("counters are published at scrape time, summed over the sets of a registry; close takes a set out", async () => {
    const reg = new Registry();
    const a = new MetricSet(reg);
    const b = new MetricSet(reg);
    const x = a.counter(spec, { kind: "x" });
    const y = a.counter(spec, { kind: "y" });
    const bx = b.counter(spec, { kind: "x" });
    x.value += 3;
    bx.value += 4;
    expect(await valueOf(reg, spec.name, { kind: "x" })).toBe(7);
    // A cell exists (at 0) from its creation.
    expect(await valueOf(reg, spec.name, { kind: "y" })).toBe(0);
    y.value++;
    x.value++;
    expect(await valueOf(reg, spec.name, { kind: "x" })).toBe(8);
    expect(await valueOf(reg, spec.name, { kind: "y" })).toBe(1);
    b.close();
    expect(await valueOf(reg, spec.name, { kind: "x" })).toBe(4);
    expect(await reg.metrics()).toContain('shardkv_test_things_total{kind="x"} 4\n');
    // Nothing on prom-client's global registry.
    expect(new Registry().getSingleMetric(spec.name)).toBeUndefined();
  });

  it("the same name as another kind or with other labels is a bug", () => {
    const reg = new Registry();
    const s = new MetricSet(reg);
    s.counter(spec, { kind: "x" });
    expect(() => s.gauge(spec, () => undefined)).toThrow(/recorded as a gauge/);
    expect(() => new MetricSet(reg).counter({ ...spec, labelNames: ["other"] }, { other: "x" })).toThrow(/created as a counter with kind/);
  });

  it("gauges report what their source reads at each scrape", async () => {
    const reg = new Registry();
    let n = 5;
    new MetricSet(reg).gauge({ name: "shardkv_test_level", help: "level", labelNames: [] }, (emit) => emit({}, n));
    expect(await valueOf(reg, "shardkv_test_level", {})).toBe(5);
    n = 2;
    expect(await valueOf(reg, "shardkv_test_level", {})).toBe(2);
  });

  it("a cell histogram exposes what prom-client's own histogram does for the same observations", async () => {
    const observations = [0, 0.00005, 0.0001, 0.0003, 0.002, 0.002, 0.04, 0.7, 3, 12, 99];
    const hspec = { name: "shardkv_test_seconds", help: "seconds", labelNames: ["type"], buckets: operationSecondsBuckets };
    const mine = new Registry();
    const set = new MetricSet(mine);
    // In the order prom-client meets the label sets (the first observation is a get).
    const get = set.histogram(hspec, { type: "get" });
    const put = set.histogram(hspec, { type: "put" });
    const ref = new Registry();
    const theirs = new Histogram({ name: hspec.name, help: hspec.help, labelNames: ["type"], buckets: [...operationSecondsBuckets], registers: [ref] });
    for (const [i, v] of observations.entries()) {
      (i % 3 === 0 ? get : put).observe(v);
      theirs.observe({ type: i % 3 === 0 ? "get" : "put" }, v);
    }
    const text = await mine.metrics();
    expect(text).toBe(await ref.metrics());
    expect(text).toContain('shardkv_test_seconds_bucket{le="+Inf",type="put"} 7\n');
    // A second set on the same registry adds to the same series.
    new MetricSet(mine).histogram(hspec, { type: "put" }).observe(0.0002);
    theirs.observe({ type: "put" }, 0.0002);
    expect(await mine.metrics()).toBe(await ref.metrics());
    expect(await valueOf(mine, hspec.name, { type: "put" }, `${hspec.name}_count`)).toBe(8);
  });
});

describe("service metrics", () => {
  const types = ["get", "put", "join"] as const;
  const setup = () => {
    const reg = new Registry();
    let now = 1000;
    const m = new ServiceMetrics(new MetricSet(reg), {
      types, nowMs: () => now, limitOf: (e) => (e instanceof ValueLimitError ? "valueBytesMax" : undefined),
    });
    return { reg, m, advance: (ms: number) => (now += ms) };
  };
  const ops = (reg: Registry, labels: Record<string, string>) => valueOf(reg, "shardkv_service_operations_total", labels);
  const refusals = (reg: Registry, labels: Record<string, string>) => valueOf(reg, "shardkv_service_refusals_total", labels);

  it("counts requests by type and result, and times them", async () => {
    const { reg, m, advance } = setup();
    for (let i = 0; i < 5; i++) {
      const t0 = m.op("put").start();
      advance(2);
      m.op("put").ok(t0);
    }
    m.op("put").requestBytes(10);
    m.op("put").requestBytes(6);
    expect(await ops(reg, { type: "put", result: "ok" })).toBe(5);
    // Every type's ok series exists from the start; failures appear with the first.
    expect(await ops(reg, { type: "get", result: "ok" })).toBe(0);
    expect(await ops(reg, { type: "put", result: "not_leader" })).toBeUndefined();
    expect(await valueOf(reg, "shardkv_service_request_bytes_total", { type: "put" })).toBe(16);
    const d = "shardkv_service_operation_duration_seconds";
    expect(await valueOf(reg, d, { type: "put" }, `${d}_count`)).toBe(5);
    expect(await valueOf(reg, d, { type: "put" }, `${d}_sum`)).toBeCloseTo(0.01, 9);
    expect(await valueOf(reg, d, { type: "put", le: "0.001" }, `${d}_bucket`)).toBe(0);
    expect(await valueOf(reg, d, { type: "put", le: "0.0025" }, `${d}_bucket`)).toBe(5);
  });

  it("failures by error code; NotLeader, WrongGroup and limits are refusals, the limit by name", async () => {
    const { reg, m } = setup();
    const fail = (type: (typeof types)[number], e: unknown) => m.op(type).failed(m.op(type).start(), e);
    fail("put", new NotLeaderError(2 as NodeId));
    fail("put", new NotLeaderError(0 as NodeId));
    fail("get", new WrongGroupError(3, 4));
    fail("put", new BackpressureError("proposalQueueMax", 10, 11));
    fail("join", new BackpressureError("someNewLimit", 1, 2));
    fail("get", (() => { try { checkLimit("key", "key", keyBytesMax + 1, keyBytesMax); } catch (e) { return e; } })());
    fail("put", new LimitExceededError("ops", "the reply (values returned by the gets and CASes of the write)", 5, 4));
    fail("put", new ValueLimitError(new Uint8Array([1]), 10, 10, 15));
    fail("put", new InvalidArgumentError("ops.key", "key of shard 1 in a request for shard 2"));
    fail("join", new StoppedError("controller"));
    fail("join", new Error("a bug"));
    expect(await ops(reg, { type: "put", result: "not_leader" })).toBe(2);
    expect(await ops(reg, { type: "get", result: "wrong_group" })).toBe(1);
    expect(await ops(reg, { type: "put", result: "backpressure" })).toBe(1);
    expect(await ops(reg, { type: "put", result: "invalid_argument" })).toBe(3);
    expect(await ops(reg, { type: "join", result: "stopped" })).toBe(1);
    expect(await ops(reg, { type: "join", result: "internal" })).toBe(1);
    expect(await refusals(reg, { reason: "not_leader" })).toBe(2);
    expect(await refusals(reg, { reason: "wrong_group" })).toBe(1);
    expect(await refusals(reg, { reason: "limit", limit: "proposalQueueMax" })).toBe(1);
    expect(await refusals(reg, { reason: "limit", limit: "other" })).toBe(1);
    expect(await refusals(reg, { reason: "limit", limit: "keyBytesMax" })).toBe(1);
    expect(await refusals(reg, { reason: "limit", limit: "writeReplyBytesMax" })).toBe(1);
    expect(await refusals(reg, { reason: "limit", limit: "valueBytesMax" })).toBe(1);
    // Every failure is timed too.
    const d = "shardkv_service_operation_duration_seconds";
    expect(await valueOf(reg, d, { type: "put" }, `${d}_count`)).toBe(6);
  });

  it("track records a promise's outcome, an immediate throw included, and passes it on", async () => {
    const { reg, m } = setup();
    await expect(ServiceMetrics.track(m, "join", async () => 7)).resolves.toBe(7);
    await expect(ServiceMetrics.track(m, "join", () => Promise.reject(new NotLeaderError(1 as NodeId)))).rejects.toBeInstanceOf(NotLeaderError);
    await expect(ServiceMetrics.track(m, "join", () => { throw new StoppedError("controller"); })).rejects.toBeInstanceOf(StoppedError);
    expect(await ops(reg, { type: "join", result: "ok" })).toBe(1);
    expect(await ops(reg, { type: "join", result: "not_leader" })).toBe(1);
    expect(await ops(reg, { type: "join", result: "stopped" })).toBe(1);
    // Without metrics, the call is just made.
    await expect(ServiceMetrics.track(undefined, "join", async () => 8)).resolves.toBe(8);
  });
});

/** A fake group of `n` shards: `state(s)` and `size(s)` (keys; bytes = 100 per key). */
function shardView(n: number, meta: (s: number) => Partial<ShardMeta>, keysOf: (s: number) => number): ShardMetricsView & { metas: ShardMeta[] } {
  const metas = Array.from({ length: n }, (_, s) => ({ shard: s as ShardId, state: "notOwned", configNum: 1 as ConfigNum, gcConfigNum: 0 as ConfigNum, ...meta(s) } as ShardMeta));
  const counts = metas.map((m) => ({ keys: keysOf(m.shard), bytes: 100 * keysOf(m.shard) }));
  return {
    metas,
    core: { allMetas: () => metas, config: { num: 7 as ConfigNum } as Config, dedupClientCount: () => 12 },
    shardCounts: () => counts,
  };
}

describe("shard metrics", () => {
  it("lists the shards not serving first, then the largest, at most the cap; sums per state", () => {
    const view = shardView(100, (s) => ({
      state: s < 80 ? "serving" : s < 90 ? "notOwned" : s < 95 ? "pulling" : "handoff",
      gcConfigNum: (s === 3 ? 2 : 0) as ConfigNum,
    }), (s) => s % 50);
    const sum = summarizeShards(view, 8);
    // 10 migrating (90..99: pulling and handoff) come first, so the cap of 8 takes the largest of them.
    expect(sum.listed.map((l) => l.shard)).toEqual([99, 98, 97, 96, 95, 94, 93, 92]);
    expect(sum.listed.map((l) => l.state)).toEqual(["handoff", "handoff", "handoff", "handoff", "handoff", "pulling", "pulling", "pulling"]);
    expect(sum.unlisted).toBe(90 - 8);
    expect(Object.fromEntries(sum.shards)).toEqual({ notOwned: 10, serving: 79, gc: 1, pulling: 5, handoff: 5, held: 0 });
    const keysOf = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => (from + i) % 50).reduce((a, b) => a + b, 0);
    expect(sum.keys.get("pulling")).toBe(keysOf(90, 95));
    expect(sum.bytes.get("serving")).toBe(100 * (keysOf(0, 80) - 3));
    expect(sum.keys.has("notOwned")).toBe(false);
    // With room: the rest of the 11 not serving (shard 3 in gc), then the largest serving shards.
    const wide = summarizeShards(view, 14);
    expect(wide.listed.slice(9).map((l) => [l.shard, l.state, l.keys])).toEqual([
      [90, "pulling", 40], [3, "gc", 3], [49, "serving", 49], [48, "serving", 48], [47, "serving", 47],
    ]);
    expect(summarizeShards(view, 0).listed).toEqual([]);
  });

  it("a group of 16,384 shards, every one held, scrapes under 32 KiB, as a group of 1,024 does", async () => {
    const sizes: Record<number, number> = {};
    for (const n of [1024, 16_384]) {
      const reg = new Registry();
      reg.setDefaultLabels({ gid: "1", node: "3" });
      const view = shardView(n, (s) => ({ state: s % 97 === 1 ? "pulling" : "serving" }), (s) => 1000 + s);
      const m = new ShardServerMetrics(reg, view, () => 0);
      // Every type seen once, with failures too: the most series the service metrics make.
      for (const t of ["get", "put", "append", "delete", "cas", "batch", "delete_shard", "pull_shard", "status", "identify"] as const) {
        const op = m.service.op(t);
        op.ok(op.start());
        op.failed(op.start(), new NotLeaderError(1 as NodeId));
        op.failed(op.start(), new WrongGroupError(1, 1));
        op.requestBytes(1);
      }
      const text = await reg.metrics();
      sizes[n] = text.length;
      expect((text.match(/^shardkv_shard_keys_by_shard\{/gm) ?? []).length).toBe(Math.min(n, shardSeriesMax));
      expect(text).toContain(`shardkv_shards_unlisted{gid="1",node="3"} ${Math.max(0, n - shardSeriesMax)}\n`);
    }
    expect(sizes[16_384]).toBeLessThan(32 * 1024);
    // Only the numbers in the listed series are longer (shard ids, keys, bytes: a few digits a line).
    expect(sizes[16_384]! - sizes[1024]!).toBeLessThan(2 * shardSeriesMax * 4);
  });

  it("observed Batch handlers keep the handlers' pass (one Raft round per client message), and have none when the handlers have none", () => {
    const m = new ShardServerMetrics(new Registry(), shardView(4, () => ({ state: "serving" }), () => 0), () => 0);
    const base = { get: () => Promise.reject(new Error("unused")), write: () => Promise.reject(new Error("unused")), describe: (e: unknown) => e, stopping: () => false };
    const passes: string[] = [];
    const observed = m.observe({ ...base, pass: (fn: () => void) => { passes.push("in"); fn(); passes.push("out"); } });
    observed.pass!(() => void passes.push("fn"));
    expect(passes).toEqual(["in", "fn", "out"]);
    expect(m.observe(base).pass).toBeUndefined();
  });

  it("migration bytes: in flight until settled, moved when inserted; sent bytes move out", async () => {
    const reg = new Registry();
    const m = new ShardServerMetrics(reg, shardView(4, () => ({ state: "serving" }), () => 0), () => 0);
    const moved = (direction: string) => valueOf(reg, "shardkv_migration_moved_bytes_total", { direction });
    const inFlight = () => valueOf(reg, "shardkv_migration_in_flight_bytes", {});
    m.migration.received(100);
    m.migration.received(50);
    expect(await inFlight()).toBe(150);
    m.migration.settled(100, true);
    m.migration.settled(50, false);
    expect(await inFlight()).toBe(0);
    expect(await moved("in")).toBe(100);
    m.sent(30);
    expect(await moved("out")).toBe(30);
    // The pace after the last insert; an unpaced driver (Infinity) shows 0.
    const pace = () => valueOf(reg, "shardkv_migration_pace_bytes_per_second", {});
    expect(await pace()).toBe(0);
    m.migration.paced!(3 * 1024 * 1024);
    expect(await pace()).toBe(3 * 1024 * 1024);
    m.migration.paced!(Infinity);
    expect(await pace()).toBe(0);
    expect(await valueOf(reg, "shardkv_shard_config_number", {})).toBe(7);
    expect(await valueOf(reg, "shardkv_service_dedup_clients", {})).toBe(12);
  });
});

describe("the dedup table size", () => {
  it("counts each client once per shard it wrote to, in every shard's table", () => {
    const n = 4;
    const core = new ShardGroupCore({ gid: 1 as GroupId, shardCount: n, config: initialConfig(n), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
    core.applyReconfigure({ num: 1 as ConfigNum, shards: [1, 1, 1, 1] as GroupId[], groups: new Map([[1 as GroupId, ["127.0.0.1:1"]]]) }, emptyEffects());
    expect(core.dedupClientCount()).toBe(0);
    const key = (shard: number) => { for (let i = 0; ; i++) if (shardOf(`k${i}`, n) === shard) return new TextEncoder().encode(`k${i}`); };
    let seq = 0;
    const put = (clientId: string, shard: number) => {
      const w: ClientWrite = { clientId, seq: ++seq, ackedBelow: 0, shard: shard as ShardId, ops: [{ type: "put", key: key(shard), value: new Uint8Array([1]) }] };
      expect(core.applyWrite(w, 1000, () => undefined, emptyEffects()).ok).toBe(true);
    };
    put("a", 0);
    put("a", 0);
    put("a", 1);
    put("b", 1);
    expect(core.dedupClientCount()).toBe(3);
  });
});

describe("controller metrics", () => {
  it("config, groups, shards per group (capped at the largest), pending joins, intents by kind and state", async () => {
    const groups = groupSeriesMax + 6;
    // Shard s -> group (s % groups) + 1 over 1,000 shards, the last 10 unassigned.
    const shards = Array.from({ length: 1000 }, (_, s) => (s >= 990 ? 0 : (s % groups) + 1) as GroupId);
    const latest = { num: 9 as ConfigNum, shards, groups: new Map(Array.from({ length: groups }, (_, i) => [(i + 1) as GroupId, ["127.0.0.1:1"]])) } as Config;
    const intents = new Map<GroupId, ReplicaIntent>([
      [1 as GroupId, { change: { kind: "replace", oldId: 1 as NodeId, newId: 4 as NodeId, address: "127.0.0.1:2" }, force: false }],
      [2 as GroupId, { change: { kind: "replace", oldId: 1 as NodeId, newId: 4 as NodeId, address: "127.0.0.1:2" }, force: false, blocked: "replica 4 is unreachable" }],
      [3 as GroupId, { change: { kind: "remove", id: 2 as NodeId }, force: false }],
    ]);
    const pending = new Map<GroupId, PendingJoin>([[5 as GroupId, { gid: 5 as GroupId, joinNum: 9 as ConfigNum, handedFrom: new Map() }]]);
    const reg = new Registry();
    const m = new ControllerMetrics(reg, { latest: () => latest, pendingJoins: () => pending, replicaState: () => ({ intents, controllers: [] }) }, () => 0);
    expect(await valueOf(reg, "shardkv_controller_config_number", {})).toBe(9);
    expect(await valueOf(reg, "shardkv_controller_groups", {})).toBe(groups);
    expect(await valueOf(reg, "shardkv_controller_unassigned_shards", {})).toBe(10);
    expect(await valueOf(reg, "shardkv_controller_pending_joins", {})).toBe(1);
    const perGroup = await values(reg, "shardkv_controller_shards");
    expect(perGroup).toHaveLength(groupSeriesMax);
    // 990 shards over 70 groups: groups 1..10 own 15, the others 14; the largest are listed.
    expect(perGroup.filter((v) => v.value === 15).map((v) => Number(v.labels["group"])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await valueOf(reg, "shardkv_controller_replica_intents", { kind: "replace", state: "running" })).toBe(1);
    expect(await valueOf(reg, "shardkv_controller_replica_intents", { kind: "replace", state: "blocked" })).toBe(1);
    expect(await valueOf(reg, "shardkv_controller_replica_intents", { kind: "remove", state: "running" })).toBe(1);
    expect(await valueOf(reg, "shardkv_controller_replica_intents", { kind: "promote", state: "running" })).toBe(0);
    const op = m.service.op("join");
    op.ok(op.start());
    expect(await valueOf(reg, "shardkv_service_operations_total", { type: "join", result: "ok" })).toBe(1);
    m.close();
    expect(await values(reg, "shardkv_controller_groups")).toEqual([{ value: 0, labels: {} }]);
  });
});
