/**
 * The gRPC service definition of `shardkv.raft.RaftTransport` (proto/raft.proto), built by
 * hand from the generated protobufjs code: no @grpc/proto-loader, no JSON on the wire.
 *
 *   service RaftTransport { rpc Send(stream MessageBatch) returns (SendAck); }
 *
 * Each replica opens one long-lived client stream to each peer and writes MessageBatch
 * frames on it (raft/transport/grpc-transport.ts); the server answers with one SendAck when
 * the client half-closes (or when the server shuts the stream down).
 */
import type * as grpc from "@grpc/grpc-js";
import { shardkv } from "../../proto/gen/raft.js";

const pb = shardkv.raft;

/** The full method path of RaftTransport.Send, as gRPC puts it in the `:path` header. */
export const raftSendPath = "/shardkv.raft.RaftTransport/Send";

/**
 * Views protobufjs output as a Buffer without copying. In Node protobufjs already returns a
 * Buffer; the fallback covers a plain Uint8Array (e.g. a pre-encoded frame).
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes a MessageBatch for the wire (the request serializer of Send). */
export function serializeMessageBatch(batch: shardkv.raft.MessageBatch.$Properties): Buffer {
  return asBuffer(pb.MessageBatch.encode(batch).finish());
}

/**
 * Decodes a MessageBatch frame (the request deserializer of Send). Throws on bytes that are
 * not a valid protobuf encoding; grpc-js then fails that one call with INTERNAL and the
 * server keeps running. Field-level validation (message types, ids) is raft/codec.ts's job.
 */
export function deserializeMessageBatch(bytes: Buffer): shardkv.raft.MessageBatch {
  return pb.MessageBatch.decode(bytes);
}

/** Encodes a SendAck (the response serializer of Send). */
export function serializeSendAck(ack: shardkv.raft.SendAck.$Properties): Buffer {
  return asBuffer(pb.SendAck.encode(ack).finish());
}

/** Decodes a SendAck (the response deserializer of Send). */
export function deserializeSendAck(bytes: Buffer): shardkv.raft.SendAck {
  return pb.SendAck.decode(bytes);
}

/** The server-side handler of Send: a client-streaming call answered with one SendAck. */
export type RaftSendHandler = grpc.handleClientStreamingCall<shardkv.raft.MessageBatch, shardkv.raft.SendAck.$Properties>;

/** What `grpc.Server.addService(raftTransportService, impl)` expects as `impl`. */
export interface RaftTransportImplementation extends grpc.UntypedServiceImplementation {
  send: RaftSendHandler;
}

/**
 * The RaftTransport service for `grpc.Server.addService` and `grpc.makeGenericClientConstructor`.
 * Method key `send` (original proto name `Send`).
 */
export const raftTransportService: grpc.ServiceDefinition<RaftTransportImplementation> = {
  send: {
    path: raftSendPath,
    requestStream: true,
    responseStream: false,
    requestSerialize: serializeMessageBatch,
    requestDeserialize: deserializeMessageBatch,
    responseSerialize: serializeSendAck,
    responseDeserialize: deserializeSendAck,
    originalName: "Send",
  },
};
