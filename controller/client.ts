/**
 * A client of the controller group: used by shardctl, the shard servers and the client
 * library. It follows NotLeader hints (the leader's address), retries a change with the same
 * (clientId, seq) after a timeout or an unreachable replica (so it executes at most once),
 * backs off with jitter, and gives up with a typed error only when the deadline passes.
 */
import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import type { Clock, Rng } from "../common/env";
import { InvalidArgumentError, NotLeaderError, ShardKVError, TimeoutError } from "../common/errors";
import { fromServiceError } from "../common/grpc-errors";
import type { ConfigNum, GroupId } from "../common/ids";
import { realClock, realRng, wallClockMs } from "../common/real-env";
import { shardkv } from "../proto/gen/controller.js";
import type { Config } from "./config";
import { clientIdBytes, configFromWire } from "./codec";
import { controllerStub, type ControllerStub } from "./grpc-service";
import { joinCheckServerMs } from "./join-check";

export interface ControllerClientOptions {
  /** Addresses ("host:port") of the controller replicas. */
  readonly controllers: readonly string[];
  /** Deadline of one operation, retries included. Default 10000 ms. */
  readonly deadlineMs?: number;
  /** Deadline of one attempt against one replica. Default 2000 ms. */
  readonly attemptMs?: number;
  readonly clock?: Clock;
  readonly rng?: Rng;
  /** Extra gRPC client options per replica address (a daemon's failpoint interceptor). */
  readonly clientOptions?: (address: string) => grpc.ClientOptions;
}

export type ControllerStatus = shardkv.controller.StatusReply;

export class ControllerClient {
  readonly clientId: Uint8Array;
  private seq = 0;
  private readonly stubs = new Map<string, ControllerStub>();
  private leader: string | undefined;
  private next = 0;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly deadlineMs: number;
  private readonly attemptMs: number;

  constructor(private readonly opts: ControllerClientOptions) {
    if (opts.controllers.length === 0) throw new InvalidArgumentError("controllers", "at least one controller address is needed");
    this.clientId = randomBytes(clientIdBytes);
    this.clock = opts.clock ?? realClock;
    this.rng = opts.rng ?? realRng;
    this.deadlineMs = opts.deadlineMs ?? 10000;
    this.attemptMs = opts.attemptMs ?? 2000;
  }

  get addresses(): readonly string[] {
    return this.opts.controllers;
  }

  private stub(address: string): ControllerStub {
    let s = this.stubs.get(address);
    if (!s) {
      s = controllerStub(address, this.opts.clientOptions?.(address));
      this.stubs.set(address, s);
    }
    return s;
  }

  /**
   * Runs `call` against the leader (or the next replica), following hints and retrying
   * retryable failures until the deadline. InvalidArgument is final.
   */
  private async withLeader<T>(
    what: string, call: (stub: ControllerStub, deadline: Date) => Promise<T>, extraAttemptMs = 0,
  ): Promise<T> {
    const start = this.clock.nowMs();
    const end = start + this.deadlineMs;
    let attempt = 0;
    let hops = 0;
    let last: ShardKVError | undefined;
    while (this.clock.nowMs() < end) {
      const target = this.leader ?? this.opts.controllers[this.next % this.opts.controllers.length]!;
      const deadline = new Date(wallClockMs() + Math.min(this.attemptMs + extraAttemptMs, Math.max(1, end - this.clock.nowMs())));
      try {
        const r = await call(this.stub(target), deadline);
        this.leader = target;
        return r;
      } catch (e) {
        const err = fromServiceError(e);
        if (err instanceof InvalidArgumentError) throw err;
        last = err;
        if (err instanceof NotLeaderError && err.leaderAddress && err.leaderAddress !== target && hops < 3) {
          // Follow the hint at once, a few times in a row; replicas with stale hints that name
          // each other fall through to the backoff below.
          hops++;
          this.leader = err.leaderAddress;
          continue;
        }
        hops = 0;
        this.leader = undefined;
        this.next++;
        attempt++;
        const backoff = Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + this.rng.float());
        await new Promise<void>((r) => this.clock.after(Math.min(backoff, Math.max(0, end - this.clock.nowMs())), r));
      }
    }
    throw new TimeoutError(`controller ${what}${last ? ` (last error: ${last.message})` : ""}`, this.deadlineMs);
  }

  /**
   * Changes from one client run one at a time, in call order: the controller remembers only
   * each client's last (clientId, seq), so a request overtaken by a later one would be
   * refused as stale.
   */
  private change(method: "join" | "leave" | "move" | "ackJoin", req: Record<string, unknown>): Promise<ConfigNum> {
    const run = this.changes.then(() => this.changeNow(method, req));
    this.changes = run.catch(() => undefined);
    return run;
  }

  private changes: Promise<unknown> = Promise.resolve();

  private changeNow(method: "join" | "leave" | "move" | "ackJoin", req: Record<string, unknown>): Promise<ConfigNum> {
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
      else stub[method]({ id, ...req }, new grpc.Metadata(), { deadline }, done);
    }), extraMs);
  }

  /**
   * Adds groups (gid -> server addresses); resolves with the new config's number. The leader
   * first checks that a majority of each group's servers answer as its replicas and refuses
   * the join (InvalidArgument) otherwise; `force` skips that check (the group's shards are
   * then unavailable until its servers serve them).
   */
  join(groups: ReadonlyMap<GroupId, readonly string[]>, opts: { force?: boolean } = {}): Promise<ConfigNum> {
    return this.change("join", { groups: [...groups].map(([gid, servers]) => ({ gid, servers: [...servers] })), force: opts.force === true });
  }

  leave(gids: readonly GroupId[]): Promise<ConfigNum> {
    return this.change("leave", { gids: [...gids] });
  }

  move(shard: number, gid: GroupId): Promise<ConfigNum> {
    return this.change("move", { shard, gid });
  }

  /**
   * Acknowledges group `gid`'s join in config `joinNum` (its leader calls it before pulling
   * anything for that config). Resolves with 0, or with the config that aborted the join
   * (the group must then own nothing of configs joinNum .. that - 1). Idempotent.
   */
  ackJoin(gid: GroupId, joinNum: ConfigNum): Promise<ConfigNum | 0> {
    return this.change("ackJoin", { gid, joinNum });
  }

  /** Config `num`, or the latest for -1 (and for numbers beyond it). Linearizable. */
  query(num = -1): Promise<Config> {
    return this.withLeader("query", (stub, deadline) => new Promise<Config>((resolve, reject) => {
      stub.query({ num }, new grpc.Metadata(), { deadline }, (err, res) => {
        if (err) reject(err);
        else resolve(configFromWire(res!.config ?? {}));
      });
    }));
  }

  /** Status of one replica (no leader following). */
  status(address: string, timeoutMs = 2000): Promise<ControllerStatus> {
    return new Promise((resolve, reject) => {
      this.stub(address).status({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + timeoutMs) }, (err, res) => {
        if (err) reject(fromServiceError(err));
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
    let attempt = 0;
    while (!signal?.aborted) {
      const target = this.leader ?? this.opts.controllers[this.next % this.opts.controllers.length]!;
      const stream = this.stub(target).watch({ fromNum: next });
      const onAbort = () => stream.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const w of stream as AsyncIterable<shardkv.controller.Config>) {
          const c = configFromWire(w);
          if (c.num < next) continue;
          attempt = 0;
          next = c.num + 1;
          yield c;
        }
      } catch (e) {
        if (signal?.aborted) return;
        const err = fromServiceError(e);
        if (err instanceof InvalidArgumentError) throw err;
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
