/**
 * The exact check of an append workload, shared by the real-process tests
 * (test/lib/append-load.ts) and the unreliable-network benchmark (bench/unreliable.ts):
 * each writer appends unique tokens (`...;`) to its own keys, one append at a time per key,
 * and records every append it issued with its outcome. `verify` then reads every key and
 * checks it holds
 *  - every acknowledged append exactly once, in the order issued;
 *  - an unacknowledged append (timed out or failed: its outcome is unknown) at most once, in
 *    order with the others;
 *  - nothing else.
 * A retry that applied twice, a lost acknowledged write or a reordering fails it.
 */

/** One issued append. */
export interface Append {
  readonly token: string;
  /** "acked": the call resolved; "failed": it rejected (it may or may not have been applied). */
  outcome: "pending" | "acked" | "failed";
}

/** What `verify` found. */
export interface AppendCheck {
  readonly keys: number;
  readonly acked: number;
  readonly unacked: number;
  readonly unackedApplied: number;
}

export class AppendHistory {
  private readonly byKey = new Map<string, Append[]>();
  /** Appends acknowledged so far. */
  acked = 0;

  /** Records that `token` is about to be appended to `key`; set the outcome on the record. */
  issue(key: string, token: string): Append {
    let list = this.byKey.get(key);
    if (!list) {
      list = [];
      this.byKey.set(key, list);
    }
    const rec: Append = { token, outcome: "pending" };
    list.push(rec);
    return rec;
  }

  /** Marks `rec` acknowledged (counted in `acked`). */
  ack(rec: Append): void {
    rec.outcome = "acked";
    this.acked++;
  }

  /** The keys appended to so far. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }

  /** The tokens of `key` acknowledged so far, in issue order: what a read that begins now must see. */
  ackedTokens(key: string): string[] {
    return (this.byKey.get(key) ?? []).filter((a) => a.outcome === "acked").map((a) => a.token);
  }

  /**
   * Checks one read of `key` (its value, undefined: absent) that began after the appends
   * `before` (ackedTokens then) were acknowledged: linearizable only if it holds each of them,
   * in order, and no token that was never issued. Throws naming the first one it misses.
   */
  checkRead(key: string, value: string | undefined, before: readonly string[]): void {
    const tokens = (value ?? "").split(";").filter((t) => t !== "").map((t) => `${t};`);
    const issued = new Set((this.byKey.get(key) ?? []).map((a) => a.token));
    const stray = tokens.find((t) => !issued.has(t));
    if (stray !== undefined) throw new Error(`read of ${key}: ${stray} was never issued: ${value}`);
    let i = 0;
    for (const t of before) {
      while (i < tokens.length && tokens[i] !== t) i++;
      if (i >= tokens.length) throw new Error(`read of ${key}: stale: misses ${t}, acknowledged before the read began: ${value ?? "(absent)"}`);
      i++;
    }
  }

  /**
   * Reads every key with `read` (undefined: absent) and checks it holds exactly its
   * acknowledged appends, once each, in order (unacknowledged ones at most once). Throws a
   * message naming the key and the token on the first violation.
   */
  async verify(read: (key: string) => Promise<string | undefined>): Promise<AppendCheck> {
    let checkedAcked = 0;
    let unackedApplied = 0;
    let unacked = 0;
    for (const [key, list] of this.byKey) {
      const value = (await read(key)) ?? "";
      const tokens = value.split(";").filter((t) => t !== "").map((t) => `${t};`);
      // Tokens are unique, so "once each, in order" = the value is a subsequence of the
      // issue order that contains every acked token, with no token twice.
      if (new Set(tokens).size !== tokens.length) throw new Error(`${key}: a token applied twice: ${value}`);
      let i = 0;
      for (const t of tokens) {
        while (i < list.length && list[i]!.token !== t) {
          if (list[i]!.outcome === "acked") throw new Error(`${key}: acknowledged ${list[i]!.token} missing or out of order in ${value}`);
          i++;
        }
        if (i >= list.length) throw new Error(`${key}: ${t} never issued, or out of order, in ${value}`);
        if (list[i]!.outcome === "acked") checkedAcked++;
        else unackedApplied++;
        i++;
      }
      for (; i < list.length; i++) if (list[i]!.outcome === "acked") throw new Error(`${key}: acknowledged ${list[i]!.token} missing in ${value}`);
      unacked += list.filter((a) => a.outcome === "failed").length;
    }
    if (checkedAcked !== this.acked) throw new Error(`${this.acked} appends acknowledged but ${checkedAcked} found`);
    return { keys: this.byKey.size, acked: checkedAcked, unacked, unackedApplied };
  }
}
