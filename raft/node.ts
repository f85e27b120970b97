/**
 * RaftNode drives one RawNode with an Env: it persists each Ready in one synced batch, then
 * sends its messages, then applies committed entries to the state machine, then advances
 * (the Ready contract in raft/core/types.ts). It is what the controller and the shard servers
 * embed, and what the simulator runs under virtual time.
 *
 * Handlers enqueue, the loop decides: propose/read/messages/ticks go into bounded
 * queues; one loop per node drains them. Proposals and reads that arrive while a Ready is
 * being persisted are batched into the next one (group commit).
 */
import { byteKey } from "../common/bytes";
import { assert } from "../common/assert";
import { buggify, buggifyAmount, buggifyInt } from "../common/buggify";
import { sleepUnlessAborted } from "../common/call-options";
import type { Clock, Cancel, Logger, Rng } from "../common/env";
import { silentLogger } from "../common/env";
import { BackpressureError, InvalidArgumentError, NotLeaderError, StoppedError, TimeoutError } from "../common/errors";
import type { GroupId, LogIndex, NodeId, Term } from "../common/ids";
import { LimitExceededError } from "../common/limits";
import { makeRaftConfig, type RaftConfig, type RaftConfigInput } from "./core/config";
import { describeMessage } from "./core/describe";
import { members, type ConfChange, type ConfState } from "./core/conf-change";
import { RawNode } from "./core/raw-node";
import type { Entry, HardState, Message, Ready, SoftState } from "./core/types";
import type { ProposalFailure, RaftMetricsSink, WriteStages } from "./metrics-sink";
import type { LogState, LogStore } from "./storage/log-store";
import { type SnapshotSink, type SnapshotSource, SnapshotRewindError, type StateMachine } from "./state-machine";
import type { Transport } from "./transport/transport";

/**
 * RaftNode.start was given replicas other than the members of the configuration its Raft
 * state holds (`stored`, sorted): starting would change the replica's quorum behind the
 * group's back (two leaders in one term become possible). Nothing was written.
 */
export class VoterSetMismatchError extends InvalidArgumentError {
  constructor(readonly stored: readonly NodeId[], readonly given: readonly NodeId[]) {
    super("voters", `the Raft state records members {${stored.join(",")}}, but the node was started with {${given.join(",")}}`);
  }
}

/**
 * RaftNode.start was asked to join an existing group on a log store that already holds a
 * group it did not join (bootstrapped, or of an earlier version). Nothing was written.
 */
export class JoinNonEmptyError extends InvalidArgumentError {
  constructor(readonly stored: readonly NodeId[]) {
    super("join", `the Raft state already holds a group${stored.length > 0 ? ` (bootstrapped with replicas {${stored.join(",")}})` : ""}; ` +
      "a replica joins only with an empty one");
  }
}

const sortedIds = (ids: Iterable<NodeId>): NodeId[] => [...ids].sort((a, b) => a - b);

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  const x = sortedIds(a);
  const y = sortedIds(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Whether a log store holds anything of a group (a replica may join only with an empty one). */
function holdsGroup(state: LogState): boolean {
  return state.voters !== undefined || state.snapshot.index > 0 || state.entries.length > 0 || state.hardState.term > 0;
}

/**
 * Records what a replica starting on `state` bootstraps with, when nothing is recorded yet:
 * `voters` with their addresses (a new group), or nothing but the fact that it joined
 * (`join`: no configuration until the leader's log or snapshot brings it). A store of an
 * earlier version (no record) adopts `voters` if its latest snapshot agrees. Refuses, with
 * nothing written, a join on a store holding a group it did not join (JoinNonEmptyError),
 * and voters a snapshot disagrees with (VoterSetMismatchError).
 */
async function recordBootstrap(
  storage: LogStore, state: LogState, o: { voters: readonly NodeId[]; addresses?: Readonly<Record<number, string>>; join: boolean },
): Promise<LogState> {
  if (state.voters !== undefined) {
    // A replica that joined restarts with or without `join` (its configuration, once learned, is stored).
    if (o.join && state.joined !== true) throw new JoinNonEmptyError(state.voters);
    return state;
  }
  if (o.join) {
    if (holdsGroup(state)) throw new JoinNonEmptyError(state.snapshot.voters);
    await storage.save({ entries: [], voters: [], joined: true });
    return { ...state, voters: [], joined: true };
  }
  const given = sortedIds(o.voters);
  if (state.snapshot.index > 0 && state.snapshot.voters.length > 0 && !sameIds(state.snapshot.voters, given)) {
    throw new VoterSetMismatchError(sortedIds(state.snapshot.voters), given);
  }
  const addresses = o.addresses !== undefined && Object.keys(o.addresses).length > 0 ? { ...o.addresses } : undefined;
  await storage.save({ entries: [], voters: given, ...(addresses ? { bootstrapAddresses: addresses } : {}) });
  return { ...state, voters: given, ...(addresses ? { bootstrapAddresses: addresses } : {}) };
}

/** Snapshots kept servable at once (each may pin resources, e.g. a RocksDB snapshot). */
export const snapshotSourcesMax = 3;

export interface RaftNodeEnv {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly transport: Transport;
  readonly storage: LogStore;
  readonly logger?: Logger;
}

export interface RaftNodeOptions {
  readonly group: GroupId;
  /**
   * `voters` (with `addresses`) bootstrap an empty store; on a store that holds a group they
   * must name the members of its configuration (or be empty: no check).
   */
  readonly raft: Omit<RaftConfigInput, "rng">;
  /**
   * Join an existing group: the store must be empty, nothing is bootstrapped, and the
   * configuration comes from the leader's log or snapshot (docs/design.md#3-raft, joining).
   * A restart of a replica that joined passes it again. Default false.
   */
  readonly join?: boolean;
  /** Called with the configuration in effect at start and each time an applied change alters it. */
  readonly onConfState?: (conf: ConfState, index: LogIndex) => void;
  /** Milliseconds per Raft tick. Default 100 (election timeout 1-2 s with 10 ticks). */
  readonly tickMs?: number;
  /**
   * A leader's append that carries nothing but a new commit index to a follower it has sent
   * its whole log (the core's broadcast after each commit) is held up to this long and dropped
   * when another append to that follower goes out first: that one carries the commit too. At
   * one write in flight the next write's append follows within a round trip, so the commit
   * rides on it instead of costing two more messages, a follower Ready and its log write per
   * write; at many clients a batch commits while the next batch's append is already out, and
   * the batch after carries the commit. Only followers learn commit later, and at most this much (0: never held). Default
   * 20 ms, at most tickMs.
   */
  readonly commitHoldMs?: number;
  /** Take a snapshot and compact the log every this many applied entries. Default 10000. */
  readonly snapshotEveryEntries?: number;
  /**
   * ... or once the entries applied since the last snapshot hold this many bytes of data
   * (large values: the log, which a restart loads whole, stays small). Default 64 MiB.
   */
  readonly snapshotEveryBytes?: number;
  /**
   * Entries kept in the log below a snapshot, for followers that lag a little. Default 1000,
   * and never more than a quarter of snapshotEveryBytes of data.
   */
  readonly compactKeepEntries?: number;
  /** Proposals waiting for the loop. Default 10000. */
  readonly proposalQueueMax?: number;
  /** Inbound messages waiting for the loop (beyond it they are dropped; Raft retries). Default 65536. */
  readonly inboundQueueMax?: number;
  /**
   * Called with each Ready before it is carried out (simulator tracing and checkers). The
   * first call may come before RaftNode.start() has returned: do not use the node in it.
   */
  readonly onReady?: (rd: Ready) => void;
  /** Called after entries were applied. */
  readonly onApplied?: (entries: readonly Entry[]) => void;
  /**
   * Where the driver reports what it does, for metrics (raft/metrics-sink.ts; the daemons pass
   * raft/metrics.ts's RaftMetrics). Default none: nothing is measured, no clock is read for it.
   */
  readonly metrics?: RaftMetricsSink;
  /**
   * Called when the loop dies (storage or state machine error, broken invariant). Default:
   * rethrow, which crashes the process so it restarts from disk (assertions are bugs).
   */
  readonly onFatal?: (e: Error) => void;
}

/**
 * What RaftNode.handOffLeadership did: `transferred` (this replica stepped down and `to` leads
 * term `term`); `steppedDown` (this replica stepped down for term `term` and heard of no
 * leader of it within an election timeout: its vote went out, the group is electing one,
 * e.g. the target stopped too); `notLeader` (nothing to
 * do: `leader` leads, 0 when unknown); `noVoter` (no
 * other voter was heard from within an election timeout: nobody to hand leadership to);
 * `failed` (no new leader is followed: this replica still leads, stepped down without
 * hearing of a new leader, or stopped; `reason` says which. The core gives a transfer up
 * when its target did not take over within an election timeout).
 */
export type LeadershipHandOff =
  | { readonly kind: "transferred"; readonly to: NodeId; readonly term: Term }
  | { readonly kind: "steppedDown"; readonly term: Term }
  | { readonly kind: "notLeader"; readonly leader: NodeId; readonly term: Term }
  | { readonly kind: "noVoter"; readonly term: Term }
  | { readonly kind: "failed"; readonly to: NodeId; readonly term: Term; readonly reason: string };

/** A handOffLeadership call waiting for its outcome. */
interface PendingHandOff {
  readonly to: NodeId;
  done(r: LeadershipHandOff): void;
  /** This replica stepped down for `term` and knows no leader yet: wait for it an election timeout at most. */
  steppedDown(term: Term): void;
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

/** A PendingProposal time not measured (clock times are >= 0). */
const unmeasured = -1;

interface PendingProposal<R> extends Waiter<R> {
  data: Uint8Array;
  index?: LogIndex;
  term?: Term;
  /**
   * With a metrics sink: clock times (ms) of propose() and of the start and end of the log
   * save holding the entry (`unmeasured`: not measured), for the write stages (WriteStages).
   */
  proposedAtMs: number;
  saveStartMs: number;
  saveEndMs: number;
}

export interface RaftNodeStatus {
  group: GroupId;
  id: NodeId;
  role: SoftState["role"];
  term: Term;
  leader: NodeId;
  commit: LogIndex;
  applied: LogIndex;
  lastIndex: LogIndex;
  firstIndex: LogIndex;
  snapshotIndex: LogIndex;
  progress: Record<number, string>;
}

/**
 * What a replica knows of its Raft log, for Status (raft/replica-status.ts). Cheap: the log is
 * in memory (its bytes are summed over at most snapshotEveryEntries plus compactKeepEntries
 * entries).
 */
export interface RaftLogStatus {
  /**
   * The highest commit index heard from any leader (append and heartbeat messages), or this
   * replica's own commit index if higher (always, on the leader). A commit index never goes
   * back, so this is a true lower bound of the group's commit index, whichever leader sent it.
   */
  readonly leaderCommit: LogIndex;
  readonly firstIndex: LogIndex;
  readonly lastIndex: LogIndex;
  /** Entries in the log: lastIndex - firstIndex + 1. */
  readonly entries: number;
  /** Data bytes of those entries. */
  readonly bytes: number;
  readonly snapshotIndex: LogIndex;
  /**
   * Size of the last snapshot this replica took (as its state machine's SnapshotSource.bytes
   * tells it) or installed (bytes received); 0 when not known: none since the start.
   */
  readonly snapshotBytes: number;
}

/**
 * A member's part in the configuration as this replica knows it: `leader` (the leader it
 * follows, or itself), `follower` (another voter) or `learner`; `joint` tells, while the configuration is joint, which half a voter is in.
 */
export interface MemberStatus {
  readonly id: NodeId;
  /** Where it serves, as the configuration records it ("" when it records none). */
  readonly address: string;
  readonly role: "leader" | "follower" | "learner";
  readonly joint?: "incoming" | "outgoing" | "both";
  /** On the leader: the member's match index and how far it is behind the leader's last index. */
  readonly match?: LogIndex;
  readonly lag?: number;
  /** On the leader: heard from within the last election timeout (itself: always). */
  readonly recentlyActive?: boolean;
}

/**
 * `out` with one accepting append response per leader and term: a follower that stepped
 * several appends in one Ready (the leader's pipeline runs ahead of the follower's loop)
 * answers each, but the leader takes the highest index of them all (Progress.maybeUpdate
 * keeps the maximum, and its window frees every append up to that index), so the lower ones
 * say nothing once the highest is sent. The highest takes the place of the last of them.
 * Rejections and every other message are kept; dropping a response is a loss Raft tolerates.
 */
export function coalesceAppendResps(out: readonly Message[]): readonly Message[] {
  let accepts = 0;
  for (const m of out) if (m.type === "appendResp" && !m.reject) accepts++;
  if (accepts < 2) return out;
  /** The highest accept per recipient and term, and the position of the last accept. */
  const best = new Map<string, { m: Message; last: number }>();
  out.forEach((m, i) => {
    if (m.type !== "appendResp" || m.reject) return;
    const k = `${m.to}/${m.term}`;
    const b = best.get(k);
    best.set(k, { m: b === undefined || m.index >= b.m.index ? m : b.m, last: i });
  });
  if (best.size === accepts) return out;
  return out.filter((m, i) => m.type !== "appendResp" || m.reject || best.get(`${m.to}/${m.term}`)!.last === i)
    .map((m) => (m.type === "appendResp" && !m.reject ? best.get(`${m.to}/${m.term}`)!.m : m));
}

export class RaftNode<R = unknown> {
  private readonly raw: RawNode;
  private readonly cfg: RaftConfig;
  private readonly logger: Logger;
  private readonly tickMs: number;
  private readonly commitHoldMs: number;
  /** Commit-only appends held back, by follower (see RaftNodeOptions.commitHoldMs). */
  private readonly heldCommits = new Map<NodeId, Message>();
  /** Cancels the timer that sends heldCommits; set while any is held. */
  private cancelHeldCommits: Cancel | undefined;
  private readonly snapshotEvery: number;
  private readonly snapshotEveryBytes: number;
  /** Data bytes of the entries applied since the last snapshot. */
  private bytesSinceSnapshot = 0;
  /** Data sizes of the applied entries still in the log (trimmed at each compaction). */
  private appliedSizes: { index: LogIndex; bytes: number }[] = [];
  private readonly compactKeep: number;
  private readonly proposalQueueMax: number;
  private readonly inboundQueueMax: number;

  private inbound: Message[] = [];
  private proposals: PendingProposal<R>[] = [];
  private reads: Waiter<void>[] = [];
  private pendingTicks = 0;
  private running = false;
  /** Depth of `pass` calls running now: while above 0, propose and readBarrier leave the kick to the outermost. */
  private passDepth = 0;
  /** A proposal or read arrived inside a `pass`: kick when it ends. */
  private passKick = false;
  private stopped = false;
  private tickTimer: Cancel | null = null;
  private idle: Promise<void> = Promise.resolve();

  /** Proposals in the log, waiting to be applied, by index. */
  private readonly inLog = new Map<number, PendingProposal<R>>();
  /** ReadIndex rounds started and not yet confirmed, by ctx. */
  private readonly readRounds = new Map<string, Waiter<void>[]>();
  /** Confirmed reads waiting for the apply point. */
  private readyReads: { index: LogIndex; waiters: Waiter<void>[] }[] = [];
  private readSeq = 0;
  /** `ticks` when the last ReadIndex round started. */
  private readRoundTick = 0;
  /** Confirmed reads are not released before this clock time (BUGGIFY raft.read.late). */
  private readsHeldUntilMs = -Infinity;
  /** Aborted when the node halts (wakes the loop's BUGGIFY pauses). */
  private readonly halted = new AbortController();
  private soft: SoftState;
  private applied: LogIndex;
  private lastSnapshotIndex: LogIndex;
  /**
   * Snapshots this replica can serve to followers, oldest first. A transfer keeps the snapshot
   * it started with (raft/core), so a few recent ones are kept, not only the latest.
   */
  private sources: { src: SnapshotSource; usedAtTick: number }[] = [];
  /** Ticks fed to the core so far (the clock of snapshot source eviction). */
  private ticks = 0;
  private snapshotWanted = false;
  private sink: SnapshotSink | null = null;
  /** The hard state last saved (term and vote decide whether a save must be synced). */
  private hard: HardState;
  /** A commit-only hard state not written yet: it goes with the next save (see handleReady). */
  private unsavedHard: HardState | undefined;
  /** The tick count at the last write of a hard state. */
  private hardSavedAtTick = -1;
  private failure: Error | null = null;
  /** The tick count when a message from each peer was last stepped (recentlyActive). */
  private readonly heardAtTick = new Map<NodeId, number>();
  /** confIndex() when onConfState was last called. */
  private lastConfIndex = 0 as LogIndex;
  /** The metrics sink (opts.metrics), or undefined: then nothing below is measured. */
  private readonly metrics: RaftMetricsSink | undefined;
  /** The last leader this replica knew of (0: none yet), for leader changes seen. */
  private lastLeader = 0 as NodeId;
  /** With metrics: clock time (ms) the Ready being carried out was made (its commits seen). */
  private readyAtMs = 0;
  /** With metrics: clock time (ms) of the oldest unanswered heartbeat to each peer. */
  private readonly heartbeatSentAtMs = new Map<NodeId, number>();
  /** With metrics: the one WriteStages object handed to the sink for every write. */
  private readonly stages: WriteStages = { queueS: 0, logSaveS: 0, replicateS: 0, applyWaitS: 0, applyS: 0 };
  /** The highest commit index a leader's message carried (RaftLogStatus.leaderCommit). */
  private leaderCommitSeen = 0 as LogIndex;
  /** Size of the last snapshot taken or installed (RaftLogStatus.snapshotBytes). */
  private snapshotBytes = 0;
  /** Bytes of the snapshot being received. */
  private sinkBytes = 0;
  /** handOffLeadership calls waiting for this replica to step down. */
  private readonly handOffs = new Set<PendingHandOff>();
  /** The term of the last TimeoutNow this replica was sent (a transfer to it); -1: none. */
  private timeoutNowTerm = -1;
  /** How this replica became the leader of its current term (undefined while it is not the leader). */
  private electedBy: "transfer" | "election" | undefined;

  private constructor(
    private readonly opts: RaftNodeOptions,
    private readonly env: RaftNodeEnv,
    private readonly sm: StateMachine<R>,
    raw: RawNode,
    cfg: RaftConfig,
    applied: LogIndex,
    snapshotIndex: LogIndex,
    hard: HardState,
  ) {
    this.raw = raw;
    this.cfg = cfg;
    this.logger = env.logger ?? silentLogger;
    this.tickMs = opts.tickMs ?? 100;
    this.commitHoldMs = Math.min(opts.commitHoldMs ?? 20, this.tickMs);
    this.snapshotEvery = opts.snapshotEveryEntries ?? 10000;
    this.snapshotEveryBytes = opts.snapshotEveryBytes ?? 64 * 1024 * 1024;
    this.compactKeep = opts.compactKeepEntries ?? 1000;
    this.proposalQueueMax = opts.proposalQueueMax ?? 10000;
    this.inboundQueueMax = opts.inboundQueueMax ?? 65536;
    this.soft = raw.softState();
    this.metrics = opts.metrics;
    this.hard = hard;
    this.applied = applied;
    this.lastSnapshotIndex = snapshotIndex;
  }

  /**
   * Loads the log store, checks the voters against the ones it records (recording them when
   * it has none; VoterSetMismatchError, with nothing written, when they differ), builds the
   * RawNode at the state machine's applied index, starts ticking.
   */
  static async start<R>(opts: RaftNodeOptions, env: RaftNodeEnv, sm: StateMachine<R>): Promise<RaftNode<R>> {
    // Quiescence needs the transport's liveness signal (raft/core/quiesce.ts): without one, never.
    const given = makeRaftConfig({ ...opts.raft, rng: env.rng, ...(env.transport.peerReachable === undefined ? { quiesce: false } : {}) });
    let state = await recordBootstrap(env.storage, await env.storage.load(), { voters: given.voters, addresses: given.addresses, join: opts.join === true });
    // The bootstrap configuration is the recorded one, never the flags of a later start.
    const cfg: RaftConfig = { ...given, voters: state.voters ?? [], addresses: state.bootstrapAddresses };
    const applied = sm.appliedIndex();
    if (state.pendingSnapshot) {
      // A crash interrupted a snapshot install between the state machine's restore and the
      // log save recording it. The restore is atomic: the state machine either has the whole
      // snapshot (complete the install) or none of it (forget the marker; the leader resends).
      const p = state.pendingSnapshot;
      if (applied >= p.index) await env.storage.save({ entries: [], installSnapshot: p });
      else await env.storage.save({ entries: [], pendingSnapshot: null });
      state = await env.storage.load();
    }
    const raw = new RawNode(cfg, {
      hardState: state.hardState,
      snapshot: state.snapshot,
      compacted: state.compacted,
      entries: state.entries,
      applied,
    });
    const conf = raw.confState();
    if (given.voters.length > 0 && conf.voters.length > 0 && !sameIds(members(conf), given.voters)) {
      throw new VoterSetMismatchError(members(conf), sortedIds(given.voters));
    }
    const node = new RaftNode<R>(opts, env, sm, raw, cfg, raw.status().applied, state.snapshot.index, state.hardState);
    node.lastConfIndex = raw.confIndex();
    opts.onConfState?.(conf, raw.confIndex());
    env.transport.setReceiver((msgs) => node.receive(msgs));
    env.transport.setPeerDownHandler?.((peer) => node.peerDown(peer));
    node.scheduleTick();
    node.kick();
    return node;
  }

  get id(): NodeId {
    return this.cfg.id;
  }

  /** Inbound messages from the transport. */
  receive(msgs: Message[]): void {
    if (this.stopped || buggify("raft.inbound.drop")) return;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (m.to !== this.cfg.id) continue;
      if (this.inbound.length >= this.inboundQueueMax) {
        this.metrics?.messagesDropped("inbound_queue_full", msgs.length - i);
        break;
      }
      if (this.metrics && m.type === "heartbeatResp") this.heartbeatAnswered(m.from);
      this.inbound.push(m);
    }
    this.kick();
  }

  /**
   * Proposes a command; resolves with the state machine's result once it is applied here.
   * Rejects with NotLeaderError (with a leader hint) on a follower, BackpressureError when
   * the queue is full, LimitExceededError for data over the entry bound (checked here too, so
   * it never fails the other proposals the core takes in the same call), TimeoutError when
   * the outcome became unknown (the entry may have committed: retry with the same request id
   * so it executes at most once).
   */
  propose(data: Uint8Array): Promise<R> {
    if (this.stopped) return this.refuse("stopped", new StoppedError("raft node"));
    if (this.failure) return this.refuse("stopped", this.failure);
    if (data.length > this.cfg.entryBytesMax) return this.refuse("too_large", new LimitExceededError("entry", "the log entry", data.length, this.cfg.entryBytesMax));
    if (this.soft.role !== "leader") {
      this.wakeGroup();
      return this.refuse("not_leader", new NotLeaderError(this.soft.leader));
    }
    if (this.proposals.length >= this.proposalQueueMax) {
      return this.refuse("backpressure", new BackpressureError("proposalQueueMax", this.proposalQueueMax, this.proposals.length + 1));
    }
    const proposedAtMs = this.metrics ? this.env.clock.nowMs() : unmeasured;
    return new Promise<R>((resolve, reject) => {
      this.proposals.push({ data, resolve, reject, proposedAtMs, saveStartMs: unmeasured, saveEndMs: unmeasured });
      this.kickAfterPass();
    });
  }

  /** A proposal refused before it was queued: counted, then rejected with `e`. */
  private refuse(reason: ProposalFailure, e: Error): Promise<never> {
    this.metrics?.proposalsFailed(reason, 1);
    return Promise.reject(e);
  }

  /**
   * Resolves once the state machine reflects every write committed before the call
   * (ReadIndex, Raft thesis §6.4): a linearizable read may then read local state. Reads that
   * arrive in the same turn, or while the previous round is in flight, share one heartbeat
   * round (one round in flight at a time).
   */
  readBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(new StoppedError("raft node"));
    if (this.failure) return Promise.reject(this.failure);
    if (this.soft.role !== "leader") {
      this.wakeGroup();
      return Promise.reject(new NotLeaderError(this.soft.leader));
    }
    return new Promise<void>((resolve, reject) => {
      this.reads.push({ resolve, reject });
      this.kickAfterPass();
    });
  }

  /**
   * Runs `fn` (synchronous) and returns what it returns; the proposals and reads it makes
   * reach the core together, in one Ready (one log save, one append per follower) and one
   * ReadIndex round, as the loop is kicked when `fn` ends instead of at the first of them.
   * The shard servers run each client Batch message's requests in one pass
   * (shard-server/batch-stream.ts): kicked at the first, an idle loop took it alone into a
   * Ready or a round of its own, and the rest waited for the next (one round in flight at a
   * time); with several groups per machine each leader's loop is idle more often between
   * messages, so this split cost most there (docs/benchmarks.md, "Issue 20: where the CPU of
   * three groups goes"). No wait is added: the kick happens before `pass` returns.
   */
  pass<T>(fn: () => T): T {
    this.passDepth++;
    try {
      return fn();
    } finally {
      if (--this.passDepth === 0 && this.passKick) {
        this.passKick = false;
        this.kick();
      }
    }
  }

  /** Asks the leader to hand leadership to `to`. */
  transferLeader(to: NodeId): void {
    this.withRaw(() => this.raw.transferLeader(to));
  }

  /**
   * Hands leadership to the most caught-up voter heard from within the last election timeout
   * (Raft thesis §3.10: the target is brought up to date, then told to campaign at once, so
   * the group changes leader in one round trip instead of waiting out an election timeout),
   * and resolves once this replica follows the new leader, or with `failed` after `timeoutMs`
   * or when the core gave the transfer up. Proposals are refused (LeadershipTransferError)
   * while the transfer runs. Called by a daemon's graceful stop (before it stops Raft) and by
   * the TransferLeader RPC (`shardctl handoff`, a Kubernetes preStop hook).
   */
  handOffLeadership(timeoutMs: number): Promise<LeadershipHandOff> {
    if (this.stopped) return Promise.reject(new StoppedError("raft node"));
    return new Promise<LeadershipHandOff>((resolve, reject) => {
      let to = 0 as NodeId;
      let cancel: Cancel = () => {};
      let stepped = false;
      const h: PendingHandOff = {
        get to() {
          return to;
        },
        done: (r) => {
          cancel();
          this.handOffs.delete(h);
          resolve(r);
        },
        steppedDown: (term) => {
          if (stepped) return;
          stepped = true;
          cancel();
          cancel = this.env.clock.after(Math.min(timeoutMs, this.cfg.electionTicks * this.tickMs), () => h.done({ kind: "steppedDown", term }));
        },
      };
      // Registered now, so that a halt before the loop runs the action below settles it too.
      this.handOffs.add(h);
      this.withRaw(() => {
        if (!this.handOffs.has(h)) return;
        const s = this.raw.softState();
        if (s.role !== "leader") return h.done({ kind: "notLeader", leader: s.leader, term: s.term });
        const target = this.handOffTarget();
        if (target === undefined) return h.done({ kind: "noVoter", term: s.term });
        try {
          this.raw.transferLeader(target);
        } catch (e) {
          this.handOffs.delete(h);
          return reject(e as Error);
        }
        to = target;
        cancel = this.env.clock.after(timeoutMs, () => {
          const now = this.raw.softState();
          h.done({
            kind: "failed", to, term: now.term,
            reason: now.role === "leader" ? `replica ${to} did not take over within ${timeoutMs} ms` : `stepped down, but no new leader was heard of within ${timeoutMs} ms`,
          });
        });
      });
    });
  }

  /** The voter a hand-off goes to: the most caught-up one heard from recently (ties: lowest id). */
  private handOffTarget(): NodeId | undefined {
    const match = this.raw.matchIndexes();
    let best: NodeId | undefined;
    for (const id of this.raw.confState().voters) {
      if (id === this.cfg.id || !this.recentlyActive(id)) continue;
      if (best === undefined || (match.get(id) ?? 0) > (match.get(best) ?? 0)) best = id;
    }
    return best;
  }

  /** Settles the waiting hand-offs the core gave up (still the leader, no transfer in progress). */
  private settleAbortedHandOffs(): void {
    if (this.handOffs.size === 0) return;
    const s = this.raw.softState();
    if (s.role !== "leader" || this.raw.transferee() !== 0) return;
    for (const h of [...this.handOffs]) {
      if (h.to === 0) continue; // its action has not run yet
      h.done({ kind: "failed", to: h.to, term: s.term, reason: `replica ${h.to} did not take over within an election timeout` });
    }
  }

  /**
   * Settles the waiting hand-offs once this replica stepped down: called with the soft state
   * of a Ready whose messages (the vote for the new leader among them) were sent.
   */
  private settleSteppedDown(ss: SoftState): void {
    if (this.handOffs.size === 0 || ss.role === "leader") return;
    for (const h of [...this.handOffs]) {
      if (h.to === 0) continue;
      if (ss.leader !== 0 && ss.leader !== this.cfg.id) h.done({ kind: "transferred", to: ss.leader, term: ss.term });
      else h.steppedDown(ss.term);
    }
  }

  /**
   * How this replica became the leader of its term: `transfer` (a leader handed leadership to
   * it with TimeoutNow) or `election` (its own election timeout, or campaign()); undefined
   * while it is not the leader.
   */
  leaderElectedBy(): "transfer" | "election" | undefined {
    return this.electedBy;
  }

  /**
   * Proposes a membership change (raft/core/conf-change.ts): resolves with its log index once
   * appended (the change takes effect when that entry is applied), or rejects with the core's
   * typed error (NotLeader, ConfChangeInProgress, LearnerLagging, InvalidArgument, ...).
   */
  proposeConfChange(cc: ConfChange): Promise<LogIndex> {
    if (this.stopped) return Promise.reject(new StoppedError("raft node"));
    return new Promise<LogIndex>((resolve, reject) => {
      this.withRaw(() => {
        try {
          resolve(this.raw.proposeConfChange(cc));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }

  /** The configuration this replica has applied. */
  confState(): ConfState {
    return this.raw.confState();
  }

  /** The index from which confState() holds. */
  confIndex(): LogIndex {
    return this.raw.confIndex();
  }

  /**
   * Every member of the configuration in effect, by ascending id, with what this replica
   * knows of it: the leader knows each one's match index, lag and recent activity.
   */
  memberStatuses(): MemberStatus[] {
    const conf = this.raw.confState();
    const leading = this.soft.role === "leader";
    const match = this.raw.matchIndexes();
    const last = this.raw.status().lastIndex;
    return members(conf).map((id) => {
      const inVoters = conf.voters.includes(id);
      const inOutgoing = conf.votersOutgoing.includes(id);
      const joint = conf.votersOutgoing.length === 0 || (!inVoters && !inOutgoing) ? undefined
        : inVoters && inOutgoing ? "both" as const : inVoters ? "incoming" as const : "outgoing" as const;
      const m = match.get(id);
      return {
        id, address: conf.addresses?.[id] ?? "",
        role: id === this.soft.leader ? "leader" as const : inVoters || inOutgoing ? "follower" as const : "learner" as const,
        ...(joint ? { joint } : {}),
        ...(leading && m !== undefined ? { match: m, lag: Math.max(0, last - m), recentlyActive: this.recentlyActive(id) } : {}),
      };
    });
  }

  /**
   * Whether this replica heard from `id` within the last election timeout (itself: always),
   * or, while the group is quiesced (nobody sends anything), whether the transport reaches it.
   */
  recentlyActive(id: NodeId): boolean {
    if (id === this.cfg.id) return true;
    const at = this.heardAtTick.get(id);
    if (at !== undefined && this.ticks - at <= this.cfg.electionTicks) return true;
    return this.raw.isQuiesced() && this.env.transport.peerReachable?.(id) === true;
  }

  /**
   * Why this replica cannot count on a leader it reaches, or undefined when it can (the Raft
   * half of readiness, docs/operations.md "Health and readiness"): a follower or learner must
   * have heard from the leader it follows within the last election timeout; a leader must
   * have heard, within it, from a quorum of the voters (itself included; in a joint
   * configuration a quorum of each half), which is what CheckQuorum asks of it.
   */
  leaderContactProblem(): string | undefined {
    if (this.stopped) return "the Raft node is stopped";
    const { role, leader, term } = this.soft;
    const timeoutMs = this.cfg.electionTicks * this.tickMs;
    if (leader === 0) return `no leader known (${role} in term ${term})`;
    if (role !== "leader") {
      if (this.recentlyActive(leader)) return undefined;
      const at = this.heardAtTick.get(leader);
      return at === undefined ? `leader ${leader} (term ${term}) not heard from yet`
        : `leader ${leader} (term ${term}) not heard from for ${(this.ticks - at) * this.tickMs} ms (election timeout ${timeoutMs} ms)`;
    }
    const conf = this.raw.confState();
    for (const half of [conf.voters, conf.votersOutgoing]) {
      if (half.length === 0) continue;
      const heard = half.filter((id) => this.recentlyActive(id)).length;
      if (heard * 2 <= half.length) return `leader (term ${term}) heard from ${heard} of ${half.length} voters within the election timeout (${timeoutMs} ms), no quorum`;
    }
    return undefined;
  }

  /**
   * The transport saw `peer`'s connection end (a kill -9 resets it at once): if it is the
   * leader, this follower campaigns within a few ticks instead of an election timeout
   * (Raft.leaderUnreachable; a PreVote, harmless when the leader is alive after all).
   */
  peerDown(peer: NodeId): void {
    this.withRaw(() => this.raw.leaderUnreachable(peer));
  }

  /**
   * A client asked this replica for a leader's work (its request is refused NotLeader here):
   * if the group is quiesced on this replica, it wakes and wakes the other members
   * (Raft.wakeGroup), so a leader cut off silently is replaced after an election timeout
   * instead of after the transport's keepalive. Cheap when awake (nothing is queued).
   */
  wakeGroup(): void {
    if (this.stopped || !this.raw.isQuiesced()) return;
    this.withRaw(() => this.raw.wakeGroup());
  }

  /** Forces an election on this replica now (operator action, tests). */
  campaign(): void {
    this.withRaw(() => this.raw.campaign());
  }

  softState(): SoftState {
    return this.soft;
  }

  /** Proposals waiting: queued for the loop, or in the log and not yet applied. */
  pendingProposals(): number {
    return this.proposals.length + this.inLog.size;
  }

  /**
   * The core's current term: ahead of softState() while a Ready that changes it is being
   * handled (the daemons' log lines carry it: common/daemon-log.ts).
   */
  term(): Term {
    return this.raw.softState().term;
  }

  /** Whether the group is quiesced on this replica (raft/core/quiesce.ts). */
  isQuiesced(): boolean {
    return this.raw.isQuiesced();
  }

  /** Whether stop() or halt() was called, or the loop died. */
  isStopped(): boolean {
    return this.stopped;
  }

  status(): RaftNodeStatus {
    return { group: this.opts.group, ...this.raw.status(), applied: this.applied };
  }

  /** What this replica knows of its log (see RaftLogStatus). */
  logStatus(): RaftLogStatus {
    const s = this.raw.status();
    const entries = Math.max(0, s.lastIndex - s.firstIndex + 1);
    let bytes = 0;
    if (entries > 0) for (const e of this.raw.entriesBetween(s.firstIndex, s.lastIndex)) bytes += e.data.length;
    return {
      leaderCommit: Math.max(this.leaderCommitSeen, s.commit) as LogIndex,
      firstIndex: s.firstIndex, lastIndex: s.lastIndex, entries, bytes,
      snapshotIndex: this.lastSnapshotIndex, snapshotBytes: this.snapshotBytes,
    };
  }

  /** Stops the loop and timers, fails waiting callers, closes transport and storage. */
  async stop(): Promise<void> {
    if (this.stopped) return this.idle;
    this.halt();
    await this.idle;
    // A commit index left for the next save (handleReady): written, so a restart resumes at it.
    if (this.unsavedHard !== undefined && this.failure === null) {
      await this.env.storage.save({ entries: [], hardState: this.unsavedHard, sync: false })
        .catch((e: Error) => this.logger.warn(`raft node ${this.cfg.id}: the last commit index was not written at stop: ${e.message}`));
    }
    await this.sink?.abort();
    for (const s of this.sources.splice(0)) s.src.close();
    await this.env.transport.close();
    await this.env.storage.close();
  }

  /**
   * Stops at once without flushing anything (the simulator's crash): whatever was not yet
   * durable is lost, exactly as with kill -9.
   */
  halt(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.tickTimer?.();
    this.cancelHeldCommits?.();
    this.cancelHeldCommits = undefined;
    this.heldCommits.clear();
    this.halted.abort();
    this.failAll(new StoppedError("raft node"));
  }

  // ------------------------------------------------------------------ the loop

  private withRaw(fn: () => void): void {
    // The core may only be called between Readies; operator actions are rare, so run them
    // on the loop via a queued tick-like action.
    this.actions.push(fn);
    this.kick();
  }

  private actions: (() => void)[] = [];

  private scheduleTick(): void {
    if (this.stopped) return;
    this.tickTimer = this.env.clock.after(this.tickMs + buggifyAmount("raft.tick.late", 30), () => {
      this.pendingTicks++;
      if (this.soft.role === "leader" && buggify("raft.transfer.random")) this.transferToRandomVoter();
      this.scheduleTick();
      this.kick();
    });
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.idle = this.run();
  }

  /** kick(), or at the end of the `pass` running now (see `pass`). */
  private kickAfterPass(): void {
    if (this.passDepth > 0) this.passKick = true;
    else this.kick();
  }

  private async run(): Promise<void> {
    // `running` is cleared synchronously when the loop finds nothing to do, so an input that
    // arrives in any later microtask starts a new run instead of waiting for the next tick.
    try {
      while (!this.stopped) {
        this.feed();
        if (!this.raw.hasReady()) {
          if (this.snapshotWanted || this.applied - this.lastSnapshotIndex >= this.snapshotEvery || this.bytesSinceSnapshot >= this.snapshotEveryBytes) {
            await this.takeSnapshot();
            continue;
          }
          break;
        }
        const rd = this.raw.ready();
        if (this.metrics) this.readyAtMs = this.env.clock.nowMs();
        this.opts.onReady?.(rd);
        await this.handleReady(rd);
        if (this.stopped) return;
        this.raw.advance(rd);
        if (this.raw.confIndex() !== this.lastConfIndex) {
          this.lastConfIndex = this.raw.confIndex();
          this.opts.onConfState?.(this.raw.confState(), this.lastConfIndex);
        }
      }
    } catch (e) {
      // Storage or state machine failure: stop serving; the process should restart from disk.
      this.failure = e as Error;
      this.logger.warn(`raft node ${this.cfg.id} failed: ${(e as Error).stack ?? e}`);
      this.halt();
      if (this.opts.onFatal) this.opts.onFatal(e as Error);
      else throw e;
    } finally {
      this.running = false;
    }
  }

  /** Feeds queued inputs into the core. */
  private feed(): void {
    const raw = this.raw;
    for (const fn of this.actions.splice(0)) {
      try {
        fn();
      } catch (e) {
        this.logger.warn(`raft node ${this.cfg.id}: ${(e as Error).message}`);
      }
    }
    const inbound = this.inbound;
    this.inbound = [];
    for (const m of inbound) {
      this.heardAtTick.set(m.from, this.ticks);
      if ((m.type === "append" || m.type === "heartbeat") && m.commit > this.leaderCommitSeen) this.leaderCommitSeen = m.commit;
      if (m.type === "timeoutNow") this.timeoutNowTerm = m.term;
      raw.step(m);
    }
    if (this.pendingTicks > 0) this.reportUnreachable();
    for (; this.pendingTicks > 0; this.pendingTicks--) {
      raw.tick();
      this.ticks++;
    }
    this.settleAbortedHandOffs();
    if (this.proposals.length > 0 && !buggify("raft.propose.defer")) this.feedProposals();
    // One ReadIndex round in flight at a time (as etcd's linearizableReadLoop): reads that
    // arrive while a round runs wait for it and then share the next one. A read may not join
    // the round in flight (its commit index was taken before the read arrived), and a round
    // per arrival costs a heartbeat to and an answer from every follower, which under load
    // (and more so with several groups per machine, each with smaller batches) was most of a
    // read's cost. A round whose heartbeats are lost is confirmed by the next tick's
    // heartbeat, which carries the newest pending context (raft/core/read-only.ts); a round
    // still unconfirmed after two heartbeat intervals no longer holds the next one back.
    if (this.reads.length > 0 && (this.readRounds.size === 0 || this.ticks - this.readRoundTick >= 2 * this.cfg.heartbeatTicks)) {
      this.readRoundTick = this.ticks;
      const waiters = this.reads;
      this.reads = [];
      const ctx = new Uint8Array(12);
      const view = new DataView(ctx.buffer);
      view.setUint32(0, this.cfg.id);
      view.setFloat64(4, ++this.readSeq);
      try {
        raw.readIndex(ctx);
        this.readRounds.set(byteKey(ctx), waiters);
      } catch (e) {
        for (const w of waiters) w.reject(e as Error);
      }
    }
  }

  /**
   * Quiescence's liveness signal, once per tick while the group is quiesced here: the members
   * the transport finds unreachable wake the core (raft/core/quiesce.ts).
   */
  private reportUnreachable(): void {
    const reachable = this.env.transport.peerReachable;
    if (reachable === undefined || !this.raw.isQuiesced()) return;
    for (const id of members(this.raw.confState())) {
      if (id !== this.cfg.id && !reachable.call(this.env.transport, id)) this.raw.peerDown(id);
    }
  }

  private feedProposals(): void {
    const batch = this.proposals;
    this.proposals = [];
    try {
      const last = this.raw.propose(batch.map((p) => p.data));
      const t = this.raw.status().term;
      let index = last - batch.length + 1;
      for (const p of batch) {
        p.index = index as LogIndex;
        p.term = t;
        this.inLog.set(index, p);
        index++;
      }
    } catch (e) {
      this.metrics?.proposalsFailed(e instanceof NotLeaderError ? "not_leader" : "refused", batch.length);
      for (const p of batch) p.reject(e as Error);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    // 1. Persist: snapshot chunks, a finished snapshot, then hard state + entries in one batch.
    for (const c of rd.snapshotChunks) {
      if (c.chunk === 0) {
        await this.sink?.abort();
        this.sink = this.sm.restore(c.meta);
        this.sinkBytes = 0;
      }
      this.sinkBytes += c.data.length;
      assert(this.sink !== null, "snapshot chunk without a sink");
      await this.sink.write(c.chunk, c.data);
      this.metrics?.snapshotChunkReceived(c.data.length);
    }
    if (rd.snapshot) {
      // Marker first: a crash after finish() and before the save below must not leave a state
      // machine ahead of a log that knows nothing of the snapshot (see LogStore.pendingSnapshot).
      await this.env.storage.save({ entries: [], pendingSnapshot: rd.snapshot });
      await this.sink!.finish();
      this.sink = null;
      this.applied = rd.snapshot.index;
      this.lastSnapshotIndex = rd.snapshot.index;
      this.snapshotBytes = this.sinkBytes;
      this.bytesSinceSnapshot = 0;
      this.appliedSizes = [];
      for (const s of this.sources.splice(0)) s.src.close();
      this.failProposalsUpTo(rd.snapshot.index);
      this.metrics?.snapshotInstalled();
    }
    const hs = rd.hardState;
    const newTermOrVote = hs !== undefined && (hs.term !== this.hard.term || hs.vote !== this.hard.vote);
    // 2. Send. A leader's appends may go out while its own copy is being written (Raft
    // thesis §10.2.1: the core counts the leader's copy only once advance() says it is
    // durable); anything that acknowledges state (votes, append responses), a new term or a
    // snapshot waits until it is persisted.
    const early = rd.messages.length > 0 && this.soft.role === "leader" && rd.softState === undefined && !newTermOrVote &&
      rd.snapshot === undefined && rd.snapshotChunks.length === 0;
    const sending = early ? this.send(rd.messages) : undefined;
    /** A commit-only save still being written (awaited before the Ready is done). */
    let commitSave: Promise<void> | undefined;
    // Only entries, a snapshot, or a new term or vote must be synced (etcd's MustSync). A
    // commit-only change matters to nobody (a restart takes commit = max(stored commit, the
    // state machine's applied index): LogStore SaveBatch.sync), so it is written at most once
    // a tick, and otherwise with the next save; when written, the apply below does not wait
    // for it (it is awaited before advance()).
    const sync = rd.entries.length > 0 || rd.snapshot !== undefined || newTermOrVote;
    const nowTick = this.ticks;
    const commitOnly = !sync && hs !== undefined;
    if (commitOnly && nowTick === this.hardSavedAtTick && !buggify("raft.persist.commit-now")) {
      this.unsavedHard = hs;
    } else if (hs !== undefined || rd.entries.length > 0 || rd.snapshot !== undefined) {
      const hardState = hs ?? this.unsavedHard;
      this.unsavedHard = undefined;
      if (hardState !== undefined) this.hardSavedAtTick = nowTick;
      const slowMs = buggifyAmount("raft.persist.slow", 30);
      if (slowMs > 0) await this.pause(slowMs);
      const startMs = this.metrics && sync ? this.env.clock.nowMs() : undefined;
      const saving = this.env.storage.save({ hardState, entries: rd.entries, installSnapshot: rd.snapshot, sync });
      if (sync || buggify("raft.persist.commit-first")) {
        await saving;
        if (startMs !== undefined) this.measureSave(rd.entries, startMs);
      } else {
        commitSave = saving;
        // Awaited below; a failure meanwhile must not be reported as unhandled first.
        saving.catch(() => undefined);
      }
      if (hs) this.hard = hs;
    }
    if (commitSave === undefined) return this.sendAndApply(rd, early, sending);
    try {
      await this.sendAndApply(rd, early, sending);
    } catch (e) {
      await commitSave.catch(() => undefined);
      throw e;
    }
    await commitSave;
  }

  /** handleReady after the save: the sends, then the apply and the reads it releases. */
  private async sendAndApply(rd: Ready, early: boolean, sending: Promise<void> | undefined): Promise<void> {
    if (rd.snapshot) this.logger.info(`raft node ${this.cfg.id}: installed the leader's snapshot at index ${rd.snapshot.index} (term ${rd.snapshot.term})`);
    await sending;
    if (this.stopped) return;
    if (!early && rd.messages.length > 0) await this.send(rd.messages);
    // A halt during the sends (a BUGGIFY delay, a snapshot chunk read): nothing more to do.
    if (this.stopped) return;
    // 3. Apply.
    if (rd.softState) this.onSoftState(rd.softState);
    if (rd.committedEntries.length > 0) {
      this.metrics?.committed(rd.committedEntries.length);
      // Any prefix of the committed entries may be applied first (BUGGIFY: two batches).
      const cut = rd.committedEntries.length > 1 ? buggifyAmount("raft.apply.split", rd.committedEntries.length - 1) : 0;
      if (cut > 0) {
        await this.apply(rd.committedEntries.slice(0, cut));
        if (this.stopped) return;
      }
      await this.apply(cut > 0 ? rd.committedEntries.slice(cut) : rd.committedEntries);
    }
    for (const rs of rd.readStates) {
      const key = byteKey(rs.ctx);
      const waiters = this.readRounds.get(key);
      if (!waiters) continue;
      this.readRounds.delete(key);
      this.readyReads.push({ index: rs.index, waiters });
    }
    this.releaseReads();
  }

  private async send(msgs: readonly Message[]): Promise<void> {
    const out: Message[] = [];
    for (const m of msgs) {
      if (m.type === "snapshot") {
        const held = this.sources.find((x) => x.src.index === m.snapshot!.index);
        if (!held) {
          // No data for that snapshot (e.g. after a restart, or evicted): drop the chunk. With
          // no snapshot at all, take one; the core moves the transfer to the latest snapshot
          // after a few resends without progress.
          if (this.sources.length === 0) this.snapshotWanted = true;
          this.metrics?.messagesDropped("snapshot_unavailable", 1);
          continue;
        }
        held.usedAtTick = this.ticks;
        let chunk: { data: Uint8Array; last: boolean };
        try {
          chunk = await held.src.readChunk(m.chunk);
        } catch (e) {
          if (!(e instanceof SnapshotRewindError)) throw e;
          // The source reads forward only: drop it and take a fresh snapshot; the core moves
          // the transfers to the latest snapshot after a few resends without progress.
          const i = this.sources.indexOf(held);
          if (i >= 0) this.sources.splice(i, 1)[0]!.src.close();
          this.snapshotWanted = true;
          this.metrics?.messagesDropped("snapshot_unavailable", 1);
          continue;
        }
        m.chunkData = chunk.data;
        m.chunkLast = chunk.last;
        this.metrics?.snapshotChunkSent(chunk.data.length);
      }
      out.push(m);
    }
    const answers = coalesceAppendResps(out);
    const sent = this.commitHoldMs > 0 ? this.holdCommitOnly(answers) : answers;
    if (sent.length === 0) return;
    if (this.metrics) this.measureSends(sent);
    if (this.logger.debugEnabled) for (const m of sent) this.logger.debug(describeMessage(m));
    const lateMs = buggifyAmount("raft.send.late", 20);
    if (lateMs > 0) {
      await this.pause(lateMs);
      if (this.stopped) return;
    }
    // Any split of a batch is legal (the network reorders and loses messages anyway).
    const cut = sent.length > 1 ? buggifyAmount("raft.send.split", sent.length - 1) : 0;
    if (cut > 0) {
      this.env.transport.send(sent.slice(0, cut));
      this.env.transport.send(sent.slice(cut));
    } else {
      this.env.transport.send(sent);
    }
  }

  /**
   * `out` less the commit-only appends, which are held (RaftNodeOptions.commitHoldMs): an
   * append without entries to a follower in the replicate state that has been sent the whole
   * log (RawNode.sentWholeLog) says nothing but the commit index. A later append to the same follower replaces the held one (it carries a
   * commit index at least as new), and so does a heartbeat carrying at least its commit index;
   * any other message to it sends the held one first, so a link's order is kept. Holding and dropping are delay and loss, which Raft tolerates.
   */
  private holdCommitOnly(out: readonly Message[]): readonly Message[] {
    let kept: Message[] | undefined;
    for (let i = 0; i < out.length; i++) {
      const m = out[i]!;
      // Only to a follower in the replicate state that has been sent the whole log, entries in
      // flight included (at many clients a batch commits while the next one's append is on its
      // way, and the next batch's append carries that commit): an empty append to one in probe
      // or snapshot state is a probe, and waits for nothing.
      const hold = m.type === "append" && m.entries.length === 0 && this.raw.sentWholeLog(m.to) && !buggify("raft.commit.no-hold");
      const held = this.heldCommits.size > 0 ? this.heldCommits.get(m.to) : undefined;
      if (held !== undefined && !hold) {
        this.heldCommits.delete(m.to);
        // A heartbeat carrying the held commit index says all the held append said (and a
        // quiesce heartbeat must not be followed by it: an append wakes a quiesced follower).
        const carried = m.type === "heartbeat" && m.commit >= held.commit;
        if (m.type !== "append" && !carried) (kept ??= out.slice(0, i)).push(held);
      }
      if (hold) {
        this.heldCommits.set(m.to, m);
        kept ??= out.slice(0, i);
      } else if (kept !== undefined) {
        kept.push(m);
      }
    }
    if (this.heldCommits.size > 0 && this.cancelHeldCommits === undefined) {
      this.cancelHeldCommits = this.env.clock.after(this.commitHoldMs, () => this.sendHeldCommits());
    }
    return kept ?? out;
  }

  /** The commit-only appends held for commitHoldMs that no later append replaced. */
  private sendHeldCommits(): void {
    this.cancelHeldCommits = undefined;
    if (this.stopped || this.heldCommits.size === 0) return;
    const msgs = [...this.heldCommits.values()];
    this.heldCommits.clear();
    if (this.metrics) this.measureSends(msgs);
    this.env.transport.send(msgs);
  }

  private async apply(entries: readonly Entry[]): Promise<void> {
    const fresh = entries.filter((e) => e.index > this.applied);
    if (fresh.length === 0) return;
    const lateMs = buggifyAmount("raft.apply.late", 20);
    if (lateMs > 0) {
      await this.pause(lateMs);
      if (this.stopped) return;
    }
    const startMs = this.metrics ? this.env.clock.nowMs() : 0;
    // A result the state machine hands over before its write completes (StateMachine.apply):
    // the proposer is answered at once; `this.applied` (what read barriers wait for) still
    // advances only below, once the apply resolved.
    const results = await this.sm.apply(fresh, (i, r) => {
      assert(i >= 0 && i < fresh.length, () => `state machine answered entry ${i} of ${fresh.length}`);
      this.answer(fresh[i]!, r, startMs);
    });
    assert(results.length === fresh.length, `state machine returned ${results.length} results for ${fresh.length} entries`);
    const endMs = this.metrics ? this.env.clock.nowMs() : 0;
    this.metrics?.applied(fresh.length, (endMs - startMs) / 1000);
    this.applied = fresh[fresh.length - 1]!.index;
    for (const e of fresh) {
      this.appliedSizes.push({ index: e.index, bytes: e.data.length });
      this.bytesSinceSnapshot += e.data.length;
    }
    for (let i = 0; i < fresh.length; i++) this.answer(fresh[i]!, results[i]!, startMs, endMs);
    this.opts.onApplied?.(fresh);
    if (buggify("raft.snapshot.after-apply")) this.snapshotWanted = true;
  }

  /** Answers the proposer of applied entry `e`, if it is still waiting (once: it leaves inLog). */
  private answer(e: Entry, result: R, applyStartMs: number, applyEndMs?: number): void {
    const p = this.inLog.get(e.index);
    if (!p) return;
    this.inLog.delete(e.index);
    if (p.term === e.term) {
      if (this.metrics) this.measureWrite(p, applyStartMs, applyEndMs ?? this.env.clock.nowMs());
      p.resolve(result);
    } else {
      this.metrics?.proposalsFailed("not_leader", 1);
      p.reject(new NotLeaderError(this.soft.leader)); // overwritten by another leader: never applied
    }
  }

  private releaseReads(): void {
    if (this.readyReads.length > 0 && this.env.clock.nowMs() < this.readsHeldUntilMs) return;
    const holdMs = this.readyReads.length > 0 ? buggifyAmount("raft.read.late", 30) : 0;
    if (holdMs > 0) {
      // Confirmed reads may be released any time later (they then see more, never less).
      this.readsHeldUntilMs = this.env.clock.nowMs() + holdMs;
      this.env.clock.after(holdMs, () => {
        if (!this.stopped) this.releaseReads();
      });
      return;
    }
    while (this.readyReads.length > 0 && this.readyReads[0]!.index <= this.applied) {
      for (const w of this.readyReads.shift()!.waiters) w.resolve();
    }
  }

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.soft.role === "leader";
    const prevTerm = this.soft.term;
    this.soft = ss;
    if (ss.leader !== 0 && ss.leader !== this.lastLeader) {
      this.lastLeader = ss.leader;
      this.metrics?.leaderChanged();
    }
    if (ss.role !== "leader") this.electedBy = undefined;
    else if (!wasLeader) this.electedBy = ss.term === this.timeoutNowTerm + 1 ? "transfer" : "election";
    this.settleSteppedDown(ss);
    if (wasLeader && ss.role === "leader" && ss.term !== prevTerm) {
      // Led again in a later term between two Readies: the core forgot the old term's rounds.
      this.failReadRounds(new NotLeaderError(ss.leader));
    }
    if (wasLeader && ss.role !== "leader") {
      // Held commit-only appends are of the term it led (lost, as the network may lose them).
      this.heldCommits.clear();
      // Reads not yet confirmed cannot be confirmed by this replica any more.
      this.failReadRounds(new NotLeaderError(ss.leader));
      if (this.proposals.length > 0) this.metrics?.proposalsFailed("not_leader", this.proposals.length);
      for (const p of this.proposals.splice(0)) p.reject(new NotLeaderError(ss.leader));
    }
  }

  /** Fails the reads of every ReadIndex round not yet confirmed. */
  private failReadRounds(e: Error): void {
    for (const ws of this.readRounds.values()) for (const w of ws) w.reject(e);
    this.readRounds.clear();
  }

  private failProposalsUpTo(index: LogIndex): void {
    for (const [i, p] of this.inLog) {
      if (i <= index) {
        this.inLog.delete(i);
        this.metrics?.proposalsFailed("unknown_outcome", 1);
        p.reject(new TimeoutError("proposal (outcome unknown: replaced by a snapshot)", 0));
      }
    }
  }

  // ------------------------------------------------------------------ metrics (only with opts.metrics)

  /** A synced log save that started at `startMs` just ended: its duration, and the save times of this leader's proposals in `entries`. */
  private measureSave(entries: readonly Entry[], startMs: number): void {
    const endMs = this.env.clock.nowMs();
    this.metrics!.logSaved((endMs - startMs) / 1000);
    if (this.inLog.size === 0) return;
    for (const e of entries) {
      const p = this.inLog.get(e.index);
      if (p === undefined || p.term !== e.term || p.saveStartMs !== unmeasured) continue;
      p.saveStartMs = startMs;
      p.saveEndMs = endMs;
    }
  }

  /**
   * Proposal `p`, applied in the apply from `applyStartMs` to `applyEndMs`: its write stages.
   * Stages run back to back, so each is clamped at 0 (a commit seen in the Ready that also
   * saved the entry, as with a single voter, makes replicate 0).
   */
  private measureWrite(p: PendingProposal<R>, applyStartMs: number, applyEndMs: number): void {
    if (p.proposedAtMs === unmeasured || p.saveEndMs === unmeasured) return;
    const st = this.stages;
    const committedMs = Math.max(p.saveEndMs, this.readyAtMs);
    st.queueS = Math.max(0, p.saveStartMs - p.proposedAtMs) / 1000;
    st.logSaveS = (p.saveEndMs - p.saveStartMs) / 1000;
    st.replicateS = (committedMs - p.saveEndMs) / 1000;
    st.applyWaitS = Math.max(0, applyStartMs - committedMs) / 1000;
    st.applyS = (applyEndMs - applyStartMs) / 1000;
    this.metrics!.writeDone(st);
  }

  /** Messages handed to the transport: counted; each heartbeat starts a round trip to its peer unless one is pending. */
  private measureSends(out: readonly Message[]): void {
    this.metrics!.messagesSent(out.length);
    let nowMs = -1;
    for (const m of out) {
      if (m.type !== "heartbeat") continue;
      if (nowMs < 0) nowMs = this.env.clock.nowMs();
      const sent = this.heartbeatSentAtMs.get(m.to);
      // An unanswered heartbeat older than an election timeout was lost: start over.
      if (sent === undefined || nowMs - sent > this.cfg.electionTicks * this.tickMs) this.heartbeatSentAtMs.set(m.to, nowMs);
    }
  }

  /** A heartbeat response from `peer` arrived: the round trip since the oldest unanswered heartbeat to it. */
  private heartbeatAnswered(peer: NodeId): void {
    const sent = this.heartbeatSentAtMs.get(peer);
    if (sent === undefined) return;
    this.heartbeatSentAtMs.delete(peer);
    this.metrics!.peerRoundTrip(peer, (this.env.clock.nowMs() - sent) / 1000);
  }

  /**
   * The only place the log is compacted from the front (a leader's snapshot installed here
   * replaces the log only once the state machine's restore is durable). Invariant: every entry
   * the compaction drops is in the state machine's durable state. sm.snapshot() resolves only
   * once everything applied is durable (StateMachine.snapshot; a shard group's state machine,
   * which writes its applies behind and unsynced, flushes them with a synced write first), and
   * the compaction point is at most the snapshot's index. So an applied entry that is not
   * durable yet (lost by a crash or a power loss) is still in the log, and the restart, which
   * resumes at the state machine's durable applied index, is handed it again.
   */
  private async takeSnapshot(): Promise<void> {
    this.snapshotWanted = false;
    const src = await this.sm.snapshot();
    if (this.stopped) {
      src.close();
      return;
    }
    assert(src.index <= this.applied, `snapshot at ${src.index} beyond applied ${this.applied}`);
    // Keep compactKeep entries below the snapshot, but at most a quarter of
    // snapshotEveryBytes of data (the newest ones).
    let keep = (buggify("raft.compact.all") ? src.index : Math.max(0, src.index - this.compactKeep)) as LogIndex;
    let keptBytes = 0;
    for (let i = this.appliedSizes.length - 1; i >= 0; i--) {
      const e = this.appliedSizes[i]!;
      if (e.index > src.index) continue;
      if (e.index <= keep) break;
      keptBytes += e.bytes;
      if (keptBytes > this.snapshotEveryBytes / 4) {
        keep = e.index;
        break;
      }
    }
    const compactIndex = Math.max(keep, this.raw.status().firstIndex - 1) as LogIndex;
    const compactTerm = this.raw.termAt(compactIndex);
    const meta = this.raw.compact(src.index, compactIndex);
    await this.env.storage.compact(meta, compactIndex, compactTerm ?? (0 as Term));
    this.sources.push({ src, usedAtTick: -Infinity });
    this.evictSources();
    this.lastSnapshotIndex = src.index;
    this.snapshotBytes = src.bytes ?? 0;
    this.appliedSizes = this.appliedSizes.filter((e) => e.index > compactIndex);
    this.bytesSinceSnapshot = this.appliedSizes.reduce((n, e) => (e.index > src.index ? n + e.bytes : n), 0);
  }

  /**
   * Keeps at most snapshotSourcesMax snapshots, oldest evicted first, but never one a transfer
   * read from within the last two election timeouts: a transfer keeps the snapshot it started
   * with, and evicting it would restart the transfer (a slow follower would never finish).
   */
  private evictSources(): void {
    // BUGGIFY: only the newest snapshot kept, busy or not (a transfer then restarts from it).
    const all = this.sources.length > 1 && buggify("raft.snapshot.evict-busy");
    const busySince = all ? Infinity : this.ticks - 2 * this.cfg.electionTicks;
    let excess = this.sources.length - (all ? 1 : snapshotSourcesMax);
    for (let i = 0; i < this.sources.length - 1 && excess > 0; ) {
      if (this.sources[i]!.usedAtTick >= busySince) {
        i++;
        continue;
      }
      this.sources.splice(i, 1)[0]!.src.close();
      excess--;
    }
  }

  /**
   * Waits `ms` on the clock, or until the node halts. BUGGIFY delays only; callers skip the
   * await when the point did not fire, so the daemon's loop takes no extra turn.
   */
  private pause(ms: number): Promise<void> {
    return sleepUnlessAborted(this.env.clock, ms, this.halted.signal);
  }

  /** A leader's transfer of leadership to a voter picked by BUGGIFY (as an operator might ask). */
  private transferToRandomVoter(): void {
    const voters = this.raw.confState().voters.filter((v) => v !== this.cfg.id);
    if (voters.length === 0) return;
    this.transferLeader(voters[buggifyInt("raft.transfer.random", voters.length)]!);
  }

  private failAll(err: Error): void {
    if (this.proposals.length + this.inLog.size > 0) this.metrics?.proposalsFailed("stopped", this.proposals.length + this.inLog.size);
    for (const p of this.proposals.splice(0)) p.reject(err);
    for (const p of this.inLog.values()) p.reject(err);
    this.inLog.clear();
    for (const w of this.reads.splice(0)) w.reject(err);
    this.failReadRounds(err);
    for (const r of this.readyReads.splice(0)) for (const w of r.waiters) w.reject(err);
    for (const h of [...this.handOffs]) h.done({ kind: "failed", to: h.to, term: this.soft.term, reason: "the replica stopped" });
  }
}
