/**
 * The append workload of the real-process tests (docs/testing.md): several clients of the real
 * client library (client/shardkv.ts) each append unique tokens `c<k>-<n>;` to their own keys,
 * one sequential loop per key and every key at once (so one client object has many operations
 * in flight), while a test changes the cluster under them. `verify` then reads every key and
 * checks the outcome exactly (deploy/local/append-history.ts):
 *  - every acknowledged append is present exactly once, in the order issued;
 *  - an unacknowledged append (timed out: its outcome is unknown) appears at most once, in
 *    order with the others;
 *  - nothing else is there.
 */
import { InvalidArgumentError, TimeoutError } from "../../common/errors";
import { ShardKV } from "../../client/shardkv";
import { AppendHistory, type AppendCheck as HistoryCheck } from "../../deploy/local/append-history";
import type { TlsFiles } from "../../security/tls-files";
import { waitFor } from "./wait";

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
  /** The clients' TLS files (a cluster with mutual TLS). Default: plaintext. */
  readonly tls?: TlsFiles;
}

export interface AppendCheck extends HistoryCheck {
  readonly otherErrors: readonly string[];
}

export class AppendLoad {
  /** Every append issued and its outcome (readers check their reads against it: checkRead). */
  readonly history = new AppendHistory();
  private readonly clients: ShardKV[] = [];
  private loops: Promise<void>[] = [];
  private stopped = false;
  timedOut = 0;
  readonly otherErrors: string[] = [];

  private constructor(private readonly opts: AppendLoadOptions) {}

  /** Appends acknowledged so far. */
  get acked(): number {
    return this.history.acked;
  }

  /** Connects the clients and starts appending. */
  static async start(opts: AppendLoadOptions): Promise<AppendLoad> {
    const load = new AppendLoad(opts);
    const n = opts.clients ?? 4;
    for (let k = 0; k < n; k++) {
      load.clients.push(await ShardKV.connect({
        controllers: opts.controllers, deadlineMs: opts.deadlineMs ?? 5000, attemptMs: opts.attemptMs, nats: opts.nats, tls: opts.tls,
      }));
    }
    const prefix = opts.prefix ?? "c";
    load.loops = load.clients.flatMap((kv, k) => {
      let seq = 0;
      return Array.from({ length: opts.keysPerClient ?? 3 }, async (_, j) => {
        const key = `${prefix}${k}-key${j}`;
        while (!load.stopped) {
          const rec = load.history.issue(key, `${prefix}${k}-${seq++};`);
          try {
            await kv.append(key, rec.token);
            load.history.ack(rec);
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
    const reader = await ShardKV.connect({ controllers, deadlineMs: 30000, tls: this.opts.tls });
    try {
      return { ...(await this.history.verify((key) => reader.getString(key))), otherErrors: this.otherErrors };
    } finally {
      reader.close();
    }
  }
}
