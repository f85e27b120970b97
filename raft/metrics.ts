/**
 * The Raft metrics of one daemon replica (`shardkv_raft_*`, docs/operations.md "Metrics"):
 * RaftMetrics is the RaftMetricsSink (raft/metrics-sink.ts) that raft/daemon-node.ts hands
 * its RaftNode when the daemon runs with --metrics-listen, registered on the daemon's
 * prom-client Registry (default labels gid and node).
 *
 * Cheap by construction: counters are plain numbers the driver increments and that are
 * copied into prom-client only when scraped (collect); gauges read the node when scraped;
 * the histograms a write passes through are unlabelled cells of a MetricSet
 * (common/hot-metrics.ts, on durationBucketsSeconds): an observation is a bucket search and
 * three additions, no allocation, no label set; the registry formats them at scrape time like
 * its own. The one labelled histogram, the peer round trip (prom-client's), is observed a few
 * times a second per peer.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type HistogramCell, latencyBucketsSeconds, MetricSet } from "../common/hot-metrics";
import type { NodeId } from "../common/ids";
import type { SoftState } from "./core/types";
import type { MessageDrop, ProposalFailure, RaftMetricsSink, WriteStages } from "./metrics-sink";
import type { RaftNodeStatus } from "./node";
import type { GrpcTransportStats } from "./transport/grpc-transport";

/** The buckets of the Raft histograms: every shardkv latency histogram's (common/hot-metrics.ts). */
export const durationBucketsSeconds: readonly number[] = latencyBucketsSeconds;

/** What the gauges read of the node at scrape time (RaftNode). */
export interface RaftMetricsView {
  softState(): SoftState;
  status(): RaftNodeStatus;
  pendingProposals(): number;
}

/** Transport drop reasons (GrpcTransportStats fields) as `reason` label values. */
const transportDrops = {
  queue_full: "droppedQueueFullMessages",
  oversized: "droppedOversizedMessages",
  unknown_peer: "droppedUnknownPeerMessages",
  closed: "droppedClosedMessages",
  no_receiver: "droppedNoReceiverMessages",
} as const satisfies Record<string, keyof GrpcTransportStats>;

const proposalFailures: readonly ProposalFailure[] = ["not_leader", "backpressure", "too_large", "stopped", "unknown_outcome", "refused"];
const messageDrops: readonly MessageDrop[] = ["inbound_queue_full", "snapshot_unavailable"];

type Counts = { -readonly [K in "leaderChanges" | "committed" | "applied" | "sent" | "snapSentChunks" | "snapSentBytes" | "snapRecvChunks" | "snapRecvBytes" | "snapInstalled"]: number };

export class RaftMetrics implements RaftMetricsSink {
  private view: RaftMetricsView | undefined;
  private transport: { stats(): GrpcTransportStats } | undefined;
  private readonly counts: Counts = {
    leaderChanges: 0, committed: 0, applied: 0, sent: 0, snapSentChunks: 0, snapSentBytes: 0, snapRecvChunks: 0, snapRecvBytes: 0, snapInstalled: 0,
  };
  private readonly failed = new Map<ProposalFailure, number>(proposalFailures.map((r) => [r, 0]));
  private readonly dropped = new Map<MessageDrop, number>(messageDrops.map((r) => [r, 0]));
  private readonly logSave: HistogramCell;
  private readonly applyDuration: HistogramCell;
  private readonly writeQueue: HistogramCell;
  private readonly writeLogSave: HistogramCell;
  private readonly writeReplicate: HistogramCell;
  private readonly writeApplyWait: HistogramCell;
  private readonly writeApply: HistogramCell;
  private readonly roundTrip: Histogram<"peer">;
  private readonly roundTripOf = new Map<NodeId, Histogram.Internal<"peer">>();

  constructor(registry: Registry) {
    const registers = [registry];
    const set = new MetricSet(registry);
    const histogram = (name: string, help: string): HistogramCell =>
      set.histogram({ name: `shardkv_raft_${name}`, help, labelNames: [], buckets: durationBucketsSeconds }, {});
    const gauge = (name: string, help: string, read: (v: RaftMetricsView) => number): void => {
      const self = this;
      new Gauge({
        name: `shardkv_raft_${name}`, help, registers,
        collect() {
          if (self.view) this.set(read(self.view));
        },
      });
    };
    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name: `shardkv_raft_${name}`, help, registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    const c = this.counts;
    gauge("has_leader", "1 when this replica knows a leader of its group, else 0.", (v) => (v.softState().leader !== 0 ? 1 : 0));
    gauge("is_leader", "1 when this replica is its group's leader, else 0.", (v) => (v.softState().role === "leader" ? 1 : 0));
    gauge("term", "The Raft term this replica is in.", (v) => v.softState().term);
    gauge("commit_index", "The highest log index this replica knows committed.", (v) => v.status().commit);
    gauge("applied_index", "The highest log index applied to this replica's state machine.", (v) => v.status().applied);
    gauge("proposals_pending", "Proposals on this replica waiting to be applied (queued, or in the log).", (v) => v.pendingProposals());
    counter("leader_changes_seen_total", "Times this replica learned of a leader other than the last one it knew (the first included).", () => c.leaderChanges);
    counter("proposals_committed_total", "Log entries this replica saw committed.", () => c.committed);
    counter("proposals_applied_total", "Log entries applied to this replica's state machine.", () => c.applied);
    counter("messages_sent_total", "Raft messages handed to the transport.", () => c.sent);
    counter(
      "transport_frames_sent_total",
      "MessageBatch frames (one gRPC message each, carrying one or more Raft messages) the transport wrote to its peer streams.",
      () => this.transport?.stats().sentBatches ?? 0,
    );
    counter("snapshot_sent_chunks_total", "Snapshot chunks sent to followers.", () => c.snapSentChunks);
    counter("snapshot_sent_bytes_total", "Bytes of snapshot chunks sent to followers.", () => c.snapSentBytes);
    counter("snapshot_received_chunks_total", "Snapshot chunks received from the leader.", () => c.snapRecvChunks);
    counter("snapshot_received_bytes_total", "Bytes of snapshot chunks received from the leader.", () => c.snapRecvBytes);
    counter("snapshots_installed_total", "Snapshots from the leader installed.", () => c.snapInstalled);
    const self = this;
    new Counter({
      name: "shardkv_raft_proposals_failed_total", help: "Proposals that failed, by reason (not_leader, backpressure, too_large, stopped, unknown_outcome, refused).",
      labelNames: ["reason"], registers,
      collect() {
        this.reset();
        for (const [reason, n] of self.failed) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: "shardkv_raft_messages_dropped_total",
      help: "Raft messages dropped, by reason: the driver's (inbound_queue_full, snapshot_unavailable) and the transport's (queue_full, oversized, unknown_peer, closed, no_receiver).",
      labelNames: ["reason"], registers,
      collect() {
        this.reset();
        for (const [reason, n] of self.dropped) this.inc({ reason }, n);
        const s = self.transport?.stats();
        for (const [reason, field] of Object.entries(transportDrops)) this.inc({ reason }, s ? s[field] : 0);
      },
    });
    this.logSave = histogram("log_save_duration_seconds", "Synced saves of the Raft log (append and fsync of entries, a new term or vote, a snapshot).");
    this.applyDuration = histogram("apply_duration_seconds", "Applies of a batch of committed entries to the state machine.");
    this.writeQueue = histogram("write_queue_duration_seconds", "Writes on their leader: proposed -> the log save holding the entry starts.");
    this.writeLogSave = histogram("write_log_save_duration_seconds", "Writes on their leader: the log save (append and fsync) holding the entry.");
    this.writeReplicate = histogram("write_replicate_duration_seconds", "Writes on their leader: saved locally -> committed (a quorum has it).");
    this.writeApplyWait = histogram("write_apply_wait_duration_seconds", "Writes on their leader: committed -> the apply holding the entry starts.");
    this.writeApply = histogram("write_apply_duration_seconds", "Writes on their leader: the apply of the batch holding the entry.");
    this.roundTrip = new Histogram({
      name: "shardkv_raft_peer_round_trip_time_seconds", help: "Heartbeat round trips from the leader to each peer (label peer: its replica id).",
      labelNames: ["peer"], buckets: [...durationBucketsSeconds], registers,
    });
  }

  /** Starts reading the gauges from `view` (and transport drops from `transport`) at each scrape. */
  observe(view: RaftMetricsView, transport?: { stats(): GrpcTransportStats }): void {
    this.view = view;
    this.transport = transport;
  }

  leaderChanged(): void {
    this.counts.leaderChanges++;
  }

  proposalsFailed(reason: ProposalFailure, n: number): void {
    this.failed.set(reason, (this.failed.get(reason) ?? 0) + n);
  }

  committed(n: number): void {
    this.counts.committed += n;
  }

  applied(n: number, seconds: number): void {
    this.counts.applied += n;
    this.applyDuration.observe(seconds);
  }

  logSaved(seconds: number): void {
    this.logSave.observe(seconds);
  }

  writeDone(st: Readonly<WriteStages>): void {
    this.writeQueue.observe(st.queueS);
    this.writeLogSave.observe(st.logSaveS);
    this.writeReplicate.observe(st.replicateS);
    this.writeApplyWait.observe(st.applyWaitS);
    this.writeApply.observe(st.applyS);
  }

  messagesSent(n: number): void {
    this.counts.sent += n;
  }

  messagesDropped(reason: MessageDrop, n: number): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
  }

  snapshotChunkSent(bytes: number): void {
    this.counts.snapSentChunks++;
    this.counts.snapSentBytes += bytes;
  }

  snapshotChunkReceived(bytes: number): void {
    this.counts.snapRecvChunks++;
    this.counts.snapRecvBytes += bytes;
  }

  snapshotInstalled(): void {
    this.counts.snapInstalled++;
  }

  peerRoundTrip(peer: NodeId, seconds: number): void {
    let h = this.roundTripOf.get(peer);
    if (h === undefined) this.roundTripOf.set(peer, (h = this.roundTrip.labels(String(peer))));
    h.observe(seconds);
  }
}
