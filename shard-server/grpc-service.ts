/**
 * The gRPC definition of `shardkv.kv.ShardKV` (proto/shardkv.proto) and a typed client
 * constructor. Used by the shard server (to serve it and to pull/delete shards from other
 * groups), by tests and by the client library.
 */
import * as grpc from "@grpc/grpc-js";
import { shardkv } from "../proto/gen/shardkv.js";
import { grpcMethod } from "../common/grpc-service";
import { transportMessageBytesMax } from "../common/limits";

const pb = shardkv.kv;
const svc = "/shardkv.kv.ShardKV/";

export const shardKVService = {
  get: grpcMethod(`${svc}Get`, pb.GetRequest, pb.GetReply),
  write: grpcMethod(`${svc}Write`, pb.WriteRequest, pb.WriteReply),
  batch: grpcMethod(`${svc}Batch`, pb.BatchRequest, pb.BatchResponse, { requestStream: true, responseStream: true }),
  pullShard: grpcMethod(`${svc}PullShard`, pb.PullShardRequest, pb.ShardChunk, { responseStream: true }),
  deleteShard: grpcMethod(`${svc}DeleteShard`, pb.DeleteShardRequest, pb.DeleteShardReply),
  status: grpcMethod(`${svc}Status`, pb.StatusRequest, pb.StatusReply),
  identify: grpcMethod(`${svc}Identify`, pb.IdentifyRequest, pb.IdentifyReply),
} satisfies grpc.ServiceDefinition;

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** What a server implements (`server.addService(shardKVService, impl)`). */
export interface ShardKVImplementation extends grpc.UntypedServiceImplementation {
  get: Unary<shardkv.kv.GetRequest, shardkv.kv.GetReply.$Properties>;
  write: Unary<shardkv.kv.WriteRequest, shardkv.kv.WriteReply.$Properties>;
  batch: grpc.handleBidiStreamingCall<shardkv.kv.BatchRequest, shardkv.kv.BatchResponse.$Properties>;
  pullShard: grpc.handleServerStreamingCall<shardkv.kv.PullShardRequest, shardkv.kv.ShardChunk.$Properties>;
  deleteShard: Unary<shardkv.kv.DeleteShardRequest, shardkv.kv.DeleteShardReply.$Properties>;
  status: Unary<shardkv.kv.StatusRequest, shardkv.kv.StatusReply.$Properties>;
  identify: Unary<shardkv.kv.IdentifyRequest, shardkv.kv.IdentifyReply.$Properties>;
}

type UnaryCall<Req, Res> = (
  req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

/** The typed stub of one shard server. */
export interface ShardKVStub extends grpc.Client {
  get: UnaryCall<shardkv.kv.GetRequest.$Properties, shardkv.kv.GetReply>;
  write: UnaryCall<shardkv.kv.WriteRequest.$Properties, shardkv.kv.WriteReply>;
  deleteShard: UnaryCall<shardkv.kv.DeleteShardRequest.$Properties, shardkv.kv.DeleteShardReply>;
  status: UnaryCall<shardkv.kv.StatusRequest.$Properties, shardkv.kv.StatusReply>;
  identify: UnaryCall<shardkv.kv.IdentifyRequest.$Properties, shardkv.kv.IdentifyReply>;
  pullShard(req: shardkv.kv.PullShardRequest.$Properties, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<shardkv.kv.ShardChunk>;
}

const ClientCtor = grpc.makeGenericClientConstructor(shardKVService, "ShardKV");

/** Pulled chunks: up to `migrationChunkBytesMax`, or one larger record alone (common/limits.ts). */
export const shardKVMessageBytesMax = transportMessageBytesMax;

/**
 * Opens a stub to one shard server at `address` (insecure; loopback and private networks).
 * `options`: extra client options (a daemon's failpoint interceptor).
 */
export function shardKVStub(address: string, options: grpc.ClientOptions = {}): ShardKVStub {
  return new ClientCtor(address, grpc.credentials.createInsecure(), {
    ...options,
    "grpc.max_receive_message_length": shardKVMessageBytesMax,
    "grpc.max_send_message_length": shardKVMessageBytesMax,
  }) as unknown as ShardKVStub;
}
