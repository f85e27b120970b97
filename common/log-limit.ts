/**
 * Rate limiting of repeated log lines (docs/operations.md, "Logs"): a line whose template was
 * written less than a window ago (default one second) is counted, not written; when the window
 * ends, one summary line says how many there were: the last of them, followed by
 * "(repeated N times in the last X s)" and a `repeated: N` field. The summary opens the next
 * window, so a line repeated without end is written about once a window, never more.
 *
 * The template of a line is its level and its text with every run of digits replaced (the
 * call site's text without its numbers: "dropped MsgApp to unknown peer 4" and "... peer 5"
 * are one template). Time comes from a Clock, so tests drive it by hand (no sleeps).
 */
import type { Cancel, Clock, LogFields } from "./env";

/** The levels that are rate-limited; debug lines (asked for, to see everything) are not. */
export type LimitedLevel = "error" | "warn" | "info";

/** Default window: a template is written at most about once per second. */
export const repeatWindowMsDefault = 1000;

/** Templates remembered at once; past it, pending summaries are written and the memory reset. */
export const repeatTemplatesMax = 1000;

/** The template of `msg`: its text with every run of digits replaced by "#". */
export function templateOf(msg: string): string {
  return msg.replace(/\d+/g, "#");
}

interface Window {
  readonly level: LimitedLevel;
  readonly startMs: number;
  /** Lines of the template counted (not written) in this window. */
  repeats: number;
  /** The last of them: the summary line repeats it. */
  last?: { readonly msg: string; readonly fields: LogFields | undefined };
  /** The timer writing the summary at the end of the window, set with the first repeat. */
  cancel?: Cancel;
}

/** Where the limiter's lines go (the logger underneath). */
export type LineWriter = (level: LimitedLevel, msg: string, fields: LogFields | undefined) => void;

export class RepeatLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;

  constructor(private readonly o: { readonly clock: Clock; readonly write: LineWriter; readonly windowMs?: number }) {
    this.windowMs = o.windowMs ?? repeatWindowMsDefault;
  }

  /** Writes the line, or counts it when its template was written less than a window ago. */
  log(level: LimitedLevel, msg: string, fields?: LogFields): void {
    const key = `${level} ${templateOf(msg)}`;
    const now = this.o.clock.nowMs();
    const w = this.windows.get(key);
    if (w !== undefined && now - w.startMs < this.windowMs) {
      w.repeats++;
      w.last = { msg, fields };
      w.cancel ??= this.o.clock.after(w.startMs + this.windowMs - now, () => this.summarize(key));
      return;
    }
    if (w === undefined && this.windows.size >= repeatTemplatesMax) this.reset();
    this.windows.set(key, { level, startMs: now, repeats: 0 });
    this.o.write(level, msg, fields);
  }

  /** Writes every pending summary now (before the process exits). */
  flush(): void {
    for (const [key, w] of [...this.windows]) {
      if (w.repeats === 0) continue;
      w.cancel?.();
      this.summarize(key);
    }
  }

  /** The summary of `key`'s window; it opens the next window. */
  private summarize(key: string): void {
    const w = this.windows.get(key);
    if (w === undefined || w.repeats === 0 || w.last === undefined) return;
    const now = this.o.clock.nowMs();
    const seconds = ((now - w.startMs) / 1000).toFixed(1);
    this.windows.set(key, { level: w.level, startMs: now, repeats: 0 });
    const times = w.repeats === 1 ? "once" : `${w.repeats} times`;
    this.o.write(w.level, `${w.last.msg} (repeated ${times} in the last ${seconds} s)`, { ...w.last.fields, repeated: w.repeats });
  }

  private reset(): void {
    this.flush();
    this.windows.clear();
  }
}
