/**
 * The closed set of typed errors callers must handle. Each carries what the caller needs to
 * act. They are mapped to gRPC status codes in exactly one module and back to the same
 * classes in the client.
 */
import type { NodeId } from "./ids";

export type ErrorCode =
  | "NotLeader"
  | "Backpressure"
  | "Timeout"
  | "InvalidArgument"
  | "Stopped"
  | "Corruption"
  | "LeadershipTransfer"
  | "WrongGroup"
  | "RetryLater"
  | "Internal";

export abstract class ShardKVError extends Error {
  abstract readonly code: ErrorCode;
}

/** This replica is not the leader; `leaderHint` is the leader it knows of (0 = unknown). */
export class NotLeaderError extends ShardKVError {
  readonly code = "NotLeader";
  constructor(readonly leaderHint: NodeId, readonly leaderAddress?: string) {
    super(`not the leader (leader hint: ${leaderHint === 0 ? "unknown" : `node ${leaderHint}`})`);
  }
}

/** A bounded queue or byte budget is full; nothing was accepted. Retry later. */
export class BackpressureError extends ShardKVError {
  readonly code = "Backpressure";
  constructor(readonly limit: string, readonly max: number, readonly value: number) {
    super(`${limit} exceeded: ${value} > ${max}`);
  }
}

/** A leadership transfer is in progress; proposals are refused until it ends. */
export class LeadershipTransferError extends ShardKVError {
  readonly code = "LeadershipTransfer";
  constructor(readonly transferee: NodeId) {
    super(`leadership transfer to node ${transferee} in progress`);
  }
}

/** The caller's deadline passed before the operation completed; it may or may not have run. */
export class TimeoutError extends ShardKVError {
  readonly code = "Timeout";
  constructor(what: string, readonly afterMs: number) {
    super(`${what} timed out after ${afterMs} ms`);
  }
}

/** A request field is invalid; nothing was done. */
export class InvalidArgumentError extends ShardKVError {
  readonly code = "InvalidArgument";
  constructor(readonly field: string, readonly reason: string) {
    super(`invalid ${field}: ${reason}`);
  }
}

/** The component was stopped; the operation was not accepted. */
export class StoppedError extends ShardKVError {
  readonly code = "Stopped";
  constructor(what: string) {
    super(`${what} is stopped`);
  }
}

/** Data on disk failed verification. `file` and `detail` say where. */
export class CorruptionError extends ShardKVError {
  readonly code = "Corruption";
  constructor(readonly file: string, readonly detail: string) {
    super(`corrupt data in ${file}: ${detail}`);
  }
}

/** This group does not serve `shard` in its configuration `configNum`; refresh the config. */
export class WrongGroupError extends ShardKVError {
  readonly code = "WrongGroup";
  constructor(readonly shard: number, readonly configNum: number) {
    super(`wrong group for shard ${shard} (server at config ${configNum})`);
  }
}

/**
 * The request must wait for something in progress to finish (e.g. a change that would move
 * shards away from a group that has not acknowledged its join); nothing was done. Retry with
 * the same request id; `reason` says what is awaited.
 */
export class RetryLaterError extends ShardKVError {
  readonly code = "RetryLater";
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** An unexpected server-side failure; the message says what. */
export class InternalError extends ShardKVError {
  readonly code = "Internal";
  constructor(message: string) {
    super(message);
  }
}
