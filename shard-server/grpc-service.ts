/**
 * Opens stubs to shard servers (`shardkv.kv.ShardKV`, proto/shardkv.proto; the definition and
 * types are generated into proto/gen/shardkv-grpc.ts). Used by the shard server (to pull and
 * delete shards from other groups), the controller's join check, the local cluster and tests.
 */
import * as grpc from "@grpc/grpc-js";
import { ShardKVStub } from "../proto/gen/shardkv-grpc";
import { transportMessageBytesMax } from "../common/limits";

export type { ShardKVStub } from "../proto/gen/shardkv-grpc";

/** Pulled chunks: up to `migrationChunkBytesMax`, or one larger record alone (common/limits.ts). */
export const shardKVMessageBytesMax = transportMessageBytesMax;

/**
 * Opens a stub to one shard server at `address` (insecure; loopback and private networks).
 * `options`: extra client options (a daemon's failpoint interceptor).
 */
export function shardKVStub(address: string, options: grpc.ClientOptions = {}): ShardKVStub {
  return new ShardKVStub(address, grpc.credentials.createInsecure(), {
    ...options,
    "grpc.max_receive_message_length": shardKVMessageBytesMax,
    "grpc.max_send_message_length": shardKVMessageBytesMax,
  });
}
