/**
 * The server side of `ShardKV.Batch` (proto/shardkv.proto): Get and Write requests multiplexed
 * on one long-lived bidirectional stream, as TiKV's BatchCommands. One HTTP/2 stream, one set
 * of headers and one protobuf message carry a whole event-loop turn of a client's requests;
 * the unary Get/Write cost an HTTP/2 stream with headers and trailers per operation, which was
 * most of the per-operation CPU on both sides (docs/benchmarks.md).
 *
 * Each request runs exactly as its unary form would (the same handler, the same typed
 * errors, encoded in the message instead of metadata) and is answered by its request id as
 * soon as it is done; the answers of one turn leave as one message (at most
 * `batchReplyBytesMax` of values each). A server that is stopping acknowledges nothing more
 * and ends its streams, so clients retry elsewhere at once.
 *
 * Failpoints (docs/failpoints.md) apply per request, as to a unary call: a stream from a cut
 * peer fails at once; drop-request loses a request before it runs (the client times it out),
 * delay starts it later, drop-reply runs it and loses its answer.
 */
import type * as grpc from "@grpc/grpc-js";
import { InvalidArgumentError, StoppedError } from "../common/errors";
import type { Failpoints } from "../common/failpoints";
import { failpointStreamCut, streamedRequest } from "../common/grpc-failpoints";
import { toServiceError, toWireError } from "../common/grpc-errors";
import { nextTurn } from "../common/real-env";
import type { shardkv } from "../proto/gen/shardkv.js";
import { kvStreamBatchBytesMax } from "../common/limits";

type Request = shardkv.kv.BatchRequest.IRequest;
type Response = shardkv.kv.BatchResponse.IResponse;
export type BatchCall = grpc.ServerDuplexStream<shardkv.kv.BatchRequest, shardkv.kv.BatchResponse.$Properties>;

/** Value bytes per answer message: larger turns are split over several messages. */
export const batchReplyBytesMax = kvStreamBatchBytesMax;

/** The value bytes an answer carries: a get's value, or a write's result values (gets and CAS in a batch). */
function valueBytes(r: Response): number {
  let n = r.get?.value?.length ?? 0;
  for (const o of r.write?.results ?? []) n += o.value?.length ?? 0;
  return n;
}

export interface BatchHandlers {
  get(req: shardkv.kv.GetRequest): Promise<shardkv.kv.GetReply.$Properties>;
  write(req: shardkv.kv.WriteRequest): Promise<shardkv.kv.WriteReply.$Properties>;
  /** The error to answer for a failure (fills in a leader address, logs unexpected ones). */
  describe(e: unknown): unknown;
  /** True once the server is stopping: nothing more is acknowledged. */
  stopping(): boolean;
}

/**
 * Serves one Batch stream until the client ends it or `stop` is called. Returns `stop`;
 * `onClosed` runs once when the stream is done either way.
 */
export function serveBatch(call: BatchCall, h: BatchHandlers, fp: Failpoints | undefined, onClosed: () => void = () => undefined): () => void {
  let closed = false;
  let out: Response[] = [];
  let outBytes = 0;
  let flushing = false;

  const cut = failpointStreamCut(fp, call.metadata);
  if (cut) {
    call.emit("error", cut);
    onClosed();
    return () => undefined;
  }

  const flush = (): void => {
    flushing = false;
    if (closed || out.length === 0) return;
    const responses = out;
    out = [];
    outBytes = 0;
    call.write({ responses });
  };
  const answer = (r: Response, bytes: number): void => {
    if (closed) return;
    if (outBytes + bytes > batchReplyBytesMax) flush();
    out.push(r);
    outBytes += bytes;
    if (!flushing) {
      flushing = true;
      nextTurn(flush);
    }
  };
  const fail = (requestId: number, e: unknown): void => answer({ requestId, error: toWireError(h.describe(e)) }, 0);

  const run = (req: Request): void => {
    const requestId = req.requestId ?? 0;
    let exec: () => Promise<Response>;
    if (req.get) {
      const get = req.get as shardkv.kv.GetRequest;
      exec = async () => ({ requestId, get: await h.get(get) });
    } else if (req.write) {
      const write = req.write as shardkv.kv.WriteRequest;
      exec = async () => ({ requestId, write: await h.write(write) });
    } else {
      exec = () => Promise.reject(new InvalidArgumentError("cmd", "a batch request must hold a get or a write"));
    }
    streamedRequest(fp, () => (h.stopping() ? Promise.reject(new StoppedError("shard server")) : exec()), (r) => {
      // A server that is shutting down acknowledges nothing more.
      if (r.status === "rejected") fail(requestId, r.reason);
      else if (h.stopping()) fail(requestId, new StoppedError("shard server"));
      else answer(r.value, valueBytes(r.value));
    });
  };

  call.on("data", (msg: shardkv.kv.BatchRequest) => {
    if (closed) return;
    for (const req of msg.requests) run(req);
  });
  const close = (): void => {
    if (closed) return;
    closed = true;
    onClosed();
  };
  call.on("end", () => {
    // The client half-closed: it has given up whatever it still had in flight (its close()
    // fails those locally), so nothing more will be read: end ours.
    if (!closed) call.end();
    close();
  });
  call.on("cancelled", close);
  call.on("error", close);
  return () => {
    if (closed) return;
    flush();
    close();
    call.emit("error", toServiceError(new StoppedError("shard server")));
  };
}

