/**
 * The request handling of a shard group replica, independent of the transport (docs/design.md#5-shard-groups):
 * the gRPC handlers of shard-server/server.ts decode the wire and call it, and so does the
 * simulator (test/sim/shard-run.ts) over its simulated network, so both run the same checks.
 *
 * - get: size check, leader only, ReadIndex barrier, then the read with ownership checked at
 *   the read point (against durable state, by the state machine).
 * - write: edge validation (sizes, key-to-shard), leader only, propose; ownership and
 *   duplicates are decided when the entry is applied.
 * - deleteShard: leader only, propose, reply when applied.
 * - pullChunks: any replica that has applied the migration's config (its applied state is
 *   committed state).
 * Followers answer NotLeader with the leader's address. Commands carry the leader's timestamp
 * from `clock` (log time: duplicate records expire by it), so that clock must be wall time in
 * the daemon (it survives restarts) and virtual time in the simulator.
 */
import { buggify } from "../common/buggify";
import type { Clock } from "../common/env";
import { BackpressureError, InvalidArgumentError, NotLeaderError } from "../common/errors";
import type { ConfigNum, NodeId, ShardId } from "../common/ids";
import { checkCount, checkLimit, keyBytesMax, valueBytesMax, writeBytesMax, writeOpsMax } from "../common/limits";
import { shardOf } from "../controller/shard-of";
import type { SoftState } from "../raft/core/types";
import type { ApplyResult } from "./apply";
import { encodeCommand } from "./codec";
import { ShardNotReadyError } from "./errors";
import type { ShardGroupCore } from "./state-machine";
import type { ClientWrite, OpResult, ShardChunkIn, ShardOp } from "./types";


/** What the service and the migration driver need of the Raft node. */
export interface ShardNode {
  softState(): SoftState;
  propose(data: Uint8Array): Promise<ApplyResult>;
  readBarrier(): Promise<void>;
}

/** What the service needs of the Raft node besides: a client's request reached a replica that does not lead. */
export interface ShardServiceNode extends ShardNode {
  /** Wakes a quiesced group (RaftNode.wakeGroup): its leader may be cut off silently. */
  wakeGroup(): void;
  /** Runs `fn`; the proposals and reads it makes reach the Raft core together (RaftNode.pass). */
  pass<T>(fn: () => T): T;
}

/** What the service and the migration driver need of the state machine. */
export interface ShardStateView {
  /** The pure core (may run ahead of durable state during an apply). */
  readonly core: ShardGroupCore;
  /** Reads `key` of `shard` with ownership checked at the read point (WrongGroupError). */
  get(shard: ShardId, key: Uint8Array): Promise<Uint8Array | undefined>;
  /** The frozen shard as of `configNum` in chunks (see RocksShardStateMachine.pullChunks). */
  pullChunks(configNum: ConfigNum, shard: ShardId, afterKey: Uint8Array | undefined, chunkBytesMax: number): AsyncGenerator<ShardChunkIn>;
}

export interface ShardServiceDeps {
  readonly node: ShardServiceNode;
  readonly sm: ShardStateView;
  /** Timestamps of proposed commands (log time). */
  readonly clock: Clock;
  /** The address of replica `id` of this group (for NotLeader replies), undefined if unknown. */
  readonly address: (id: NodeId) => string | undefined;
  /** Called for each retry answered from the duplicate table without a proposal (the simulator counts them). */
  readonly onRetryAnswered?: () => void;
  /**
   * Told the latency of every client read and write this replica answered successfully as
   * leader, on its monotonic `clock`: the migration pacer's congestion signal
   * (MigrationDriver.observeForeground). Absent: nobody listens.
   */
  readonly foreground?: ForegroundTap;
}

/** Where a leader's foreground latencies go (see ShardServiceDeps.foreground). */
export interface ForegroundTap {
  readonly clock: Clock;
  observe(latencyMs: number): void;
}

const none = new Uint8Array(0);

/** Proposes `op` with the leader's timestamp. */
export function proposeOp(node: ShardNode, clock: Clock, op: ShardOp): Promise<ApplyResult> {
  return node.propose(encodeCommand({ timestampMs: clock.nowMs(), op }));
}

export class ShardService {
  /** Writes proposed here and not settled yet, by "term:clientId:seq" (see write). */
  private readonly proposed = new Map<string, Promise<readonly OpResult[]>>();

  constructor(private readonly d: ShardServiceDeps) {}

  get shardCount(): number {
    return this.d.sm.core.shardCount;
  }

  /**
   * NotLeaderError (with the leader's address) unless this replica leads. (BUGGIFY: a leader
   * may answer it too, as one that stepped down and was elected again would have.)
   */
  requireLeader(): void {
    const ss = this.d.node.softState();
    if (ss.role !== "leader") this.d.node.wakeGroup(); // a quiesced group's leader may be cut off silently
    if (ss.role !== "leader" || buggify("shard.service.not-leader")) throw new NotLeaderError(ss.leader, this.d.address(ss.leader));
  }

  /**
   * `e` as a client is answered: a NotLeaderError without an address (the Raft node's own)
   * gets the leader's address; anything else is unchanged.
   */
  describeFailure(e: unknown): unknown {
    if (e instanceof NotLeaderError && !e.leaderAddress) return new NotLeaderError(e.leaderHint, this.d.address(e.leaderHint));
    return e;
  }

  /**
   * Runs `fn` (synchronous): the writes and reads it starts go to the Raft core together, in
   * one log append and one ReadIndex round (RaftNode.pass). A client's Batch message is run so.
   */
  pass<T>(fn: () => T): T {
    return this.d.node.pass(fn);
  }

  /** A linearizable read of `key` (undefined: absent). */
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    checkLimit("key", "key", key.length, keyBytesMax);
    this.requireLeader();
    const t0 = this.d.foreground?.clock.nowMs();
    await this.d.node.readBarrier();
    const v = await this.d.sm.get(shardOf(key, this.shardCount), key);
    if (t0 !== undefined) this.d.foreground!.observe(this.d.foreground!.clock.nowMs() - t0);
    return v;
  }

  /**
   * Runs a client's write batch on one shard; rejects with the apply's WrongGroup/InvalidArgument.
   * A retry of a write this replica has proposed in its current term and not yet seen settle
   * (the same client id and seq: a client's attempt timed out while the entry was on its way)
   * waits for that proposal instead of proposing the write again, and a retry of a write
   * already applied is answered as its apply would answer it (its saved replies, or the
   * refusal once its client acknowledged them: ShardGroupCore.retryOutcome, on applied
   * state) without a proposal. Proposing it again would be safe (the duplicate table applies
   * it once) but not free: every copy is an entry replicated and fsynced on every replica.
   * Under overload most retries arrive after their write settled (they queue behind it), so
   * copies of settled writes took a growing share of the log (72 % of the entries of a fill
   * of 256 KiB puts at load 46, which then ran at 0.73 MiB/s), and every attempt they delayed
   * timed out and sent another copy: the collapse that stalled the restart-size fill at load
   * 40 (docs/benchmarks.md, "The restart-size fill under load").
   */
  write(w: ClientWrite): Promise<readonly OpResult[]> {
    // Only a proposal of the current term is joined: a leader's entries of its own term stay
    // in its log until they commit or it stops leading; one of an earlier term it led may
    // have been cut from the log and settles only once the log reaches its index again.
    const key = `${this.d.node.softState().term}:${w.clientId}:${w.seq}`;
    try {
      validateWrite(w, this.shardCount);
      this.requireLeader();
      const pending = this.proposed.get(key);
      if (pending !== undefined) return pending;
      const retry = this.d.sm.core.retryOutcome(w, this.d.clock.nowMs());
      if (retry !== undefined) {
        this.d.onRetryAnswered?.();
        return retry.ok ? Promise.resolve(retry.results) : Promise.reject(retry.error);
      }
      if (buggify("shard.service.busy")) throw new BackpressureError("proposalQueueMax", 0, 1);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = this.propose(w);
    this.proposed.set(key, p);
    const forget = (): void => void this.proposed.delete(key);
    p.then(forget, forget);
    return p;
  }

  private async propose(w: ClientWrite): Promise<readonly OpResult[]> {
    const t0 = this.d.foreground?.clock.nowMs();
    const r = await proposeOp(this.d.node, this.d.clock, { kind: "write", write: w });
    if (r === null || r.kind !== "write") throw new InvalidArgumentError("write", `unexpected apply result ${JSON.stringify(r)}`);
    if (!r.outcome.ok) throw r.outcome.error;
    if (t0 !== undefined) this.d.foreground!.observe(this.d.foreground!.clock.nowMs() - t0);
    return r.outcome.results;
  }

  /** The new owner of `shard` has it as of `configNum`: delete it here (once applied). */
  async deleteShard(configNum: ConfigNum, shard: ShardId): Promise<void> {
    if (configNum < 1) throw new InvalidArgumentError("config_num", "must be >= 1");
    if (shard >= this.shardCount) throw new InvalidArgumentError("shard", `must be in [0, ${this.shardCount}), got ${shard}`);
    this.requireLeader();
    const r = await proposeOp(this.d.node, this.d.clock, { kind: "deleteShard", configNum, shard });
    if (r === null || r.kind !== "deleteShard") throw new InvalidArgumentError("delete_shard", `unexpected apply result ${JSON.stringify(r)}`);
    if (r.result === "notReady") throw new ShardNotReadyError(shard, configNum, this.d.sm.core.config.num);
  }

  /** The chunks of a frozen shard (any replica that has applied config `configNum`). */
  pullChunks(configNum: ConfigNum, shard: ShardId, afterKey: Uint8Array | undefined, chunkBytesMax: number): AsyncGenerator<ShardChunkIn> {
    return this.d.sm.pullChunks(configNum, shard, afterKey ?? undefined, chunkBytesMax);
  }
}

/**
 * Size limits (common/limits.ts) and key-to-shard of a write, at the edge (nothing is
 * proposed on failure). The value an append produces is checked when it is applied.
 */
export function validateWrite(w: ClientWrite, shardCount: number): void {
  if (w.shard >= shardCount) throw new InvalidArgumentError("shard", `must be in [0, ${shardCount}), got ${w.shard}`);
  checkCount("ops", "write request", w.ops.length, writeOpsMax, "ops");
  let total = 0;
  for (const op of w.ops) {
    checkLimit("key", "key", op.key.length, keyBytesMax);
    checkLimit("value", "value", op.value.length, valueBytesMax);
    const exp = op.expected?.length ?? 0;
    checkLimit("expected", "expected value", exp, valueBytesMax);
    total += op.key.length + op.value.length + exp;
    const s = shardOf(op.key, shardCount);
    if (s !== w.shard) throw new InvalidArgumentError("ops.key", `key of shard ${s} in a request for shard ${w.shard}`);
  }
  checkLimit("ops", "write request (keys, values and expected values)", total, writeBytesMax);
}

export { none as noBytes };
