/**
 * Log time: the timestamps a leader puts on the commands it proposes, by which the duplicate
 * records expire (design 5.4, `--dedup-ttl`). It must not depend on any replica's wall clock:
 * a leader whose wall clock jumps an hour forward would otherwise expire every client's record
 * at once, and a retry of a request applied before the jump would run again.
 *
 * So log time runs on the monotonic clock from the latest log time this replica knows (the
 * last command it applied, or the newest duplicate record it loaded): a new leader continues
 * from where the log is, a restarted one from its state. Time with no replica running (the
 * whole group down) is not counted, so log time runs at most as fast as real time and records
 * live at least their TTL, never less. The wall clock only seeds a replica that knows no log
 * time at all (a new group), where there is no record to expire.
 */
import type { Cancel, Clock } from "../common/env";

export class LogClock implements Clock {
  private anchorLogMs: number | undefined;
  private anchorMonoMs = 0;

  constructor(
    /** Timers and elapsed time (never jumps). */
    private readonly monotonic: Clock,
    /** The latest log time this replica has applied or loaded; undefined: none yet. */
    private readonly known: () => number | undefined,
    /** Wall time in ms, the seed of a replica that knows no log time. */
    private readonly wallMs: () => number,
  ) {}

  nowMs(): number {
    const mono = this.monotonic.nowMs();
    const known = this.known();
    const running = this.anchorLogMs === undefined ? undefined : this.anchorLogMs + (mono - this.anchorMonoMs);
    if (known !== undefined && (running === undefined || known > running)) {
      this.anchorLogMs = known;
      this.anchorMonoMs = mono;
      return known;
    }
    if (running !== undefined) return running;
    this.anchorLogMs = this.wallMs();
    this.anchorMonoMs = mono;
    return this.anchorLogMs;
  }

  after(ms: number, fn: () => void): Cancel {
    return this.monotonic.after(ms, fn);
  }
}
