/**
 * The one place typed errors become gRPC statuses and back (STYLE.md "Errors"). A server
 * handler passes any thrown error to `toServiceError`; a client passes any failed call's
 * error to `fromServiceError` and gets the same class with the same fields.
 *
 * Wire form: a gRPC status code chosen per error, and trailing metadata
 * `shardkv-code` = the error's code plus one `shardkv-<field>` entry per field.
 */
import * as grpc from "@grpc/grpc-js";
import {
  BackpressureError, CorruptionError, InternalError, InvalidArgumentError, LeadershipTransferError,
  NotLeaderError, ShardKVError, StoppedError, TimeoutError, WrongGroupError, type ErrorCode,
} from "./errors";
import type { NodeId } from "./ids";

const statusOf: Record<ErrorCode, grpc.status> = {
  NotLeader: grpc.status.FAILED_PRECONDITION,
  WrongGroup: grpc.status.FAILED_PRECONDITION,
  LeadershipTransfer: grpc.status.UNAVAILABLE,
  Backpressure: grpc.status.RESOURCE_EXHAUSTED,
  Timeout: grpc.status.DEADLINE_EXCEEDED,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  Stopped: grpc.status.UNAVAILABLE,
  Corruption: grpc.status.DATA_LOSS,
  Internal: grpc.status.INTERNAL,
};

function fieldsOf(e: ShardKVError): Record<string, string> {
  if (e instanceof NotLeaderError) return { "leader-hint": String(e.leaderHint), "leader-address": e.leaderAddress ?? "" };
  if (e instanceof WrongGroupError) return { shard: String(e.shard), "config-num": String(e.configNum) };
  if (e instanceof InvalidArgumentError) return { field: e.field, reason: e.reason };
  if (e instanceof BackpressureError) return { limit: e.limit, max: String(e.max), value: String(e.value) };
  if (e instanceof TimeoutError) return { "after-ms": String(e.afterMs) };
  if (e instanceof LeadershipTransferError) return { transferee: String(e.transferee) };
  if (e instanceof CorruptionError) return { file: e.file, detail: e.detail };
  return {};
}

/** Converts a thrown error into a gRPC service error (non-ShardKV errors become Internal). */
export function toServiceError(e: unknown): Partial<grpc.StatusObject> {
  const err = e instanceof ShardKVError ? e : new InternalError((e as Error)?.message ?? String(e));
  const metadata = new grpc.Metadata();
  metadata.set("shardkv-code", err.code);
  for (const [k, v] of Object.entries(fieldsOf(err))) metadata.set(`shardkv-${k}`, v);
  return { code: statusOf[err.code], details: err.message, metadata };
}

/** Converts a failed call's error back into the typed error the server threw. */
export function fromServiceError(e: unknown): ShardKVError {
  const se = e as Partial<grpc.ServiceError>;
  const md = se.metadata;
  const get = (k: string): string => String(md?.get(`shardkv-${k}`)[0] ?? "");
  const code = get("code") as ErrorCode | "";
  switch (code) {
    case "NotLeader":
      return new NotLeaderError(Number(get("leader-hint")) as NodeId, get("leader-address") || undefined);
    case "WrongGroup":
      return new WrongGroupError(Number(get("shard")), Number(get("config-num")));
    case "InvalidArgument":
      return new InvalidArgumentError(get("field"), get("reason"));
    case "Backpressure":
      return new BackpressureError(get("limit"), Number(get("max")), Number(get("value")));
    case "Timeout":
      return new TimeoutError("server", Number(get("after-ms")));
    case "LeadershipTransfer":
      return new LeadershipTransferError(Number(get("transferee")) as NodeId);
    case "Stopped":
      return new StoppedError("server");
    case "Corruption":
      return new CorruptionError(get("file"), get("detail"));
    case "Internal":
      return new InternalError(se.details ?? "internal error");
    default:
      break;
  }
  // No ShardKV metadata: a transport-level failure (unreachable, deadline, cancelled).
  if (se.code === grpc.status.DEADLINE_EXCEEDED) return new TimeoutError("call", 0);
  if (se.code === grpc.status.UNAVAILABLE || se.code === grpc.status.CANCELLED) {
    return new StoppedError(`server (${se.details ?? "unavailable"})`);
  }
  return new InternalError(se.details ?? (e as Error)?.message ?? String(e));
}
