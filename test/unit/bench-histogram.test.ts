/**
 * The bench's log-bucket histogram (bench/histogram.ts): exact percentiles where values
 * are exact (below 2^subBucketBits), the documented bucket bound above, nearest-rank
 * semantics, merge, and agreement with a sorted-array reference within the precision.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Histogram } from "../../bench/histogram";

/** Nearest-rank percentile of a sorted array (the reference). */
function reference(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length - 1e-9));
  return sorted[rank - 1]!;
}

describe("Histogram", () => {
  it("an empty histogram reports NaN", () => {
    const h = new Histogram();
    expect(h.count).toBe(0);
    expect(h.valueAt(50)).toBeNaN();
    expect(h.mean()).toBeNaN();
  });

  it("1..100: exact nearest-rank percentiles, min, max, mean", () => {
    const h = new Histogram();
    for (let v = 1; v <= 100; v++) h.record(v);
    expect(h.count).toBe(100);
    expect(h.valueAt(50)).toBe(50);
    expect(h.valueAt(90)).toBe(90);
    expect(h.valueAt(99)).toBe(99);
    expect(h.valueAt(99.9)).toBe(100);
    expect(h.valueAt(100)).toBe(100);
    expect(h.valueAt(0.5)).toBe(1);
    expect(h.min).toBe(1);
    expect(h.max).toBe(100);
    expect(h.mean()).toBe(50.5);
  });

  it("1..1000: p99.9 is the 999th value, not the max", () => {
    const h = new Histogram();
    for (let v = 1; v <= 1000; v++) h.record(v);
    expect(h.valueAt(99.9)).toBe(999);
    expect(h.valueAt(99)).toBe(990);
    expect(h.valueAt(50)).toBe(500);
  });

  it("a skewed distribution: 990 fast ops and 10 slow ones", () => {
    const h = new Histogram();
    h.record(100, 990);
    h.record(2000, 9);
    h.record(1500, 1);
    expect(h.valueAt(50)).toBe(100);
    expect(h.valueAt(99)).toBe(100);
    expect(h.valueAt(99.1)).toBe(1500);
    expect(h.valueAt(99.9)).toBe(2000);
    expect(h.max).toBe(2000);
  });

  it("values above 2^b share buckets of relative width 2^-(b-1); max stays exact", () => {
    const h = new Histogram(7); // exact below 128; buckets of width 2^k above
    h.record(128); // bucket 1 sub 0: [128, 129]
    expect(h.valueAt(50)).toBe(128); // capped at the exact max
    h.record(129);
    h.record(1000); // bucket 3 (width 8): [1000, 1007]
    expect(h.valueAt(100)).toBe(1000);
    expect(h.valueAt(50)).toBe(129);
    h.record(1001);
    // 1000 and 1001 share [1000, 1007]: the reported p75 is the bucket's top, capped at max.
    expect(h.valueAt(75)).toBe(1001);
    expect(h.max).toBe(1001);
  });

  it("powers of two and their neighbours land in the right bucket", () => {
    for (const b of [7, 11]) {
      for (let k = b; k < 36; k++) {
        for (const v of [2 ** k - 1, 2 ** k, 2 ** k + 1]) {
          const h = new Histogram(b);
          h.record(1);
          h.record(v);
          h.record(v + 2 ** 37); // a larger max so the cap does not hide the bucket bound
          const got = h.valueAt(50);
          expect(got).toBeGreaterThanOrEqual(v);
          expect(got - v).toBeLessThanOrEqual(v * 2 ** -(b - 1));
        }
      }
    }
  });

  it("matches a sorted-array reference within the precision", () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 1, maxLength: 400 }),
      fc.constantFrom(1, 25, 50, 90, 99, 99.9, 100),
      (values, p) => {
        const h = new Histogram();
        for (const v of values) h.record(v);
        const want = reference([...values].sort((a, b) => a - b), p);
        const got = h.valueAt(p);
        return got >= want && got - want <= Math.max(0, want * 2 ** -10);
      },
    ), { numRuns: 300 });
  });

  it("merge is the same as recording everything in one", () => {
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 500; i++) {
      const v = (i * 7919) % 100_000;
      (i % 2 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    for (const p of [50, 90, 99, 99.9, 100]) expect(a.valueAt(p)).toBe(all.valueAt(p));
    expect([a.count, a.sum, a.min, a.max]).toEqual([all.count, all.sum, all.min, all.max]);
  });

  it("huge values go to the overflow bucket; max stays exact", () => {
    const h = new Histogram();
    h.record(2 ** 45);
    h.record(5);
    expect(h.valueAt(100)).toBe(2 ** 45);
    expect(h.valueAt(50)).toBe(5);
  });

  it("memory does not grow with the number of samples", () => {
    const h = new Histogram();
    for (let i = 0; i < 1_000_000; i++) h.record(1000 + (i % 5000));
    expect(h.count).toBe(1_000_000);
    expect(h.valueAt(50)).toBeGreaterThanOrEqual(3499);
    expect(h.valueAt(50)).toBeLessThanOrEqual(3504);
  });
});
