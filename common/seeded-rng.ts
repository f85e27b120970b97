/**
 * The seeded PRNG of the simulator and of the nemesis's fault schedule (xoshiro128**, seeded through splitmix32). Implements the Env's
 * `Rng`, plus the helpers the simulator needs. `fork(label)` derives an independent stream from
 * this generator's seed and the label only (not from how much of this stream was consumed), so
 * adding a draw in one place does not perturb every other stream of the run.
 */
import type { Rng } from "./env";

/** splitmix32: a good 32-bit mixer; used to expand seeds (and to hash bitsets in test/lib). */
export function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a label's UTF-16 code units, 32-bit. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class SimRng implements Rng {
  /** The 32-bit seed this stream was created from. */
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    let s = this.seed;
    s = splitmix32(s); this.a = s;
    s = splitmix32(s); this.b = s;
    s = splitmix32(s); this.c = s;
    s = splitmix32(s); this.d = s;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next uniform 32-bit unsigned integer (xoshiro128**). */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n), n >= 1. */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** Uniform real in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo);
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("pick from an empty array");
    return xs[this.int(xs.length)]!;
  }

  /** A uniformly shuffled copy (Fisher-Yates). */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** An independent stream determined by this stream's seed and `label` only. */
  fork(label: string): SimRng {
    return new SimRng(splitmix32(this.seed ^ splitmix32(hashLabel(label))));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
