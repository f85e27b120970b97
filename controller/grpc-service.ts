/**
 * The gRPC definition of `shardkv.controller.Controller` (proto/controller.proto) and a typed
 * client constructor. Used by the controller server and by every client of it (shardctl,
 * shard servers, the client library).
 */
import * as grpc from "@grpc/grpc-js";
import { shardkv } from "../proto/gen/controller.js";
import { grpcMethod, reconnectOptions } from "../common/grpc-service";

const pb = shardkv.controller;
const svc = "/shardkv.controller.Controller/";

export const controllerService = {
  join: grpcMethod(`${svc}Join`, pb.JoinRequest, pb.ChangeReply),
  leave: grpcMethod(`${svc}Leave`, pb.LeaveRequest, pb.ChangeReply),
  move: grpcMethod(`${svc}Move`, pb.MoveRequest, pb.ChangeReply),
  ackJoin: grpcMethod(`${svc}AckJoin`, pb.AckJoinRequest, pb.AckJoinReply),
  query: grpcMethod(`${svc}Query`, pb.QueryRequest, pb.QueryReply),
  watch: grpcMethod(`${svc}Watch`, pb.WatchRequest, pb.Config, { responseStream: true }),
  status: grpcMethod(`${svc}Status`, pb.StatusRequest, pb.StatusReply),
} satisfies grpc.ServiceDefinition;

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** What a server implements (`server.addService(controllerService, impl)`). */
export interface ControllerImplementation extends grpc.UntypedServiceImplementation {
  join: Unary<shardkv.controller.JoinRequest, shardkv.controller.ChangeReply.$Properties>;
  leave: Unary<shardkv.controller.LeaveRequest, shardkv.controller.ChangeReply.$Properties>;
  move: Unary<shardkv.controller.MoveRequest, shardkv.controller.ChangeReply.$Properties>;
  ackJoin: Unary<shardkv.controller.AckJoinRequest, shardkv.controller.AckJoinReply.$Properties>;
  query: Unary<shardkv.controller.QueryRequest, shardkv.controller.QueryReply.$Properties>;
  watch: grpc.handleServerStreamingCall<shardkv.controller.WatchRequest, shardkv.controller.Config.$Properties>;
  status: Unary<shardkv.controller.StatusRequest, shardkv.controller.StatusReply.$Properties>;
}

type UnaryCall<Req, Res> = (
  req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

/** The typed stub of one controller replica. */
export interface ControllerStub extends grpc.Client {
  join: UnaryCall<shardkv.controller.JoinRequest.$Properties, shardkv.controller.ChangeReply>;
  leave: UnaryCall<shardkv.controller.LeaveRequest.$Properties, shardkv.controller.ChangeReply>;
  move: UnaryCall<shardkv.controller.MoveRequest.$Properties, shardkv.controller.ChangeReply>;
  ackJoin: UnaryCall<shardkv.controller.AckJoinRequest.$Properties, shardkv.controller.AckJoinReply>;
  query: UnaryCall<shardkv.controller.QueryRequest.$Properties, shardkv.controller.QueryReply>;
  status: UnaryCall<shardkv.controller.StatusRequest.$Properties, shardkv.controller.StatusReply>;
  watch(req: shardkv.controller.WatchRequest.$Properties, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<shardkv.controller.Config>;
}

const ClientCtor = grpc.makeGenericClientConstructor(controllerService, "Controller");

/**
 * Opens a stub to one controller replica at `address` (insecure; loopback and private
 * networks), reconnecting at most 1 s apart (reconnectOptions). `options`: extra client
 * options (a daemon's failpoint interceptor).
 */
export function controllerStub(address: string, options: grpc.ClientOptions = {}): ControllerStub {
  return new ClientCtor(address, grpc.credentials.createInsecure(), { ...reconnectOptions, ...options }) as unknown as ControllerStub;
}
