/**
 * bench/apply-path.ts (the replica storage + apply microbenchmark) runs end to end on
 * a real RocksDB and prints its one line. A smoke test of the tool, with a few tiny rounds:
 * no timing assertion (the numbers are for docs/benchmarks.md).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

describe("bench/apply-path.ts", () => {
  it("applies its batches and prints CPU per put for every round", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "bench", "apply-path.ts")], {
      cwd: root,
      env: { ...process.env, BATCH: "3", BATCHES: "20", ROUNDS: "3", WARMUP: "5" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const m = /^apply path, 3 puts per batch: CPU µs per put min ([\d.]+) median ([\d.]+), state writes per put ([\d.]+) {2}\[rounds: ([\d. ]+)\]\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const rounds = m![4]!.split(" ").map(Number);
    expect(rounds).toHaveLength(3);
    expect(Number(m![1])).toBe(Math.min(...rounds));
    for (const x of rounds) expect(x).toBeGreaterThan(0);
    expect(Number.isFinite(Number(m![3]))).toBe(true);
  });
});
