/**
 * Typed errors (common/errors.ts) in their wire form, with no transport in it: the code and
 * one string per field, as carried inside a stream message (proto shardkv.kv.Error) and, by
 * common/grpc-errors.ts, in a gRPC status's metadata. The client library decodes its answers
 * with this module alone, so it loads no gRPC code unless its transport is gRPC.
 */
import {
  BackpressureError, CorruptionError, DataDirError, InternalError, InvalidArgumentError, LeadershipTransferError,
  NotLeaderError, PermissionDeniedError, RetryLaterError, ServersUnansweredError, ShardKVError, StoppedError, TimeoutError, UnreachableError,
  type UnansweredServer, WrongGroupError, type ErrorCode,
} from "./errors";
import type { NodeId } from "./ids";

/** The fields of a typed error, as wire strings (metadata entries, stream message fields). */
export function fieldsOf(e: ShardKVError): Record<string, string> {
  if (e instanceof NotLeaderError) return { "leader-hint": String(e.leaderHint), "leader-address": e.leaderAddress ?? "" };
  if (e instanceof WrongGroupError) return { shard: String(e.shard), "config-num": String(e.configNum) };
  if (e instanceof ServersUnansweredError) return { field: e.field, reason: e.reason, unanswered: JSON.stringify(e.unanswered.map((u) => [u.address, u.reason])) };
  if (e instanceof InvalidArgumentError) return { field: e.field, reason: e.reason };
  if (e instanceof BackpressureError) return { limit: e.limit, max: String(e.max), value: String(e.value) };
  if (e instanceof TimeoutError) return { "after-ms": String(e.afterMs) };
  if (e instanceof LeadershipTransferError) return { transferee: String(e.transferee) };
  if (e instanceof CorruptionError) return { file: e.file, detail: e.detail };
  if (e instanceof UnreachableError) return { server: e.server, reason: e.reason };
  if (e instanceof DataDirError) return { dir: e.dir, detail: e.detail, misuse: e.misuse ? "1" : "" };
  if (e instanceof RetryLaterError) return { reason: e.reason };
  if (e instanceof PermissionDeniedError) return { who: e.who, action: e.action, reason: e.reason };
  return {};
}

/** A thrown error as a ShardKVError (anything else becomes Internal). */
export function asShardKVError(e: unknown): ShardKVError {
  return e instanceof ShardKVError ? e : new InternalError((e as Error)?.message ?? String(e));
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
export function typedError(code: string, get: (field: string) => string, details: string): ShardKVError | undefined {
  switch (code as ErrorCode) {
    case "NotLeader":
      return new NotLeaderError(Number(get("leader-hint")) as NodeId, get("leader-address") || undefined);
    case "WrongGroup":
      return new WrongGroupError(Number(get("shard")), Number(get("config-num")));
    case "InvalidArgument": {
      const unanswered = get("field") === "groups" ? unansweredFromWire(get("unanswered")) : undefined;
      return unanswered ? new ServersUnansweredError(get("reason"), unanswered) : new InvalidArgumentError(get("field"), get("reason"));
    }
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
    case "PermissionDenied":
      return new PermissionDeniedError(get("who"), get("action"), get("reason"));
    case "Internal":
      return new InternalError(details || "internal error");
    case "Unreachable":
      return new UnreachableError(get("server"), get("reason"));
    default:
      return undefined;
  }
}


/**
 * ServersUnansweredError's `unanswered` field (a JSON array of [address, reason] pairs), or
 * undefined when absent or not of that shape (then the refusal reads as a plain
 * InvalidArgument: nothing to wait for).
 */
function unansweredFromWire(s: string): UnansweredServer[] | undefined {
  if (s === "") return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return undefined;
  }
  const pair = (p: unknown): p is [string, string] => Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string";
  if (!Array.isArray(v) || v.length === 0 || !v.every(pair)) return undefined;
  return v.map(([address, reason]) => ({ address, reason }));
}
