/**
 * The link between a group's stored replica-change intent (the controller's, see
 * docs/controller.md "Replica changes") and the executor that carries it out
 * (raft/replica-change.ts), independent of the transport: the shard server runs it with the
 * controller's gRPC client, the controller's own leader with its local state and service, a
 * simulator could with its own network.
 *
 * While this replica leads its group, it asks the IntentSource for the group's pending intent
 * when it becomes leader, when kicked (the shard server kicks it at each update of the
 * controller's WatchIntent stream), and every `idlePollMs` besides (`intentPollMs` while a
 * change runs or after a refusal); when there is one, it runs executeReplicaChange, reports each new
 * wait reason as the intent's `blocked` (ReplicaProgress: one line, at most
 * blockedReasonBytesMax, at most one report per `progressEveryMs`), and once the change is
 * done and every remaining member applied it, reports the members with their addresses and
 * learner flags (ReplicaDone), which clears the intent. Losing the leadership stops the run
 * (the next leader resumes: the executor derives its step from the configuration); an intent
 * cancelled meanwhile aborts it; a refusal (ReplicaChangeRefusedError, QuorumUnreachableError)
 * is reported as the blocked reason and the change is tried again after `intentPollMs` until
 * it goes through or the operator cancels it. Every step is idempotent, so a crash anywhere
 * only means the next leader does the rest: docs/design.md (§3 Raft, membership: the
 * replica-change executor).
 */
import type { Cancel, Clock, Logger } from "../common/env";
import { AbortError, InvalidArgumentError, NotLeaderError, RetryLaterError, StoppedError } from "../common/errors";
import type { LogIndex, NodeId } from "../common/ids";
import { blockedReason, describeReplicaChange, type Member, type ReplicaChange, type ReplicaIntent } from "../common/replica-change";
import { members } from "./core/conf-change";
import type { RaftNode } from "./node";
import { executeReplicaChange, QuorumUnreachableError, ReplicaChangeRefusedError } from "./replica-change";

/** Default period of the intent poll while leading (each poll may be a ReadIndex on the controller). */
export const intentPollMsDefault = 1000;
/** Default: at most one ReplicaProgress per this many ms (the latest reason wins). */
export const progressEveryMsDefault = 1000;

/** Where the group's intent is stored (the controller), seen from the group's leader. */
export interface IntentSource {
  /** The group's pending intent, undefined when none; throws when it cannot be asked now. */
  pending(): Promise<ReplicaIntent | undefined>;
  /** Stores why the intent cannot progress ("" = it can). */
  progress(blocked: string): Promise<void>;
  /**
   * Reports the group's members once the intent is carried out. One request id for every
   * retry inside one call, so a call applies at most once.
   */
  done(members: readonly Member[]): Promise<void>;
}

export interface ReplicaDriverOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Prefix of log lines ("g1 n2", "controller 3"). */
  readonly name: string;
  /** While a change runs or after a refusal or failure, how often the intent is looked at again. Default intentPollMsDefault. */
  readonly intentPollMs?: number;
  /**
   * How long the leader waits for a kick before it looks again while no intent is pending
   * (read at each wait, so a getter may change it). Default: intentPollMs. Each look may be a
   * ReadIndex round on the controller group, which wakes it from quiescence: the shard
   * server waits long while the WatchIntent stream kicks it at each change of the intent.
   */
  readonly idlePollMs?: number;
  /** How often the executor looks again while it waits. Default 100 ms. */
  readonly stepPollMs?: number;
  /** Default progressEveryMsDefault. */
  readonly progressEveryMs?: number;
  /** The address of member `id` when the configuration records none (the daemon's --peers). */
  readonly address?: (id: NodeId) => string | undefined;
  /**
   * The configuration index the replica at `address` has applied (its RaftMembers conf_index),
   * undefined when it does not answer. Absent: the leader's own knowledge stands in
   * (ReplicaChangeRun.appliedConfIndex).
   */
  readonly appliedConfIndex?: (address: string) => Promise<LogIndex | undefined>;
}

/** The members of `node`'s applied configuration, as ReplicaDone reports them. */
export function configuredMembers(node: RaftNode<unknown>, address?: (id: NodeId) => string | undefined): Member[] {
  const conf = node.confState();
  return [...members(conf)].sort((a, b) => a - b).map((id) => ({
    id, address: conf.addresses?.[id] || address?.(id) || "", learner: conf.learners.includes(id),
  }));
}

function sameChange(a: ReplicaChange, b: ReplicaChange): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class ReplicaDriver {
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Ends the current wait between polls early (a new leader looks at once). */
  private wakeUp: (() => void) | undefined;
  /** A kick came while nothing waited: the next wait ends at once (a change told during a look is not lost). */
  private kicked = false;
  /** The latest answer of the source while a change runs (undefined: cancelled). */
  private latest: ReplicaIntent | undefined;
  /** The blocked reason the controller holds, as far as this driver knows, and the one wanted. */
  private reported: string | undefined;
  private wanted = "";
  private lastReportAt = -Infinity;
  private reporting = false;
  /** Reports are sent only while a change runs (not after it ended: done, cancelled, stopped). */
  private reportsOpen = false;
  private reportTimer: Cancel | undefined;
  /** The source's calls run one at a time, in order (a change overtaken by a later one is stale). */
  private calls: Promise<unknown> = Promise.resolve();
  /** The last warning logged (said again only when it changes). */
  private warned = "";

  constructor(
    private readonly opts: ReplicaDriverOptions,
    private readonly node: RaftNode<unknown>,
    private readonly source: IntentSource,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Looks for an intent now (a replica that just became leader; the intent changed). A kick
   * while no wait is in progress (a look in flight) ends the next wait at once.
   */
  kick(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    if (w === undefined) this.kicked = true;
    w?.();
  }

  /** Stops the loop (a running change aborts at its next look); resolves once it has. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelReport();
    this.kick();
    await this.loop;
    await this.calls.catch(() => undefined);
  }

  private leads(): boolean {
    return !this.stopped && !this.node.isStopped() && this.node.softState().role === "leader";
  }

  private pause(ms: number): Promise<void> {
    if (this.stopped || this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const cancel = this.opts.clock.after(ms, () => {
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      });
      const done = (): void => {
        cancel();
        resolve();
      };
      this.wakeUp = done;
    });
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.calls.then(fn);
    this.calls = r.catch(() => undefined);
    return r;
  }

  private warn(msg: string): void {
    if (msg === this.warned) return;
    this.warned = msg;
    this.opts.logger.warn(`${this.opts.name}: ${msg}`);
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.intentPollMs ?? intentPollMsDefault;
    while (!this.stopped) {
      if (!this.leads()) {
        await this.pause(pollMs);
        continue;
      }
      let intent: ReplicaIntent | undefined;
      try {
        intent = await this.call(() => this.source.pending());
      } catch (e) {
        if (!this.stopped) this.warn(`cannot learn the group's replica-change intent: ${(e as Error).message}`);
        await this.pause(pollMs);
        continue;
      }
      if (intent === undefined || !this.leads()) {
        this.closeReports();
        await this.pause(this.opts.idlePollMs ?? pollMs);
        continue;
      }
      if (!(await this.carryOut(intent))) await this.pause(pollMs);
    }
  }

  /**
   * Runs the executor for `intent` until done (then reports the members), refused (reported
   * as blocked), or stopped by a lost leadership, a cancel or stop. Returns true when the
   * loop should look again at once (done, or the configuration moved under the run).
   */
  private async carryOut(intent: ReplicaIntent): Promise<boolean> {
    const { change, force } = intent;
    const what = describeReplicaChange(change);
    const pollMs = this.opts.intentPollMs ?? intentPollMsDefault;
    this.latest = intent;
    this.cancelReport();
    this.reported = intent.blocked ?? "";
    this.wanted = this.reported;
    this.reportsOpen = true;
    let running = true;
    // While the change runs, the intent is looked at again each pollMs: a cancel aborts it.
    const watch = (async () => {
      while (running) {
        await this.pause(pollMs);
        if (!running || this.stopped) return;
        try {
          this.latest = await this.call(() => this.source.pending());
        } catch {
          // Unreachable for a moment: the run goes on with what it knew.
        }
      }
    })();
    const cancelled = (): boolean => this.latest === undefined || !sameChange(this.latest.change, change) || this.latest.force !== force;
    const probe = this.opts.appliedConfIndex;
    let refused = false;
    try {
      this.opts.logger.info(`${this.opts.name}: carrying out the stored replica change: ${what}${force ? " (forced)" : ""}`);
      const index = await executeReplicaChange(this.node, change, {
        clock: this.opts.clock, force, pollMs: this.opts.stepPollMs,
        aborted: () => this.stopped || cancelled(),
        onProgress: (step, waiting) => {
          this.opts.logger.info(`${this.opts.name}: replica change ${what}: ${step}: ${waiting}`);
          this.report(waiting);
        },
        ...(probe === undefined ? {} : {
          appliedConfIndex: (id: NodeId) => {
            const address = this.node.confState().addresses?.[id] || this.opts.address?.(id);
            return address ? probe(address) : Promise.resolve(undefined);
          },
        }),
      });
      const ms = configuredMembers(this.node, this.opts.address);
      this.closeReports();
      await this.call(() => this.source.done(ms));
      this.warned = "";
      this.opts.logger.info(`${this.opts.name}: replica change done: ${what} (configuration at index ${index}; ` +
        `members ${ms.map((m) => `${m.id}=${m.address}${m.learner ? " (learner)" : ""}`).join(", ")})`);
      return true;
    } catch (e) {
      if (e instanceof NotLeaderError || e instanceof StoppedError || e instanceof AbortError) {
        if (e instanceof AbortError && !this.stopped) this.opts.logger.info(`${this.opts.name}: replica change ${what}: cancelled`);
        return false;
      }
      if (e instanceof ReplicaChangeRefusedError || e instanceof QuorumUnreachableError) {
        this.warn(`replica change refused, tried again in ${pollMs} ms: ${e.message}`);
        this.report(e.message);
        refused = true;
        return false;
      }
      if (e instanceof RetryLaterError) return true; // the configuration moved under the run: look again
      if (this.stopped) return false;
      this.warn(`replica change ${what} failed, tried again in ${pollMs} ms: ${(e as Error).message}`);
      this.report((e as Error).message);
      refused = true;
      return false;
    } finally {
      // A refusal's report stands (sent, or due within progressEveryMs) until the next try.
      if (!refused) this.closeReports();
      running = false;
      this.kick();
      await watch;
    }
  }

  private closeReports(): void {
    this.reportsOpen = false;
    this.cancelReport();
  }

  private cancelReport(): void {
    this.reportTimer?.();
    this.reportTimer = undefined;
  }

  /** Sets the reason to report; sends it now or, within progressEveryMs of the last report, then. */
  private report(reason: string): void {
    this.wanted = blockedReason(reason);
    this.flushReport();
  }

  private flushReport(): void {
    if (this.stopped || !this.reportsOpen || this.reporting || this.reportTimer !== undefined || this.wanted === this.reported) return;
    const wait = this.lastReportAt + (this.opts.progressEveryMs ?? progressEveryMsDefault) - this.opts.clock.nowMs();
    if (wait > 0) {
      this.reportTimer = this.opts.clock.after(wait, () => {
        this.reportTimer = undefined;
        this.flushReport();
      });
      return;
    }
    const blocked = this.wanted;
    this.reporting = true;
    this.lastReportAt = this.opts.clock.nowMs();
    void this.call(() => this.source.progress(blocked)).then(
      () => {
        this.reported = blocked;
      },
      (e: Error) => {
        // Refused (the intent is gone, or another one is stored): not sent again.
        if (e instanceof InvalidArgumentError) this.reported = blocked;
        this.opts.logger.debug(`${this.opts.name}: replica progress not reported: ${e.message}`);
      },
    ).finally(() => {
      this.reporting = false;
      if (this.leads()) this.flushReport();
    });
  }
}
