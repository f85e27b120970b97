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
  | "Internal"
  | "Unreachable"
  | "Aborted"
  | "DataDir"
  | "RetryLater"
  | "PermissionDenied";

export abstract class ShardKVError extends Error {
  abstract readonly code: ErrorCode;
}

/**
 * A typed error that routing and retries use as control flow: a follower's NotLeader, a
 * group's WrongGroup, a full queue's Backpressure, a leadership transfer in progress. Servers
 * make them by the thousand on hot paths (every request a fresh client sends to a follower is
 * refused with one, and the client decodes each answer into one again), where capturing a
 * stack trace is most of their cost and says nothing: where they were thrown is their
 * meaning. Built without one: `stack` is the first line alone (`Error: not the leader ...`);
 * `message`, what users see, is unchanged.
 */
export abstract class SignalError extends ShardKVError {
  constructor(message: string) {
    // V8 reads Error.stackTraceLimit when Error's constructor captures the stack.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/** This replica is not the leader; `leaderHint` is the leader it knows of (0 = unknown). */
export class NotLeaderError extends SignalError {
  readonly code = "NotLeader";
  constructor(readonly leaderHint: NodeId, readonly leaderAddress?: string) {
    super(`not the leader (leader hint: ${leaderHint === 0 ? "unknown" : `node ${leaderHint}`})`);
  }
}

/** A bounded queue or byte budget is full; nothing was accepted. Retry later. */
export class BackpressureError extends SignalError {
  readonly code = "Backpressure";
  /** `limit`: the limit's name (as on the wire); the message says what it bounds, in words. */
  constructor(readonly limit: string, readonly max: number, readonly value: number) {
    super(`server busy: ${describeBackpressure(limit, max, value)}; retry later`);
  }
}

/** What each back-pressure limit bounds, in the user's terms. */
const backpressureLimits: Readonly<Record<string, (max: number, value: number) => string>> = {
  uncommittedBytesMax: (max, value) => `writes not yet committed would reach ${formatCount(value)} bytes; the limit is ${formatCount(max)} bytes`,
  proposalQueueMax: (max, value) => `${formatCount(value)} writes queued at the leader; the limit is ${formatCount(max)}`,
  readIndexPendingMax: (max, value) => `${formatCount(value)} reads waiting for the leader's quorum check; the limit is ${formatCount(max)}`,
  watchStreamsMax: (max, value) => `${formatCount(value)} open Watch streams; the limit is ${formatCount(max)}`,
};

function describeBackpressure(limit: string, max: number, value: number): string {
  const describe = backpressureLimits[limit];
  return describe ? describe(max, value) : `${limit} would be ${formatCount(value)}; the limit is ${formatCount(max)}`;
}

/** A leadership transfer is in progress; proposals are refused until it ends. */
export class LeadershipTransferError extends SignalError {
  readonly code = "LeadershipTransfer";
  constructor(readonly transferee: NodeId) {
    super(`leadership transfer to node ${transferee} in progress`);
  }
}

/**
 * The caller's deadline passed before the operation completed; it may or may not have run.
 * `why`, when given, says what the attempts ran into: `reason` in the user's terms (the
 * message ends with it: "put timed out after 10 s: cannot reach group 2 (...): connection
 * refused"; default: the cause's message) and `cause` the last typed error seen.
 */
export class TimeoutError extends ShardKVError {
  readonly code = "Timeout";
  constructor(what: string, readonly afterMs: number, why?: { readonly reason?: string; readonly cause?: ShardKVError }) {
    const reason = why?.reason ?? why?.cause?.message;
    super(`${what} timed out after ${formatMs(afterMs)}${reason ? `: ${reason}` : ""}`, why?.cause ? { cause: why.cause } : undefined);
  }
}

/** A request field is invalid; nothing was done. */
export class InvalidArgumentError extends ShardKVError {
  readonly code = "InvalidArgument";
  constructor(readonly field: string, readonly reason: string) {
    super(`invalid ${field}: ${reason}`);
  }
}

/** A server that gave no answer to the controller's join check, and what happened ("connection refused"). */
export interface UnansweredServer {
  readonly address: string;
  readonly reason: string;
}

/**
 * The controller's join check refused a Join (`field` "groups", `reason` the one-line verdict,
 * as for any refused join) only because servers gave no answer: nothing listening yet, no
 * reply in time, still starting. No server of a failing group answered as something else
 * (another group's replica, another cluster's, not a shard server), so the same join may pass
 * once they are up. `unanswered` names them (the servers of the failing groups that gave no
 * answer). Final like any InvalidArgumentError (the client does not repeat the request on its
 * own); `ControllerClient.join({ serversWaitMs })` and `shardctl join` ask again for a while.
 * On the wire an InvalidArgument with one more field, so a client of an earlier version reads
 * the same refusal.
 */
export class ServersUnansweredError extends InvalidArgumentError {
  constructor(reason: string, readonly unanswered: readonly UnansweredServer[]) {
    super("groups", reason);
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
export class WrongGroupError extends SignalError {
  readonly code = "WrongGroup";
  constructor(readonly shard: number, readonly configNum: number) {
    super(`wrong group for shard ${shard} (server at config ${configNum})`);
  }
}

/**
 * A daemon cannot use its data directory `dir`: it belongs to another kind of daemon, replica,
 * group or cluster, is not a directory, or cannot be written (read-only, full). The message
 * is one line saying which and naming both sides. `misuse`: the command line points at the
 * wrong place (the daemons exit 2); otherwise the machine is at fault (exit 1).
 */
export class DataDirError extends ShardKVError {
  readonly code = "DataDir";
  constructor(readonly dir: string, readonly detail: string, readonly misuse: boolean) {
    super(detail);
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

/**
 * A Raft membership change was refused because another one is not finished: one proposed and
 * not yet applied (`pendingIndex` > `applied`), a joint configuration not yet left, or a new
 * leader that has not committed an entry of its term. Nothing was proposed; retry once it
 * is done.
 */
export class ConfChangeInProgressError extends RetryLaterError {
  constructor(reason: string) {
    super(`membership change refused: ${reason}`);
  }
}

/**
 * Promoting learner `node` was refused: its log (match index `match`) is not within the
 * allowed lag of the leader's last index `last`. Nothing was proposed; retry once it caught up.
 */
export class LearnerLaggingError extends RetryLaterError {
  constructor(readonly node: NodeId, readonly match: number, readonly last: number) {
    super(`cannot promote learner ${node}: its log reaches index ${match}, the leader's ${last}; wait until it catches up`);
  }
}

/**
 * The caller's certificate does not allow what it asked (docs/design.md#942-what-each-role-may-do);
 * nothing was done. `who` names the identity as the server read it (`client "app1"`), `action`
 * what was refused (`Join`, `write key "other/x"`), `reason` who may (`admin only`, `keys
 * starting with "app/" only`). Final: retrying with the same certificate cannot succeed.
 */
export class PermissionDeniedError extends ShardKVError {
  readonly code = "PermissionDenied";
  constructor(readonly who: string, readonly action: string, readonly reason: string) {
    super(`permission denied: ${who} may not ${action} (${reason})`);
  }
}


/** An unexpected server-side failure; the message says what. */
export class InternalError extends ShardKVError {
  readonly code = "Internal";
  constructor(message: string) {
    super(message);
  }
}

/**
 * A server could not be reached, or stopped answering mid-call: connection refused, host name
 * not found, connection lost. `server` names it for people ("controller 127.0.0.1:7001",
 * "group 2 (127.0.0.1:9001)"); `reason` is what happened ("connection refused"). Retryable: a
 * server that is still starting refuses connections. A write whose connection was lost may or
 * may not have been applied (retries reuse its request id).
 */
export class UnreachableError extends ShardKVError {
  readonly code = "Unreachable";
  constructor(readonly server: string, readonly reason: string) {
    super(`cannot reach ${server}: ${reason}`);
  }
}

/**
 * The TLS handshake with a server failed: one side refused the other's certificate, or one side
 * runs without TLS. `reason` says which certificate and why, in one line. Final: retrying with
 * the same certificates fails the same way, so clients stop at once instead of retrying until
 * their deadline. On the wire it is an UnreachableError (it is never sent: only clients make it).
 */
export class TlsHandshakeError extends UnreachableError {}

/**
 * Whether no retry can help, so clients give up at once instead of retrying until their
 * deadline: the caller's argument is wrong, a TLS setting is, or its certificate does not
 * allow the operation.
 */
export function isFinal(e: unknown): boolean {
  return e instanceof InvalidArgumentError || e instanceof TlsHandshakeError || e instanceof PermissionDeniedError;
}

/**
 * The caller aborted the operation through its AbortSignal; it stopped retrying at once.
 * Like Node's own AbortError: `name` is "AbortError" and `cause` is the signal's reason. A
 * write may or may not have been applied, as for a timeout.
 */
export class AbortError extends ShardKVError {
  readonly code = "Aborted";
  override readonly name = "AbortError";
  constructor(what: string, reason?: unknown) {
    super(`${what} was aborted`, { cause: reason });
  }
}

/** Milliseconds for people: "500 ms", "2 s", "1.5 s". */
let countFormat: Intl.NumberFormat | undefined;

/**
 * `n` with thousands separators: "2,097,152". The formatter is made on first use: making an
 * Intl.NumberFormat loads ICU's locale data, about 15 ms of CPU that every CLI start would pay
 * though only an error message needs it.
 */
export function formatCount(n: number): string {
  return (countFormat ??= new Intl.NumberFormat("en-US")).format(n);
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
