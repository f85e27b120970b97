/**
 * The pace of a leader's shard pulls (docs/design.md#52-a-reconfiguration-step-by-step): how
 * long the migration driver waits before inserting each pulled chunk, so that a move takes
 * what the receiving group can spare and no more.
 *
 * Every chunk goes through the group's Raft log like a client write (a synced log write on a
 * majority, then an apply), so a chunk's insert latency (proposal to applied result) measures
 * the queue the group's foreground writes are waiting in too: the batch they share a log write
 * with, the replication of its bytes, the apply, and the CPU the other work on the machine
 * leaves. The pacer is a delay-based controller of a rate, in the manner of TCP Vegas and
 * LEDBAT (RFC 6817), made for noisy latencies (on a busy 2-core machine the insert latencies
 * of a steady load spread over a factor of ten between p10 and p90, so single samples, and
 * minima of them, say nothing):
 * - the latencies are taken in epochs of at least `epochSamples` inserts and `epochMs`; each
 *   epoch's median is its measure;
 * - base: the lower quartile of the medians of the last `baseEpochs` epochs (a lasting
 *   change of the load becomes the new base after about that many epochs);
 * - at the end of each epoch: median > base + max(targetMinMs, targetFraction * base, spread)
 *   is congestion, spread being the interquartile range of those medians up to
 *   spreadFraction * base (the noise: an epoch within the usual spread is not congestion), and the rate is multiplied by `decrease`; otherwise, if the pace held a chunk
 *   back during the epoch (the pace, not the pulls, limits the moves), by `increase`.
 * The rate stays within [minBytesPerSec, cap] (cap: `--migration-rate`, 0 = none; without one,
 * maxBytesPerSec). Pacing off (`adaptive: false`) leaves only the cap, as the fixed
 * `--migration-rate` of before.
 *
 * Chunks are spaced by bytes / rate over all the shards the leader pulls, as one budget.
 * A pull keeps several chunks in flight (migration-driver.ts): windowBytes, twice what the pace
 * inserts in one base latency, so the pace and not the log round trip of each chunk limits it.
 * Pure (times come from the caller), so the simulator and unit tests drive it in virtual time
 * (test/sim/pacer-model.ts, test/unit/migration-pacer.test.ts, test/sim/shard-run.ts).
 */
import { median, quantile } from "../common/stats";

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
  /** Congestion: an epoch's median latency above base + max(targetMinMs, targetFraction * base). */
  readonly targetMinMs: number;
  readonly targetFraction: number;
  /** The noise counted in the threshold (the medians' interquartile range) is at most this fraction of the base. */
  readonly spreadFraction: number;
  /** Rate factors at the end of an epoch: congested, and not (while the pace holds chunks back). */
  readonly decrease: number;
  readonly increase: number;
  /** An epoch: at least this many inserts and this long. */
  readonly epochSamples: number;
  readonly epochMs: number;
  /** The base is the lower quartile of the medians of this many epochs. */
  readonly baseEpochs: number;
  /**
   * The bytes of chunks a leader keeps in flight (proposed, not yet answered) are at most
   * `windowFactor` times what the pace inserts in one insert latency (rate x the base, or
   * `windowBaseMs` before the first epoch), between one chunk and `windowBytesMax` (0: one
   * chunk at a time; the daemon's --migration-window, off by default).
   */
  readonly windowFactor: number;
  readonly windowBaseMs: number;
  readonly windowBytesMax: number;
}

const MiB = 1024 * 1024;

export const pacerDefaults: PacerOptions = {
  capBytesPerSec: 0,
  adaptive: true,
  initialBytesPerSec: 4 * MiB,
  minBytesPerSec: 1 * MiB,
  maxBytesPerSec: 1024 * MiB,
  targetMinMs: 4,
  targetFraction: 0.5,
  spreadFraction: 0.6,
  decrease: 0.7,
  increase: 1.4,
  epochSamples: 10,
  epochMs: 1000,
  baseEpochs: 12,
  windowFactor: 2,
  windowBaseMs: 100,
  windowBytesMax: 0,
};

export class MigrationPacer {
  private readonly o: PacerOptions;
  private rate: number;
  /** When the next chunk may be inserted (ms). */
  private nextAt = -Infinity;
  /** A reservation waited during the current epoch: the pace, not the pulls, limited the moves. */
  private held = false;
  /** The latencies of the current epoch, and when it started (ms). */
  private epoch: number[] = [];
  private epochStart: number | undefined;
  /** The medians of the last baseEpochs epochs, newest last. */
  private readonly medians: number[] = [];

  constructor(opts: Partial<PacerOptions> = {}) {
    this.o = { ...pacerDefaults, ...opts };
    this.rate = this.clamp(this.o.initialBytesPerSec);
  }

  /** The pace in bytes per second (Infinity: none). */
  bytesPerSec(): number {
    if (this.o.adaptive) return this.rate;
    return this.o.capBytesPerSec > 0 ? this.o.capBytesPerSec : Infinity;
  }

  /** The base latency (ms) the controller compares against; undefined before the first epoch ended. */
  baseMs(): number | undefined {
    return quantile(this.medians, 0.25);
  }

  /**
   * How many bytes of chunks may be in flight at once (proposed, not answered): twice what
   * the pace inserts in one base latency, so that the pace, not the insert latency, limits a
   * pull (several chunks share the group's log writes and applies) while the window stays
   * small enough to feel the latency the pacer judges by. At least `oneChunk` (a pull always
   * progresses), at most windowBytesMax; without a pace, windowBytesMax.
   */
  windowBytes(oneChunk: number): number {
    const rate = this.bytesPerSec();
    const want = rate === Infinity ? this.o.windowBytesMax : (this.o.windowFactor * rate * (this.baseMs() ?? this.o.windowBaseMs)) / 1000;
    return Math.max(oneChunk, Math.min(this.o.windowBytesMax, want));
  }

  /** Reserves the slot of a chunk of `bytes` at `nowMs`; returns how long to wait for it (ms). */
  reserve(bytes: number, nowMs: number): number {
    const rate = this.bytesPerSec();
    if (rate === Infinity) return 0;
    const at = Math.max(nowMs, this.nextAt);
    this.nextAt = at + (bytes / rate) * 1000;
    if (at > nowMs) this.held = true;
    return at - nowMs;
  }

  /** An insert proposed `latencyMs` before `nowMs` was answered (applied, or refused). */
  observe(latencyMs: number, nowMs: number): void {
    if (!this.o.adaptive) return;
    this.epochStart ??= nowMs - latencyMs;
    this.epoch.push(latencyMs);
    if (this.epoch.length < this.o.epochSamples || nowMs - this.epochStart < this.o.epochMs) return;
    const m = median(this.epoch)!;
    this.epoch = [];
    this.epochStart = nowMs;
    this.medians.push(m);
    if (this.medians.length > this.o.baseEpochs) this.medians.shift();
    const base = this.baseMs()!;
    const spread = Math.min(quantile(this.medians, 0.75)! - base, this.o.spreadFraction * base);
    if (m > base + Math.max(this.o.targetMinMs, this.o.targetFraction * base, spread)) {
      this.rate = this.clamp(this.rate * this.o.decrease);
    } else if (this.held) {
      this.rate = this.clamp(this.rate * this.o.increase);
    }
    this.held = false;
  }

  private clamp(rate: number): number {
    const max = this.o.capBytesPerSec > 0 ? this.o.capBytesPerSec : this.o.maxBytesPerSec;
    return Math.min(max, Math.max(Math.min(this.o.minBytesPerSec, max), rate));
  }
}
