/**
 * A latency histogram with logarithmic buckets, HdrHistogram-style (Gil Tene's HdrHistogram:
 * "sub-buckets" of equal width inside power-of-two buckets), for `shardkv bench` and the etcd
 * load generator (bench/etcd-load.ts). Memory is bounded by the value range, not the
 * number of samples: millions of operations cost the same few kilobytes.
 *
 * Values are recorded as non-negative integers in a caller-chosen unit (the bench records
 * microseconds). With `subBucketBits = b` every value below 2^b is counted exactly; above it a
 * value shares its bucket with others within a relative width of 2^-(b-1), so a reported
 * percentile is at most that much above the true one (b = 11: 0.1 %; b = 7: 0.8 %).
 *
 * Percentiles follow the nearest-rank definition: valueAt(p) is the smallest recorded value v
 * such that at least p % of the samples are <= v, reported as the highest value of v's bucket
 * (never above the exact maximum). Min, max, count and sum are exact.
 */
import { assert } from "../common/assert";

/** Default precision: values below 2048 are exact, 0.1 % relative error above. */
export const subBucketBitsDefault = 11;
/** Values above 2^valueBitsMax are counted in the last bucket (max stays exact). */
export const valueBitsMax = 40;

export class Histogram {
  /** Sub-buckets of the first bucket (0 .. 2^b - 1, width 1). Later buckets use the upper half. */
  private readonly subBuckets: number;
  private readonly halfSub: number;
  /** counts[i] for bucket i, allocated on first use (bucket 0: subBuckets slots, others halfSub). */
  private readonly counts: (Float64Array | undefined)[];
  count = 0;
  /** Sum of recorded values (for the mean). */
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(readonly subBucketBits: number = subBucketBitsDefault) {
    assert(Number.isInteger(subBucketBits) && subBucketBits >= 2 && subBucketBits <= 20, `subBucketBits ${subBucketBits} outside [2, 20]`);
    this.subBuckets = 2 ** subBucketBits;
    this.halfSub = this.subBuckets / 2;
    this.counts = new Array(valueBitsMax - subBucketBits + 2).fill(undefined);
  }

  /** Records `value` (rounded to an integer, negative clamped to 0) `times` times. */
  record(value: number, times = 1): void {
    const v = Math.max(0, Math.round(value));
    const [bucket, sub] = this.indexOf(v);
    let c = this.counts[bucket];
    if (!c) {
      c = new Float64Array(bucket === 0 ? this.subBuckets : this.halfSub);
      this.counts[bucket] = c;
    }
    c[sub]! += times;
    this.count += times;
    this.sum += v * times;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Adds every sample of `other` (same precision) to this histogram. */
  merge(other: Histogram): void {
    assert(other.subBucketBits === this.subBucketBits, "merging histograms of different precision");
    other.counts.forEach((oc, bucket) => {
      if (!oc) return;
      let c = this.counts[bucket];
      if (!c) {
        c = new Float64Array(oc.length);
        this.counts[bucket] = c;
      }
      for (let i = 0; i < oc.length; i++) c[i]! += oc[i]!;
    });
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The mean of the recorded values (exact), or NaN when empty. */
  mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /**
   * The p-th percentile (0 < p <= 100), nearest rank, as the highest value of its bucket
   * capped at the exact max; NaN when empty. valueAt(100) is the max.
   */
  valueAt(p: number): number {
    assert(p > 0 && p <= 100, `percentile ${p} outside (0, 100]`);
    if (this.count === 0) return NaN;
    // Nearest rank: the ceil(p/100 * n)-th smallest sample. The epsilon keeps 99.9 % of
    // 1000 samples at rank 999, not 1000, despite floating-point noise.
    const rank = Math.max(1, Math.ceil((p / 100) * this.count - 1e-9));
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      const c = this.counts[bucket];
      if (!c) continue;
      for (let sub = 0; sub < c.length; sub++) {
        seen += c[sub]!;
        if (seen >= rank) return Math.min(this.max, this.highestIn(bucket, sub));
      }
    }
    return this.max;
  }

  /** [bucket, sub-bucket] of a value. */
  private indexOf(v: number): [number, number] {
    if (v < this.subBuckets) return [0, v];
    let bits = Math.floor(Math.log2(v)) + 1; // bit length: 2^(bits-1) <= v < 2^bits
    if (v >= 2 ** bits) bits++; // guard Math.log2 rounding near powers of two
    else if (v < 2 ** (bits - 1)) bits--;
    if (bits > valueBitsMax) return [this.counts.length - 1, this.halfSub - 1];
    // Bucket k >= 1 holds [2^(b-1+k), 2^(b+k)) in sub-buckets of width 2^k.
    const bucket = bits - this.subBucketBits;
    const sub = Math.floor(v / 2 ** bucket) - this.halfSub;
    return [bucket, sub];
  }

  /** The highest value that falls into [bucket, sub]. */
  private highestIn(bucket: number, sub: number): number {
    if (bucket === 0) return sub;
    if (bucket === this.counts.length - 1) return Infinity; // overflow: the caller caps at max
    const width = 2 ** bucket;
    return (sub + this.halfSub) * width + width - 1;
  }
}
