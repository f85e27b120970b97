/**
 * The dashboard's reading of /metrics (deploy/dashboard/prometheus-text.ts) and its per-group
 * ops/s and p99 (deploy/dashboard/group-rates.ts), against fixed exposition text in the format
 * and with the names the shard servers serve (shardkv_service_operations_total{type,result},
 * the histogram shardkv_service_operation_duration_seconds{type}, the registry's default
 * labels gid and node).
 */
import { describe, expect, it } from "vitest";
import { ExpositionError, parseExposition } from "../../deploy/dashboard/prometheus-text";
import { gidOfScrape, groupRate, histogramQuantile, nodeDelta, sumOf, type Scrape } from "../../deploy/dashboard/group-rates";

const bounds = ["0.001", "0.0025", "0.005", "0.01", "+Inf"];

/** One node's scrape: cumulative ok counts per type, bucket counts (same bounds) per type. */
function exposition(node: number, ops: Record<string, number>, buckets: Record<string, number[]>, extra = ""): string {
  const lines = [
    "# HELP shardkv_service_operations_total Requests served, by type and result (ok, or the error code in snake case)",
    "# TYPE shardkv_service_operations_total counter",
  ];
  for (const [type, n] of Object.entries(ops)) lines.push(`shardkv_service_operations_total{type="${type}",result="ok",gid="1",node="${node}"} ${n}`);
  lines.push(
    "# HELP shardkv_service_operation_duration_seconds Time from a request's arrival at the service to its answer, by type (every result)",
    "# TYPE shardkv_service_operation_duration_seconds histogram",
  );
  for (const [type, counts] of Object.entries(buckets)) {
    counts.forEach((c, i) => lines.push(`shardkv_service_operation_duration_seconds_bucket{le="${bounds[i]}",type="${type}",gid="1",node="${node}"} ${c}`));
    lines.push(`shardkv_service_operation_duration_seconds_sum{type="${type}",gid="1",node="${node}"} 0.5`);
    lines.push(`shardkv_service_operation_duration_seconds_count{type="${type}",gid="1",node="${node}"} ${counts.at(-1)}`);
  }
  return `${lines.join("\n")}\n${extra}`;
}

const scrape = (atMs: number, text: string): Scrape => ({ atMs, samples: parseExposition(text) });

describe("parseExposition", () => {
  it("reads samples with labels, escapes, special values and timestamps; skips comments and blank lines", () => {
    const text = [
      "# HELP shardkv_raft_has_leader 1 when this replica knows a leader",
      "# TYPE shardkv_raft_has_leader gauge",
      'shardkv_raft_has_leader{gid="2",node="3"} 1',
      "",
      'shardkv_x{path="C:\\\\dir",msg="say \\"hi\\"\\nbye"} -1.5e3 1712345678000',
      "shardkv_inf +Inf",
      "shardkv_nan NaN",
      "shardkv_nolabels 42\r",
      'shardkv_trailing{a="1",} 7',
    ].join("\n");
    const s = parseExposition(text);
    expect(s.map((x) => x.name)).toEqual(["shardkv_raft_has_leader", "shardkv_x", "shardkv_inf", "shardkv_nan", "shardkv_nolabels", "shardkv_trailing"]);
    expect(s[0]).toEqual({ name: "shardkv_raft_has_leader", labels: { gid: "2", node: "3" }, value: 1 });
    expect(s[1]!.labels).toEqual({ path: "C:\\dir", msg: 'say "hi"\nbye' });
    expect(s[1]!.value).toBe(-1500);
    expect(s[2]!.value).toBe(Infinity);
    expect(s[3]!.value).toBeNaN();
    expect(s[4]).toEqual({ name: "shardkv_nolabels", labels: {}, value: 42 });
    expect(s[5]!.labels).toEqual({ a: "1" });
  });

  it("refuses a malformed line in one line naming the line number, what is wrong and the text", () => {
    const bad: [string, RegExp][] = [
      ["ok 1\nshardkv_x{a=1} 2", /^line 2: want ="\.\.\." after label a: "shardkv_x\{a=1\} 2"$/],
      ['shardkv_x{a="1"', /^line 1: label a: |want , or \}/],
      ["shardkv_x one", /^line 1: value "one" is not a number: "shardkv_x one"$/],
      ["shardkv_x", /^line 1: want a value/],
      ['shardkv_x{a="1",a="2"} 1', /^line 1: label a given twice/],
      ["9lives 1", /^line 1: want a metric name/],
    ];
    for (const [text, want] of bad) {
      let err: unknown;
      try {
        parseExposition(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ExpositionError);
      expect((err as Error).message, text).toMatch(want);
      expect((err as Error).message).not.toContain("\n");
    }
  });
});

describe("histogramQuantile", () => {
  it("interpolates within the bucket the rank falls in, as histogram_quantile does", () => {
    // 400 observations: 100 <= 1 ms, 300 <= 2.5 ms, 390 <= 5 ms, 400 <= 10 ms.
    const b = new Map([[0.001, 100], [0.0025, 300], [0.005, 390], [0.01, 400], [Infinity, 400]]);
    // rank 396 lies in (5 ms, 10 ms]: 5 + 5 * (396 - 390) / (400 - 390) = 8 ms.
    expect(histogramQuantile(0.99, b)).toBeCloseTo(0.008, 12);
    // rank 200 in (1 ms, 2.5 ms]: 1 + 1.5 * 100 / 200 = 1.75 ms.
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.00175, 12);
    // In the first bucket: from 0.
    expect(histogramQuantile(0.1, b)).toBeCloseTo(0.0004, 12);
  });

  it("gives the highest finite bound when the rank is in +Inf, and null without observations", () => {
    expect(histogramQuantile(0.99, new Map([[0.001, 1], [0.01, 2], [Infinity, 10]]))).toBe(0.01);
    expect(histogramQuantile(0.99, new Map([[0.001, 0], [Infinity, 0]]))).toBeNull();
    expect(histogramQuantile(0.99, new Map())).toBeNull();
    expect(histogramQuantile(0.99, new Map([[0.001, 3]]))).toBeNull(); // no +Inf bucket: not a histogram
  });
});

describe("per-group ops/s and p99", () => {
  const t0 = exposition(1, { put: 1000, get: 500, status: 70 }, { put: [500, 1000, 1200, 1300, 1300], get: [400, 500, 600, 600, 600] });
  // 2 s later: +300 puts and +100 gets served (ok); the histogram grew by 100, 300, 390, 400, 400
  // over put and get together; status calls and refusals are not data operations served.
  const t1 = exposition(1, { put: 1300, get: 600, status: 90 }, { put: [550, 1200, 1490, 1600, 1600], get: [450, 600, 700, 700, 700] },
    'shardkv_service_operations_total{type="put",result="not_leader",gid="1",node="1"} 99\n');

  it("one node: served data operations per second and the p99 of their latency", () => {
    const d = nodeDelta(scrape(10_000, t0), scrape(12_000, t1))!;
    expect(d.seconds).toBe(2);
    expect(d.ops).toBe(400);
    expect([...d.buckets.values()]).toEqual([100, 300, 390, 400, 400]);
    const r = groupRate([d]);
    expect(r.opsPerSec).toBe(200);
    expect(r.p99Ms).toBeCloseTo(8, 9);
  });

  it("a group's nodes add up: rates summed, buckets merged before the quantile", () => {
    const a = nodeDelta(scrape(10_000, t0), scrape(12_000, t1))!;
    // Node 2, 1 s apart: 50 gets, all slow (in (10 ms, +Inf)).
    const b0 = exposition(2, { get: 0 }, { get: [0, 0, 0, 0, 0] });
    const b1 = exposition(2, { get: 50 }, { get: [0, 0, 0, 0, 50] });
    const b = nodeDelta(scrape(0, b0), scrape(1000, b1))!;
    const r = groupRate([a, b]);
    expect(r.opsPerSec).toBe(200 + 50);
    // 450 observations, rank 445.5 > 400: in +Inf -> the highest finite bound, 10 ms.
    expect(r.p99Ms).toBeCloseTo(10, 9);
  });

  it("a counter that went down (a restart) counts from zero; no operations: p99 null", () => {
    const before = exposition(1, { put: 5000 }, { put: [5000, 5000, 5000, 5000, 5000] });
    const after = exposition(1, { put: 30 }, { put: [30, 30, 30, 30, 30] });
    const d = nodeDelta(scrape(0, before), scrape(1000, after))!;
    expect(d.ops).toBe(30);
    expect(groupRate([d]).opsPerSec).toBe(30);
    const idle = nodeDelta(scrape(0, after), scrape(1000, after))!;
    expect(groupRate([idle])).toEqual({ opsPerSec: 0, p99Ms: null });
    expect(nodeDelta(scrape(1000, after), scrape(1000, after))).toBeUndefined();
  });

  it("reads the group from the gid label and sums the migration counters", () => {
    const text = `${t1}# TYPE shardkv_migration_moved_bytes_total counter
shardkv_migration_moved_bytes_total{direction="in",gid="1",node="1"} 2048
shardkv_migration_moved_bytes_total{direction="out",gid="1",node="1"} 512
shardkv_migration_in_flight_bytes{gid="1",node="1"} 64
`;
    const s = parseExposition(text);
    expect(gidOfScrape(s)).toBe(1);
    expect(gidOfScrape(parseExposition("shardkv_x 1\n"))).toBeUndefined();
    expect(sumOf(s, "shardkv_migration_moved_bytes_total", { direction: "in" })).toBe(2048);
    expect(sumOf(s, "shardkv_migration_moved_bytes_total")).toBe(2560);
    expect(sumOf(s, "shardkv_migration_in_flight_bytes")).toBe(64);
    expect(sumOf(s, "shardkv_absent")).toBeUndefined();
  });
});
