/**
 * Builds grpc-js method definitions from generated protobufjs message classes, so every
 * service is defined from proto/ without @grpc/proto-loader and without JSON on the wire.
 */
import type * as grpc from "@grpc/grpc-js";

/** The static side of a generated protobufjs message class. */
export interface PbType<T, P> {
  encode(m: P): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One method of a service: `path` is "/package.Service/Method". */
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
