/** The second half of the simulation's fixed seeds (151-300); see sim.test.ts. */
import { describe, expect, it } from "vitest";
import { runSeed } from "../sim/run";
import { failureReport, fixedSeedsB } from "../sim/seeds";

describe("simulation: fixed seeds 151-300", () => {
  it.for(fixedSeedsB)("seed %i", async (seed, { signal }) => {
    const r = await runSeed(seed, { signal });
    expect(r.ok, failureReport(r)).toBe(true);
  });
});
