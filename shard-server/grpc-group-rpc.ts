/**
 * The migration driver's calls to other groups over gRPC (the ShardKV service's PullShard and
 * DeleteShard), with every failure mapped back to common/errors types by fromServiceError.
 */
import * as grpc from "@grpc/grpc-js";
import type { ConfigNum, ShardId } from "../common/ids";
import { ShardKVError } from "../common/errors";
import { fromServiceError } from "../common/grpc-errors";
import { wallClockMs } from "../common/real-env";
import type { shardkv } from "../proto/gen/shardkv.js";
import { shardChunkFromWire } from "./codec";
import { shardKVStub, type ShardKVStub } from "./grpc-service";
import type { GroupRpc, PullRequest, PullStream } from "./migration-driver";
import type { ShardChunkIn } from "./types";

/** Deadline of one PullShard stream. */
export const pullDeadlineMs = 120_000;
/** Deadline of one DeleteShard call. */
export const deleteDeadlineMs = 5000;

const none = new Uint8Array(0);

const mapError = (e: unknown): unknown => (e instanceof ShardKVError ? e : fromServiceError(e));

export class GrpcGroupRpc implements GroupRpc {
  private readonly stubs = new Map<string, ShardKVStub>();

  /** `clientOptions`: extra gRPC client options per address (a daemon's failpoint interceptor). */
  constructor(private readonly clientOptions?: (address: string) => grpc.ClientOptions) {}

  private stub(address: string): ShardKVStub {
    let s = this.stubs.get(address);
    if (!s) {
      s = shardKVStub(address, this.clientOptions?.(address));
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
    return {
      cancel: () => stream.cancel(),
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<ShardChunkIn> {
        try {
          for await (const w of stream as AsyncIterable<shardkv.kv.ShardChunk>) yield shardChunkFromWire(w);
        } catch (e) {
          throw mapError(e);
        }
      },
    };
  }

  deleteShard(address: string, configNum: ConfigNum, shard: ShardId): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.stub(address).deleteShard({ configNum, shard }, new grpc.Metadata(), { deadline: new Date(wallClockMs() + deleteDeadlineMs) }, (err) => {
        if (err) reject(mapError(err));
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
