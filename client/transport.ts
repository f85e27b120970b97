/**
 * What the client library needs of the network, and nothing of any particular one: the
 * controller's Query, and the shard servers' Batch stream (every Get and Write of a client
 * travels on it) as an abstract duplex of request and response messages. The default is gRPC
 * (client/grpc-transport.ts, the only client file that knows gRPC); a simulator or a test
 * passes its own to `ShardKV.connect({ transport })`.
 *
 * Contract, for every implementation:
 * - Failures are typed errors (common/errors.ts) in user terms, naming the server:
 *   UnreachableError for a refused or lost connection, TimeoutError with `afterMs` 0 when a
 *   call's own deadline passes ("this attempt timed out"), and the server's own typed errors
 *   (NotLeaderError, WrongGroupError, InvalidArgumentError, ...) as it threw them.
 * - Connections are made on first use, per address, and reused; `close` closes them all.
 */
import { InternalError, ShardKVError } from "../common/errors";
import type { shardkv as ctlpb } from "../proto/gen/controller.js";
import type { shardkv as kvpb } from "../proto/gen/shardkv.js";

/** The receiving side of one Batch stream. After onError or onEnd nothing more arrives. */
export interface BatchStreamHandlers {
  /** One response message (answers by request id, in any order). */
  onMessage(msg: kvpb.kv.BatchResponse.$Properties): void;
  /** The stream failed (UnreachableError, StoppedError, ...). */
  onError(e: ShardKVError): void;
  /** The server ended the stream. */
  onEnd(): void;
}

/** The sending side of one Batch stream. */
export interface BatchStream {
  /** Sends one request message (it buffers; never blocks). */
  write(msg: kvpb.kv.BatchRequest.$Properties): void;
  /** Half-closes the stream: no more requests. */
  end(): void;
}

export interface ClientTransport {
  /**
   * One Query to the controller replica at `address`; rejects with a typed error, with
   * TimeoutError (afterMs 0) when no answer came within `timeoutMs`.
   */
  query(address: string, req: ctlpb.controller.QueryRequest.$Properties, timeoutMs: number): Promise<ctlpb.controller.QueryReply.$Properties>;
  /** Opens a Batch stream to the shard server at `address`. */
  openBatch(address: string, handlers: BatchStreamHandlers): BatchStream;
  /** Closes every connection (streams still open fail). */
  close(): void;
}

/**
 * A failure as a typed error: typed ones as they are, anything else (a bug) as an
 * InternalError naming `server`.
 */
export function asClientError(e: unknown, server: string): ShardKVError {
  if (e instanceof ShardKVError) return e;
  return new InternalError(`${server}: ${(e as Error)?.message ?? String(e)}`);
}
