/**
 * A Clock (common/env.ts) that a real-time test moves by hand: a client's backoff sleeps wait
 * for `advance`, and `pending` shows whether anything is still scheduled (a retry loop that
 * stopped leaves nothing).
 */
import type { Cancel, Clock } from "../../common/env";

export class ManualClock implements Clock {
  private now = 0;
  private readonly timers = new Set<{ at: number; fn: () => void }>();

  nowMs(): number {
    return this.now;
  }

  after(ms: number, fn: () => void): Cancel {
    const t = { at: this.now + ms, fn };
    this.timers.add(t);
    return () => this.timers.delete(t);
  }

  /** Timers registered and neither fired nor cancelled. */
  get pending(): number {
    return this.timers.size;
  }

  /** When the earliest pending timer is due, or undefined when none is pending. */
  get nextAtMs(): number | undefined {
    let at: number | undefined;
    for (const t of this.timers) if (at === undefined || t.at < at) at = t.at;
    return at;
  }

  /** Moves time forward by `ms` and fires the timers due, earliest first. */
  advance(ms: number): void {
    this.now += ms;
    for (const t of [...this.timers].sort((a, b) => a.at - b.at)) {
      if (t.at > this.now) continue;
      this.timers.delete(t);
      t.fn();
    }
  }
}
