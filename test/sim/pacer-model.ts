/**
 * A seeded model of a receiving group for the migration pacer (shard-server/migration-pacer.ts),
 * in virtual time: one pull inserts chunks one at a time, as the migration driver does (wait
 * for the pacer's slot, propose, observe the latency). The group is a queue of capacity
 * `capacityBytesPerSec` shared with a foreground load that takes a fraction of it (a step
 * function of time); a chunk's latency is the fixed part plus its service time stretched by
 * the utilisation, as in an M/M/1 queue: base + service / (1 - u), u = foreground share +
 * the migration's recent rate / capacity, times seeded noise (noiseSpread), with rare outliers
 * (GC pauses).
 * What the foreground pays for the migration is the same stretch: its delay with the move
 * over without.
 */
import { MigrationPacer, type PacerOptions } from "../../shard-server/migration-pacer";
import { SimRng } from "./rng";

export interface PacerModel {
  readonly capacityBytesPerSec: number;
  /** Fixed part of a chunk's latency (ms). */
  readonly fixedMs: number;
  readonly chunkBytes: number;
  /** The foreground's share of the capacity at `tMs`. */
  readonly foreground: (tMs: number) => number;
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
}

const MiB = 1024 * 1024;

export const defaultModel: PacerModel = {
  capacityBytesPerSec: 40 * MiB,
  fixedMs: 5,
  chunkBytes: 256 * 1024,
  foreground: (t) => (t >= 10_000 && t < 25_000 ? 0.7 : 0.2),
  durationMs: 35_000,
  noiseSpread: 0.15,
};

/** Runs seed `seed` of `m`; per second: bytes moved, pace, the foreground's stretch. */
export function runPacerModel(seed: number, m: PacerModel = defaultModel): PacerSecond[] {
  const rng = new SimRng(seed);
  const pacer = new MigrationPacer(m.pacer);
  const serviceMs = (m.chunkBytes / m.capacityBytesPerSec) * 1000;
  const inserted: { at: number; bytes: number }[] = [];
  const recentRate = (t: number): number => {
    let b = 0;
    for (let i = inserted.length - 1; i >= 0 && inserted[i]!.at > t - 1000; i--) b += inserted[i]!.bytes;
    return b;
  };
  const seconds: { bytes: number; pace: number; stretch: number[] }[] = Array.from({ length: Math.ceil(m.durationMs / 1000) }, () => ({ bytes: 0, pace: 0, stretch: [] }));
  let t = 0;
  while (t < m.durationMs) {
    t += pacer.reserve(m.chunkBytes, t);
    const f = m.foreground(t);
    const u = Math.min(0.98, f + recentRate(t) / m.capacityBytesPerSec);
    const x = rng.float() + rng.float() + rng.float() - 1.5;
    let latency = (m.fixedMs + serviceMs / (1 - u)) * Math.exp(m.noiseSpread * x);
    if (rng.bool(0.02)) latency += rng.range(20, 100);
    const s = seconds[Math.floor(t / 1000)];
    if (s) s.stretch.push((1 - f) / (1 - u));
    t += latency;
    inserted.push({ at: t, bytes: m.chunkBytes });
    pacer.observe(latency, t);
    const end = seconds[Math.floor(t / 1000)];
    if (end) {
      end.bytes += m.chunkBytes;
      end.pace = pacer.bytesPerSec();
    }
  }
  return seconds.map((s, i) => ({
    second: i,
    bytes: s.bytes,
    paceBytesPerSec: s.pace,
    stretch: s.stretch.length > 0 ? s.stretch.reduce((a, b) => a + b, 0) / s.stretch.length : 1,
  }));
}
