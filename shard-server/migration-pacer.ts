/**
 * The pace of a leader's shard pulls (docs/design.md#53-pacing-shard-moves): how long the
 * migration driver waits before inserting each pulled chunk, so that a move takes what the
 * receiving group can spare and no more.
 *
 * Every chunk goes through the group's Raft log like a client write (a synced log write on a
 * majority, then an apply), so a chunk's insert latency (proposal to applied result) measures
 * the queue the group's foreground writes are waiting in too: the batch they share a log write
 * with, the replication of its bytes, the apply, and the CPU the other work on the machine
 * leaves. The pacer is a delay-based controller of a rate in the manner of LEDBAT (RFC 6817)
 * and TCP Vegas:
 * - base: the lowest insert latency seen lately (the minima of the last `baseBuckets`
 *   intervals of `baseBucketMs`, so a lasting change of the load moves it);
 * - current: the lowest of the last `currentSamples` latencies (one GC pause is not congestion);
 * - queuing = current - base, target = max(targetMinMs, targetFraction * base);
 * - per sample, rate *= 1 + gain * off * dt, where off = (target - queuing) / target in
 *   [-1, 1] and dt the seconds since the last sample (at most 1): below the target the rate
 *   grows exponentially (about e^gainUp per second), above it it shrinks (gainDown), at the
 *   target it holds. It grows only while the pace held a chunk back lately (otherwise the
 *   pulls, not the pacer, limit the moves and a higher rate would mean nothing).
 * The rate stays within [minBytesPerSec, cap] (cap: `--migration-rate`, 0 = none). Pacing off
 * (`adaptive: false`) leaves only the cap, as the fixed `--migration-rate` of before.
 *
 * Chunks are spaced by bytes / rate over all the shards the leader pulls, as one budget.
 * Pure (times come from the caller), so the simulator and unit tests drive it with virtual time.
 */

/** The pacer's parameters (defaults: pacerDefaults). */
export interface PacerOptions {
  /** Hard cap in bytes per second (0: none). */
  readonly capBytesPerSec: number;
  /** Adapt to the insert latency (false: only the cap paces). */
  readonly adaptive: boolean;
  readonly initialBytesPerSec: number;
  /** The rate never goes below this (a move always progresses). */
  readonly minBytesPerSec: number;
  /** Without a cap, the rate never goes above this. */
  readonly maxBytesPerSec: number;
  /** Target queuing delay: max(targetMinMs, targetFraction * base latency). */
  readonly targetMinMs: number;
  readonly targetFraction: number;
  /** Growth and shrink rates per second at full distance from the target. */
  readonly gainUp: number;
  readonly gainDown: number;
  readonly baseBucketMs: number;
  readonly baseBuckets: number;
  readonly currentSamples: number;
}

const MiB = 1024 * 1024;

export const pacerDefaults: PacerOptions = {
  capBytesPerSec: 0,
  adaptive: true,
  initialBytesPerSec: 4 * MiB,
  minBytesPerSec: 256 * 1024,
  maxBytesPerSec: 1024 * MiB,
  targetMinMs: 4,
  targetFraction: 0.5,
  gainUp: 1.5,
  gainDown: 4,
  baseBucketMs: 2000,
  baseBuckets: 5,
  currentSamples: 3,
};

export class MigrationPacer {
  private readonly o: PacerOptions;
  private rate: number;
  /** When the next chunk may be inserted (ms). */
  private nextAt = -Infinity;
  /** When a reservation last had to wait (ms): the pace, not the pulls, limited the moves. */
  private lastHeldAt = -Infinity;
  private lastSampleAt: number | undefined;
  /** Minimum latency per base bucket, newest last, and the start of the newest bucket. */
  private readonly baseMins: number[] = [];
  private bucketStart = -Infinity;
  private readonly recent: number[] = [];

  constructor(opts: Partial<PacerOptions> = {}) {
    this.o = { ...pacerDefaults, ...opts };
    this.rate = this.clamp(this.o.initialBytesPerSec);
  }

  /** The pace in bytes per second (Infinity: none). */
  bytesPerSec(): number {
    if (this.o.adaptive) return this.rate;
    return this.o.capBytesPerSec > 0 ? this.o.capBytesPerSec : Infinity;
  }

  /** The base latency (ms) the controller compares against; undefined before any sample. */
  baseMs(): number | undefined {
    return this.baseMins.length > 0 ? Math.min(...this.baseMins) : undefined;
  }

  /** Reserves the slot of a chunk of `bytes` at `nowMs`; returns how long to wait for it (ms). */
  reserve(bytes: number, nowMs: number): number {
    const rate = this.bytesPerSec();
    if (rate === Infinity) return 0;
    const at = Math.max(nowMs, this.nextAt);
    this.nextAt = at + (bytes / rate) * 1000;
    if (at > nowMs) this.lastHeldAt = nowMs;
    return at - nowMs;
  }

  /** An insert proposed `latencyMs` before `nowMs` was answered (applied, or refused). */
  observe(latencyMs: number, nowMs: number): void {
    if (!this.o.adaptive) return;
    if (nowMs - this.bucketStart >= this.o.baseBucketMs || this.baseMins.length === 0) {
      this.baseMins.push(latencyMs);
      if (this.baseMins.length > this.o.baseBuckets) this.baseMins.shift();
      this.bucketStart = nowMs;
    } else {
      const last = this.baseMins.length - 1;
      this.baseMins[last] = Math.min(this.baseMins[last]!, latencyMs);
    }
    this.recent.push(latencyMs);
    if (this.recent.length > this.o.currentSamples) this.recent.shift();
    const dt = this.lastSampleAt === undefined ? 0 : Math.min(1, Math.max(0, nowMs - this.lastSampleAt) / 1000);
    this.lastSampleAt = nowMs;
    const base = this.baseMs()!;
    const queuing = Math.min(...this.recent) - base;
    const target = Math.max(this.o.targetMinMs, this.o.targetFraction * base);
    const off = Math.max(-1, Math.min(1, (target - queuing) / target));
    if (off > 0) {
      // Grow only while the pace holds chunks back (within the last second).
      if (nowMs - this.lastHeldAt <= 1000) this.rate = this.clamp(this.rate * (1 + this.o.gainUp * off * dt));
    } else {
      this.rate = this.clamp(this.rate * Math.max(0.5, 1 + this.o.gainDown * off * dt));
    }
  }

  private clamp(rate: number): number {
    const max = this.o.capBytesPerSec > 0 ? this.o.capBytesPerSec : this.o.maxBytesPerSec;
    return Math.min(max, Math.max(Math.min(this.o.minBytesPerSec, max), rate));
  }
}
