/**
 * The client's own gRPC stubs: the ShardKV data service (Get, Write) of the shard servers and
 * the controller's Query, built from the generated protobufjs classes with grpcMethod (the
 * client may not import controller/client.ts or controller/grpc-service.ts: layer rule).
 * Config decoding is the config model's own (controller/config-wire.ts).
 */
import * as grpc from "@grpc/grpc-js";
import { grpcMethod, reconnectOptions } from "../common/grpc-service";
import { shardkv as ctl } from "../proto/gen/controller.js";
import { shardkv as kv } from "../proto/gen/shardkv.js";
import { transportMessageBytesMax } from "../common/limits";

const kvSvc = "/shardkv.kv.ShardKV/";
const ctlSvc = "/shardkv.controller.Controller/";

/** The part of `shardkv.kv.ShardKV` the client calls (servers implement all of it). */
export const kvClientService = {
  get: grpcMethod(`${kvSvc}Get`, kv.kv.GetRequest, kv.kv.GetReply),
  write: grpcMethod(`${kvSvc}Write`, kv.kv.WriteRequest, kv.kv.WriteReply),
  batch: grpcMethod(`${kvSvc}Batch`, kv.kv.BatchRequest, kv.kv.BatchResponse, { requestStream: true, responseStream: true }),
} satisfies grpc.ServiceDefinition;

/** The part of `shardkv.controller.Controller` the client calls. */
export const controllerQueryService = {
  query: grpcMethod(`${ctlSvc}Query`, ctl.controller.QueryRequest, ctl.controller.QueryReply),
} satisfies grpc.ServiceDefinition;

type UnaryCall<Req, Res> = (
  req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

export interface KvStub extends grpc.Client {
  get: UnaryCall<kv.kv.GetRequest.$Properties, kv.kv.GetReply>;
  write: UnaryCall<kv.kv.WriteRequest.$Properties, kv.kv.WriteReply>;
  batch(metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<kv.kv.BatchRequest.$Properties, kv.kv.BatchResponse>;
}

export interface ControllerQueryStub extends grpc.Client {
  query: UnaryCall<ctl.controller.QueryRequest.$Properties, ctl.controller.QueryReply>;
}

const KvCtor = grpc.makeGenericClientConstructor(kvClientService, "ShardKV");
const CtlCtor = grpc.makeGenericClientConstructor(controllerQueryService, "Controller");

/** Batch answers carry up to 4 MiB of values (shard-server/batch-stream.ts), or one larger reply alone. */
const kvMessageBytesMax = transportMessageBytesMax;

export function kvStub(address: string): KvStub {
  return new KvCtor(address, grpc.credentials.createInsecure(), {
    ...reconnectOptions,
    "grpc.max_receive_message_length": kvMessageBytesMax,
    "grpc.max_send_message_length": kvMessageBytesMax,
  }) as unknown as KvStub;
}

export function controllerQueryStub(address: string): ControllerQueryStub {
  return new CtlCtor(address, grpc.credentials.createInsecure(), reconnectOptions) as unknown as ControllerQueryStub;
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
