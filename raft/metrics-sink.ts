/**
 * What RaftNode (the driver, raft/node.ts) reports as it runs, for metrics: an optional sink
 * handed in RaftNodeOptions. The core (raft/core) knows nothing of it; the simulator passes
 * none, so its traces do not change. raft/metrics.ts implements it with prom-client for the
 * daemons (docs/operations.md, "Metrics").
 *
 * Contract: every method is cheap and synchronous (a counter increment or one histogram
 * observation), never throws, never calls back into the node. Durations are in seconds,
 * measured on the node's Clock (env.clock).
 */
import type { NodeId } from "../common/ids";

/** Why a proposal did not make it into the state machine (label `reason`). */
export type ProposalFailure =
  /** Refused on a follower, dropped when leadership was lost, or overwritten by another leader. */
  | "not_leader"
  /** The proposal queue was full (BackpressureError). */
  | "backpressure"
  /** Over the entry size bound (LimitExceededError). */
  | "too_large"
  /** The node stopped (or its loop died) first. */
  | "stopped"
  /** Replaced by a snapshot: the outcome is unknown (TimeoutError). */
  | "unknown_outcome"
  /** The core refused the batch for another reason. */
  | "refused";

/** Why the driver dropped a Raft message (label `reason`; Raft retries all of them). */
export type MessageDrop =
  /** Inbound, beyond inboundQueueMax. */
  | "inbound_queue_full"
  /** A snapshot chunk with no snapshot data to serve it from (a fresh one is taken). */
  | "snapshot_unavailable";

/**
 * The stages of a proposed write on its leader, in seconds (TiKV's write latency breakdown);
 * they add up to the time from propose() to the result. The driver reuses one object for
 * every write (no allocation per write): read it during the writeDone call only.
 */
export interface WriteStages {
  /** propose() called -> the log save holding its entry starts (queue and group-commit wait). */
  queueS: number;
  /** That log save (append + fsync). */
  logSaveS: number;
  /** Saved locally -> seen committed (a quorum has it; the Ready carrying the commit was made). */
  replicateS: number;
  /** Seen committed -> the apply holding it starts (the rest of that Ready's persist and sends). */
  applyWaitS: number;
  /** That apply (the state machine's batch holding it). */
  applyS: number;
}

export interface RaftMetricsSink {
  /** This replica learned of a leader other than the last one it knew (the first included). */
  leaderChanged(): void;
  /** `n` proposals failed for `reason`. */
  proposalsFailed(reason: ProposalFailure, n: number): void;
  /** `n` entries were seen committed (a Ready's committed entries). */
  committed(n: number): void;
  /** `n` entries were applied to the state machine in one batch taking `seconds`. */
  applied(n: number, seconds: number): void;
  /** A synced save of the Raft log (entries, a new term or vote, a snapshot) took `seconds`. */
  logSaved(seconds: number): void;
  /** One write proposed on this leader was applied here; how long each stage took (a reused object). */
  writeDone(stages: Readonly<WriteStages>): void;
  /** Messages handed to the transport. */
  messagesSent(n: number): void;
  /** Messages dropped by the driver. */
  messagesDropped(reason: MessageDrop, n: number): void;
  /** A snapshot chunk of `bytes` was sent to a follower. */
  snapshotChunkSent(bytes: number): void;
  /** A snapshot chunk of `bytes` was received from the leader. */
  snapshotChunkReceived(bytes: number): void;
  /** A snapshot from the leader was installed. */
  snapshotInstalled(): void;
  /** A heartbeat to `peer` was answered after `seconds`. */
  peerRoundTrip(peer: NodeId, seconds: number): void;
}
