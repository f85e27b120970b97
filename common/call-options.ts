/**
 * Per-call options of the libraries (the ShardKV client, the controller client), as Node's own
 * APIs take them: a deadline for this call, replacing the client-wide default, and an
 * AbortSignal. Validated at the call, like every other argument.
 */
import { typeName } from "./address";
import type { Clock } from "./env";
import { AbortError, InvalidArgumentError } from "./errors";

/** Options of one call. */
export interface CallOptions {
  /**
   * Deadline of this call in milliseconds, retries included (default: the client's
   * `deadlineMs`). When it passes the call fails with TimeoutError; a write may or may not
   * have been applied.
   */
  readonly deadlineMs?: number;
  /**
   * Aborts the call: it rejects at once with an AbortError (`name` "AbortError", `cause` the
   * signal's reason) and sends no further attempts. A write may or may not have been applied,
   * as for a timeout. An already aborted signal rejects before anything is sent.
   */
  readonly signal?: AbortSignal;
}

/** A call's validated options: its deadline and signal. */
export interface CallLimits {
  readonly deadlineMs: number;
  readonly signal: AbortSignal | undefined;
}

/**
 * Checks a milliseconds option: a TypeError when it is not a number, an InvalidArgumentError
 * when it is not a positive finite number.
 */
export function checkMs(field: string, ms: unknown): number {
  if (typeof ms !== "number") throw new TypeError(`${field} must be a number of milliseconds, got ${typeName(ms)}`);
  if (!(ms > 0 && Number.isFinite(ms))) throw new InvalidArgumentError(field, `must be a positive number of milliseconds, got ${ms}`);
  return ms;
}

/** Validates `opts` (TypeError / InvalidArgumentError naming the option); `defaultMs` when no deadline is given. */
export function callLimits(opts: CallOptions | undefined, defaultMs: number): CallLimits {
  if (opts === undefined) return { deadlineMs: defaultMs, signal: undefined };
  if (opts === null || typeof opts !== "object") throw new TypeError(`options must be an object, got ${typeName(opts)}`);
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${typeName(signal)}`);
  }
  return { deadlineMs: opts.deadlineMs === undefined ? defaultMs : checkMs("options.deadlineMs", opts.deadlineMs), signal };
}

/** Throws the AbortError of `what` if `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(what, signal.reason);
}

/**
 * `p`, or the AbortError of `what` as soon as `signal` aborts (whichever comes first). `p`
 * keeps running; its outcome is then ignored.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortError(what, signal.reason));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Waits `ms` on `clock`, or less when `signal` aborts (the timer is then cancelled, so nothing
 * is left to wake a retry loop; the caller checks the signal next).
 */
export function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal?.removeEventListener("abort", done);
      cancel();
      resolve();
    };
    const cancel = clock.after(Math.max(0, ms), done);
    signal?.addEventListener("abort", done, { once: true });
  });
}
