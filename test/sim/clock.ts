/**
 * Virtual time for the simulator (TigerBeetle `TimeSim`): a Clock whose timers sit in a
 * priority queue ordered by (time, insertion sequence). Nothing happens until the simulator
 * calls `runNext()`, which advances `nowMs()` to the earliest timer and runs it. No real time
 * is read or waited for.
 */
import type { Cancel, Clock } from "../../common/env";

interface Timer {
  readonly time: number;
  readonly seq: number;
  fn: (() => void) | null;
}

export class SimClock implements Clock {
  private now = 0;
  private seq = 0;
  private heap: Timer[] = [];
  private live = 0;

  nowMs(): number {
    return this.now;
  }

  /** Runs `fn` once after `ms` (>= 0) virtual milliseconds; timers at equal times run in the order set. */
  after(ms: number, fn: () => void): Cancel {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new Error(`SimClock.after: bad delay ${ms}`);
    const t: Timer = { time: this.now + ms, seq: this.seq++, fn };
    this.push(t);
    this.live++;
    return () => {
      if (t.fn !== null) {
        t.fn = null;
        this.live--;
      }
    };
  }

  /** Timers set and neither run nor cancelled. */
  pending(): number {
    return this.live;
  }

  /** Time of the next timer to run, or undefined when none is pending. */
  peekTime(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.time;
  }

  /** Advances to the earliest pending timer and runs it. Returns false when none is pending. */
  runNext(): boolean {
    this.dropCancelled();
    const t = this.pop();
    if (t === undefined) return false;
    const fn = t.fn!;
    t.fn = null;
    this.live--;
    this.now = t.time;
    fn();
    return true;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.fn === null) this.pop();
  }

  // -------------------------------------------------------------- binary min-heap on (time, seq)

  private static less(a: Timer, b: Timer): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!SimClock.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && SimClock.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && SimClock.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
