/**
 * The seams for everything that is not deterministic. Cores receive these in constructors;
 * only common/real-env.ts touches real timers, wall clocks and Math.random. The simulator
 * (test/sim) provides virtual-time and seeded implementations.
 */

/** Cancels a timer; calling it twice or after the timer fired is harmless. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds on a monotonic-enough clock (virtual in the simulator). */
  nowMs(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): Cancel;
}

export interface Rng {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). n >= 1. */
  int(n: number): number;
}

/** Structured, leveled logging; the simulator captures it into the trace. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
  /** False when debug() drops its message: callers skip building per-message debug text. */
  readonly debugEnabled: boolean;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {}, debugEnabled: false };
