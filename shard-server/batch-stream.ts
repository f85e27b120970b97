/**
 * The server side of `ShardKV.Batch` (proto/shardkv.proto): Get and Write requests multiplexed
 * on one long-lived bidirectional stream, as TiKV's BatchCommands. One HTTP/2 stream, one set
 * of headers and one protobuf message carry a whole event-loop turn of a client's requests;
 * the unary Get/Write of earlier versions (removed) cost an HTTP/2 stream with headers and
 * trailers per operation, which was most of the per-operation CPU on both sides
 * (docs/benchmarks.md).
 *
 * Each request runs through the same handler (shard-server/wire-handlers.ts), its typed
 * errors encoded in the message instead of gRPC metadata, and is answered by its request id as
 * soon as it is done; the answers of one turn leave as one message (at most
 * `batchReplyBytesMax` of values each). A server that is stopping acknowledges nothing more
 * and ends its streams, so clients retry elsewhere at once.
 *
 * No transport in it: the stream is a `BatchServerStream` (what is sent) and the returned
 * `BatchSession` (what arrives), and "the same turn" ends when `defer` runs its callback. The
 * daemon's gRPC adapter is shard-server/grpc-service.ts (`serveGrpcBatch`, with the failpoint
 * cut of a stream from a cut peer); the simulator's is test/sim/sim-client-transport.ts, on
 * virtual time.
 *
 * Failpoints (docs/failpoints.md) apply per request, as to a unary call: drop-request loses a
 * request before it runs (the client times it out), delay starts it later, drop-reply runs it
 * and loses its answer.
 */
import { buggify } from "../common/buggify";
import { InvalidArgumentError, type ShardKVError, StoppedError } from "../common/errors";
import { type Failpoints, streamedRequest } from "../common/failpoints";
import { kvStreamBatchBytesMax } from "../common/limits";
import { nextTurn } from "../common/real-env";
import { toWireError } from "../common/wire-errors";
import type { shardkv } from "../proto/gen/shardkv.js";
import type { KeyAccess } from "../security/authorization";

type Request = shardkv.kv.BatchRequest.IRequest;
type Response = shardkv.kv.BatchResponse.IResponse;

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
  /**
   * Runs `fn`, which starts one message's requests, so that their proposals and reads reach
   * the Raft core together (ShardService.pass). Undefined: `fn` runs as it is.
   */
  pass?(fn: () => void): void;
}

/** What serveBatch needs of one Batch stream to send on it, whatever carries it. */
export interface BatchServerStream {
  /**
   * Sends one answer message. false: the transport's buffer is full; nothing more is sent
   * until the session's `drained` is called (later answers wait, in order).
   */
  write(msg: shardkv.kv.BatchResponse.$Properties): boolean;
  /** Ends the stream normally (status OK). */
  end(): void;
  /** Ends the stream with a typed error (the client's stream fails with it). */
  fail(e: ShardKVError): void;
}

/** What arrives on one Batch stream: the transport calls these. */
export interface BatchSession {
  /** One request message. */
  receive(msg: shardkv.kv.BatchRequest): void;
  /** The client half-closed: it has given up what it still had in flight. */
  clientEnded(): void;
  /** The stream is gone (cancelled by the client, broken): nothing more can be sent. */
  closed(): void;
  /** The transport's buffer has room again (after a `write` that returned false). */
  drained(): void;
  /** The server is stopping: sends what is ready, then fails the stream with StoppedError. */
  stop(): void;
}

export interface BatchSessionOptions {
  /** Per-request failpoints (daemons with --failpoints); undefined: off. */
  readonly failpoints?: Failpoints;
  /** Runs `fn` once the current turn's answers are all queued. Default: the next macrotask. */
  readonly defer?: (fn: () => void) => void;
  /**
   * Runs `fn` soon, for an answer whose request was the only one in flight on the stream: no
   * other answer can join it, so it need not wait for the turn to end (the daemon: a
   * microtask). Default: `defer`.
   */
  readonly soon?: (fn: () => void) => void;
  /** Runs once when the stream is done either way. */
  readonly onClosed?: () => void;
  /**
   * The caller's key check (a client certificate with a key prefix; security/authorization.ts):
   * a request touching a key it refuses is answered with the refusal and not run. Undefined:
   * every key is allowed.
   */
  readonly keys?: KeyAccess;
}

/** The refusal of the first key of `req` that `keys` refuses (a write is refused whole), or undefined. */
function refusedKey(req: Request, keys: KeyAccess): ShardKVError | undefined {
  if (req.get) return keys(req.get.key ?? new Uint8Array(0), "read");
  for (const op of req.write?.ops ?? []) {
    const refused = keys(op.key ?? new Uint8Array(0), "write");
    if (refused !== undefined) return refused;
  }
  return undefined;
}

/** Serves one Batch stream over `stream` until the client ends it, it breaks, or `stop`. */
export function serveBatch(stream: BatchServerStream, h: BatchHandlers, opts: BatchSessionOptions = {}): BatchSession {
  const fp = opts.failpoints;
  const defer = opts.defer ?? nextTurn;
  const soon = opts.soon ?? defer;
  let closed = false;
  /** Requests received and not answered yet. */
  let running = 0;
  let out: Response[] = [];
  let outBytes = 0;
  let flushing = false;
  /** Sealed answer messages waiting for the transport's buffer to drain, in order. */
  const waiting: shardkv.kv.BatchResponse.$Properties[] = [];
  let blocked = false;

  const send = (msg: shardkv.kv.BatchResponse.$Properties): void => {
    if (blocked) waiting.push(msg);
    else if (!stream.write(msg)) blocked = true;
  };
  const flush = (): void => {
    flushing = false;
    if (closed || out.length === 0) return;
    const responses = out;
    out = [];
    outBytes = 0;
    send({ responses });
  };
  const answer = (r: Response, bytes: number): void => {
    if (closed) return;
    if (outBytes + bytes > batchReplyBytesMax) flush();
    out.push(r);
    outBytes += bytes;
    if (buggify("shard.batch.flush-each")) flush();
    else if (!flushing) {
      flushing = true;
      (running === 0 ? soon : defer)(flush);
    }
  };
  const fail = (requestId: number, e: unknown): void => answer({ requestId, error: toWireError(h.describe(e)) }, 0);

  const run = (req: Request): void => {
    const requestId = req.requestId ?? 0;
    const refused = opts.keys === undefined ? undefined : refusedKey(req, opts.keys);
    if (refused !== undefined) {
      fail(requestId, refused);
      return;
    }
    running++;
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
      running--;
      // A server that is shutting down acknowledges nothing more.
      if (r.status === "rejected") fail(requestId, r.reason);
      else if (h.stopping()) fail(requestId, new StoppedError("shard server"));
      else answer(r.value, valueBytes(r.value));
    });
  };

  const close = (): void => {
    if (closed) return;
    closed = true;
    opts.onClosed?.();
  };
  return {
    receive: (msg) => {
      if (closed) return;
      const all = (): void => {
        for (const req of msg.requests) run(req);
      };
      if (h.pass !== undefined && msg.requests.length > 1) h.pass(all);
      else all();
    },
    clientEnded: () => {
      // The client half-closed: it has given up whatever it still had in flight (its close()
      // fails those locally), so nothing more will be read: end ours.
      if (!closed) stream.end();
      close();
    },
    closed: close,
    drained: () => {
      if (closed) return;
      blocked = false;
      while (!blocked && waiting.length > 0) blocked = !stream.write(waiting.shift()!);
    },
    stop: () => {
      if (closed) return;
      flush();
      // Stopping is final: what is ready goes to the transport's buffer regardless of room.
      for (const msg of waiting.splice(0)) stream.write(msg);
      close();
      stream.fail(new StoppedError("shard server"));
    },
  };
}
