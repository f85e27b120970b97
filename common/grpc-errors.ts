/**
 * The one place typed errors become gRPC statuses and back (STYLE.md "Errors"). A server
 * handler passes any thrown error to `toServiceError`; a client passes any failed call's
 * error to `fromServiceError` and gets the same class with the same fields.
 *
 * Wire form: a gRPC status code chosen per error, and trailing metadata
 * `shardkv-code` = the error's code plus one `shardkv-<field>` entry per field.
 *
 * A failure of the transport itself (no ShardKV metadata: refused, name not found, deadline)
 * is translated here too, into the user's terms: UnreachableError naming the server and what
 * happened ("connection refused"), never grpc-js details ("No connection established...").
 */
import * as grpc from "@grpc/grpc-js";
import {
  BackpressureError, CorruptionError, DataDirError, InternalError, InvalidArgumentError, LeadershipTransferError,
  NotLeaderError, RetryLaterError, ShardKVError, StoppedError, TimeoutError, UnreachableError, WrongGroupError, type ErrorCode,
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
  DataDir: grpc.status.FAILED_PRECONDITION,
  RetryLater: grpc.status.UNAVAILABLE,
  Internal: grpc.status.INTERNAL,
  Unreachable: grpc.status.UNAVAILABLE,
  Aborted: grpc.status.CANCELLED,
};

function fieldsOf(e: ShardKVError): Record<string, string> {
  if (e instanceof NotLeaderError) return { "leader-hint": String(e.leaderHint), "leader-address": e.leaderAddress ?? "" };
  if (e instanceof WrongGroupError) return { shard: String(e.shard), "config-num": String(e.configNum) };
  if (e instanceof InvalidArgumentError) return { field: e.field, reason: e.reason };
  if (e instanceof BackpressureError) return { limit: e.limit, max: String(e.max), value: String(e.value) };
  if (e instanceof TimeoutError) return { "after-ms": String(e.afterMs) };
  if (e instanceof LeadershipTransferError) return { transferee: String(e.transferee) };
  if (e instanceof CorruptionError) return { file: e.file, detail: e.detail };
  if (e instanceof UnreachableError) return { server: e.server, reason: e.reason };
  if (e instanceof DataDirError) return { dir: e.dir, detail: e.detail, misuse: e.misuse ? "1" : "" };
  if (e instanceof RetryLaterError) return { reason: e.reason };
  return {};
}

/** A thrown error as a ShardKVError (anything else becomes Internal). */
function asShardKVError(e: unknown): ShardKVError {
  return e instanceof ShardKVError ? e : new InternalError((e as Error)?.message ?? String(e));
}

/** Converts a thrown error into a gRPC service error (non-ShardKV errors become Internal). */
export function toServiceError(e: unknown): Partial<grpc.StatusObject> {
  const err = asShardKVError(e);
  const metadata = new grpc.Metadata();
  metadata.set("shardkv-code", err.code);
  for (const [k, v] of Object.entries(fieldsOf(err))) metadata.set(`shardkv-${k}`, v);
  return { code: statusOf[err.code], details: err.message, metadata };
}

/** A typed error as carried inside a stream message (proto shardkv.kv.Error). */
export interface WireError {
  code: string;
  message: string;
  fields: Record<string, string>;
}

/** Converts a thrown error into its in-message form (the same code and fields as toServiceError). */
export function toWireError(e: unknown): WireError {
  const err = asShardKVError(e);
  return { code: err.code, message: err.message, fields: fieldsOf(err) };
}

/** Converts an in-message error back into the typed error the server threw. */
export function fromWireError(w: { code?: string | null; message?: string | null; fields?: Record<string, string> | null }): ShardKVError {
  const fields = w.fields ?? {};
  return typedError(w.code ?? "", (k) => fields[k] ?? "", w.message ?? "") ?? new InternalError(w.message || `error with unknown code ${JSON.stringify(w.code)}`);
}

/** The typed error of `code` with its fields read by `get`; undefined for an unknown code. */
function typedError(code: string, get: (field: string) => string, details: string): ShardKVError | undefined {
  switch (code as ErrorCode) {
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
    case "DataDir":
      return new DataDirError(get("dir"), get("detail"), get("misuse") === "1");
    case "RetryLater":
      return new RetryLaterError(get("reason") || details);
    case "Internal":
      return new InternalError(details || "internal error");
    case "Unreachable":
      return new UnreachableError(get("server"), get("reason"));
    default:
      return undefined;
  }
}

/**
 * Converts a failed call's error back into the typed error the server threw (a ShardKVError
 * already decoded, e.g. from a Batch answer, is returned as it is). `server` names the server
 * called, for people ("controller 127.0.0.1:7001"), in the errors of the transport itself:
 * UnreachableError (refused, name not found, connection lost, not a shardkv server) and
 * TimeoutError with afterMs 0 (the call's own deadline passed: "this attempt timed out").
 */
export function fromServiceError(e: unknown, server = "server"): ShardKVError {
  if (e instanceof ShardKVError) return e;
  const se = e as Partial<grpc.ServiceError>;
  const md = se.metadata;
  const typed = typedError(String(md?.get("shardkv-code")[0] ?? ""), (k) => String(md?.get(`shardkv-${k}`)[0] ?? ""), se.details ?? "");
  if (typed) return typed;
  // No ShardKV metadata: a transport-level failure (unreachable, deadline, cancelled).
  switch (se.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new TimeoutError(`call to ${server}`, 0);
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
      return new UnreachableError(server, transportReason(se.details ?? ""));
    case grpc.status.UNIMPLEMENTED:
      // Something answers at that address, but not the shardkv service asked for.
      return new UnreachableError(server, `it does not serve ${/\/([\w.]+\/\w+)$/.exec(se.details ?? "")?.[1] ?? "this service"} (is it the right address?)`);
    default:
      return new InternalError(`${server}: ${se.details ?? (e as Error)?.message ?? String(e)}`);
  }
}

/** What grpc-js transport details mean, in a few words ("connection refused"). */
const transportReasons: readonly (readonly [RegExp, string])[] = [
  [/ECONNREFUSED/, "connection refused"],
  [/Name resolution failed|ENOTFOUND|EAI_AGAIN/, "host name not found"],
  [/EHOSTUNREACH/, "host unreachable"],
  [/ENETUNREACH/, "network unreachable"],
  [/ETIMEDOUT/, "connection timed out"],
  [/ECONNRESET|EPIPE|Connection dropped|Socket closed|Failed to connect/, "connection lost"],
  [/Protocol error/, "it does not speak gRPC (is it the right address?)"],
  [/Call cancelled|Channel shutdown|closed/i, "connection closed"],
];

/**
 * A grpc-js status detail of a transport failure as a few words for people: "connection
 * refused", "host name not found", "connection lost". An unknown detail passes with the
 * grpc-js framing ("No connection established. Last error: ...", "Resolution note") cut off.
 */
export function transportReason(details: string): string {
  for (const [re, reason] of transportReasons) if (re.test(details)) return reason;
  const cut = details
    .replace(/^No connection established\.\s*(Last error:\s*)?/, "")
    .replace(/^Error:\s*/, "")
    .replace(/\.?\s*Resolution note:.*$/s, "")
    .replace(/\s+/g, " ")
    .trim();
  return cut === "" ? "unavailable" : cut;
}
