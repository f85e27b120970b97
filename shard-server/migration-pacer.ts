/**
 * The pace of a leader's shard pulls (docs/design.md#52-a-reconfiguration-step-by-step): how
 * long the migration driver waits before inserting each pulled chunk, so that a move takes
 * what the receiving group can spare and no more.
 *
 * Every chunk goes through the group's Raft log like a client write (a synced log write on a
 * majority, then an apply), on the CPU and disk the group's other requests need. The pacer
 * judges what the move costs them by their own latency: the foreground requests (client
 * reads and writes) this replica answers as leader (shard-server/service.ts tells the driver
 * each one's latency). Not by the chunks' insert latency: with several chunks of a pull in
 * flight that includes the wait behind the pull's own earlier chunks, grows with the window
 * and not with the group's load, and drags the base up with it ("Pipelined pulls" in
 * docs/benchmarks.md: the pace then climbed to its maximum while the other shards lost two
 * thirds of their throughput). The foreground's latency is what the move must protect, and a
 * group without foreground requests has nothing to protect: its move goes as fast as its
 * window of chunks in flight lets it.
 *
 * The controller is delay-based, in the manner of TCP Vegas and LEDBAT (RFC 6817), made for
 * noisy latencies (on a busy 2-core machine the latencies of a steady load spread over a
 * factor of ten between p10 and p90, so single samples, and minima of them, say nothing):
 * - the latencies are taken in epochs of at least `epochSamples` requests and `epochMs`
 *   (at most `epochSampleMax` kept per epoch, evenly); each epoch's median is its measure;
 *   epochs run whether a pull runs or not, so a move starts with the base of the load before it;
 * - base: the lower quartile of the medians of the last `baseEpochs` epochs (a lasting
 *   change of the load becomes the new base after about that many epochs);
 * - at the end of each epoch in which a chunk was paced: median > base + max(targetMinMs,
 *   targetFraction * base, spread) is congestion, spread being the interquartile range of
 *   the medians of the calm epochs among those (not judged congested) up to spreadFraction *
 *   base (the noise: an epoch within the usual spread is not congestion), and the rate is
 *   multiplied by `decrease`; otherwise, if the chunks paced in the epoch took most of the
 *   pace (it, not the pulls' windows, streams or round trips, limits the moves), by `increase`.
 *   An epoch of `epochMs` with fewer than `epochSamples` requests (a group nearly idle) is not
 *   congested: the pace rises if it limited the moves, by `idleIncrease` (doubling: from 4
 *   MiB/s, 64 MiB/s after 4 such epochs, where it rose by 1.4x a second before, and an idle
 *   100 MiB move spent most of its 10 s at the pace: docs/benchmarks.md).
 *   The spread leaves out the congested epochs because they are not noise but the move's own
 *   cost, and the back-off that follows it: when the foreground stepped from 20 % to 70 % of
 *   a model group (test/sim/pacer-model.ts), the medians of the drain (15x, then 7x, 3x the
 *   base) made the spread the whole spreadFraction, the threshold 1.6x the base once the base
 *   had followed the load, and the pace climbed back until the foreground's delay was
 *   stretched 2-3x (the mean over seconds 16-25 above 1.7x for 42 of seeds 1-1000; with the
 *   calm epochs' spread, at most 1.28x).
 * The rate stays within [minBytesPerSec, cap] (cap: `--migration-rate`, 0 = none; without one,
 * maxBytesPerSec). Pacing off (`adaptive: false`) leaves only the cap, as the fixed
 * `--migration-rate` of before.
 *
 * Chunks are spaced by bytes / rate over all the shards the leader pulls, as one budget.
 * A pull keeps up to windowBytesMax of chunks in flight (migration-driver.ts; the daemon's
 * --migration-window): the pace, not the log round trip of each chunk, limits it, and the
 * window bounds what a burst puts in the group's log at once.
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
  /** Congestion: an epoch's median latency above base + max(targetMinMs, targetFraction * base, spread). */
  readonly targetMinMs: number;
  readonly targetFraction: number;
  /** The noise counted in the threshold (the calm epochs' medians' interquartile range) is at most this fraction of the base. */
  readonly spreadFraction: number;
  /** Rate factors at the end of an epoch: congested, and not (while the pace holds chunks back). */
  readonly decrease: number;
  readonly increase: number;
  /**
   * The factor instead of `increase` after an epoch with fewer than epochSamples requests (a
   * group with nearly nothing to protect), as TCP's slow start doubles its window: the move
   * finds what the group can insert in a few epochs, not in many.
   */
  readonly idleIncrease: number;
  /** An epoch: at least this many requests and this long. */
  readonly epochSamples: number;
  readonly epochMs: number;
  /** Latencies kept per epoch at most (beyond it, every second one is dropped and then every second one taken). */
  readonly epochSampleMax: number;
  /** The base is the lower quartile of the medians of this many epochs. */
  readonly baseEpochs: number;
  /**
   * The bytes of chunks a pull keeps in flight (proposed, not yet answered), at least one
   * chunk (0: one chunk at a time; the daemon's --migration-window).
   */
  readonly windowBytesMax: number;
}

const MiB = 1024 * 1024;

/** The pace limits the moves in an epoch whose chunks took at least this fraction of it. */
const paceUsedFraction = 0.8;

export const pacerDefaults: PacerOptions = {
  capBytesPerSec: 0,
  adaptive: true,
  initialBytesPerSec: 4 * MiB,
  minBytesPerSec: 1 * MiB,
  maxBytesPerSec: 1024 * MiB,
  targetMinMs: 1,
  targetFraction: 0.3,
  spreadFraction: 0.6,
  decrease: 0.7,
  increase: 1.4,
  idleIncrease: 2,
  epochSamples: 10,
  epochMs: 1000,
  epochSampleMax: 1024,
  baseEpochs: 12,
  windowBytesMax: 0,
};

export class MigrationPacer {
  private readonly o: PacerOptions;
  private rate: number;
  /** When the next chunk may be inserted (ms). */
  private nextAt = -Infinity;
  /** Bytes of chunks paced during the current epoch (their rate against the pace: what limits the moves). */
  private reserved = 0;
  /** A chunk was paced during the current epoch: the move had its part in the epoch's latency. */
  private used = false;
  /** The latencies kept of the current epoch, and when it started (ms). */
  private epoch: number[] = [];
  private epochStart: number | undefined;
  /** Of the epoch's latencies, one in `stride` is kept (`seen` counts them all). */
  private stride = 1;
  private seen = 0;
  /** The medians of the last baseEpochs epochs, newest last. */
  private readonly medians: number[] = [];
  /** The same epochs' medians, undefined for those judged congested. */
  private readonly calm: (number | undefined)[] = [];

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
   * How many bytes of chunks a pull may have in flight at once (proposed, not answered):
   * windowBytesMax, at least `oneChunk` (a pull always progresses; 0: one chunk at a time).
   */
  windowBytes(oneChunk: number): number {
    return Math.max(oneChunk, this.o.windowBytesMax);
  }

  /** Reserves the slot of a chunk of `bytes` at `nowMs`; returns how long to wait for it (ms). */
  reserve(bytes: number, nowMs: number): number {
    this.roll(nowMs);
    const rate = this.bytesPerSec();
    if (rate === Infinity) return 0;
    this.epochStart ??= nowMs;
    this.used = true;
    this.reserved += bytes;
    const at = Math.max(nowMs, this.nextAt);
    this.nextAt = at + (bytes / rate) * 1000;
    return at - nowMs;
  }

  /** A foreground request that took `latencyMs` was answered at `nowMs`. */
  observe(latencyMs: number, nowMs: number): void {
    if (!this.o.adaptive) return;
    this.epochStart ??= nowMs - latencyMs;
    if (this.seen++ % this.stride === 0) {
      this.epoch.push(latencyMs);
      if (this.epoch.length >= this.o.epochSampleMax) {
        this.epoch = this.epoch.filter((_, i) => i % 2 === 0);
        this.stride *= 2;
      }
    }
    this.roll(nowMs);
  }

  /** Ends the current epoch when it is due, judging it (see the module comment). */
  private roll(nowMs: number): void {
    if (!this.o.adaptive || this.epochStart === undefined || nowMs - this.epochStart < this.o.epochMs) return;
    // The pace limited the moves when they used most of it (as TCP grows a window only while
    // the flow fills it): a pull limited by its window, its stream or the log's round trip
    // gains nothing from a higher pace, which would only let a burst through later.
    const limiting = this.reserved >= paceUsedFraction * this.rate * ((nowMs - this.epochStart) / 1000);
    if (this.seen >= this.o.epochSamples) {
      const m = median(this.epoch)!;
      this.medians.push(m);
      if (this.medians.length > this.o.baseEpochs) this.medians.shift();
      const base = this.baseMs()!;
      const calm = this.calm.filter((x) => x !== undefined);
      const spread = calm.length === 0 ? 0 : Math.min(quantile(calm, 0.75)! - quantile(calm, 0.25)!, this.o.spreadFraction * base);
      const congested = this.used && m > base + Math.max(this.o.targetMinMs, this.o.targetFraction * base, spread);
      this.calm.push(congested ? undefined : m);
      if (this.calm.length > this.o.baseEpochs) this.calm.shift();
      if (congested) {
        this.rate = this.clamp(this.rate * this.o.decrease);
      } else if (limiting) {
        this.rate = this.clamp(this.rate * this.o.increase);
      }
    } else if (limiting) {
      // Too few requests to judge by: nothing much to protect (the pace doubles).
      this.rate = this.clamp(this.rate * this.o.idleIncrease);
    }
    this.epoch = [];
    this.stride = 1;
    this.seen = 0;
    this.reserved = 0;
    this.used = false;
    this.epochStart = nowMs;
  }

  private clamp(rate: number): number {
    const max = this.o.capBytesPerSec > 0 ? this.o.capBytesPerSec : this.o.maxBytesPerSec;
    return Math.min(max, Math.max(Math.min(this.o.minBytesPerSec, max), rate));
  }
}
