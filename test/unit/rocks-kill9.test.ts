/**
 * A real crash test of RocksLogStore: a child process (test/unit/fixtures/log-writer.ts)
 * appends with synced saves and prints `acked <index> <term>` after each save resolves; the
 * parent kills it with SIGKILL at some point mid-stream, reopens the store and checks that
 * every acknowledged entry and the latest acknowledged term survived, intact. Several rounds
 * on the same directory, so each restart also recovers from the previous kill.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RocksLogStore } from "../../raft/storage/rocks-log-store";
import { waitFor } from "../lib/wait";
import { logWriterPayload } from "./fixtures/log-writer-data";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ackDeadlineMs = 60_000;

type Ack = { index: number; term: number };

const roots: string[] = [];
afterAll(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

/**
 * Runs the writer on `dir` until it has acknowledged `acksWanted` saves, kills it with
 * SIGKILL, waits for it to be gone and returns the acknowledgements it printed.
 */
async function runAndKill(dir: string, acksWanted: number): Promise<{ acks: Ack[]; startedAt: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/unit/fixtures/log-writer.ts", dir], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acks: Ack[] = [];
  let startedAt = -1;
  let stderr = "";
  let pending = "";
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    pending += s;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const [what, a, b] = line.split(" ");
      if (what === "started") startedAt = Number(a);
      if (what === "acked") acks.push({ index: Number(a), term: Number(b) });
    }
  });
  try {
    await waitFor(
      () => {
        if (exit) throw new Error(`writer exited early (code ${exit.code}, signal ${exit.signal}); stderr: ${stderr}`);
        return acks.length >= acksWanted;
      },
      { timeoutMs: ackDeadlineMs, what: `${acksWanted} acknowledged saves from the writer`, intervalMs: 1 },
    );
  } finally {
    child.kill("SIGKILL");
  }
  const { signal } = await exited;
  expect(signal).toBe("SIGKILL");
  return { acks, startedAt };
}

describe("RocksLogStore survives kill -9", () => {
  it(
    "keeps every acknowledged entry and the latest acknowledged term, across repeated kills",
    async () => {
      const root = await mkdtemp(join(tmpdir(), "shardkv-kill9-"));
      roots.push(root);
      const dir = join(root, "raft");
      const all: Ack[] = [];
      let lastDurable = 0;
      // Different points: the writer is killed after a different number of saves each round.
      for (const acksWanted of [150, 200, 237, 311, 180]) {
        const { acks, startedAt } = await runAndKill(dir, acksWanted);
        expect(acks.length).toBeGreaterThanOrEqual(acksWanted);
        // The restarted writer resumed from what was durable, which includes everything acked.
        expect(startedAt).toBe(lastDurable);
        all.push(...acks);

        const store = await RocksLogStore.open(dir);
        const state = await store.load();
        await store.close();
        const byIndex = new Map(state.entries.map((e) => [e.index as number, e]));
        const lastIndex = state.entries.length > 0 ? state.entries[state.entries.length - 1].index : state.compacted.index;
        lastDurable = lastIndex;

        // Every acknowledged save: its last entry is present (or compacted away) with the
        // term and bytes that were written.
        for (const ack of all) {
          expect(ack.index).toBeLessThanOrEqual(lastIndex);
          if (ack.index <= state.compacted.index) continue;
          const e = byIndex.get(ack.index);
          expect(e, `acked entry ${ack.index}`).toBeDefined();
          expect(e!.term).toBe(ack.term);
          expect(Array.from(e!.data)).toEqual(Array.from(logWriterPayload(ack.index, ack.term)));
        }
        // Everything stored (acked or not) is intact: content is a function of (index, term).
        for (const e of state.entries) expect(Array.from(e.data)).toEqual(Array.from(logWriterPayload(e.index, e.term)));
        // The latest acknowledged hard state term is durable (it may be newer: a later save
        // can be durable without its ack having been printed).
        const latest = acks[acks.length - 1];
        expect(state.hardState.term).toBeGreaterThanOrEqual(latest.term);
        expect(state.hardState.commit).toBeLessThanOrEqual(lastIndex);
        expect(state.hardState.commit).toBeGreaterThanOrEqual(latest.index - 3); // commit = last before the latest batch (1..3 entries)
        expect(state.compacted.index).toBeGreaterThan(0); // the writer compacted at least once by now
      }
    },
    300_000,
  );
});
