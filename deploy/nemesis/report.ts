/**
 * The report of a nemesis run: `<out>/report.md` (parameters, seed, replay command, the
 * schedule as it ran, availability and latency per window, the checks, operation counts) and
 * `<out>/latency.png` (plot.ts). Pure but for writing the two files.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Availability, CheckOutcome } from "./checks";
import type { OpRecord } from "./history";
import { renderLatencyPlot } from "./plot";
import type { Schedule } from "./schedule";

/** One fault as it ran: when it really started and stopped, what it did, what went wrong applying it. */
export interface AppliedFault {
  readonly kind: string;
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Applying or undoing it failed (the window still counts; the report says so). */
  readonly error?: string;
}

export interface ReportInput {
  readonly out: string;
  readonly schedule: Schedule;
  readonly replay: string;
  readonly applied: readonly AppliedFault[];
  readonly windows: readonly Availability[];
  readonly quiet: Availability;
  readonly checks: readonly CheckOutcome[];
  readonly records: readonly OpRecord[];
  readonly recoverMs: number;
  readonly wallMs: number;
}

const ms = (x: number | undefined): string => (x === undefined ? "-" : `${Math.round(x)}`);
const pct = (a: Availability): string => (a.ops === 0 ? "-" : `${((100 * a.ok) / a.ops).toFixed(1)}%`);
const cell = (s: string): string => s.replace(/\|/g, "\\|");

/** Writes report.md and latency.png; returns report.md's path. */
export async function writeReport(r: ReportInput): Promise<string> {
  const s = r.schedule;
  const passed = r.checks.every((c) => c.status === "pass");
  const count = (f: (x: OpRecord) => boolean): number => r.records.filter(f).length;
  const lines = [
    `# Nemesis run: ${passed ? "all checks passed" : "CHECKS FAILED"}`,
    "",
    `- seed ${s.seed}, ${s.timeMs / 1000} s of workload, faults: ${s.kinds.join(", ")}`,
    `- cluster: ${s.topology.controllers} controllers, ${s.topology.groups} groups of ${s.topology.replicas}, ${s.topology.shards} shards, ${s.topology.clients} client hosts (each its own network namespace)`,
    `- workload per client host: ${s.workload.registers} register loops (get / put / cas on shared keys), ${s.workload.appenders} append loops; keys rotate every ${s.workload.keyPeriodMs / 1000} s; deadline ${s.workload.opDeadlineMs} ms per operation`,
    `- replay: \`${r.replay}\``,
    `- wall time ${Math.round(r.wallMs / 1000)} s; recovery after the final heal ${Math.round(r.recoverMs / 1000)} s`,
    "",
    "## Checks",
    "",
    "| check | result | detail |",
    "| --- | --- | --- |",
    ...r.checks.map((c) => `| ${c.name} | ${c.status.toUpperCase()} | ${cell(c.summary)} |`),
    "",
    ...r.checks.flatMap((c) => c.failures.slice(0, 5).flatMap((f) => [
      `### ${c.name}: key \`${f.key}\``, "", cell(f.reason), "", ...(f.history.length ? ["```", ...f.history.slice(0, 60), "```", ""] : []),
    ])),
    "## Faults and availability",
    "",
    "![latency over time](latency.png)",
    "",
    "| # | kind | window (s) | what | ops | ok | p50 ms | p99 ms | note |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...r.applied.map((f, i) => {
      const a = r.windows[i]!;
      return `| ${i + 1} | ${f.kind} | ${(f.startMs / 1000).toFixed(1)}-${(f.endMs / 1000).toFixed(1)} | ${cell(f.label)} | ${a.ops} | ${pct(a)} | `
        + `${ms(a.latencyMsP50)} | ${ms(a.latencyMsP99)} | ${cell(f.error ?? "")} |`;
    }),
    `| - | quiet | outside every window | - | ${r.quiet.ops} | ${pct(r.quiet)} | ${ms(r.quiet.latencyMsP50)} | ${ms(r.quiet.latencyMsP99)} | |`,
    "",
    "ok: the share of operations called in the window that returned success (a failed read or a write",
    "with unknown outcome counts against it); latencies of the successful ones.",
    "",
    "## Operations",
    "",
    "| op | issued | ok | failed (reads) | unknown (writes) |",
    "| --- | --- | --- | --- | --- |",
    ...(["get", "put", "cas", "append"] as const).map((op) => {
      const of = (x: OpRecord): boolean => x.op === op && !x.final;
      return `| ${op} | ${count(of)} | ${count((x) => of(x) && x.outcome === "ok")} | ${count((x) => of(x) && x.outcome === "fail")} | ${count((x) => of(x) && x.outcome === "unknown")} |`;
    }),
    `| final reads | ${count((x) => x.final === true)} | ${count((x) => x.final === true && x.outcome === "ok")} | ${count((x) => x.final === true && x.outcome === "fail")} | - |`,
    "",
  ];
  const path = join(r.out, "report.md");
  writeFileSync(path, lines.join("\n"));
  const png = await renderLatencyPlot({
    title: `nemesis seed ${s.seed}: ${s.kinds.join(", ")}`,
    durationMs: s.timeMs,
    points: r.records.filter((x) => !x.final).map((x) => ({ tMs: x.callMs, latencyMs: x.returnMs - x.callMs, op: x.op, outcome: x.outcome })),
    windows: r.applied.map((f) => ({ startMs: f.startMs, endMs: f.endMs, kind: f.kind, label: f.label })),
  });
  writeFileSync(join(r.out, "latency.png"), png);
  return path;
}
