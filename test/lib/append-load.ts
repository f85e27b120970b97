/**
 * The append workload of the real-process tests (issues 4 and 5): several clients of the real
 * client library (client/shardkv.ts) each append unique tokens `c<k>-<n>;` to their own keys,
 * one sequential loop per key and every key at once (so one client object has many operations
 * in flight), while a test changes the cluster under them. `verify` then reads every key and
 * checks the outcome exactly:
 *  - every acknowledged append is present exactly once, in the order issued;
 *  - an unacknowledged append (timed out: its outcome is unknown) appears at most once, in
 *    order with the others;
 *  - nothing else is there.
 */
import { InvalidArgumentError, TimeoutError } from "../../common/errors";
import { ShardKV } from "../../client/shardkv";
import { waitFor } from "./wait";

interface Append {
  readonly token: string;
  /** "acked": the promise resolved; "failed": it rejected (may or may not have been applied). */
  outcome: "pending" | "acked" | "failed";
}

export interface AppendLoadOptions {
  readonly controllers: readonly string[];
  readonly clients?: number;
  readonly keysPerClient?: number;
  /** Deadline of one append, retries included. Default 5000. */
  readonly deadlineMs?: number;
  /** Deadline of one attempt against one server (client default: min(2000, deadlineMs)). */
  readonly attemptMs?: number;
  /** Key prefix (several loads on one cluster need different ones). Default "c". */
  readonly prefix?: string;
  /** NATS URL given to the clients (config pushes). */
  readonly nats?: string;
}

export interface AppendCheck {
  readonly keys: number;
  readonly acked: number;
  readonly unacked: number;
  readonly unackedApplied: number;
  readonly otherErrors: readonly string[];
}

export class AppendLoad {
  private readonly history = new Map<string, Append[]>();
  private readonly clients: ShardKV[] = [];
  private loops: Promise<void>[] = [];
  private stopped = false;
  acked = 0;
  timedOut = 0;
  readonly otherErrors: string[] = [];

  private constructor(private readonly opts: AppendLoadOptions) {}

  /** Connects the clients and starts appending. */
  static async start(opts: AppendLoadOptions): Promise<AppendLoad> {
    const load = new AppendLoad(opts);
    const n = opts.clients ?? 4;
    for (let k = 0; k < n; k++) {
      load.clients.push(await ShardKV.connect({ controllers: opts.controllers, deadlineMs: opts.deadlineMs ?? 5000, attemptMs: opts.attemptMs, nats: opts.nats }));
    }
    const prefix = opts.prefix ?? "c";
    load.loops = load.clients.flatMap((kv, k) => {
      let seq = 0;
      return Array.from({ length: opts.keysPerClient ?? 3 }, async (_, j) => {
        const key = `${prefix}${k}-key${j}`;
        const list: Append[] = [];
        load.history.set(key, list);
        while (!load.stopped) {
          const rec: Append = { token: `${prefix}${k}-${seq++};`, outcome: "pending" };
          list.push(rec);
          try {
            await kv.append(key, rec.token);
            rec.outcome = "acked";
            load.acked++;
          } catch (e) {
            rec.outcome = "failed";
            if (e instanceof InvalidArgumentError) throw e; // a bug: surfaced by stop()
            if (e instanceof TimeoutError) load.timedOut++;
            else load.otherErrors.push(String(e));
          }
        }
      });
    });
    return load;
  }

  /** Waits until `more` further appends have been acknowledged. */
  waitAcks(more: number, what: string, timeoutMs = 30000): Promise<void> {
    const target = this.acked + more;
    return waitFor(() => this.acked >= target, { timeoutMs, what: `${more} more acknowledged appends ${what} (at ${this.acked})`, intervalMs: 20 });
  }

  /** Stops the load and waits for every loop (rethrows an InvalidArgumentError: a bug). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
    for (const l of this.loops) await l;
  }

  close(): void {
    this.stopped = true;
    for (const kv of this.clients) kv.close();
  }

  /**
   * Reads every key through a fresh client and checks it holds exactly its acknowledged
   * appends, once each, in order (unacknowledged ones at most once). Throws a message naming
   * the key and the token on the first violation.
   */
  async verify(controllers: readonly string[] = this.opts.controllers): Promise<AppendCheck> {
    const reader = await ShardKV.connect({ controllers, deadlineMs: 30000 });
    let checkedAcked = 0;
    let unackedApplied = 0;
    let unacked = 0;
    try {
      for (const [key, list] of this.history) {
        const value = (await reader.getString(key)) ?? "";
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
    } finally {
      reader.close();
    }
    if (checkedAcked !== this.acked) throw new Error(`${this.acked} appends acknowledged but ${checkedAcked} found`);
    return { keys: this.history.size, acked: checkedAcked, unacked, unackedApplied, otherErrors: this.otherErrors };
  }
}
