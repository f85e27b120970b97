/**
 * A simulation run stopped by its AbortSignal (test/sim/event-loop.ts): the simulation tests
 * pass their test context's signal, which vitest aborts when a test times out, so a seed loop
 * that overran its test stops at the next event instead of running on behind the next tests
 * of its file (and installing its BUGGIFY draws under theirs). The run throws SimAbortedError
 * naming the seed and the command that replays it.
 */
import { describe, expect, it } from "vitest";
import { buggifySource } from "../../common/buggify";
import { nextTurn } from "../../common/real-env";
import { SimAbortedError } from "../sim/event-loop";
import { runSeed } from "../sim/run";
import { runShardSeed } from "../sim/shard-run";

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => nextTurn(r));
};

/** The virtual time of a trace line ("<ms> <what>"). */
const timeOf = (line: string): number => Number(line.slice(0, line.indexOf(" ")));

describe("a simulation run stopped by its signal", () => {
  it("stops at the next event once aborted, names the seed and its replay, and leaves no BUGGIFY source installed", async () => {
    const ac = new AbortController();
    let lines = 0;
    // Aborted from inside the run, once 1 s of virtual time passed: as a test's timeout would,
    // while the run is between two events.
    const run = runSeed(4, {
      signal: ac.signal,
      trace: (l) => {
        lines++;
        if (!ac.signal.aborted && timeOf(l) >= 1000) ac.abort();
      },
    });
    const e = await run.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(SimAbortedError);
    const a = e as SimAbortedError;
    expect(a.seed).toBe(4);
    expect(a.virtualMs).toBeGreaterThanOrEqual(1000);
    expect(a.virtualMs).toBeLessThan(25_000); // the safety phase had not ended
    expect(a.message).toContain("replay it with SEED=4 npm run sim");
    const at = lines;
    await turns(20);
    expect(lines).toBe(at); // nothing ran after the abort
    expect(buggifySource()).toBeUndefined();
  });

  it("a signal aborted before the run: nothing runs", async () => {
    let lines = 0;
    const e = await runSeed(5, { signal: AbortSignal.abort(), trace: () => lines++ }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(SimAbortedError);
    expect((e as SimAbortedError).virtualMs).toBe(0);
    expect(lines).toBe(0);
  });

  it("the replay command carries the mode and the run's options; a test's own options are named", async () => {
    const ac = new AbortController();
    const e = await runShardSeed(7, {
      buggify: false, safetyMs: 3000, signal: ac.signal, params: (p) => p,
      trace: (l) => {
        if (!ac.signal.aborted && timeOf(l) >= 500) ac.abort();
      },
    }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(SimAbortedError);
    expect((e as SimAbortedError).message).toContain("replay it with SEED=7 npm run sim -- --cluster --safety-ms 3000 --no-buggify (with the test's own params)");
  });
});
