/**
 * The one place typed errors become gRPC statuses and back
 * (docs/design.md#26-assert-bugs-type-expected-failures). A server handler passes any thrown
 * error to `toServiceError`; a client passes any failed call's error to `fromServiceError`
 * and gets the same class with the same fields.
 *
 * Wire form: a gRPC status code chosen per error, and trailing metadata
 * `shardkv-code` = the error's code plus one `shardkv-<field>` entry per field.
 *
 * A failure of the transport itself (no ShardKV metadata: refused, name not found, deadline)
 * is translated here too, into the user's terms: UnreachableError naming the server and what
 * happened ("connection refused"), never grpc-js details ("No connection established...").
 * The code and fields themselves, and their in-message form, are common/wire-errors.ts.
 */
import * as grpc from "@grpc/grpc-js";
import { type ErrorCode, InternalError, ShardKVError, TimeoutError, UnreachableError } from "./errors";
import { asShardKVError, fieldsOf, typedError } from "./wire-errors";
export { fromWireError, toWireError, type WireError } from "./wire-errors";

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
  PermissionDenied: grpc.status.PERMISSION_DENIED,
};

/** Converts a thrown error into a gRPC service error (non-ShardKV errors become Internal). */
export function toServiceError(e: unknown): Partial<grpc.StatusObject> {
  const err = asShardKVError(e);
  const metadata = new grpc.Metadata();
  metadata.set("shardkv-code", err.code);
  for (const [k, v] of Object.entries(fieldsOf(err))) metadata.set(`shardkv-${k}`, v);
  return { code: statusOf[err.code], details: err.message, metadata };
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
