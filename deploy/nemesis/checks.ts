/**
 * The checks of a nemesis run over its history (history.ts):
 *  - linearizable: every register key's history (the final reads included) has a
 *    linearization (deploy/check/linearizability.ts); a search that runs out of its time is
 *    `unknown`, reported as a check that did not finish, never as a pass;
 *  - appends: every append-list key, as its last final read shows it, holds every acknowledged
 *    append once and in order, an unacknowledged one at most once, nothing else
 *    (deploy/local/append-history.ts);
 *  - final reads: every key a worker used answered a read after the heal (nothing lost or
 *    unreachable);
 *  - availability (figures, no verdict): the share of operations that succeeded, and the
 *    latency of those, in each fault window and in the quiet periods.
 */
import { checkLinearizable, formatEntry, type HistoryEntry } from "../check/linearizability";
import { AppendHistory } from "../local/append-history";
import { isRegisterKey, type OpRecord, toHistoryEntry } from "./history";

/** The verdict of one check. */
export interface CheckOutcome {
  readonly name: "linearizable" | "appends" | "final reads" | "workload";
  readonly status: "pass" | "fail" | "unknown";
  /** One line: what was checked, how many keys. */
  readonly summary: string;
  /** Failing keys: the key, why, and the minimal failing history (one entry a line). */
  readonly failures: readonly { readonly key: string; readonly reason: string; readonly history: readonly string[] }[];
}

const groupBy = (records: readonly OpRecord[]): Map<string, OpRecord[]> => {
  const m = new Map<string, OpRecord[]>();
  for (const r of records) {
    let l = m.get(r.key);
    if (!l) m.set(r.key, (l = []));
    l.push(r);
  }
  return m;
};

/** Linearizability of each register key, each given `keyTimeoutMs` of search. */
export function checkRegisters(records: readonly OpRecord[], keyTimeoutMs: number): CheckOutcome {
  const byKey = groupBy(records.filter((r) => isRegisterKey(r.key)));
  const failures: { key: string; reason: string; history: string[] }[] = [];
  let unknown = 0;
  let pending = 0;
  for (const [key, recs] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    const entries = recs.map(toHistoryEntry).filter((e): e is HistoryEntry => e !== undefined);
    pending += entries.filter((e) => e.output === undefined).length;
    const v = checkLinearizable(entries, { timeoutMs: keyTimeoutMs });
    if (v.ok === true) continue;
    if (v.ok === "unknown") {
      unknown++;
      failures.push({ key, reason: `the search ran out of its ${keyTimeoutMs} ms (${entries.length} operations): not checked`, history: [] });
      continue;
    }
    failures.push({ key, reason: v.reason, history: (v.minimalPrefix ?? entries).map(formatEntry) });
  }
  const failed = failures.length - unknown;
  return {
    name: "linearizable",
    status: failed > 0 ? "fail" : unknown > 0 ? "unknown" : "pass",
    summary: `${byKey.size} register keys, ${records.filter((r) => isRegisterKey(r.key)).length} operations (${pending} with unknown outcome): `
      + `${byKey.size - failures.length} linearizable, ${failed} not, ${unknown} not decided in time`,
    failures,
  };
}

/** Each append-list key against its last successful final read. */
export async function checkAppends(records: readonly OpRecord[]): Promise<CheckOutcome> {
  const byKey = groupBy(records.filter((r) => !isRegisterKey(r.key)));
  const failures: { key: string; reason: string; history: string[] }[] = [];
  let acked = 0;
  let unacked = 0;
  let unackedApplied = 0;
  for (const [key, recs] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    const appends = recs.filter((r) => r.op === "append").sort((a, b) => a.callMs - b.callMs);
    const final = recs.filter((r) => r.final && r.outcome === "ok").at(-1);
    if (!final) continue; // the final-reads check reports it
    const h = new AppendHistory();
    for (const a of appends) {
      const rec = h.issue(key, a.value!);
      if (a.outcome === "ok") h.ack(rec);
      else rec.outcome = "failed";
    }
    try {
      const r = await h.verify(async () => final.read ?? undefined);
      acked += r.acked;
      unacked += r.unacked;
      unackedApplied += r.unackedApplied;
    } catch (e) {
      failures.push({
        key, reason: (e as Error).message,
        history: [...appends.map((a) => `${a.client}/${a.proc}: append ${JSON.stringify(a.value)} -> ${a.outcome} [${a.callMs}, ${a.returnMs}]`),
          `${final.client}: final read -> ${JSON.stringify(final.read)} [${final.callMs}, ${final.returnMs}]`],
      });
    }
  }
  return {
    name: "appends",
    status: failures.length > 0 ? "fail" : "pass",
    summary: `${byKey.size} append keys: ${acked} acknowledged appends all present once and in order; `
      + `${unacked} unacknowledged, ${unackedApplied} of them applied (at most once each)${failures.length ? `; ${failures.length} keys wrong` : ""}`,
    failures,
  };
}

/** Every key used answered a final read. */
export function checkFinalReads(records: readonly OpRecord[]): CheckOutcome {
  const byKey = groupBy(records);
  const failures = [...byKey].filter(([, recs]) => !recs.some((r) => r.final && r.outcome === "ok")).map(([key, recs]) => {
    const tries = recs.filter((r) => r.final);
    return { key, reason: tries.length ? `no final read answered (${tries.length} tries; last: ${tries.at(-1)!.error ?? "?"})` : "never read after the heal", history: [] };
  });
  return {
    name: "final reads",
    status: failures.length > 0 ? "fail" : "pass",
    summary: `${byKey.size - failures.length} of ${byKey.size} keys read after the heal`,
    failures,
  };
}

/** The workload ran: some operation succeeded before the heal. */
export function checkWorkload(records: readonly OpRecord[]): CheckOutcome {
  const ok = records.filter((r) => !r.final && r.outcome === "ok").length;
  return {
    name: "workload", status: ok > 0 ? "pass" : "fail",
    summary: `${ok} operations succeeded during the run`, failures: ok > 0 ? [] : [{ key: "-", reason: "no operation succeeded: the workload did not run", history: [] }],
  };
}

/** Operations and outcomes in one period. */
export interface Availability {
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly ops: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly latencyMsP50?: number;
  readonly latencyMsP99?: number;
}

const percentile = (sorted: readonly number[], p: number): number | undefined =>
  sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/** The figures of the operations called within [startMs, endMs). */
export function availabilityIn(records: readonly OpRecord[], w: { label: string; startMs: number; endMs: number }): Availability {
  const in_ = records.filter((r) => !r.final && r.callMs >= w.startMs && r.callMs < w.endMs);
  const lat = in_.filter((r) => r.outcome === "ok").map((r) => r.returnMs - r.callMs).sort((a, b) => a - b);
  return {
    ...w, ops: in_.length, ok: lat.length, fail: in_.filter((r) => r.outcome === "fail").length, unknown: in_.filter((r) => r.outcome === "unknown").length,
    latencyMsP50: percentile(lat, 0.5), latencyMsP99: percentile(lat, 0.99),
  };
}

/** The figures of the operations called outside every window (before the final reads). */
export function quietAvailability(records: readonly OpRecord[], windows: readonly { startMs: number; endMs: number }[], timeMs: number): Availability {
  const quiet = records.filter((r) => !r.final && r.callMs < timeMs && !windows.some((w) => r.callMs >= w.startMs && r.callMs < w.endMs));
  return availabilityIn(quiet, { label: "quiet (no fault)", startMs: 0, endMs: timeMs });
}
