/**
 * The client's default transport (client/transport.ts) over grpc-js: one channel per address,
 * opened on first use (client/stubs.ts), gRPC failures translated into the same typed errors
 * the servers threw, or into transport errors in user terms, by common/grpc-errors.ts. The
 * one file of the client library, with its stubs, that knows gRPC.
 */
import type * as grpc from "@grpc/grpc-js";
import { fromServiceError } from "../common/grpc-errors";
import { wallClockMs } from "../common/real-env";
import type { shardkv as ctlpb } from "../proto/gen/controller.js";
import type { shardkv as kvpb } from "../proto/gen/shardkv.js";
import { type Security, securityOf, tlsFailure, tlsHandshakeFailure } from "../security/credentials";
import type { TlsFiles } from "../security/tls-files";
import { type ControllerQueryStub, type KvStub, controllerQueryStub, kvStub, unary } from "./stubs";
import type { BatchStream, BatchStreamHandlers, ClientTransport } from "./transport";

export class GrpcClientTransport implements ClientTransport {
  private readonly ctlStubs = new Map<string, ControllerQueryStub>();
  private readonly kvStubs = new Map<string, KvStub>();

  /**
   * `security`: how to connect, the process's one Security; `owned`: whether close() closes it
   * too (a transport made for the library's own `tls` option, see withFiles).
   */
  constructor(private readonly security: Security, private readonly owned = false) {}

  /** A transport with mutual TLS on `files`, or plaintext without; it owns its Security. */
  static withFiles(files: TlsFiles | undefined): GrpcClientTransport {
    return new GrpcClientTransport(securityOf(files), true);
  }

  async query(address: string, req: ctlpb.controller.QueryRequest.$Properties, timeoutMs: number): Promise<ctlpb.controller.QueryReply> {
    const stub = cached(this.ctlStubs, address, (a) => controllerQueryStub(a, this.security));
    try {
      // grpc-js deadlines are wall-clock instants.
      return await unary(stub.query, stub, req, wallClockMs() + timeoutMs);
    } catch (e) {
      throw (await tlsFailure(e, `controller ${address}`, address, this.security)) ?? fromServiceError(e, `controller ${address}`);
    }
  }

  openBatch(address: string, handlers: BatchStreamHandlers): BatchStream {
    const call: grpc.ClientDuplexStream<kvpb.kv.BatchRequest.$Properties, kvpb.kv.BatchResponse> =
      cached(this.kvStubs, address, (a) => kvStub(a, this.security)).batch();
    call.on("data", (msg: kvpb.kv.BatchResponse) => handlers.onMessage(msg));
    call.on("error", (e) => handlers.onError(tlsHandshakeFailure(e, address) ?? fromServiceError(e, address)));
    call.on("end", () => handlers.onEnd());
    return { write: (msg) => void call.write(msg), end: () => call.end() };
  }

  close(): void {
    for (const s of this.ctlStubs.values()) s.close();
    for (const s of this.kvStubs.values()) s.close();
    this.ctlStubs.clear();
    this.kvStubs.clear();
    if (this.owned) this.security.close();
  }

}

function cached<S>(m: Map<string, S>, address: string, open: (address: string) => S): S {
  let s = m.get(address);
  if (s === undefined) {
    s = open(address);
    m.set(address, s);
  }
  return s;
}
