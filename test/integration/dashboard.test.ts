/**
 * The live web dashboard end to end, in headless Chromium (Debian's package, driven by
 * playwright-core): a real local cluster (1 controller, group 1 of 3 replicas, 16 shards,
 * mutual TLS), `bin/shardkv-local dashboard --listen 127.0.0.1:0` as a user starts it (it
 * prints its URL), the page opened once. The page must show group 1 owning every shard, all
 * Serving, with its replicas; then group 2 is added (LocalCluster.addGroup) and, without a
 * reload, the page must show group 2 in the legend and among the replicas, shards changing
 * colour to it marked Pulling or Handoff and listed as migrations (the servers' migration rate
 * is capped so that the move lasts seconds), until every shard is Serving again. The charts show ops/s and p99 when the
 * nodes have metrics endpoints, else say "no metrics". A screenshot is saved to
 * test-results/dashboard.png, and one of the move to dashboard-moving.png
 * (the README's picture, docs/dashboard.png, is taken under load by test/perf/dashboard-screenshot.ts). Then `bin/shardkv-dashboard`, given the same cluster as any cluster
 * ($SHARDKV_CONTROLLERS and the admin identity's $SHARDKV_TLS_*) and a metrics endpoint for
 * group 1 (served by the test in the shard servers' exposition format: put operations, all
 * between 1 and 2.5 ms): its JSON snapshot with group 1's ops/s and p99 and group 2 without
 * metrics, the page's charts, its one-line answers to what it does not serve, a usage error
 * and an address in use.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardKV } from "../../client/shardkv";
import { LocalCluster } from "../../deploy/local/cluster";
import { repoRoot } from "../../deploy/local/process";
import { chromiumInstallMs, ensureChromium } from "../lib/chromium";
import { runCommand } from "../lib/run-command";
import { waitFor } from "../lib/wait";

const shards = 16;

/** What the page shows, read from its DOM. */
interface Seen {
  readonly cells: { gid: string; state: string }[];
  readonly legendGids: string[];
  readonly groupCards: string[];
  readonly replicaRows: number;
  readonly migrationRows: number;
  readonly charts: string[];
  readonly conn: string;
}

const seen = (page: Page): Promise<Seen> => page.evaluate(() => ({
  cells: [...document.querySelectorAll<HTMLElement>("#grid .cell")].map((c) => ({ gid: c.dataset.gid ?? "", state: c.dataset.state ?? "" })),
  legendGids: [...document.querySelectorAll<HTMLElement>("#legend [data-gid]")].map((e) => e.dataset.gid ?? ""),
  groupCards: [...document.querySelectorAll<HTMLElement>("#group-cards .group")].map((e) => e.dataset.gid ?? ""),
  replicaRows: document.querySelectorAll("#group-cards tbody tr").length,
  migrationRows: document.querySelectorAll("#migrations tbody tr").length,
  charts: [...document.querySelectorAll<HTMLElement>("#group-cards .chart")].map((c) => (c.querySelector("svg") ? "chart" : c.querySelector(".none")?.textContent ?? "")),
  conn: document.getElementById("conn")?.textContent ?? "",
}));

describe("dashboard in headless Chromium", { timeout: 120_000 }, () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let dashboard: ChildProcess | undefined;
  let browser: Browser | undefined;
  let out = "";

  beforeAll(() => {
    ensureChromium();
    dir = mkdtempSync(join(tmpdir(), "shardkv-dashboard-"));
  }, chromiumInstallMs + 10_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    dashboard?.kill("SIGKILL");
    await cluster?.down(0).catch(() => undefined);
    cluster?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("shows the shard map by owning group, and a new group taking shards live", async () => {
    // Migrations capped at about 1 KiB/s: the move of group 2's shards (about 5 KiB) lasts
    // seconds, so the page, polled once a second, shows it under way.
    cluster = await LocalCluster.up({ dir, controllers: 1, groups: 1, replicas: 3, shards, tls: true, tickMs: 50, serverArgs: ["--migration-rate", "0.001"] });
    const kv = await ShardKV.connect({ ...cluster.clientOptions(), deadlineMs: 20_000 });
    try {
      for (let i = 0; i < 48; i++) await kv.put(`user:${i}`, `value-${i}`.repeat(20));
    } finally {
      kv.close();
    }

    dashboard = spawn(join(repoRoot, "bin", "shardkv-local"), ["dashboard", "--dir", dir, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    dashboard.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    dashboard.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    await waitFor(() => /dashboard: http:\/\/127\.0\.0\.1:\d+\//.test(out) || dashboard!.exitCode !== null, { timeoutMs: 30_000, what: "the dashboard's URL" });
    const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    expect(url, out).toBeDefined();

    browser = await chromium.launch({ executablePath: ensureChromium(), args: ["--no-sandbox"] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(url!);
    // A mark that a reload would wipe: every later update must arrive live.
    await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

    let last: Seen | undefined;
    const until = async (what: string, ok: (s: Seen) => boolean, timeoutMs = 30_000): Promise<void> => {
      await waitFor(async () => ok((last = await seen(page))), { timeoutMs, what, intervalMs: 200 })
        .catch((e: Error) => { throw new Error(`${e.message}; the page showed ${JSON.stringify(last)}\n${out}\n${cluster!.logTails(5)}`); });
    };
    await until("group 1 owning every shard, all Serving", (s) =>
      s.conn === "live" && s.cells.length === shards && s.cells.every((c) => c.gid === "1" && c.state === "serving")
      && s.legendGids.join() === "1" && s.groupCards.join() === "1" && s.replicaRows === 3);
    const snapshot = await page.evaluate(async () => (await fetch("/api/snapshot")).json()) as { groups: { gid: number; replicas: { role?: string }[] }[] };
    expect(snapshot.groups.map((g) => g.gid)).toEqual([1]);
    expect(snapshot.groups[0]!.replicas.filter((r) => r.role === "leader")).toHaveLength(1);

    const adding = cluster.addGroup({ replicas: 3 });
    adding.catch(() => undefined);
    await until("group 2 in the legend and its replicas listed", (s) => s.legendGids.join() === "1,2" && s.groupCards.join() === "1,2" && s.replicaRows === 6);
    await until("shards changing colour to group 2, marked as on the move, listed as migrations", (s) =>
      s.cells.some((c) => c.gid === "2" && (c.state === "pulling" || c.state === "handoff")) && s.migrationRows > 0);
    mkdirSync(join(repoRoot, "test-results"), { recursive: true });
    const moving = join(repoRoot, "test-results", "dashboard-moving.png");
    await page.screenshot({ path: moving, fullPage: true });
    await adding;
    await until("every shard Serving, shared by groups 1 and 2, no migration left", (s) =>
      s.cells.every((c) => c.state === "serving") && s.cells.filter((c) => c.gid === "2").length >= shards / 4
      && s.cells.filter((c) => c.gid === "1").length >= shards / 4 && s.migrationRows === 0);
    expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);

    // The charts: from the nodes' /metrics when cluster.json records their endpoints, else "no metrics".
    const layout = JSON.parse(readFileSync(join(dir, "cluster.json"), "utf8")) as { groups: { servers: { metrics?: string }[] }[] };
    const withMetrics = layout.groups.some((g) => g.servers.some((n) => typeof n.metrics === "string"));
    expect(last!.charts).toHaveLength(4);
    if (withMetrics) await until("the charts drawn from /metrics", (s) => s.charts.every((c) => c === "chart"));
    else expect(last!.charts.every((c) => c === "no metrics")).toBe(true);
    expect(pageErrors).toEqual([]);

    const shot = join(repoRoot, "test-results", "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });

    // Ctrl-C (SIGINT) stops the dashboard, exit status 0.
    const exited = new Promise<number | string>((r) => dashboard!.once("exit", (code, sig) => r(code ?? sig ?? "?")));
    dashboard.kill("SIGINT");
    expect(await exited, out).toBe(0);
  });

  it("shardkv-dashboard serves any cluster from flags and environment; refusals in one line", async () => {
    expect(cluster, "the cluster of the first test").toBeDefined();
    const bin = join(repoRoot, "bin", "shardkv-dashboard");
    const env = { ...process.env, ...cluster!.cliEnv() };
    // Group 1's metrics: each scrape 100 more puts served, every one in (1 ms, 2.5 ms].
    let scrapes = 0;
    const metrics = createServer((req, res) => {
      if (req.url !== "/metrics") return void res.writeHead(404).end();
      const n = ++scrapes * 100;
      const l = 'gid="1",node="1"';
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end([
        "# TYPE shardkv_service_operations_total counter",
        `shardkv_service_operations_total{type="put",result="ok",${l}} ${n}`,
        `shardkv_service_operations_total{type="status",result="ok",${l}} ${n * 5}`,
        "# TYPE shardkv_service_operation_duration_seconds histogram",
        `shardkv_service_operation_duration_seconds_bucket{le="0.001",type="put",${l}} 0`,
        `shardkv_service_operation_duration_seconds_bucket{le="0.0025",type="put",${l}} ${n}`,
        `shardkv_service_operation_duration_seconds_bucket{le="+Inf",type="put",${l}} ${n}`,
        `shardkv_service_operation_duration_seconds_sum{type="put",${l}} ${n * 0.002}`,
        `shardkv_service_operation_duration_seconds_count{type="put",${l}} ${n}`,
        `shardkv_migration_moved_bytes_total{direction="in",${l}} 4096`,
        "",
      ].join("\n"));
    });
    await new Promise<void>((r) => metrics.listen(0, "127.0.0.1", r));
    const metricsAddr = `127.0.0.1:${(metrics.address() as AddressInfo).port}`;
    let text = "";
    const d = spawn(bin, ["--listen", "127.0.0.1:0", "--interval", "500ms", "--metrics", metricsAddr], { env, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | string>((r) => d.once("exit", (code, sig) => r(code ?? sig ?? "?")));
    try {
      d.stdout!.on("data", (b: Buffer) => (text += b.toString()));
      d.stderr!.on("data", (b: Buffer) => (text += b.toString()));
      await waitFor(() => /dashboard: http:\/\/127\.0\.0\.1:\d+\//.test(text) || d.exitCode !== null, { timeoutMs: 30_000, what: "shardkv-dashboard's URL" });
      const url = /dashboard: (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(text);
      expect(url, text).not.toBeNull();

      type Snap = {
        configNum: number; shards: { gid: number; state: string }[]; controllers: { role?: string }[];
        groups: { gid: number; replicas: { role?: string }[]; hasMetrics: boolean; history: { opsPerSec: number; p99Ms: number | null }[]; migratedInBytes?: number }[];
      };
      let snap: Snap | undefined;
      await waitFor(async () => {
        snap = await (await fetch(`${url![1]}api/snapshot`)).json() as Snap;
        return snap.groups.length === 2 && snap.groups[0]!.history.length >= 2;
      }, { timeoutMs: 20_000, what: "a snapshot with both groups and two chart points of group 1", intervalMs: 200 });
      const [g1, g2] = snap!.groups;
      expect(g1!.hasMetrics).toBe(true);
      expect(g1!.migratedInBytes).toBe(4096);
      for (const p of g1!.history) {
        expect(p.opsPerSec).toBeGreaterThan(0);
        // 99 % of the puts are within (1 ms, 2.5 ms]: 1 + 1.5 * 0.99 ms (status calls are no data operations).
        expect(p.p99Ms).toBeCloseTo(2.485, 9);
      }
      expect(g2!.hasMetrics).toBe(false);
      expect(g2!.history).toEqual([]);
      expect(snap!.shards).toHaveLength(shards);
      expect(snap!.shards.every((c) => c.state === "serving" && (c.gid === 1 || c.gid === 2))).toBe(true);
      for (const g of snap!.groups) expect(g.replicas.filter((r) => r.role === "leader"), `group ${g.gid}`).toHaveLength(1);
      expect(snap!.controllers.map((c) => c.role)).toEqual(["leader"]);
      const index = await fetch(url![1]);
      expect(index.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await index.text()).toContain("<title>shardkv dashboard</title>");

      // The page: group 1's charts drawn, group 2's say "no metrics".
      const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(url![1]);
      let charts: string[] = [];
      await waitFor(async () => {
        charts = await page.evaluate(() => [...document.querySelectorAll("#group-cards .chart")].map((c) => (c.querySelector("polyline") ? "line" : c.querySelector(".none")?.textContent ?? "")));
        return charts.join() === "line,line,no metrics,no metrics";
      }, { timeoutMs: 20_000, what: "group 1's charts drawn", intervalMs: 200 }).catch((e: Error) => { throw new Error(`${e.message}: ${charts.join()}`); });
      await page.screenshot({ path: join(repoRoot, "test-results", "dashboard-metrics.png"), fullPage: true });
      await page.close();

      const missing = await fetch(`${url![1]}nope`);
      expect(missing.status).toBe(404);
      expect(await missing.text()).toBe('not found: "/nope" (the dashboard serves /, /api/snapshot and /api/events)\n');
      const post = await fetch(`${url![1]}api/snapshot`, { method: "POST" });
      expect(post.status).toBe(405);

      // The same port again: one line, exit 3.
      const busy = await runCommand(bin, ["--listen", `127.0.0.1:${url![2]}`], { env });
      expect(busy.code).toBe(3);
      expect(busy.stderr).toBe(`shardkv-dashboard: cannot listen on 127.0.0.1:${url![2]}: address in use (choose another with --listen host:port)\n`);
    } finally {
      d.kill("SIGTERM");
      metrics.close();
    }
    expect(await exited, text).toBe(0);

    const bad = await runCommand(bin, ["--listen", "127.0.0.1:99999"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('shardkv-dashboard: invalid --listen: want host:port (port 0: any free port), got "127.0.0.1:99999" (--help for usage)\n');
  });
});
