/**
 * Attempt deadlines sized to what requests really take, after TCP's retransmission timer
 * (RFC 6298): a smoothed round-trip time (srtt) and its mean deviation (rttvar) over answered
 * attempts, and an attempt given srtt + 4 rttvar before it counts as lost, plus time for its
 * bytes. A fixed deadline has to cover the slowest answer ever expected, so on a network that
 * loses a request or a reply now and then every loss costs that whole deadline (2 s) although
 * answers take tens of milliseconds; sized this way a loss costs a few round trips.
 *
 * The first timeout of an operation keeps the deadline: a lost message is its likely cause,
 * and callers still take a late answer to the timed-out attempt, so asking again at once
 * loses nothing. Each further timeout doubles it (RFC 6298 §5.5), up to the caller's fixed
 * cap: a server that is slow rather than lossy (a large apply, an election) still gets the
 * time it needs, and a retry storm cannot build up.
 * Only answered attempts are sampled (Karn's rule: a retry is a new request, a late answer
 * to a timed-out one is dropped), errors included, since they are answers too.
 */

/** The smallest attempt deadline (ms), whatever the samples say (Linux's TCP_RTO_MIN is 200 ms). */
export const attemptMsMin = 200;
/** The deadline before the first answer (RFC 6298 §2.1's initial 1 s), at most the cap. */
export const attemptMsInitial = 1000;
/** Time allowed per byte of a request (ms/byte): 4 MiB/s, so a 1 MiB value adds 250 ms. */
export const attemptMsPerByte = 1000 / (4 * 1024 * 1024);

export class AttemptTimer {
  private srttMs = 0;
  private rttvarMs = 0;
  private sampled = false;

  /**
   * `capMs`: the longest attempt deadline; `minMs`: the shortest (default attemptMsMin, never
   * above capMs). Until the first answer the base deadline is attemptMsInitial.
   */
  constructor(private readonly capMs: number, private readonly minMs: number = attemptMsMin) {}

  /** Records an answered attempt that took `ms` (RFC 6298 §2, alpha 1/8, beta 1/4). */
  observe(ms: number): void {
    if (!(ms >= 0)) return;
    if (!this.sampled) {
      this.sampled = true;
      this.srttMs = ms;
      this.rttvarMs = ms / 2;
      return;
    }
    this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - ms);
    this.srttMs = 0.875 * this.srttMs + 0.125 * ms;
  }

  /**
   * The deadline of an attempt carrying `bytes` of keys and values, after `timedOut` earlier
   * attempts of the same operation timed out: srtt + 4 rttvar + the bytes' time, at least the
   * minimum, doubled per timeout after the first, at most the cap.
   */
  attemptMs(bytes = 0, timedOut = 0): number {
    const sized = this.sampled ? Math.max(this.minMs, this.srttMs + 4 * this.rttvarMs) : attemptMsInitial;
    const base = sized + bytes * attemptMsPerByte;
    return Math.min(this.capMs, base * 2 ** Math.min(Math.max(0, timedOut - 1), 16));
  }
}
