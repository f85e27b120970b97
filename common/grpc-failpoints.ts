/**
 * The gRPC side of failpoints (common/failpoints.ts, docs/failpoints.md): wrapping a service's
 * handlers on the daemon that receives calls, and an interceptor on the stubs a daemon uses
 * for its own outgoing calls. Both are identities when failpoints are off (`fp` undefined):
 * nothing is wrapped and no hot path pays for it.
 *
 * Receiving side (failpointService), per call of a unary or server-streaming method:
 *  1. from a cut peer (metadata `shardkv-from` names an address in `cut`): fails at once with
 *     UNAVAILABLE, like a host the peer cannot reach; nothing executes;
 *  2. drop-request: the request is lost before it executes: no answer at all, the client's
 *     deadline expires (a call without a deadline gets UNAVAILABLE at once instead of hanging
 *     forever);
 *  3. delay: the handler starts 0..delay ms later (a unary request still executes when the
 *     client gave up meanwhile, as one already in flight would);
 *  4. drop-reply (unary): the request executes, then its reply, success or error, is lost like
 *     a dropped request.
 *  A server stream (PullShard, Watch) that drop-request or drop-reply hits fails at once with
 *  UNAVAILABLE, as a broken connection would, and streams nothing: withholding it instead
 *  would stall a shard pull for its whole deadline (minutes) or a Watch forever.
 * Client-streaming and bidirectional methods are passed through untouched: the Raft transport
 * has its own failpoints (raft/transport/failpoint-transport.ts), and a stream that multiplexes
 * requests (ShardKV.Batch) applies the same rules per request with failpointStreamCut and
 * common/failpoints.ts's streamedRequest.
 *
 * Sending side (failpointClientOptions): every call carries `shardkv-from` = this daemon's
 * listen address, and a call to a cut peer fails at once with UNAVAILABLE without touching
 * the network. Drop and delay rates apply only where calls are received, so a message
 * crossing two daemons with failpoints is not counted twice.
 */
import * as grpc from "@grpc/grpc-js";
import type { Failpoints } from "./failpoints";

/** Metadata key carrying the caller's own listen address on daemon-to-daemon calls. */
export const fromMetadataKey = "shardkv-from";

function unavailable(details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() });
}

const cutError = (fp: Failpoints, peer: string): grpc.ServiceError =>
  unavailable(`failpoint: ${fp.self} is cut off from ${peer}`);

function senderOf(metadata: grpc.Metadata): string | undefined {
  const v = metadata.get(fromMetadataKey)[0];
  return typeof v === "string" ? v : undefined;
}

/** Whether the call has a finite deadline (the server then ends it with DEADLINE_EXCEEDED). */
function hasDeadline(call: { getDeadline(): grpc.Deadline }): boolean {
  const d = call.getDeadline();
  return Number.isFinite(d instanceof Date ? d.getTime() : d);
}

type Unary = grpc.handleUnaryCall<unknown, unknown>;
type ServerStreaming = grpc.handleServerStreamingCall<unknown, unknown>;

function wrapUnary(fp: Failpoints, handler: Unary): Unary {
  return (call, callback) => {
    const from = senderOf(call.metadata);
    if (fp.isCut(from)) return callback(cutError(fp, from!), null);
    const lose = (): void => {
      if (!hasDeadline(call)) callback(unavailable("failpoint: message dropped (the call has no deadline)"), null);
    };
    if (fp.dropRequest()) return lose();
    fp.delayed(() => {
      handler(call, (err, value, trailer, flags) => {
        if (fp.dropReply()) lose();
        else callback(err, value, trailer, flags);
      });
    });
  };
}

function wrapServerStreaming(fp: Failpoints, handler: ServerStreaming): ServerStreaming {
  return (call) => {
    const from = senderOf(call.metadata);
    if (fp.isCut(from)) {
      call.emit("error", cutError(fp, from!));
      return;
    }
    if (fp.dropRequest() || fp.dropReply()) {
      call.emit("error", unavailable("failpoint: stream dropped"));
      return;
    }
    fp.delayed(() => {
      if (!call.cancelled) handler(call);
    });
  };
}

/** For a multiplexing stream at its start: the error to fail it with when the caller is cut off. */
export function failpointStreamCut(fp: Failpoints | undefined, metadata: grpc.Metadata): grpc.ServiceError | undefined {
  if (fp === undefined) return undefined;
  const from = senderOf(metadata);
  return fp.isCut(from) ? cutError(fp, from!) : undefined;
}

/**
 * The implementation to register with `server.addService(def, ...)`: `impl` itself when `fp`
 * is undefined, else `impl` with every unary and server-streaming handler wrapped as the file
 * comment says. Called once per service at server start.
 */
export function failpointService<I extends grpc.UntypedServiceImplementation>(
  fp: Failpoints | undefined, def: grpc.ServiceDefinition, impl: I,
): I {
  if (fp === undefined) return impl;
  const out: grpc.UntypedServiceImplementation = { ...impl };
  for (const [name, method] of Object.entries(def)) {
    const h = impl[name];
    if (h === undefined || method.requestStream) continue;
    out[name] = method.responseStream
      ? wrapServerStreaming(fp, h as ServerStreaming)
      : wrapUnary(fp, h as Unary);
  }
  return out as I;
}

/**
 * Client options for a stub to `target` ("host:port") created by a daemon: `{}` when `fp` is
 * undefined, else an interceptor that stamps `shardkv-from` and fails calls to a cut peer.
 */
export function failpointClientOptions(fp: Failpoints | undefined, target: string): grpc.ClientOptions {
  if (fp === undefined) return {};
  const interceptor: grpc.Interceptor = (options, nextCall) => {
    let cut = false;
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (fp.isCut(target)) {
          cut = true;
          // Like an unreachable host: the call fails without reaching the network. Reported
          // asynchronously, as a real failure would be.
          const e = cutError(fp, target);
          queueMicrotask(() => listener.onReceiveStatus({ code: e.code, details: e.details, metadata: e.metadata }));
          return;
        }
        metadata.set(fromMetadataKey, fp.self);
        next(metadata, listener);
      },
      sendMessage(message, next) {
        if (!cut) next(message);
      },
      halfClose(next) {
        if (!cut) next();
      },
    });
  };
  return { interceptors: [interceptor] };
}
