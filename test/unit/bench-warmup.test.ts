/**
 * The warm-up of a fresh cluster before its first cell (bench/warmup.ts): at least
 * warmRoundsMin rounds, until two in a row agree on ops/s, within the time allowed.
 */
import { describe, expect, it } from "vitest";
import { warmRoundsMin, warmUntilSteady, warmedUp } from "../../bench/warmup";

/** A round function that answers `opsPerSec` in turn and records the lengths asked for. */
function rounds(opsPerSec: readonly (number | undefined)[]): { run: (ms: number) => Promise<number | undefined>; asked: number[] } {
  const asked: number[] = [];
  return { asked, run: async (ms) => { asked.push(ms); return opsPerSec[asked.length - 1]; } };
}

describe("bench warm-up", () => {
  it("warmedUp: the last two rounds within the tolerance of the larger one", () => {
    expect(warmedUp([])).toBe(false);
    expect(warmedUp([1000])).toBe(false);
    expect(warmedUp([1000, 1100])).toBe(true);
    expect(warmedUp([1000, 1112])).toBe(false);
    expect(warmedUp([1060, 1411, 1683, 1425, 1534])).toBe(true);
    expect(warmedUp([1060, 1411, 1683])).toBe(false);
    expect(warmedUp([0, 0])).toBe(false);
    expect(warmedUp([1000, 1300], 0.25)).toBe(true);
  });

  it("runs rounds until two agree", async () => {
    const r = rounds([1060, 1411, 1683, 1425, 1534, 1500]);
    const out = await warmUntilSteady(r.run, 5_000, 60_000);
    expect(out).toEqual({ rounds: [1060, 1411, 1683, 1425, 1534], warm: true });
    expect(r.asked).toEqual([5_000, 5_000, 5_000, 5_000, 5_000]);
  });

  it("runs at least warmRoundsMin rounds, however flat the first ones (a cold cluster can pause before its climb)", async () => {
    const r = rounds([1000, 1010, 1500, 1520, 1530]);
    expect(warmRoundsMin).toBe(4);
    expect(await warmUntilSteady(r.run, 5_000, 60_000)).toEqual({ rounds: [1000, 1010, 1500, 1520], warm: true });
    expect(await warmUntilSteady(rounds([1000, 1010, 1500, 1520]).run, 5_000, 60_000, 2)).toEqual({ rounds: [1000, 1010], warm: true });
  });

  it("the minimum shrinks to the rounds the time allowed holds (quick runs: two)", async () => {
    expect(await warmUntilSteady(rounds([1000, 1010, 3000]).run, 500, 1_000)).toEqual({ rounds: [1000, 1010], warm: true });
  });

  it("stops when the next round would pass the time allowed; a failed round counts as 0 ops/s", async () => {
    const r = rounds([1000, undefined, 2000, 3000, 4000]);
    expect(await warmUntilSteady(r.run, 5_000, 19_999)).toEqual({ rounds: [1000, 0, 2000], warm: false });
    expect(r.asked).toHaveLength(3);
  });

  it("no round when the time allowed is shorter than one", async () => {
    const r = rounds([1000]);
    expect(await warmUntilSteady(r.run, 5_000, 4_999)).toEqual({ rounds: [], warm: false });
    expect(r.asked).toEqual([]);
  });
});
