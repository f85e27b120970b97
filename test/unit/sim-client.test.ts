/**
 * The real client library (ShardKV) against the real shard server request path (ShardService,
 * the Batch server, the production state machine over simulated storage) over the simulated
 * network, on virtual time (test/sim/sim-client-run.ts, test/sim/sim-client-transport.ts).
 * Fixed seeds plus one random one (printed); SIM_CLIENT_SEED=<s> runs only that seed, and
 * SIM_CLIENT_TRACE=1 prints its trace. Also: a seed replays byte for byte, and the checks are
 * not vacuous (servers that cannot recognise retries double tokens; a leader that acknowledges
 * a lost entry loses an acknowledged write).
 */
import { describe, expect, it } from "vitest";
import { realRng } from "../../common/real-env";
import { BuggifyTotals, buggifyReach } from "../sim/buggify";
import { runSimClientSeed, simClientFailureReport } from "../sim/sim-client-run";

const fixedSeeds = Array.from({ length: 30 }, (_, i) => i + 1);
const only = process.env.SIM_CLIENT_SEED;
const seeds = only !== undefined ? [Number(only)] : [...fixedSeeds, realRng.int(2 ** 32)];
const trace = process.env.SIM_CLIENT_TRACE ? (l: string) => void process.stdout.write(`${l}\n`) : undefined;

describe("ShardKV over the simulated network", () => {
  it(`seeds ${only ?? `1-${fixedSeeds.length} and one random`} pass; retries, broken streams and back-pressure all happen`, async () => {
    if (only === undefined) process.stdout.write(`sim-client: random seed ${seeds[seeds.length - 1]}\n`);
    const totals: Record<string, number> = {};
    const failures: string[] = [];
    const buggify = new BuggifyTotals();
    for (const seed of seeds) {
      const r = await runSimClientSeed(seed, { trace });
      if (!r.ok) failures.push(simClientFailureReport(r));
      if (fixedSeeds.includes(seed)) buggify.add(r.buggify);
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    }
    expect(failures.join("\n"), failures.join("\n")).toBe("");
    if (only !== undefined) return;
    // The faults reached the code under test: writes delivered more than once (duplicated
    // messages, retries after lost answers and broken streams), all absorbed.
    expect(totals.acked).toBeGreaterThan(1000);
    expect(totals.writesRedelivered).toBeGreaterThan(100);
    expect(totals.streamsBroken).toBeGreaterThan(50);
    expect(totals.backpressured).toBeGreaterThan(0);
    expect(totals.reads).toBeGreaterThan(300);
    // Every BUGGIFY point of the client and the server's request path fired.
    expect(buggify.missing(buggifyReach.simClient), buggify.describe()).toEqual([]);
  }, 120_000);

  it("a seed replays byte for byte; another seed differs", async () => {
    const [a, b, c] = [await runSimClientSeed(7), await runSimClientSeed(7), await runSimClientSeed(8)];
    expect(a.ok, simClientFailureReport(a)).toBe(true);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.stats).toEqual(a.stats);
    expect(b.finals).toEqual(a.finals);
    expect(c.traceHash).not.toBe(a.traceHash);
  }, 60_000);

  it("servers whose duplicate detection cannot see retries fail through a token applied twice", async () => {
    for (const seed of [1, 2, 3]) {
      const r = await runSimClientSeed(seed, { sabotage: "freshSeqs" });
      expect(r.ok).toBe(false);
      expect(r.failure).toMatch(/holds token c\d+\.\d+; twice/);
      expect(simClientFailureReport(r)).toContain(`SIM_CLIENT_SEED=${seed} npx vitest run test/unit/sim-client.test.ts`);
    }
  }, 60_000);

  it("a leader that acknowledges an entry lost with it fails through a lost acknowledged append", async () => {
    const failed: string[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const r = await runSimClientSeed(seed, { sabotage: "ackLost" });
      if (!r.ok) failed.push(r.failure!);
    }
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(f).toMatch(/acknowledged append c\d+\.\d+; to k\d is lost/);
  }, 60_000);
});
