/**
 * The daemons' metrics endpoint (common/metrics-server.ts) on a real loopback port: /metrics
 * in the Prometheus text format with the default labels and Node's process metrics under the
 * shardkv_ prefix, /healthz and /readyz answering 503 "starting" until the server is handed
 * over, then what its checks say (200 "ok", or 503 with the one-line reason), 404 and 405
 * for anything else, and a port in use refused with one line naming the flag.
 */
import { createServer, type Server } from "node:net";
import { Counter } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../common/errors";
import { type HealthChecks, type MetricsServer, startMetricsServer } from "../../common/metrics-server";

const open: MetricsServer[] = [];

async function start(): Promise<MetricsServer> {
  const m = await startMetricsServer({ listen: "127.0.0.1:0", labels: { gid: 3, node: 2 } });
  open.push(m);
  return m;
}

async function get(m: MetricsServer, path: string, method = "GET"): Promise<{ status: number; body: string; type: string | null }> {
  const r = await fetch(`http://127.0.0.1:${m.port}${path}`, { method });
  return { status: r.status, body: await r.text(), type: r.headers.get("content-type") };
}

afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

describe("the metrics endpoint", () => {
  it("serves the registry with the default labels and Node's process metrics", async () => {
    const m = await start();
    new Counter({ name: "shardkv_test_things_total", help: "Things.", registers: [m.registry] }).inc(5);
    const r = await get(m, "/metrics");
    expect(r.status).toBe(200);
    expect(r.type).toContain("text/plain");
    expect(r.body).toContain('shardkv_test_things_total{gid="3",node="2"} 5');
    expect(r.body).toMatch(/^shardkv_process_cpu_user_seconds_total\{gid="3",node="2"\} [\d.e-]+$/m);
    expect(r.body).toMatch(/^shardkv_nodejs_eventloop_lag_seconds\{/m);
    // Every metric has the prefix.
    const names = r.body.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]!);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !n.startsWith("shardkv_"))).toEqual([]);
  });

  it("probes: 503 starting, then what the checks say", async () => {
    const m = await start();
    expect(await get(m, "/healthz")).toMatchObject({ status: 503, body: "starting\n" });
    expect(await get(m, "/readyz")).toMatchObject({ status: 503, body: "starting\n" });
    let ready: string | undefined = "no leader known (follower in term 3)";
    const checks: HealthChecks = { healthProblem: () => undefined, readinessProblem: () => ready };
    m.serve(checks);
    expect(await get(m, "/healthz")).toMatchObject({ status: 200, body: "ok\n" });
    expect(await get(m, "/readyz")).toMatchObject({ status: 503, body: "no leader known (follower in term 3)\n" });
    ready = undefined;
    expect(await get(m, "/readyz?verbose=1")).toMatchObject({ status: 200, body: "ok\n" });
    expect(await get(m, "/readyz", "HEAD")).toMatchObject({ status: 200, body: "" });
  });

  it("404 for other paths, 405 for other methods", async () => {
    const m = await start();
    expect(await get(m, "/")).toMatchObject({ status: 404, body: "not found: / (this endpoint serves /metrics, /healthz and /readyz)\n" });
    expect(await get(m, "/metrics/x")).toMatchObject({ status: 404 });
    expect(await get(m, "/metrics", "POST")).toMatchObject({ status: 405, body: "method POST not allowed: use GET\n" });
  });

  it("a port in use: one line naming the flag and the address", async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const e = await startMetricsServer({ listen: `127.0.0.1:${port}`, labels: { gid: 0, node: 1 } }).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect((e as Error).message).toBe(`invalid --metrics-listen: 127.0.0.1:${port}: port ${port} on 127.0.0.1 is already in use; choose another port`);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it("close() is idempotent and stops listening", async () => {
    const m = await start();
    await m.close();
    await m.close();
    await expect(fetch(`http://127.0.0.1:${m.port}/healthz`)).rejects.toThrow();
  });
});
