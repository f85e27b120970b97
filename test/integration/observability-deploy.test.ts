/**
 * The files operators load into Prometheus and Grafana (deploy/prometheus, deploy/grafana;
 * docs/operations.md "Alerts and the Grafana dashboard") against the real thing:
 *  - Prometheus's own promtool parses the alert rules and passes their unit tests
 *    (deploy/prometheus/shardkv-alerts.test.yml: each alert fires when it should and not before);
 *  - every query of the Grafana dashboard parses as PromQL (checked by promtool as recording
 *    rules, with the dashboard's $gid variable at "all");
 *  - every metric the rules and the dashboard name exists in the scrape of a real cluster's
 *    daemons (a controller and a shard server), and that scrape passes `promtool check metrics`.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardKV } from "../../client/shardkv";
import { LocalCluster, serverName } from "../../deploy/local/cluster";
import { promtool } from "../lib/promtool";

const root = resolve(import.meta.dirname, "../..");
const rulesFile = join(root, "deploy/prometheus/shardkv-alerts.yml");
const rulesTestFile = join(root, "deploy/prometheus/shardkv-alerts.test.yml");
const dashboardFile = join(root, "deploy/grafana/shardkv-dashboard.json");

interface Run {
  readonly code: number;
  readonly out: string;
}

function run(file: string, args: readonly string[], input?: string): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(file, args, { cwd: root }, (e, stdout, stderr) =>
      done({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, out: stdout + stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

interface Panel {
  readonly id?: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
}

const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as { readonly uid: string; readonly panels: readonly Panel[] };
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** The alert rules' expressions, read by a line scan (promtool parses the file for real). */
const ruleExprs = (() => {
  const text = readFileSync(rulesFile, "utf8");
  const out: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    if (m[2] !== "|") {
      out.push(m[2]!);
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === "" || lines[i + 1]!.search(/\S/) > m[1]!.length)) body.push(lines[++i]!.trim());
    out.push(body.join(" ").trim());
  }
  return out;
})();

/** The shardkv metric names an expression refers to. */
const namesIn = (expr: string): string[] => [...new Set(expr.match(/\bshardkv_[a-z0-9_]+/g) ?? [])];

describe("Prometheus alert rules and the Grafana dashboard", () => {
  let tool: string;
  let work: string;

  beforeAll(() => {
    tool = promtool();
    work = mkdtempSync(join(tmpdir(), "shardkv-obs-deploy-"));
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("promtool parses the rules and their unit tests pass", async () => {
    const check = await run(tool, ["check", "rules", rulesFile]);
    expect(check.out).toContain("SUCCESS: 6 rules found");
    expect(check.code).toBe(0);
    const tests = await run(tool, ["test", "rules", rulesTestFile]);
    expect(tests.out).toContain("SUCCESS");
    expect(tests.code).toBe(0);
    // The five alerts the issue names, under these names, with a severity each.
    expect(ruleExprs).toHaveLength(6);
    const text = readFileSync(rulesFile, "utf8");
    for (const a of ["ShardkvNoLeader", "ShardkvFrequentLeaderChanges", "ShardkvFailedProposals", "ShardkvSlowLogSave", "ShardkvMigrationStalled", "ShardkvHandoffStuck"]) {
      expect(text).toContain(`- alert: ${a}\n`);
    }
  });

  it("every dashboard query parses as PromQL; panels are laid out on the 24-column grid with unique ids", async () => {
    expect(dashboardExprs.length).toBeGreaterThan(15);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type !== "row") expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
    }
    // As recording rules, promtool parses each expression (the variable $gid at "all").
    const asRules = ["groups:", "  - name: dashboard", "    rules:",
      ...dashboardExprs.flatMap((e, i) => [`      - record: dashboard:query_${i}`, `        expr: ${JSON.stringify(e.expr.replaceAll("$gid", ".*"))}`])].join("\n") + "\n";
    const file = join(work, "dashboard-queries.yml");
    writeFileSync(file, asRules);
    const check = await run(tool, ["check", "rules", file]);
    expect(check.out).toContain(`SUCCESS: ${dashboardExprs.length} rules found`);
    expect(check.code).toBe(0);
  });

  describe("against a real cluster's scrape", () => {
    let dir: string;
    let cluster: LocalCluster | undefined;
    const types = new Map<string, string>();
    const scrapes: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "shardkv-obs-cluster-"));
      cluster = await LocalCluster.up({ dir, controllers: 3, groups: 1, replicas: 3, shards: 4, tickMs: 50 });
      const kv = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 20_000 });
      try {
        await kv.put("observability-a", "1");
      } finally {
        kv.close();
      }
      for (const name of ["c1", serverName(1, 1)]) {
        const addr = cluster.node(name).metrics;
        if (addr === undefined) throw new Error(`${name} has no metrics address in cluster.json`);
        const body = await (await fetch(`http://${addr}/metrics`)).text();
        scrapes.push(body);
        for (const m of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
      }
    }, 90_000);

    afterAll(async () => {
      await cluster?.down();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Whether `name` is exposed: itself, or a histogram's _bucket/_sum/_count series. */
    const exposed = (name: string): boolean => {
      if (types.has(name)) return true;
      const m = /^(.*)_(bucket|sum|count)$/.exec(name);
      return m !== null && types.get(m[1]!) === "histogram";
    };

    it("every metric the alert rules and the dashboard name is exposed by the daemons", () => {
      expect(types.get("shardkv_raft_has_leader")).toBe("gauge");
      const missing = [...ruleExprs.map((expr) => ({ where: "alert rules", expr })), ...dashboardExprs.map((e) => ({ where: `dashboard panel "${e.panel}"`, expr: e.expr }))]
        .flatMap(({ where, expr }) => namesIn(expr).filter((n) => !exposed(n)).map((n) => `${n} (${where})`));
      expect(missing).toEqual([]);
    });

    it("the daemons' exposition passes promtool check metrics (but for prom-client's own default gauges)", async () => {
      // prom-client's default metrics name three gauges *_total (its choice, kept for
      // compatibility); promtool's lint says so. Nothing else may draw a remark.
      const promClientDefaults = ["shardkv_nodejs_active_handles_total", "shardkv_nodejs_active_requests_total", "shardkv_nodejs_active_resources_total"];
      for (const body of scrapes) {
        const r = await run(tool, ["check", "metrics"], body);
        const remarks = r.out.split("\n").filter((l) => l !== "");
        expect(remarks.filter((l) => !promClientDefaults.some((n) => l.startsWith(`${n} `)))).toEqual([]);
        // Only those remarks, or none: promtool exits 3 for lint remarks, 0 without.
        expect(r.code).toBe(remarks.length === 0 ? 0 : 3);
      }
    });
  });
});
