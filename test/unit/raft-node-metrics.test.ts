/**
 * What RaftNode reports to its metrics sink (raft/metrics-sink.ts) and its leader contact
 * (the Raft half of /readyz), on a single-voter group over an in-memory log whose saves and
 * applies take a fixed time on a hand-moved clock: each write's stages come out exactly, the
 * leader is counted once, commits and applies are counted, refusals are counted by reason.
 * The gauges and counters as prom-client exports them: raft/metrics.ts via RaftMetrics; its
 * allocation-free histogram cell scrapes exactly like prom-client's own Histogram.
 */
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { GroupId, LogIndex, NodeId } from "../../common/ids";
import { MetricSet } from "../../common/hot-metrics";
import { durationBucketsSeconds, RaftMetrics } from "../../raft/metrics";
import type { MessageDrop, ProposalFailure, RaftMetricsSink, WriteStages } from "../../raft/metrics-sink";
import { RaftNode } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import type { SaveBatch } from "../../raft/storage/log-store";
import { MemoryLogStore } from "../../raft/storage/memory-log-store";
import type { Transport } from "../../raft/transport/transport";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";
import { SimRng } from "../sim/rng";

const saveMs = 5;
const applyMs = 2;

class RecordingSink implements RaftMetricsSink {
  leaderChanges = 0;
  committedN = 0;
  appliedN = 0;
  logSaves: number[] = [];
  writes: WriteStages[] = [];
  failed: Partial<Record<ProposalFailure, number>> = {};
  sent = 0;
  dropped: Partial<Record<MessageDrop, number>> = {};
  leaderChanged(): void { this.leaderChanges++; }
  proposalsFailed(reason: ProposalFailure, n: number): void { this.failed[reason] = (this.failed[reason] ?? 0) + n; }
  committed(n: number): void { this.committedN += n; }
  applied(n: number): void { this.appliedN += n; }
  logSaved(seconds: number): void { this.logSaves.push(seconds); }
  writeDone(st: Readonly<WriteStages>): void { this.writes.push({ ...st }); }
  messagesSent(n: number): void { this.sent += n; }
  messagesDropped(reason: MessageDrop, n: number): void { this.dropped[reason] = (this.dropped[reason] ?? 0) + n; }
  snapshotChunkSent(): void {}
  snapshotChunkReceived(): void {}
  snapshotInstalled(): void {}
  peerRoundTrip(): void {}
}

/** A log store whose every save takes `saveMs` on `clock`. */
class SlowLogStore extends MemoryLogStore {
  constructor(private readonly clock: ManualClock) {
    super();
  }
  override async save(batch: SaveBatch): Promise<void> {
    this.clock.advance(saveMs);
    await super.save(batch);
  }
}

/** A state machine whose every apply takes `applyMs` on `clock`. */
function slowSm(clock: ManualClock): StateMachine<number> {
  let applied = 0;
  return {
    appliedIndex: () => applied as LogIndex,
    apply: async (entries) => {
      clock.advance(applyMs);
      applied = entries[entries.length - 1]!.index;
      return entries.map(() => 0);
    },
    snapshot: async () => { throw new Error("no snapshots here"); },
    restore: () => { throw new Error("no snapshots here"); },
  };
}

const transport: Transport = { send: () => {}, setReceiver: () => {}, close: async () => {} };

async function startNode(voters: NodeId[], metrics: RaftMetricsSink): Promise<{ node: RaftNode<number>; clock: ManualClock }> {
  const clock = new ManualClock();
  clock.advance(1000); // any start time
  const node = await RaftNode.start<number>(
    { group: 1 as GroupId, raft: { id: 1 as NodeId, voters }, metrics, onFatal: () => {} },
    { clock, rng: new SimRng(1), transport, storage: new SlowLogStore(clock) },
    slowSm(clock),
  );
  return { node, clock };
}

describe("RaftNode's metrics sink", () => {
  it("a single voter: one leader seen, each write's stages, commits and applies counted", async () => {
    const sink = new RecordingSink();
    const { node } = await startNode([1 as NodeId], sink);
    expect(node.leaderContactProblem()).toBe("no leader known (follower in term 0)");
    node.campaign();
    await waitFor(() => node.softState().role === "leader", { timeoutMs: 5000, what: "node 1 to lead" });
    await waitFor(() => node.status().applied >= 1, { timeoutMs: 5000, what: "the leader's noop applied" });
    expect(sink.leaderChanges).toBe(1);
    // A single voter reaches a quorum (itself).
    expect(node.leaderContactProblem()).toBeUndefined();

    const data = new Uint8Array([1]);
    await Promise.all([node.propose(data), node.propose(data), node.propose(data)]);
    expect(sink.writes).toHaveLength(3);
    for (const w of sink.writes) {
      expect(w.logSaveS).toBeCloseTo(saveMs / 1000, 9);
      expect(w.applyS).toBeCloseTo(applyMs / 1000, 9);
      for (const v of Object.values(w)) expect(v).toBeGreaterThanOrEqual(0);
    }
    expect(sink.committedN).toBeGreaterThanOrEqual(4); // the noop and the three writes
    expect(sink.appliedN).toBe(node.status().applied);
    expect(sink.logSaves.length).toBeGreaterThanOrEqual(2);
    expect(sink.logSaves.every((s) => Math.abs(s - saveMs / 1000) < 1e-9)).toBe(true);
    expect(node.pendingProposals()).toBe(0);
    expect(sink.failed).toEqual({});

    await node.stop();
    await expect(node.propose(data)).rejects.toThrow(/stopped/);
    expect(sink.failed).toEqual({ stopped: 1 });
    expect(node.leaderContactProblem()).toBe("the Raft node is stopped");
  });

  it("a follower that knows no leader: refusals counted as not_leader, nothing measured", async () => {
    const sink = new RecordingSink();
    const { node } = await startNode([1, 2, 3] as NodeId[], sink);
    await expect(node.propose(new Uint8Array([1]))).rejects.toThrow();
    expect(sink.failed).toEqual({ not_leader: 1 });
    expect(sink.writes).toEqual([]);
    expect(node.leaderContactProblem()).toBe("no leader known (follower in term 0)");
    await node.stop();
  });

  it("RaftMetrics exports the node's gauges and the counts under the contract's names", async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ gid: "1", node: "1" });
    const metrics = new RaftMetrics(registry);
    const { node } = await startNode([1 as NodeId], metrics);
    metrics.observe(node);
    node.campaign();
    await waitFor(() => node.softState().role === "leader", { timeoutMs: 5000, what: "node 1 to lead" });
    await node.propose(new Uint8Array([1]));
    const text = await registry.metrics();
    const value = (sample: string): number => {
      const line = text.split("\n").find((l) => l.startsWith(sample + " "));
      if (line === undefined) throw new Error(`no sample ${sample} in:\n${text}`);
      return Number(line.slice(sample.length + 1));
    };
    const labels = '{gid="1",node="1"}';
    expect(value(`shardkv_raft_has_leader${labels}`)).toBe(1);
    expect(value(`shardkv_raft_is_leader${labels}`)).toBe(1);
    expect(value(`shardkv_raft_term${labels}`)).toBe(node.softState().term);
    expect(value(`shardkv_raft_leader_changes_seen_total${labels}`)).toBe(1);
    expect(value(`shardkv_raft_proposals_applied_total${labels}`)).toBe(node.status().applied);
    expect(value(`shardkv_raft_applied_index${labels}`)).toBe(node.status().applied);
    expect(value(`shardkv_raft_proposals_pending${labels}`)).toBe(0);
    expect(value(`shardkv_raft_log_save_duration_seconds_count${labels}`)).toBeGreaterThanOrEqual(2);
    expect(value(`shardkv_raft_log_save_duration_seconds_bucket{le="0.005",gid="1",node="1"}`)).toBe(value(`shardkv_raft_log_save_duration_seconds_count${labels}`));
    for (const stage of ["queue", "log_save", "replicate", "apply_wait", "apply"]) {
      expect(value(`shardkv_raft_write_${stage}_duration_seconds_count${labels}`), stage).toBe(1);
    }
    expect(value(`shardkv_raft_write_log_save_duration_seconds_sum${labels}`)).toBeCloseTo(saveMs / 1000, 9);
    expect(value(`shardkv_raft_proposals_failed_total{reason="not_leader",gid="1",node="1"}`)).toBe(0);
    expect(value(`shardkv_raft_messages_dropped_total{reason="inbound_queue_full",gid="1",node="1"}`)).toBe(0);
    await node.stop();
  });

  it("an unlabelled histogram cell (the write stages') scrapes exactly like prom-client's Histogram given the same observations", async () => {
    const mine = new Registry();
    const theirs = new Registry();
    for (const r of [mine, theirs]) r.setDefaultLabels({ gid: "2", node: "3" });
    const a = new MetricSet(mine).histogram({ name: "shardkv_test_seconds", help: "Test.", labelNames: [], buckets: durationBucketsSeconds }, {});
    const b = new Histogram({ name: "shardkv_test_seconds", help: "Test.", buckets: [...durationBucketsSeconds], registers: [theirs] });
    for (const v of [0, 0.0001, 0.00011, 0.003, 0.005, 0.7, 10, 11, 250]) {
      a.observe(v);
      b.observe(v);
    }
    expect(await mine.metrics()).toBe(await theirs.metrics());
    expect(await mine.metrics()).toContain('shardkv_test_seconds_bucket{le="0.0001",gid="2",node="3"} 2');
  });
});
