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
import { toServiceError } from "../common/grpc-errors";
import { transportMessageBytesMax } from "../common/limits";
import type { shardkv } from "../proto/gen/shardkv.js";
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
  }, h, { failpoints: fp, onClosed, keys: batchKeyAccess(call) });
  call.on("data", (msg: shardkv.kv.BatchRequest) => session.receive(msg));
  call.on("end", () => session.clientEnded());
  call.on("cancelled", () => session.closed());
  call.on("error", () => session.closed());
  call.on("drain", () => session.drained());
  return () => session.stop();
}
