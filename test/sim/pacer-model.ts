/**
 * A seeded model of a receiving group for the migration pacer (shard-server/migration-pacer.ts),
 * in virtual time. The group is a queue of capacity `capacityBytesPerSec` shared with a
 * foreground load that takes a fraction of it (a step function of time).
 *
 * One pull inserts chunks as the migration driver does: wait for the pacer's slot, then for
 * room in the window (`pacer.windowBytesMax`: bytes of chunks in flight; 0: one at a time),
 * propose. The group inserts the chunks in order with what the foreground leaves it: a chunk
 * is answered `fixedMs` after its proposal or its service time after the chunk before it,
 * whichever is later (so with a window, a chunk's insert latency includes the wait behind
 * the pull's own earlier chunks, the latency the pacer must not judge by).
 *
 * The foreground answers a request every `foregroundGapMs`, which the pacer observes (the
 * driver's observeForeground): its latency is a fixed part plus a service time stretched by
 * the utilisation, as in an M/M/1 queue: fixed + service / (1 - u), u = foreground share +
 * the migration's rate over the last second / capacity, times seeded noise (noiseSpread), with
 * rare outliers (GC pauses). What the foreground pays for the migration is that stretch: its
 * delay with the move over without, (1 - share) / (1 - u).
 */
import { MigrationPacer, type PacerOptions } from "../../shard-server/migration-pacer";
import { SimRng } from "./rng";

export interface PacerModel {
  readonly capacityBytesPerSec: number;
  /** Fixed part of a chunk's insert latency (ms): the log round trip of an idle group. */
  readonly fixedMs: number;
  readonly chunkBytes: number;
  /** The foreground's share of the capacity at `tMs`. */
  readonly foreground: (tMs: number) => number;
  /** A foreground request is answered every this many ms (0: none, an idle group). */
  readonly foregroundGapMs: number;
  /** A foreground request's latency without load: fixed part and service time (ms). */
  readonly foregroundFixedMs: number;
  readonly foregroundServiceMs: number;
  readonly durationMs: number;
  /**
   * Spread of the noise: each latency is multiplied by e^(spread * x), x the sum of three
   * uniform draws in [-0.5, 0.5] (0.15: a quiet machine; 1: a shared one, whose latencies
   * spread over a factor of ten between p10 and p90, as measured under the bench's load).
   */
  readonly noiseSpread: number;
  readonly pacer?: Partial<PacerOptions>;
}

/** One second of the run. */
export interface PacerSecond {
  readonly second: number;
  /** Migration bytes inserted in it. */
  readonly bytes: number;
  /** The pace at its end (bytes/s). */
  readonly paceBytesPerSec: number;
  /** The foreground's mean stretch in it: its latency with the migration over without (1 = none). */
  readonly stretch: number;
  /** The median insert latency of the chunks answered in it (ms; 0: none). */
  readonly insertMs: number;
}

const MiB = 1024 * 1024;

export const defaultModel: PacerModel = {
  capacityBytesPerSec: 40 * MiB,
  fixedMs: 5,
  chunkBytes: 256 * 1024,
  foreground: (t) => (t >= 10_000 && t < 25_000 ? 0.7 : 0.2),
  foregroundGapMs: 10,
  foregroundFixedMs: 1,
  foregroundServiceMs: 4,
  durationMs: 35_000,
  noiseSpread: 0.15,
};

/** Runs seed `seed` of `m`; per second: bytes moved, pace, the foreground's stretch, insert latency. */
export function runPacerModel(seed: number, m: PacerModel = defaultModel): PacerSecond[] {
  const rng = new SimRng(seed);
  const noise = (): number => Math.exp(m.noiseSpread * (rng.float() + rng.float() + rng.float() - 1.5));
  const pacer = new MigrationPacer(m.pacer);
  const inserted: { at: number; bytes: number }[] = [];
  const recentRate = (t: number): number => {
    let b = 0;
    for (let i = inserted.length - 1; i >= 0; i--) {
      const x = inserted[i]!;
      if (x.at <= t && x.at > t - 1000) b += x.bytes;
      else if (x.at <= t - 1000) break;
    }
    return b;
  };
  const seconds = Array.from({ length: Math.ceil(m.durationMs / 1000) }, () => ({ bytes: 0, pace: 0, stretch: [] as number[], insertMs: [] as number[] }));
  const secondOf = (t: number) => seconds[Math.floor(t / 1000)];

  /** The chunks in flight: when each is answered (non-decreasing), and its bytes. */
  const flight: { at: number; bytes: number }[] = [];
  let lastDone = 0;
  /** When the next chunk is proposed: room in the window, then its slot (as the driver waits). */
  const nextProposal = (t: number): number => {
    let at = t;
    const window = pacer.windowBytes(m.chunkBytes);
    let bytes = flight.reduce((a, f) => a + (f.at > at ? f.bytes : 0), 0);
    for (const f of flight) {
      if (bytes + m.chunkBytes <= window) break;
      if (f.at > at) {
        at = f.at;
        bytes -= f.bytes;
      }
    }
    return at + pacer.reserve(m.chunkBytes, at);
  };
  let proposeAt = nextProposal(0);
  let foregroundAt = m.foregroundGapMs > 0 ? 0 : Infinity;
  while (Math.min(proposeAt, foregroundAt) < m.durationMs) {
    if (foregroundAt <= proposeAt) {
      const t = foregroundAt;
      const f = m.foreground(t);
      const u = Math.min(0.98, f + recentRate(t) / m.capacityBytesPerSec);
      let latency = (m.foregroundFixedMs + m.foregroundServiceMs / (1 - u)) * noise();
      if (rng.bool(0.02)) latency += rng.range(20, 100);
      pacer.observe(latency, t);
      secondOf(t)?.stretch.push((1 - f) / (1 - u));
      foregroundAt += m.foregroundGapMs;
      continue;
    }
    const t = proposeAt;
    // The group inserts migration bytes with what the foreground leaves it, in log order.
    const serviceMs = (m.chunkBytes / (m.capacityBytesPerSec * Math.max(0.02, 1 - m.foreground(t)))) * 1000;
    let done = Math.max(t + m.fixedMs * noise(), lastDone + serviceMs * noise());
    if (rng.bool(0.02)) done += rng.range(20, 100);
    lastDone = done;
    flight.push({ at: done, bytes: m.chunkBytes });
    inserted.push({ at: done, bytes: m.chunkBytes });
    const s = secondOf(done);
    if (s) {
      s.bytes += m.chunkBytes;
      s.insertMs.push(done - t);
    }
    while (flight.length > 0 && flight[0]!.at <= t) flight.shift();
    proposeAt = nextProposal(t);
    const p = secondOf(t);
    if (p) p.pace = pacer.bytesPerSec();
  }
  const med = (xs: number[]): number => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);
  let pace = pacer.bytesPerSec();
  return seconds.map((s, i) => {
    if (s.pace > 0) pace = s.pace;
    return {
      second: i,
      bytes: s.bytes,
      paceBytesPerSec: pace,
      stretch: s.stretch.length > 0 ? s.stretch.reduce((a, b) => a + b, 0) / s.stretch.length : 1,
      insertMs: med(s.insertMs),
    };
  });
}
