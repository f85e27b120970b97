/**
 * The runtime of the generated gRPC service modules (proto/gen/*-grpc.ts, written by
 * scripts/gen-proto.mjs from the `service` blocks of proto/*.proto): grpc-js method
 * definitions built from generated protobufjs message classes, so every service is defined
 * from proto/ without @grpc/proto-loader and without JSON on the wire, and the typed shapes of
 * the stubs and handlers those modules declare.
 */
import type * as grpc from "@grpc/grpc-js";
import { asBuffer } from "./bytes";
import { realClock } from "./real-env";

/** The static side of a generated protobufjs message class. */
export interface PbType<T, P> {
  encode(m: P): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

/**
 * One method of a service: `path` is "/package.Service/Method", as gRPC puts it in the `:path`
 * header. The deserializers throw on bytes that are not a valid protobuf encoding; grpc-js
 * then fails that one call (INTERNAL) and the server keeps running. Field-level validation is
 * the receiving module's job (its codec).
 */
export function grpcMethod<Req, ReqP, Res, ResP>(
  path: string,
  req: PbType<Req, ReqP>,
  res: PbType<Res, ResP>,
  kind: { requestStream?: boolean; responseStream?: boolean } = {},
): grpc.MethodDefinition<ReqP, ResP> {
  return {
    path,
    requestStream: kind.requestStream ?? false,
    responseStream: kind.responseStream ?? false,
    requestSerialize: (m: ReqP) => asBuffer(req.encode(m).finish()),
    requestDeserialize: (b: Buffer) => req.decode(b) as unknown as ReqP,
    responseSerialize: (m: ResP) => asBuffer(res.encode(m).finish()),
    responseDeserialize: (b: Buffer) => res.decode(b) as unknown as ResP,
    originalName: path.slice(path.lastIndexOf("/") + 1),
  };
}

/** The callback of a unary or client-streaming call. */
export type CallCallback<Res> = (err: grpc.ServiceError | null, res?: Res) => void;

/** A unary method of a stub: request, metadata, call options (deadline), callback. */
export type UnaryCall<Req, Res> = (
  req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: CallCallback<Res>,
) => grpc.ClientUnaryCall;

/** A server-streaming method of a stub: one request, a stream of responses. */
export interface ServerStreamCall<Req, Res> {
  (req: Req, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<Res>;
  (req: Req, metadata: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<Res>;
}

/** A client-streaming method of a stub: a stream of requests, one response to `cb`. */
export type ClientStreamCall<Req, Res> = (
  metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: CallCallback<Res>,
) => grpc.ClientWritableStream<Req>;

/** A bidirectional-streaming method of a stub. */
export type BidiStreamCall<Req, Res> = (
  metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>,
) => grpc.ClientDuplexStream<Req, Res>;

/** The constructor of a generated stub class (grpc.makeGenericClientConstructor, typed). */
export type StubConstructor<Stub> = new (
  address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions,
) => Stub;

/** Longest wait between reconnection attempts of a client channel (see reconnectOptions). */
export const reconnectBackoffMsMax = 1000;

/**
 * Channel options of the clients that wait for servers which may still be starting (the
 * client library, the controller client, hence the CLIs): grpc-js spaces its reconnection
 * attempts up to 120 s apart by default, so a client started before its cluster noticed it
 * seconds late (measured: a server up at 7 s answered at 12 s); here at most 1 s apart.
 */
export const reconnectOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": reconnectBackoffMsMax,
} as const;

/** Graceful gRPC shutdown, forced after `graceMs` (open calls are cancelled). */
export function shutdownGrpc(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const cancel = realClock.after(graceMs, () => {
      server.forceShutdown();
      resolve();
    });
    server.tryShutdown(() => {
      cancel();
      resolve();
    });
  });
}
