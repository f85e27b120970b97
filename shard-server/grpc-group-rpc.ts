/**
 * The migration driver's calls to other groups over gRPC (the ShardKV service's PullShard and
 * DeleteShard), with every failure mapped back to common/errors types by fromServiceError.
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../security/credentials";
import { AttemptTimer } from "../common/attempt-timer";
import type { Clock } from "../common/env";
import type { ConfigNum, ShardId } from "../common/ids";
import { ShardKVError, TimeoutError } from "../common/errors";
import { fromServiceError } from "../common/grpc-errors";
import { realClock, wallClockMs } from "../common/real-env";
import type { shardkv } from "../proto/gen/shardkv.js";
import { shardChunkFromWire } from "./codec";
import { shardKVStub, type ShardKVStub } from "./grpc-service";
import type { GroupRpc, PullRequest, PullStream } from "./migration-driver";
import type { ShardChunkIn } from "./types";

/** Deadline of one PullShard stream (a longer pull is resumed after its last key inserted). */
export const pullDeadlineMs = 120_000;
/**
 * The longest wait for the next message of a PullShard stream while the driver waits for it:
 * a request lost on the way (or a source that stopped answering) ends the stream here with a
 * TimeoutError, and the driver resumes the pull after the last key inserted, instead of after
 * the whole stream's deadline. The time the driver itself spends between two reads (pacing
 * under the migration rate, proposing the chunk) does not count.
 */
export const pullIdleMsDefault = 5000;
/**
 * The longest deadline of one DeleteShard call. A call's own deadline follows the answers
 * seen (common/attempt-timer.ts: a few round trips, at least 200 ms), doubled per further
 * timeout in a row for the same shard up to this: a delete lost on the way is asked again
 * within a fraction of a second (the previous owner's shard stays in handoff, and the next config
 * waits, until one arrives), while a delete that is slow to apply still gets its time.
 */
export const deleteDeadlineMs = 5000;

const none = new Uint8Array(0);

const mapError = (e: unknown): unknown => (e instanceof ShardKVError ? e : fromServiceError(e));

export class GrpcGroupRpc implements GroupRpc {
  private readonly stubs = new Map<string, ShardKVStub>();
  private readonly deleteTimer = new AttemptTimer(deleteDeadlineMs);
  /** Per shard with a delete outstanding: its calls that timed out in a row (at most one entry per shard). */
  private readonly deleteTimeouts = new Map<ShardId, number>();

  private readonly clientOptions: ((address: string) => grpc.ClientOptions) | undefined;
  private readonly pullIdleMs: number;
  private readonly clock: Clock;

  /**
   * `security`: how to connect (the daemon's). `clientOptions`: extra gRPC client options per
   * address (a daemon's failpoint interceptor). `pullIdleMs`: see pullIdleMsDefault. `clock`:
   * the idle timer's (default the real one; a test moves a manual one).
   */
  constructor(
    private readonly security: Security,
    opts: {
      readonly clientOptions?: (address: string) => grpc.ClientOptions;
      readonly pullIdleMs?: number;
      readonly clock?: Clock;
    } = {},
  ) {
    this.clientOptions = opts.clientOptions;
    this.pullIdleMs = opts.pullIdleMs ?? pullIdleMsDefault;
    this.clock = opts.clock ?? realClock;
  }

  private stub(address: string): ShardKVStub {
    let s = this.stubs.get(address);
    if (!s) {
      s = shardKVStub(address, this.security, this.clientOptions?.(address));
      this.stubs.set(address, s);
    }
    return s;
  }

  pullShard(address: string, req: PullRequest): PullStream {
    const stream = this.stub(address).pullShard(
      { configNum: req.configNum, shard: req.shard, afterKey: req.afterKey ?? none, afterKeySet: req.afterKey !== undefined },
      { deadline: new Date(wallClockMs() + pullDeadlineMs) },
    );
    stream.on("error", () => {}); // surfaced by the iterator; cancel() ends it with CANCELLED
    const idleMs = this.pullIdleMs;
    const clock = this.clock;
    return {
      cancel: () => stream.cancel(),
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<ShardChunkIn> {
        const messages = (stream as AsyncIterable<shardkv.kv.ShardChunk>)[Symbol.asyncIterator]();
        for (;;) {
          let idle = false;
          const cancelIdle = clock.after(idleMs, () => {
            idle = true;
            stream.cancel();
          });
          let next: IteratorResult<shardkv.kv.ShardChunk>;
          try {
            next = await messages.next();
          } catch (e) {
            if (idle) throw new TimeoutError(`pull of shard ${req.shard} from ${address}`, idleMs, { reason: "no chunk arrived" });
            throw mapError(e);
          } finally {
            cancelIdle();
          }
          if (next.done) return;
          yield shardChunkFromWire(next.value);
        }
      },
    };
  }

  deleteShard(address: string, configNum: ConfigNum, shard: ShardId): Promise<void> {
    const sent = wallClockMs();
    const deadlineMs = this.deleteTimer.attemptMs(0, this.deleteTimeouts.get(shard) ?? 0);
    return new Promise<void>((resolve, reject) => {
      this.stub(address).deleteShard({ configNum, shard }, new grpc.Metadata(), { deadline: new Date(sent + deadlineMs) }, (err) => {
        const e = err ? mapError(err) : undefined;
        if (e instanceof TimeoutError) {
          this.deleteTimeouts.set(shard, (this.deleteTimeouts.get(shard) ?? 0) + 1);
        } else {
          // An answer, an error one too: its round trip is a sample.
          this.deleteTimer.observe(wallClockMs() - sent);
          this.deleteTimeouts.delete(shard);
        }
        if (e) reject(e);
        else resolve();
      });
    });
  }

  /** Closes every stub. */
  close(): void {
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
  }
}
