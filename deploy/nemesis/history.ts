/**
 * The history of a nemesis run: one JSON line per operation a worker (worker.ts) issued, in
 * `<out>/history/<client>.jsonl`, on one time base (ms since the workload started, from the
 * machine's wall clock, which every worker and the nemesis share: the workers run on the
 * client hosts, which are namespaces of this machine, never under libfaketime).
 *
 * Outcomes: `ok` (the call returned: `read` / `swapped` say what it saw); `fail` (a read that
 * failed: it had no effect and is left out of the checks but for availability); `unknown` (a
 * write that failed or timed out: it may or may not have taken effect, and the checkers treat
 * it so: it may linearize anywhere after its call, or never; an append at most once).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { HistoryEntry } from "../check/linearizability";

/** What a worker does to a key. Registers: get, put, cas; append-lists: append, and get for the final reads. */
export type OpKind = "get" | "put" | "cas" | "append";

/** One operation of a worker, as written to its history file. */
export interface OpRecord {
  /** The client host (`cl1`). */
  readonly client: string;
  /** The worker's loop that issued it (one operation at a time per loop). */
  readonly proc: number;
  readonly op: OpKind;
  readonly key: string;
  /** put, cas: the new value; append: the token. */
  readonly value?: string;
  /** cas: the value it swaps from (null: the key absent). */
  readonly expected?: string | null;
  /** ms since the workload started. */
  readonly callMs: number;
  readonly returnMs: number;
  readonly outcome: "ok" | "fail" | "unknown";
  /** get that returned: the value (null: absent). */
  readonly read?: string | null;
  /** cas that returned. */
  readonly swapped?: boolean;
  /** The error of a failed or unknown call (class and first line). */
  readonly error?: string;
  /** A final read, after the heal and recovery. */
  readonly final?: true;
}

/** Register keys start with `r`, append-list keys with `a`. */
export const isRegisterKey = (key: string): boolean => key.startsWith("r");

/** The history directory of a run. */
export const historyDir = (out: string): string => join(out, "history");

/** Every record of the run in `out` (all clients), by call time. */
export function readHistory(out: string): OpRecord[] {
  const dir = historyDir(out);
  if (!existsSync(dir)) return [];
  const records: OpRecord[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".jsonl")).sort()) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      // A worker killed mid-write leaves at most a torn last line.
      if (line.trim() === "") continue;
      try {
        records.push(JSON.parse(line) as OpRecord);
      } catch {
        continue;
      }
    }
  }
  return records.sort((a, b) => a.callMs - b.callMs);
}

/**
 * A register record as the linearizability checker takes it; undefined for a failed read
 * (no effect, nothing to check).
 */
export function toHistoryEntry(r: OpRecord): HistoryEntry | undefined {
  const base = { clientId: `${r.client}/${r.proc}`, callMs: r.callMs, returnMs: r.returnMs };
  const done = r.outcome === "ok";
  if (r.outcome === "fail") return undefined;
  switch (r.op) {
    case "get":
      return { ...base, op: "get", input: { key: r.key }, ...(done ? { output: { value: r.read ?? undefined } } : {}) };
    case "put":
      return { ...base, op: "put", input: { key: r.key, value: r.value! }, ...(done ? { output: { ok: true } } : {}) };
    case "append":
      return { ...base, op: "append", input: { key: r.key, value: r.value! }, ...(done ? { output: { ok: true } } : {}) };
    case "cas":
      return {
        ...base, op: "cas", input: { key: r.key, expected: r.expected ?? undefined, value: r.value! },
        ...(done ? { output: { swapped: r.swapped! } } : {}),
      };
  }
}
