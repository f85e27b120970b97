/**
 * How a replica's messages reach its peers. Unreliable by contract: a transport may drop,
 * delay or reorder messages (Raft retries); it must never corrupt one or block the caller.
 * Implementations: grpc-transport.ts (real), test/sim network (simulated).
 */
import type { GroupId, NodeId } from "../../common/ids";
import type { Message } from "../core/types";

export interface Transport {
  /**
   * Queues messages for their `to` peers and returns at once. Batches per peer; drops (and
   * counts) when a peer's bounded queue is full.
   */
  send(messages: readonly Message[]): void;
  /** Sets the handler for messages arriving for this replica (called in arrival order per batch). */
  setReceiver(handler: (messages: Message[]) => void): void;
  /**
   * Optional. Sets the handler told when a peer's process is seen to go away: an established
   * link to it was reset or closed (after a kill -9 the peer's kernel resets its connections
   * at once). A hint, not a verdict: a link may also break with the peer alive.
   */
  setPeerDownHandler?(handler: (peer: NodeId) => void): void;
  /** Stops sending and receiving; pending messages are dropped. */
  close(): Promise<void>;
  /**
   * The liveness signal of quiescence (raft/core/quiesce.ts): false when the transport finds
   * `peer` unreachable now (its connection failed or closed and has not come back: a crashed
   * process at once, a partition after the keepalive timeout). A transport without it gives
   * RaftNode no liveness signal, and the node then never quiesces.
   */
  peerReachable?(peer: NodeId): boolean;
}

/** Counters a transport exposes for status and tests. */
export interface TransportStats {
  sentMessages: number;
  sentBatches: number;
  droppedMessages: number;
  receivedMessages: number;
}

export interface PeerAddress {
  readonly group: GroupId;
  readonly id: NodeId;
  readonly address: string;
}
