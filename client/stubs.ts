/**
 * The client's own gRPC stubs: the ShardKV data service (Get, Write, Batch) of the shard
 * servers and the controller's Query, of the services generated from proto/ (the client may
 * not import controller/client.ts or controller/grpc-service.ts: layer rule). Config decoding
 * is the config model's own (controller/config-wire.ts).
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../security/credentials";
import { reconnectOptions, type UnaryCall } from "../common/grpc-service";
import { ControllerStub } from "../proto/gen/controller-grpc";
import { ShardKVStub } from "../proto/gen/shardkv-grpc";
import { transportMessageBytesMax } from "../common/limits";

/** A stub to one shard server; the client calls Get, Write and Batch. */
export type KvStub = ShardKVStub;

/** A stub to one controller replica; the client calls Query. */
export type ControllerQueryStub = ControllerStub;

/** Batch answers carry up to 4 MiB of values (shard-server/batch-stream.ts), or one larger reply alone. */
const kvMessageBytesMax = transportMessageBytesMax;

export function kvStub(address: string, security: Security): KvStub {
  return new ShardKVStub(address, security.channelCredentials(), {
    ...reconnectOptions,
    "grpc.max_receive_message_length": kvMessageBytesMax,
    "grpc.max_send_message_length": kvMessageBytesMax,
  });
}

export function controllerQueryStub(address: string, security: Security): ControllerQueryStub {
  return new ControllerStub(address, security.channelCredentials(), reconnectOptions);
}

/** Promise form of a unary call with an absolute deadline (ms since the epoch). */
export function unary<Req, Res>(call: UnaryCall<Req, Res>, stub: grpc.Client, req: Req, deadline: number): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    call.call(stub, req, new grpc.Metadata(), { deadline }, (err, res) => {
      if (err) reject(err);
      else resolve(res!);
    });
  });
}

export { configFromWire, decodeConfig } from "../controller/config-wire";
