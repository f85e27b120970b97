/**
 * The short form of the nemesis (deploy/nemesis/, docs/testing.md "The nemesis"): `npm run
 * nemesis -- --time 60` with partitions, kill -9, SIGSTOP and netem on a real cluster of test
 * hosts (3 controllers, 2 groups of 3, 3 client hosts), run as a user runs it. Asserts: exit 0
 * with every check passed (linearizable registers, appends once and in order, every key read
 * back after the heal), every scheduled fault applied without error, the last line is the
 * report's path, report.md and a PNG exist, and nothing of the run is left: no namespace, no
 * new link or nftables table in the root namespace, no process mentioning the run's
 * directory. Needs root (CI runs as root); fails with one line otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostsDown, hostsTools } from "../../deploy/hosts/harness";
import { readHostsFile } from "../../deploy/hosts/hosts-file";
import { ensureTools, listNamespaces, requireRoot } from "../../deploy/hosts/net";
import { pidsMentioning, runCommand } from "../lib/run-command";

const root = mkdtempSync(join(tmpdir(), "shardkv-nemesis-"));
const out = join(root, "run");
let passed = false;

const rootLinks = (): string[] => spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout.split("\n")
  .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "").filter((n) => n !== "").sort();
const rootTables = (): string => spawnSync("nft", ["list", "tables"], { encoding: "utf8" }).stdout;

describe("the nemesis, short form", () => {
  let linksBefore: string[] = [];
  let tablesBefore = "";

  beforeAll(() => {
    requireRoot();
    ensureTools([...hostsTools, "iptables", "python3"]);
    linksBefore = rootLinks();
    tablesBefore = rootTables();
  });

  afterAll(async () => {
    // The run tears its hosts down itself; this only cleans up after a run that died.
    if (readHostsFile(join(out, "cluster")) && listNamespaces().some((n) => n.startsWith(readHostsFile(join(out, "cluster"))!.prefix))) {
      await hostsDown(join(out, "cluster"), 0);
    }
    if (passed) rmSync(root, { recursive: true, force: true });
    else console.log(`[nemesis] kept ${out} (report.md, schedule.json, history/, cluster/logs/)`);
  }, 60_000);

  it("passes its checks under partitions, kill -9, SIGSTOP and netem, reports, and leaves nothing behind", async () => {
    const r = await runCommand("npm", ["run", "--silent", "nemesis", "--", "--time", "60", "--faults", "partition,kill,pause,netem", "--seed", "20261206", "--out", out],
      { timeoutMs: 400_000 });
    const lines = r.stdout.trim().split("\n");
    expect(r.code, `nemesis exited ${r.code}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect(lines.at(-1)).toBe(join(out, "report.md"));
    for (const check of ["workload", "linearizable", "appends", "final reads"]) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^check ${check}: PASS`)));

    const report = readFileSync(join(out, "report.md"), "utf8");
    expect(report).toMatch(/^# Nemesis run: all checks passed/);
    expect(report).toContain(`--schedule ${out}/schedule.json`);
    const schedule = JSON.parse(readFileSync(join(out, "schedule.json"), "utf8")) as { faults: { kind: string }[] };
    expect(new Set(schedule.faults.map((f) => f.kind))).toEqual(new Set(["partition", "kill", "pause", "netem"]));
    // Every fault has its row, and none failed to apply or undo (the note column is empty).
    const rows = report.split("\n").filter((l) => /^\| \d+ \|/.test(l));
    expect(rows.length).toBe(schedule.faults.length);
    for (const row of rows) expect(row, row).toMatch(/\|  \|$/);
    const png = readFileSync(join(out, "latency.png"));
    expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");

    const h = readHostsFile(join(out, "cluster"))!;
    expect(listNamespaces().filter((n) => n.startsWith(h.prefix))).toEqual([]);
    expect(rootLinks()).toEqual(linksBefore);
    expect(rootTables()).toBe(tablesBefore);
    expect(pidsMentioning(out)).toEqual([]);
    expect(existsSync(join(out, "history"))).toBe(true);
    passed = true;
  }, 420_000);
});
