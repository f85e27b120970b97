/**
 * A client of the controller group: used by shardctl, the shard servers and the client
 * library. It follows NotLeader hints (the leader's address), retries a change with the same
 * (clientId, seq) after a timeout or an unreachable replica (so it executes at most once),
 * backs off with jitter, and gives up with a typed error only when the deadline passes.
 */
import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import type { Clock, Rng } from "../common/env";
import { validateAddressList } from "../common/address";
import {
  type CallOptions, abortable, callLimits, checkMs, sleepUnlessAborted, throwIfAborted,
} from "../common/call-options";
import {
  AbortError, NotLeaderError, RetryLaterError, ServersUnansweredError, TimeoutError, type UnansweredServer, UnreachableError, isFinal,
} from "../common/errors";
import { fromServiceError } from "../common/grpc-errors";
import { ServerFailures, controllerNaming } from "../common/server-failures";
import type { ConfigNum, GroupId } from "../common/ids";
import { realClock, realRng, wallClockMs } from "../common/real-env";
import { shardkv } from "../proto/gen/controller.js";
import type { Config } from "./config";
import { clientIdBytes, configFromWire, intentFromWire, memberFromWire, memberToWire, replicaChangeToWire } from "./codec";
import type { Member, ReplicaChange, ReplicaIntent } from "../common/replica-change";
import type { ReplicaState } from "./replica-intents";
import { controllerStub, type ControllerStub } from "./grpc-service";
import { joinCheckServerMs } from "./join-check";
import { AttemptTimer } from "../common/attempt-timer";
import { type Security, tlsFailure } from "../security/credentials";

export interface ControllerClientOptions {
  /** Addresses ("host:port") of the controller replicas. */
  readonly controllers: readonly string[];
  /** How to connect: the process's one Security (mutual TLS, or plaintext with --insecure). */
  readonly security: Security;
  /** Deadline of one operation, retries included. Default 10000 ms. */
  readonly deadlineMs?: number;
  /**
   * The longest deadline of one attempt against one replica. Default 2000 ms. An attempt's
   * own deadline follows the answers seen (common/attempt-timer.ts: a few round trips, at
   * least 200 ms), doubled per further timeout in a row up to this, so a lost request or reply
   * costs a few round trips, not the whole 2 s.
   */
  readonly attemptMs?: number;
  readonly clock?: Clock;
  readonly rng?: Rng;
  /** Extra gRPC client options per replica address (a daemon's failpoint interceptor). */
  readonly clientOptions?: (address: string) => grpc.ClientOptions;
}

export type ControllerStatus = shardkv.controller.StatusReply;

/** Options of ControllerClient.join. */
export interface JoinOptions extends CallOptions {
  /** Skip the controller's join check (the group's shards are unavailable until its servers serve them). */
  readonly force?: boolean;
  /**
   * How long to keep asking again while the join is refused only because servers gave no
   * answer (ServersUnansweredError: nothing listening yet, still starting), in milliseconds
   * from the call; each attempt has the call's deadline of its own. 0 (default): one check.
   */
  readonly serversWaitMs?: number;
  /**
   * Called before each new attempt of such a wait with the servers that gave no answer and
   * the milliseconds left of `serversWaitMs` (shardctl prints a line).
   */
  readonly onServersWait?: (unanswered: readonly UnansweredServer[], leftMs: number) => void;
}

/** The pause between two join attempts while servers give no answer (each check already gives each server joinCheckServerMs). */
export const serversWaitPauseMs = 500;

/** The unary call of one change RPC, request and reply as the generated stub takes them. */
type ChangeCall = (
  req: object, md: grpc.Metadata, opts: Partial<grpc.CallOptions>,
  cb: (err: grpc.ServiceError | null, res?: { configNum?: number; abortedNum?: number }) => void,
) => unknown;

/** The Controller RPCs that change something (at most once, by the client's id and seq). */
type ChangeMethod = "join" | "leave" | "move" | "ackJoin" | "replicaChange" | "replicaCancel" | "replicaDone" | "replicaProgress";

export class ControllerClient {
  readonly clientId: Uint8Array;
  private seq = 0;
  private readonly stubs = new Map<string, ControllerStub>();
  private leader: string | undefined;
  private next = 0;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly deadlineMs: number;
  private readonly attempts: AttemptTimer;

  /**
   * Checks the addresses as shardctl does and the deadlines (TypeError or
   * InvalidArgumentError naming the option); connects lazily, on the first call.
   */
  constructor(private readonly opts: ControllerClientOptions) {
    validateAddressList("controllers", opts.controllers);
    this.clientId = randomBytes(clientIdBytes);
    this.clock = opts.clock ?? realClock;
    this.rng = opts.rng ?? realRng;
    this.deadlineMs = opts.deadlineMs === undefined ? 10000 : checkMs("deadlineMs", opts.deadlineMs);
    this.attempts = new AttemptTimer(opts.attemptMs === undefined ? 2000 : checkMs("attemptMs", opts.attemptMs));
  }

  get addresses(): readonly string[] {
    return this.opts.controllers;
  }

  private stub(address: string): ControllerStub {
    let s = this.stubs.get(address);
    if (!s) {
      s = controllerStub(address, this.opts.security, this.opts.clientOptions?.(address));
      this.stubs.set(address, s);
    }
    return s;
  }

  /**
   * Runs `call` against the leader (or the next replica), following hints and retrying
   * retryable failures until the deadline (the call's `deadlineMs`, else the client's), which
   * fails with a TimeoutError saying what the replicas answered ("cannot reach controller ...:
   * connection refused"), or until `signal` aborts (AbortError at once). InvalidArgument is
   * final.
   */
  private async withLeader<T>(
    what: string, call: (stub: ControllerStub, deadline: Date) => Promise<T>, opts: CallOptions | undefined, extraAttemptMs = 0,
  ): Promise<T> {
    const { deadlineMs, signal } = callLimits(opts, this.deadlineMs);
    const end = this.clock.nowMs() + deadlineMs;
    let attempt = 0;
    let hops = 0;
    let timedOut = 0;
    const failures = new ServerFailures(controllerNaming, this.opts.controllers);
    // Replicas whose connection failed (refused, or broken under a call: a killed process)
    // during this operation and have not answered since: not asked again, nor followed when a
    // follower that has not yet noticed names one as its leader, until every replica is in it.
    const down = new Set<string>();
    for (;;) {
      throwIfAborted(signal, what);
      if (this.clock.nowMs() >= end) throw failures.timeout(what, deadlineMs);
      if (this.leader === undefined) this.skipDown(down);
      const target = this.leader ?? this.opts.controllers[this.next % this.opts.controllers.length]!;
      const fullMs = this.attempts.attemptMs(0, timedOut) + extraAttemptMs;
      const attemptMs = Math.min(fullMs, Math.max(1, end - this.clock.nowMs()));
      const deadline = new Date(wallClockMs() + attemptMs);
      const sent = this.clock.nowMs();
      // An answer, an error one too, is a round-trip sample; not one that includes the
      // leader's join check (extraAttemptMs), which is not the network's time.
      const answered = (): void => {
        timedOut = 0;
        down.delete(target);
        if (extraAttemptMs === 0) this.attempts.observe(this.clock.nowMs() - sent);
      };
      try {
        const r = await abortable(call(this.stub(target), deadline), signal, what);
        answered();
        this.leader = target;
        return r;
      } catch (e) {
        if (e instanceof AbortError) throw e;
        const err = (await tlsFailure(e, `controller ${target}`, target, this.opts.security)) ?? fromServiceError(e, `controller ${target}`);
        if (err instanceof TimeoutError) timedOut++;
        else if (!(err instanceof UnreachableError)) answered();
        if (isFinal(err)) throw err;
        // An attempt cut short by the caller's deadline says nothing new: keep what the
        // servers answered before for the final message.
        if (err instanceof TimeoutError && attemptMs < fullMs && failures.cause) continue;
        failures.record(target, err);
        if (err instanceof UnreachableError) {
          down.add(target);
          this.leader = undefined;
          this.next++;
          // The connection to this replica failed: ask another at once (the leader's process
          // may have died under the call); back off only once every replica failed so.
          if (down.size < this.opts.controllers.length) continue;
          down.clear();
        }
        const hint = err instanceof NotLeaderError ? err.leaderAddress : undefined;
        if (hint && hint !== target && !down.has(hint) && hops < 3) {
          // Follow the hint at once, a few times in a row; replicas with stale hints that name
          // each other fall through to the backoff below.
          hops++;
          this.leader = hint;
          continue;
        }
        hops = 0;
        if (err instanceof RetryLaterError) {
          // The leader answered: the change waits for something in progress (a pending
          // join). Ask it again after the backoff.
          this.leader = target;
        } else {
          this.leader = undefined;
          this.next++;
        }
        attempt++;
        const backoff = Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + this.rng.float());
        await sleepUnlessAborted(this.clock, Math.min(backoff, Math.max(0, end - this.clock.nowMs())), signal);
      }
    }
  }

  /** Moves `next` past the replicas in `down` (at most once around; all down: stays). */
  private skipDown(down: ReadonlySet<string>): void {
    const n = this.opts.controllers.length;
    for (let i = 0; i < n && down.has(this.opts.controllers[this.next % n]!); i++) this.next++;
  }

  /**
   * Changes from one client run one at a time, in call order: the controller remembers only
   * each client's last (clientId, seq), so a request overtaken by a later one would be
   * refused as stale.
   */
  private change(method: ChangeMethod, req: Record<string, unknown>, opts: CallOptions | undefined): Promise<ConfigNum> {
    const signal = callLimits(opts, this.deadlineMs).signal;
    const run = this.changes.then(() => this.changeNow(method, req, opts));
    this.changes = run.catch(() => undefined);
    // Aborted while waiting for an earlier change: reject at once; it is never sent.
    return abortable(run, signal, method);
  }

  private changes: Promise<unknown> = Promise.resolve();

  private changeNow(method: ChangeMethod, req: Record<string, unknown>, opts: CallOptions | undefined): Promise<ConfigNum> {
    const id = { clientId: this.clientId, seq: ++this.seq }; // one id for every retry
    // A Join attempt includes the leader's join check (up to joinCheckServerMs per server, all
    // at once): give it that much longer, or an attempt would time out while the check runs.
    const extraMs = method === "join" && req.force !== true ? joinCheckServerMs : 0;
    return this.withLeader(method, (stub, deadline) => new Promise<ConfigNum>((resolve, reject) => {
      const done = (err: grpc.ServiceError | null, res?: { configNum?: number; abortedNum?: number }): void => {
        if (err) reject(err);
        else resolve((method === "ackJoin" ? res!.abortedNum : res!.configNum) as ConfigNum);
      };
      if (method === "ackJoin") stub.ackJoin({ id, ...req }, new grpc.Metadata(), { deadline }, done);
      else (stub[method] as ChangeCall)({ id, ...req }, new grpc.Metadata(), { deadline }, done);
    }), opts, extraMs);
  }

  /**
   * Adds groups (gid -> server addresses); resolves with the new config's number. The leader
   * first checks that a majority of each group's servers answer as its replicas and refuses
   * the join (InvalidArgument) otherwise; `force` skips that check (the group's shards are
   * then unavailable until its servers serve them). A refusal only because servers gave no
   * answer is a ServersUnansweredError; with `serversWaitMs` the join is asked again (a new
   * request each time, `serversWaitPauseMs` apart, `onServersWait` told before each) until it
   * passes, is refused otherwise, or that long has passed (then the last refusal). Every call
   * takes `opts`: `deadlineMs` for this call (default: the client's; each attempt of a
   * servers wait has it), `signal` to abort it (AbortError at once). On TimeoutError or
   * AbortError a change may or may not have been made (at most once).
   */
  async join(groups: ReadonlyMap<GroupId, readonly string[]>, opts: JoinOptions = {}): Promise<ConfigNum> {
    const waitMs = opts.serversWaitMs === undefined || opts.serversWaitMs === 0 ? 0 : checkMs("serversWaitMs", opts.serversWaitMs);
    const until = this.clock.nowMs() + waitMs;
    const req = { groups: [...groups].map(([gid, servers]) => ({ gid, servers: [...servers] })), force: opts.force === true };
    for (;;) {
      try {
        return await this.change("join", req, opts);
      } catch (e) {
        const leftMs = until - this.clock.nowMs();
        if (!(e instanceof ServersUnansweredError) || leftMs <= 0) throw e;
        opts.onServersWait?.(e.unanswered, leftMs);
        await sleepUnlessAborted(this.clock, Math.min(serversWaitPauseMs, leftMs), opts.signal);
        throwIfAborted(opts.signal, "join");
      }
    }
  }

  /** Removes groups; their shards move to the others. Options as for join. */
  leave(gids: readonly GroupId[], opts?: CallOptions): Promise<ConfigNum> {
    return this.change("leave", { gids: [...gids] }, opts);
  }

  /** Assigns `shard` to group `gid`. Options as for join. */
  move(shard: number, gid: GroupId, opts?: CallOptions): Promise<ConfigNum> {
    return this.change("move", { shard, gid }, opts);
  }

  /**
   * Acknowledges group `gid`'s join in config `joinNum` (its leader calls it before pulling
   * anything for that config). Resolves with 0, or with the config that aborted the join
   * (the group must then own nothing of configs joinNum .. that - 1). Idempotent. Options as
   * for join.
   */
  ackJoin(gid: GroupId, joinNum: ConfigNum, opts?: CallOptions): Promise<ConfigNum | 0> {
    return this.change("ackJoin", { gid, joinNum }, opts);
  }

  /**
   * Stores the intent to change group `gid`'s replicas (gid 0: the controller group), which
   * the group's leader carries out; `force` skips its strict reconfiguration check. Refused
   * (InvalidArgumentError) while another intent of the group is pending, and when the change
   * does not fit the group's members. Resolves with the latest config's number (no config
   * is created). Options as for join.
   */
  replicaChange(gid: GroupId, change: ReplicaChange, opts: CallOptions & { readonly force?: boolean } = {}): Promise<ConfigNum> {
    return this.change("replicaChange", { gid, change: replicaChangeToWire(change), force: opts.force === true }, opts);
  }

  /** Drops group `gid`'s pending replica change. Options as for join. */
  replicaCancel(gid: GroupId, opts?: CallOptions): Promise<ConfigNum> {
    return this.change("replicaCancel", { gid }, opts);
  }

  /**
   * Group `gid`'s leader reports its members once it carried out the intent: resolves with
   * the config that records them. Options as for join.
   */
  replicaDone(gid: GroupId, members: readonly Member[], opts?: CallOptions): Promise<ConfigNum> {
    return this.change("replicaDone", { gid, members: members.map(memberToWire) }, opts);
  }

  /** Group `gid`'s leader reports why its intent cannot progress ("" = it can again). Options as for join. */
  replicaProgress(gid: GroupId, blocked: string, opts?: CallOptions): Promise<ConfigNum> {
    return this.change("replicaProgress", { gid, blocked }, opts);
  }

  /** Config `num`, or the latest for -1 (and for numbers beyond it). Linearizable. Options as for join. */
  async query(num = -1, opts?: CallOptions): Promise<Config> {
    return (await this.queryCluster(num, opts)).config;
  }

  /**
   * As `query`, with the cluster id the controllers answered (undefined from controllers of
   * an earlier version, which do not send one) and the replica state: the pending replica
   * changes by gid and the controller group's members (as of the latest config).
   */
  queryCluster(num = -1, opts?: CallOptions): Promise<{ config: Config; clusterId: string | undefined; replicas: ReplicaState }> {
    return this.withLeader("query", (stub, deadline) => new Promise((resolve, reject) => {
      stub.query({ num }, new grpc.Metadata(), { deadline }, (err, res) => {
        if (err) reject(err);
        else {
          try {
            const replicas: ReplicaState = {
              intents: new Map((res!.intents ?? []).map(intentFromWire)),
              controllers: (res!.controllers ?? []).map((m) => memberFromWire(m, "controllers")),
            };
            resolve({ config: configFromWire(res!.config ?? {}), clusterId: res!.clusterId || undefined, replicas });
          } catch (e) {
            reject(e);
          }
        }
      });
    }), opts);
  }

  /** Status of one replica (no leader following). */
  status(address: string, timeoutMs = 2000): Promise<ControllerStatus> {
    return new Promise((resolve, reject) => {
      this.stub(address).status({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + timeoutMs) }, (err, res) => {
        if (err) void tlsFailure(err, `controller ${address}`, address, this.opts.security).then((t) => reject(t ?? fromServiceError(err, `controller ${address}`)));
        else resolve(res!);
      });
    });
  }

  /**
   * Every config with num >= fromNum, then each new one, in order and without gaps, from any
   * replica; reconnects (resuming after the last config seen) until `signal` aborts.
   */
  async *watch(fromNum: number, signal?: AbortSignal): AsyncGenerator<Config> {
    let next = fromNum;
    for await (const w of this.streamOn((stub) => stub.watch({ fromNum: next }), signal)) {
      const c = configFromWire(w as shardkv.controller.Config);
      if (c.num < next) continue;
      next = c.num + 1;
      yield c;
    }
  }

  /**
   * Group `gid`'s pending intent (undefined: none) as one controller replica has applied it,
   * when the stream opens and at each change; reconnects (to the next replica, with backoff)
   * until `signal` aborts, and each new stream starts with the state as it stands, so a
   * change made while no stream was open is told by the next one. A wake-up, not a read: a
   * replica cut off from its group tells nothing new (the caller still queries now and then).
   * Throws what retrying cannot help (isFinal), and Unimplemented (a controller of an earlier
   * version, without WatchIntent).
   */
  async *watchIntent(gid: GroupId, signal?: AbortSignal): AsyncGenerator<ReplicaIntent | undefined> {
    const unimplemented = (e: unknown): boolean => (e as Partial<grpc.ServiceError>)?.code === grpc.status.UNIMPLEMENTED;
    for await (const w of this.streamOn((stub) => stub.watchIntent({ gid }), signal, unimplemented)) {
      const u = w as shardkv.controller.IntentUpdate;
      yield u.pending && u.intent ? intentFromWire(u.intent)[1] : undefined;
    }
  }

  /**
   * The messages of one server stream after another (`open` on the leader if known, else on
   * the next replica), reconnecting with backoff (20 ms doubling to 1 s, jittered) whenever
   * one ends, until `signal` aborts. Throws what retrying cannot help (isFinal) and what
   * `endsFor` says ends it for good.
   */
  private async *streamOn(
    open: (stub: ControllerStub) => grpc.ClientReadableStream<unknown>, signal: AbortSignal | undefined, endsFor: (e: unknown) => boolean = () => false,
  ): AsyncGenerator<unknown> {
    let attempt = 0;
    while (!signal?.aborted) {
      const target = this.leader ?? this.opts.controllers[this.next % this.opts.controllers.length]!;
      const stream = open(this.stub(target));
      const onAbort = () => stream.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const w of stream as AsyncIterable<unknown>) {
          attempt = 0;
          yield w;
        }
      } catch (e) {
        if (signal?.aborted) return;
        const err = (await tlsFailure(e, `controller ${target}`, target, this.opts.security)) ?? fromServiceError(e, `controller ${target}`);
        if (isFinal(err) || endsFor(e)) throw err;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
      this.next++;
      attempt++;
      const backoff = Math.min(1000, 20 * 2 ** Math.min(attempt, 6)) * (0.5 + this.rng.float());
      await new Promise<void>((r) => this.clock.after(backoff, r));
    }
  }

  close(): void {
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
  }
}
