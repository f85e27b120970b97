/**
 * The gRPC side of the ShardKV service (`shardkv.kv.ShardKV`, proto/shardkv.proto; the
 * definition and types are generated into proto/gen/shardkv-grpc.ts):
 * - stubs to shard servers, used by the shard server (to pull and delete shards from other
 *   groups), the controller's join check, the local cluster and tests;
 * - the grpc-js adapter of the Batch stream (`serveGrpcBatch`), on the transport-independent
 *   shard-server/batch-stream.ts.
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../security/credentials";
import type { Failpoints } from "../common/failpoints";
import { failpointStreamCut } from "../common/grpc-failpoints";
import { fromServiceError, toServiceError } from "../common/grpc-errors";
import { wallClockMs } from "../common/real-env";
import { transportMessageBytesMax } from "../common/limits";
import { shardkv } from "../proto/gen/shardkv.js";
import type { ShardView } from "../controller/migration-progress";

const ShardState = shardkv.kv.ShardState;
import { ShardKVStub } from "../proto/gen/shardkv-grpc";
import { batchKeyAccess } from "../security/authorization";
import { type BatchHandlers, serveBatch } from "./batch-stream";

export type { ShardKVStub } from "../proto/gen/shardkv-grpc";

/** Pulled chunks: up to `migrationChunkBytesMax`, or one larger record alone (common/limits.ts). */
export const shardKVMessageBytesMax = transportMessageBytesMax;

/**
 * Opens a stub to one shard server at `address` with the credentials of `security`.
 * `options`: extra client options (a daemon's failpoint interceptor).
 */
export function shardKVStub(address: string, security: Security, options: grpc.ClientOptions = {}): ShardKVStub {
  return new ShardKVStub(address, security.channelCredentials(), {
    ...options,
    "grpc.max_receive_message_length": shardKVMessageBytesMax,
    "grpc.max_send_message_length": shardKVMessageBytesMax,
  });
}

/**
 * The Status reply of the shard server at `address` (any replica answers, leader or not),
 * within `timeoutMs`; rejects with the typed error naming the address (common/grpc-errors.ts).
 */
export function shardServerStatus(stub: ShardKVStub, address: string, timeoutMs: number): Promise<shardkv.kv.StatusReply> {
  return new Promise((res, rej) => {
    stub.status({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + timeoutMs) }, (e, r) => (e ? rej(fromServiceError(e, address)) : res(r!)));
  });
}

/** Shard state names as `shardkv-local status` and `shardctl status` print them. */
export const shardStateName = (st: number | null | undefined): string =>
  ({ [ShardState.SHARD_NOT_OWNED]: "notOwned", [ShardState.SHARD_SERVING]: "serving", [ShardState.SHARD_PULLING]: "pulling",
    [ShardState.SHARD_HANDOFF]: "handoff", [ShardState.SHARD_GC]: "gc",
    [ShardState.SHARD_HELD]: "held" } as Record<number, string>)[st ?? 0] ?? `state${st}`;

/** The shards of a Status reply with state names and plain numbers (controller/migration-progress.ts). */
export function shardViewsOf(reply: shardkv.kv.IStatusReply): ShardView[] {
  return (reply.shards ?? []).map((x) => ({ shard: Number(x.shard), state: shardStateName(x.state), keys: Number(x.keys), bytes: Number(x.bytes) }));
}

/** One Batch call as grpc-js hands it to the server. */
export type BatchCall = grpc.ServerDuplexStream<shardkv.kv.BatchRequest, shardkv.kv.BatchResponse.$Properties>;

/**
 * Serves one gRPC Batch call (shard-server/batch-stream.ts's serveBatch) until the client ends
 * it or `stop` is called. Returns `stop`; `onClosed` runs once when the stream is done either
 * way. A call from a peer the failpoints cut off fails at once. Each request's keys are checked
 * against the caller's certificate as its server admitted it (security/authorization.ts).
 */
export function serveGrpcBatch(call: BatchCall, h: BatchHandlers, fp: Failpoints | undefined, onClosed: () => void = () => undefined): () => void {
  const cut = failpointStreamCut(fp, call.metadata);
  if (cut) {
    call.emit("error", cut);
    onClosed();
    return () => undefined;
  }
  const session = serveBatch({
    write: (msg) => call.write(msg),
    end: () => call.end(),
    // grpc-js ends a server stream with the status of an error emitted on it.
    fail: (e) => void call.emit("error", toServiceError(e)),
  }, h, { failpoints: fp, onClosed, keys: batchKeyAccess(call), soon: queueMicrotask });
  call.on("data", (msg: shardkv.kv.BatchRequest) => session.receive(msg));
  call.on("end", () => session.clientEnded());
  call.on("cancelled", () => session.closed());
  call.on("error", () => session.closed());
  call.on("drain", () => session.drained());
  return () => session.stop();
}
