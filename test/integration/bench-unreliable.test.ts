/**
 * The unreliable-network scenario of `npm run bench -- --scenario unreliable`
 * (bench/unreliable.ts), end to end on a small cluster (1 controller, 2 groups of 1
 * replica, 4 shards, failpoints enabled) with short phases: both phases run their load through
 * a leave and a join of group 2, the lossy phase's failpoints really fire, every append is
 * checked exactly, the failpoints are cleared afterwards, and the report prints both phases,
 * the ratios and the targets. A smoke test of the code path: no timing assertion (the numbers
 * are for docs/benchmarks.md).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalCluster } from "../../deploy/local/cluster";
import { renderUnreliable, runUnreliable } from "../../bench/unreliable";
import { FailpointAdminClient } from "../../raft/transport/failpoint-admin";

describe("bench scenario: unreliable network", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-bench-unreliable-"));
    cluster = await LocalCluster.up({ dir, controllers: 1, groups: 2, replicas: 1, shards: 4, tickMs: 50, extraArgs: ["--failpoints", "on"] });
  }, 120_000);

  afterAll(async () => {
    await cluster?.down(2000).catch(() => undefined);
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`bench-unreliable logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it("runs both phases through a leave and a join, the faults fire, appends are exact", async () => {
    onTestFailed(() => {
      failed = true;
    });
    const lines: string[] = [];
    const r = await runUnreliable(cluster!, {
      clients: 3, ratePerClient: 20, pauseMs: 500, deadlineMs: 10_000, spec: "drop-request=0.2,drop-reply=0.2,delay=5",
    }, (l) => lines.push(l));
    expect(r.gid).toBe(2);
    for (const p of [r.clean, r.lossy]) {
      expect(p.ops).toBeGreaterThan(0);
      expect(p.opsPerSec).toBeGreaterThan(0);
      expect(p.latencyMs.p50).toBeLessThanOrEqual(p.latencyMs.p90);
      expect(p.latencyMs.p90).toBeLessThanOrEqual(p.latencyMs.p99);
      expect(p.latencyMs.p99).toBeLessThanOrEqual(p.latencyMs.max);
      expect(p.leaveMs).toBeGreaterThan(0);
      expect(p.joinMs).toBeGreaterThan(0);
      expect(p.otherErrorSamples).toEqual([]);
    }
    expect(r.clean.faults).toBe("clean");
    expect(r.lossy.faults).toBe("drop-request=0.2,drop-reply=0.2,delay=5");
    expect(r.fired.droppedRequests + r.fired.droppedReplies).toBeGreaterThan(0);
    expect(r.fired.delayed).toBeGreaterThan(0);
    expect(r.appends.acked).toBeGreaterThan(0);
    expect(r.appends.keys).toBeGreaterThan(0);
    // Both groups joined again, and nothing is dropped any more.
    expect((await cluster!.controller().query()).groups.size).toBe(2);
    for (const name of cluster!.nodeNames()) {
      const admin = new FailpointAdminClient(cluster!.node(name).addr, cluster!.security);
      try {
        expect((await admin.get()).text, name).toBe("none");
      } finally {
        admin.close();
      }
    }
    const text = renderUnreliable(r);
    expect(text).toMatch(/^unreliable network: 3 clients, at most 20 ops\/s each/);
    expect(text).toMatch(/\n {2}clean {2}\d+ ops in [\d.]+ s = [\d.]+ ops\/s; latency ms p50 [\d.]+ p90 [\d.]+ p99 [\d.]+ max [\d.]+; \d+ timeouts; leave settled in/);
    expect(text).toMatch(/\n {2}lossy {2}\d+ ops in /);
    expect(text).toMatch(/\n {2}ratios lossy\/clean: ops\/s [\d.]+, p50 [\d.]+x, p99 [\d.]+x, max [\d.]+x\n/);
    expect(text).toMatch(/\n {2}target p99 <= 2000 ms with no timeouts: (met|not met); target ops\/s >= 0.33 of clean: (met|not met)\n/);
    expect(text).toContain(`appends exact: ${r.appends.keys} keys hold their ${r.appends.acked} acknowledged appends once each, in order`);
    expect(lines.some((l) => l.includes("leave 2 settled"))).toBe(true);
  }, 180_000);
});
