/**
 * Domain types of the Raft core. The wire form is proto/raft.proto; raft/codec.ts converts
 * between the two at the edge (the core never sees raw wire objects).
 */
import type { LogIndex, NodeId, Term } from "../../common/ids";

/** confChange: a membership change (raft/core/conf-change.ts), taking effect when applied. */
export type EntryType = "normal" | "noop" | "confChange";

/** One log entry (Raft §5.3). */
export interface Entry {
  readonly index: LogIndex;
  readonly term: Term;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before any message depending on it is sent (Raft Figure 2). */
export interface HardState {
  readonly term: Term;
  /** 0 = no vote in `term`. */
  readonly vote: NodeId;
  readonly commit: LogIndex;
}

/** Identifies a snapshot: the state machine after applying every entry up to `index`. */
export interface SnapshotMeta {
  readonly index: LogIndex;
  readonly term: Term;
  /** The configuration at `index` (raft/core/conf-change.ts ConfState); the last three are omitted when empty. */
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  readonly votersOutgoing?: readonly NodeId[];
  readonly autoLeave?: boolean;
  /** Member id -> "host:port" (ConfState.addresses); omitted when empty. */
  readonly addresses?: Readonly<Record<number, string>>;
}

export type MessageType =
  | "append"
  | "appendResp"
  | "vote"
  | "voteResp"
  | "preVote"
  | "preVoteResp"
  | "heartbeat"
  | "heartbeatResp"
  | "snapshot"
  | "snapshotResp"
  | "timeoutNow"
  | "wake";

/**
 * One message between replicas of a group. Fields by type:
 * - append: logTerm/index = the entry before `entries`, entries, commit.
 * - appendResp: index = last index matched (accept) or the rejected probe index (reject);
 *   rejectHint/rejectTerm = follower's conflict hint for fast backtracking.
 * - vote/preVote: logTerm/index = candidate's last entry; context "transfer" when the
 *   campaign follows a leadership transfer. voteResp/preVoteResp: reject.
 * - heartbeat: commit, context = ReadIndex round (may be empty). heartbeatResp echoes context.
 * - snapshot: snapshot meta, chunk number, chunkLast, chunkData (filled by the driver).
 * - snapshotResp: snapshot meta, chunk = next chunk wanted, chunkLast = installed.
 * - timeoutNow: the leader asks the transferee to campaign at once.
 * - wake: a quiesced follower asked for a leader's work (a client's request) wakes the other
 *   members (raft/core/quiesce.ts); no fields.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: Term;
  logTerm: Term;
  index: LogIndex;
  entries: Entry[];
  commit: LogIndex;
  reject: boolean;
  rejectHint: LogIndex;
  rejectTerm: Term;
  context: Uint8Array;
  snapshot?: SnapshotMeta;
  chunk: number;
  chunkLast: boolean;
  chunkData: Uint8Array;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Volatile state worth observing (not persisted). */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
  readonly term: Term;
}

/** A completed linearizable read: serve `ctx` once the state machine applied `index`. */
export interface ReadState {
  readonly ctx: Uint8Array;
  readonly index: LogIndex;
}

/** A snapshot chunk received by a follower, to hand to the state machine's restore sink. */
export interface SnapshotChunk {
  readonly meta: SnapshotMeta;
  readonly chunk: number;
  readonly last: boolean;
  readonly data: Uint8Array;
}

/**
 * What the driver must do, in this order (the Ready contract; etcd-io/raft `Ready`):
 *  1. Persist: hand `snapshotChunks` to the restore sink (in order); if `snapshot` is set,
 *     finish the restore (the state machine now reflects `snapshot.index`) and record the
 *     snapshot in the log store (dropping log entries at or below its index); then write
 *     `hardState` (if set) and `entries` (replacing any stored entries at index >=
 *     entries[0].index) in ONE synced write batch.
 *  2. Send `messages` (snapshot messages from a leader have empty chunkData: the driver fills
 *     it from the snapshot source matching `msg.snapshot`, or drops the message). A leader's
 *     messages may be sent while step 1 is in progress when `hardState` changes neither term
 *     nor vote and there is no snapshot: the leader counts its own copy of the entries only
 *     after advance() (Raft thesis §10.2.1). Anything else is sent after step 1.
 *  3. Apply `committedEntries` in order; then serve `readStates` whose index is applied.
 *  4. Call `advance(ready)`.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshotChunks: readonly SnapshotChunk[];
  readonly snapshot?: SnapshotMeta;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** Builds a message with every field defaulted; used by the core and tests. */
export function makeMessage(m: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return {
    term: 0 as Term,
    logTerm: 0 as Term,
    index: 0 as LogIndex,
    entries: [],
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    rejectTerm: 0 as Term,
    context: emptyBytes,
    chunk: 0,
    chunkLast: false,
    chunkData: emptyBytes,
    ...m,
  };
}

export const emptyBytes: Uint8Array = new Uint8Array(0);

/** Whether a message type answers another (responses never carry a new request). */
export function isResponse(t: MessageType): boolean {
  return t === "appendResp" || t === "voteResp" || t === "preVoteResp" || t === "heartbeatResp" || t === "snapshotResp";
}
