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

/**
 * Extra fields of one log line (the daemons write them as JSON properties beside `msg`; the
 * simulator's loggers ignore them).
 */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * Structured, leveled logging; the simulator captures it into the trace. The daemons' one
 * (common/daemon-log.ts) writes JSON lines with level, time, node, gid and term, and
 * rate-limits repeated lines.
 */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** False when debug() drops its message: callers skip building per-message debug text. */
  readonly debugEnabled: boolean;
  /**
   * Binds the `term` field: every later line carries `term()` (the Raft node's current term).
   * Called once by raft/daemon-node.ts when the node is open; absent on loggers without a
   * term field (the simulator's).
   */
  bindTerm?(term: () => number): void;
  /** Writes what is held back (the counts of rate-limited lines); runDaemon calls it before exiting. */
  flush?(): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {}, debugEnabled: false };
