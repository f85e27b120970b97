/**
 * The Raft state machine of one replica (etcd-io/raft raft.go). Pure and synchronous: ticks
 * and messages in, messages and log changes out (collected by RawNode into a Ready). Each
 * role's message handling is one function, swapped in by the `become*` transitions.
 */
import { assert } from "../../common/assert";
import {
  BackpressureError, ConfChangeInProgressError, InvalidArgumentError, LearnerLaggingError, LeadershipTransferError, NotLeaderError,
} from "../../common/errors";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import { checkLimit } from "../../common/limits";
import type { RaftConfig } from "./config";
import { RaftLog, entryBytes } from "./log";
import { Progress } from "./progress";
import {
  allVoters, applyConfChange, confStateOfSnapshot, decodeConfChangeEntry, encodeConfChangeEntry, isJoint, isVoter, makeConfState, members,
  type ConfChange, type ConfState,
} from "./conf-change";
import { jointCommittedIndex, jointVoteResult } from "./quorum";
import { isQuiesceContext, leaderMayQuiesce, quiesceContext } from "./quiesce";
import { ReadOnly } from "./read-only";
import type { Entry, HardState, Message, ReadState, Role, SnapshotChunk, SnapshotMeta } from "./types";
import { emptyBytes, makeMessage } from "./types";

const none = 0 as NodeId;
/** Resends of one snapshot chunk without progress before a transfer restarts with the latest snapshot. */
export const snapshotStallResendsMax = 5;
/** Vote context marking a campaign that follows a leadership transfer (bypasses leases). */
export const transferContext = new TextEncoder().encode("transfer");

type StepFn = (m: Message) => void;

/** What only a leader sends: accepted from replicas outside this replica's configuration. */
const leaderTraffic: ReadonlySet<Message["type"]> = new Set(["append", "heartbeat", "snapshot", "timeoutNow"]);

export interface RaftInit {
  readonly hardState: HardState;
  readonly log: RaftLog;
}

export class Raft {
  readonly id: NodeId;
  /** The configuration in effect: the latest one applied (or restored from a snapshot). */
  conf: ConfState;
  /** conf's members, sorted: the replicas a leader replicates to. */
  private memberIds: NodeId[];
  /**
   * The configuration at each conf-change index applied since the snapshot, the first element
   * being the snapshot's (index 0 at bootstrap): confAt() reads the one a new snapshot records.
   */
  private confHistory: { index: LogIndex; conf: ConfState }[];
  /** Index of the latest conf change this leader knows of; a new one waits until it is applied. */
  private pendingConfIndex = 0 as LogIndex;
  term: Term;
  vote: NodeId;
  lead: NodeId = none;
  role: Role = "follower";
  readonly log: RaftLog;
  readonly prs = new Map<NodeId, Progress>();
  /** Outbox, drained by RawNode.ready(). */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /** Snapshot chunks received (follower), and a snapshot completed in this Ready. */
  snapshotChunks: SnapshotChunk[] = [];
  installedSnapshot: SnapshotMeta | undefined;

  private readonly cfg: RaftConfig;
  private step: StepFn;
  private tickFn: () => void;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;
  private votes = new Map<NodeId, boolean>();
  private leadTransferee: NodeId = none;
  private uncommittedBytes = 0;
  private pendingBroadcast = false;
  private readonly readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private pendingReadIndex: Uint8Array[] = [];
  /** A snapshot being received: which one and the next chunk expected. */
  private incoming: { meta: SnapshotMeta; next: number } | null = null;
  /** The group is quiesced (raft/core/quiesce.ts): no heartbeats (leader), no election ticks (follower). */
  private quiesced = false;
  /** On a quiesced leader: the members that have not acknowledged its quiesce heartbeat yet. */
  private quiesceUnacked = new Set<NodeId>();
  /** On a leader: heartbeat intervals in a row that it ended idle with nothing done in them (maybeQuiesce). */
  private idleBeats = 0;
  /** On a leader: its last index when the previous heartbeat interval ended (maybeQuiesce). */
  private lastIndexAtBeat = 0 as LogIndex;
  /** On a leader: a ReadIndex round started since the previous heartbeat interval ended. */
  private readSinceBeat = false;
  /**
   * On a leader: the voters whose answers confirmed the last ReadIndex round (the first to
   * make a quorum with this replica), to whom the next round goes (sendReadHeartbeats).
   */
  private readPeers: NodeId[] = [];

  constructor(cfg: RaftConfig, init: RaftInit) {
    this.cfg = cfg;
    this.id = cfg.id;
    this.log = init.log;
    const snap = init.log.snapshot;
    this.conf = snap.index > 0 ? confStateOfSnapshot(snap) : makeConfState(cfg.voters, [], cfg.addresses);
    this.memberIds = members(this.conf);
    this.confHistory = [{ index: snap.index, conf: this.conf }];
    // The changes applied since the snapshot are in effect: replay them (those after `applied`
    // come out again in a Ready and take effect when applied).
    for (const e of init.log.slice((snap.index + 1) as LogIndex, init.log.applied, Number.MAX_SAFE_INTEGER)) {
      if (e.type === "confChange") this.applyConfEntry(e);
    }
    this.term = init.hardState.term;
    this.vote = init.hardState.vote;
    this.step = this.stepFollower;
    this.tickFn = this.tickElection;
    this.becomeFollower(this.term, none);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---------------------------------------------------------------- transitions

  becomeFollower(t: Term, lead: NodeId): void {
    this.reset(t);
    this.step = this.stepFollower;
    this.tickFn = this.tickElection;
    this.lead = lead;
    this.role = "follower";
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "leader -> preCandidate");
    // PreVote does not change the term or the vote (Raft thesis §9.6).
    this.step = this.stepCandidate;
    this.votes = new Map();
    this.tickFn = this.tickElection;
    this.lead = none;
    this.role = "preCandidate";
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "leader -> candidate");
    this.reset((this.term + 1) as Term);
    this.step = this.stepCandidate;
    this.tickFn = this.tickElection;
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", `${this.role} -> leader`);
    this.reset(this.term);
    this.step = this.stepLeader;
    this.tickFn = this.tickHeartbeat;
    this.lead = this.id;
    this.role = "leader";
    const last = this.log.lastIndex();
    for (const pr of this.prs.values()) {
      pr.next = (last + 1) as LogIndex;
    }
    const self = this.prs.get(this.id)!;
    self.becomeReplicate();
    // The leader counts itself only for entries it has persisted (see persisted()).
    self.match = this.log.stable;
    self.next = (last + 1) as LogIndex;
    // Any entry not yet applied may be a conf change: no new one before it is (etcd-io/raft).
    this.pendingConfIndex = last;
    // Raft §5.4.2 / §8: a new leader commits an entry of its own term before anything of
    // earlier terms counts as committed.
    this.appendEntries([{ type: "noop", data: emptyBytes }]);
    this.bcastAppend();
    if (!isVoter(this.conf, this.id)) this.handOver();
  }

  private reset(t: Term): void {
    if (this.term !== t) {
      this.term = t;
      this.vote = none;
    }
    this.lead = none;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.votes = new Map();
    const last = this.log.lastIndex();
    this.prs.clear();
    // This replica always has its own progress, member or not (a removed replica elected to
    // hand over leads without counting itself: the quorum functions count voters only).
    for (const id of this.memberIds.includes(this.id) ? this.memberIds : [...this.memberIds, this.id]) {
      const pr = new Progress((last + 1) as LogIndex, this.cfg.inflightAppendsMax, this.cfg.inflightBytesMax);
      if (id === this.id) pr.match = last;
      this.prs.set(id, pr);
    }
    this.uncommittedBytes = 0;
    this.pendingBroadcast = false;
    this.readOnly.reset();
    this.pendingReadIndex = [];
    this.readPeers = [];
    this.quiesced = false;
    this.quiesceUnacked.clear();
    this.idleBeats = 0;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTicks = this.cfg.electionTicks + this.cfg.rng.int(this.cfg.electionTicks);
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    this.tickFn();
  }

  private tickElection(): void {
    if (this.quiesced) return; // the leader is alive (else the driver's peerDown woke us)
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      // No leader heard for an election timeout: forget it, also on a replica that may not
      // campaign (a learner), else its lease on a dead leader would keep ignoring the
      // campaigns a joint configuration needs its vote for (found by the simulator). A
      // voter's campaign forgets it anyway.
      this.lead = none;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    if (this.quiesced) {
      this.tickQuiesced();
      return;
    }
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        // CheckQuorum: a leader that has not heard a quorum for an election timeout may be
        // partitioned away; step down so the majority side is not blocked by our lease.
        this.becomeFollower(this.term, none);
        return;
      }
      if (this.leadTransferee !== none) this.abortLeaderTransfer();
      // A lame-duck leader tries again (maybe with another voter) every election timeout.
      if (!isVoter(this.conf, this.id)) this.handOver();
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      for (const pr of this.prs.values()) pr.rewound = false; // a new interval may rewind again (Progress.maybeDecrTo)
      if (this.maybeQuiesce()) return;
      this.bcastHeartbeat(this.readOnly.lastPendingCtx());
      this.resendStalledSnapshots();
    }
  }

  /** Whether a quorum was active since the last check; resets the activity marks. */
  private quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    for (const [id, pr] of this.prs) {
      if (id === this.id || pr.recentActive) active.set(id, true);
      pr.recentActive = false;
    }
    return jointVoteResult(this.conf, active) === "won";
  }

  // ---------------------------------------------------------------- elections

  /**
   * Starts an election if this replica may: not a leader; a voter, or a replica removed from
   * the configuration it applied (it may hold committed entries the voters lack, e.g. its own
   * removal, and be the only one that can give them: it counts only the voters' votes and, if
   * elected, hands over at once). Learners and replicas that know no configuration never
   * campaign; voters ignore campaigns from replicas outside their configuration.
   */
  hup(transfer: boolean): void {
    if (this.role === "leader") return;
    this.wake();
    const removed = this.conf.voters.length > 0 && !this.memberIds.includes(this.id);
    if (!isVoter(this.conf, this.id) && !removed) return;
    if (this.cfg.preVote && !transfer) this.campaign("preVote", false);
    else this.campaign("vote", transfer);
  }

  /**
   * The transport saw `peer`'s process go away (its connection was reset, or refused, as
   * after a kill -9): if it is the leader this follower follows, the follower stops waiting
   * for it. It forgets the leader (so its lease no longer makes it ignore the campaigns of the
   * other followers, which noticed the same) and campaigns after `1 + 2 * rank` ticks, its
   * rank being its place among the other voters by id: the first campaigns at its next tick
   * and each other one two ticks later than the one before, so followers that noticed
   * together (within a tick of each other) do not split the vote (a split costs an election
   * timeout; the simulator found one with one tick between ranks), and one whose log is
   * behind only delays the next by two ticks. The election starts within a few ticks instead of an election
   * timeout. Safe whatever the truth (a reset connection to a live leader): the campaign is a
   * PreVote, which changes no term and which every replica that still hears the leader
   * refuses (its lease), and the live leader's next heartbeat makes this replica follow it
   * again. Without PreVote, or when `peer` is not the leader, nothing happens. On a leader,
   * the next ReadIndex rounds go to every member until one is confirmed again, not to `peer`
   * (sendReadHeartbeats).
   */
  leaderUnreachable(peer: NodeId): void {
    if (this.role === "leader" && this.readPeers.includes(peer)) this.readPeers = [];
    if (!this.cfg.preVote || this.role !== "follower" || this.lead !== peer) return;
    const rank = allVoters(this.conf).filter((id) => id !== peer).sort((a, b) => a - b).indexOf(this.id);
    if (rank < 0) return; // not a voter: never campaigns
    // A quiesced follower counts election ticks again (waking restarts its count, so first).
    this.wake();
    this.lead = none;
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTicks - 1 - 2 * rank);
  }

  private campaign(kind: "preVote" | "vote", transfer: boolean): void {
    let voteTerm: Term;
    if (kind === "preVote") {
      this.becomePreCandidate();
      voteTerm = (this.term + 1) as Term;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (jointVoteResult(this.conf, this.votes) === "won") {
      if (kind === "preVote") this.campaign("vote", false);
      else this.becomeLeader();
      return;
    }
    for (const id of allVoters(this.conf)) {
      if (id === this.id) continue;
      this.send(makeMessage({
        type: kind, from: this.id, to: id, term: voteTerm,
        index: this.log.lastIndex(), logTerm: this.log.lastTerm(),
        context: transfer ? transferContext : emptyBytes,
      }));
    }
  }

  // ---------------------------------------------------------------- step

  /** Handles one message from a peer (Raft §5.1 term rules first, then the role's handler). */
  stepMessage(m: Message): void {
    if (m.from === this.id) return;
    if (this.quiesced && !this.keepsQuiesced(m)) this.wake();
    const member = this.memberIds.includes(m.from);
    // Messages from replicas outside the configuration are ignored, except a leader's
    // traffic (a replica being added, or behind on the configuration, learns it from there,
    // and a leader that removed itself hands over with timeoutNow) and campaigns. A campaign
    // is answered whoever asks (always safe: Raft's vote rules do not depend on who asks):
    // a voter behind on the configuration must be able to vote for a candidate it does not
    // know yet, or a group whose new configuration needs that voter elects nobody, ever
    // (it learns the configuration only from a leader). A removed replica coming back
    // cannot disrupt a group that has a leader: its members ignore campaigns while they
    // hear from their leader (the lease below), and PreVote keeps terms unchanged.
    if (!member && !leaderTraffic.has(m.type) && m.type !== "vote" && m.type !== "preVote" && this.memberIds.length > 0) return;
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        const force = bytesEqual(m.context, transferContext);
        const inLease = this.cfg.checkQuorum && this.lead !== none && this.electionElapsed < this.cfg.electionTicks;
        // A replica that heard from a live leader recently ignores campaigns: a rejoining
        // partitioned node cannot depose a healthy leader (Raft thesis §4.2.3).
        if (!force && inLease) return;
      }
      if (m.type === "preVote") {
        // Never change the term on a PreVote.
      } else if (m.type === "preVoteResp" && !m.reject) {
        // The term in a granted PreVote response is the one we will campaign with.
      } else if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, none);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === "heartbeat" || m.type === "append")) {
        // A stale leader (e.g. one that was partitioned) learns our term and steps down.
        this.send(makeMessage({ type: "appendResp", from: this.id, to: m.from }));
      } else if (m.type === "preVote") {
        this.send(makeMessage({ type: "preVoteResp", from: this.id, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    if (m.type === "vote" || m.type === "preVote") {
      this.handleVote(m);
      return;
    }
    this.step(m);
  }

  private handleVote(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === none && this.lead === none) ||
      (m.type === "preVote" && m.term > this.term);
    const respType = m.type === "vote" ? "voteResp" : "preVoteResp";
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A PreVote grant carries the candidate's future term so it is not ignored as stale.
      this.send(makeMessage({ type: respType, from: this.id, to: m.from, term: m.term }));
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(makeMessage({ type: respType, from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        break;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case "snapshot":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case "timeoutNow":
        // Leadership transfer: campaign at once, bypassing PreVote and peers' leases.
        this.hup(true);
        break;
      default:
        break;
    }
  }

  private stepCandidate(m: Message): void {
    const myResp = this.role === "preCandidate" ? "preVoteResp" : "voteResp";
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        // A leader exists in this term (m.term == term here).
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        break;
      case "voteResp":
      case "preVoteResp": {
        if (m.type !== myResp) break;
        this.votes.set(m.from, !m.reject);
        const r = jointVoteResult(this.conf, this.votes);
        if (r === "won") {
          if (this.role === "preCandidate") this.campaign("vote", false);
          else {
            this.becomeLeader();
          }
        } else if (r === "lost") {
          this.becomeFollower(this.term, none);
        }
        break;
      }
      default:
        break;
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from);
    if (!pr) return; // not a member
    switch (m.type) {
      case "appendResp":
        pr.recentActive = true;
        this.handleAppendResp(m, pr);
        break;
      case "heartbeatResp":
        pr.recentActive = true;
        this.handleHeartbeatResp(m, pr);
        break;
      case "snapshotResp":
        pr.recentActive = true;
        this.handleSnapshotResp(m, pr);
        break;
      case "wake": // woke this leader in stepMessage if it was quiesced
        pr.recentActive = true;
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- follower handlers

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(makeMessage({ type: "appendResp", from: this.id, to: m.from, index: this.log.committed }));
      return;
    }
    const last = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== null) {
      this.send(makeMessage({ type: "appendResp", from: this.id, to: m.from, index: last }));
      return;
    }
    // Fast backtracking (Raft §5.3 optimisation, etcd-io/raft): hint the largest index whose
    // term is <= the leader's term at m.index, so the leader skips whole terms at once.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()) as LogIndex, m.logTerm);
    this.send(makeMessage({
      type: "appendResp", from: this.id, to: m.from, index: m.index, reject: true,
      rejectHint: hint, rejectTerm: this.log.term(hint) ?? (0 as Term),
    }));
  }

  private handleHeartbeat(m: Message): void {
    // The leader only sends commit <= our match, so this never commits an unmatched entry.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()) as LogIndex);
    if (isQuiesceContext(m.context)) {
      this.handleQuiesce(m);
      return;
    }
    this.send(makeMessage({ type: "heartbeatResp", from: this.id, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const meta = m.snapshot!;
    const reply = (next: number, installed: boolean) =>
      this.send(makeMessage({ type: "snapshotResp", from: this.id, to: m.from, snapshot: meta, chunk: next, chunkLast: installed }));
    if (meta.index <= this.log.committed || this.log.matchTerm(meta.index, meta.term)) {
      // We already have everything the snapshot covers: fast-forward instead of restoring.
      this.log.commitTo(Math.min(meta.index, this.log.lastIndex()) as LogIndex);
      this.incoming = null;
      reply(m.chunk + 1, true);
      return;
    }
    if (this.installedSnapshot) {
      // A snapshot finished in this Ready and the driver has not taken it yet: a chunk of
      // another transfer now would be handed to the driver before that install completes and
      // reopen its sink (found by the controller simulation, seeds 2015 and 2711). Drop it;
      // the leader resends.
      return;
    }
    const inc = this.incoming;
    const same = inc !== null && inc.meta.index === meta.index && inc.meta.term === meta.term;
    if (m.chunk === 0 && !same) {
      this.incoming = { meta, next: 0 };
    } else if (!same) {
      reply(0, false); // a chunk of a transfer we know nothing of (e.g. after a restart): start over
      return;
    }
    const cur = this.incoming!;
    if (m.chunk !== cur.next) {
      reply(cur.next, false); // duplicate or gap: ask for the chunk we need
      return;
    }
    this.snapshotChunks.push({ meta, chunk: m.chunk, last: m.chunkLast, data: m.chunkData });
    cur.next++;
    if (m.chunkLast) {
      this.log.restore(meta);
      // The snapshot's configuration takes effect with it (its changes were all applied).
      this.confHistory = [];
      this.setConf(meta.index, confStateOfSnapshot(meta));
      this.installedSnapshot = meta;
      this.incoming = null;
      reply(cur.next, true);
    } else {
      reply(cur.next, false);
    }
  }

  // ---------------------------------------------------------------- leader handlers

  private handleAppendResp(m: Message, pr: Progress): void {
    if (m.reject) {
      let probe = m.rejectHint;
      if (m.rejectTerm > 0) probe = this.log.findConflictByTerm(m.rejectHint, m.rejectTerm);
      if (pr.maybeDecrTo(m.index, probe, m.rejectHint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    // An ack of exactly `match` in probe state still confirms the match point (typically the
    // empty append sent right after a snapshot covering the whole log was installed): move to
    // replicate, else the follower stays paused in probe until the next heartbeat response
    // (etcd-io/raft: `pr.MaybeUpdate(m.Index) || (pr.Match == m.Index && pr.State == StateProbe)`).
    const probeConfirmed = pr.state === "probe" && m.index === pr.match;
    if (!pr.maybeUpdate(m.index) && !probeConfirmed) return;
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from, true);
    }
    // Pipelining: keep sending while the window has room and there is something to send.
    while (this.sendAppend(m.from, false)) { /* loop */ }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResp(m: Message, pr: Progress): void {
    if (isQuiesceContext(m.context)) {
      this.handleQuiesceResp(m);
      return;
    }
    pr.probeSent = false;
    // Liveness: a follower whose whole window of appends was lost answers heartbeats but acks
    // nothing, so the window never drains and sendAppend stays paused forever. Free one slot
    // so an append goes out; if it does not fit the follower's log, the rejection moves the
    // follower back to probe (etcd-io/raft 3.5 stepLeader MsgHeartbeatResp).
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (jointVoteResult(this.conf, acks) !== "won") return;
    // The answers that made the quorum, no later ones (the round is advanced past below).
    const voters = allVoters(this.conf);
    this.readPeers = [...acks.keys()].filter((id) => id !== this.id && voters.includes(id));
    for (const rs of this.readOnly.advance(m.context)) this.readStates.push(rs);
  }

  private handleSnapshotResp(m: Message, pr: Progress): void {
    const meta = m.snapshot!;
    if (pr.state !== "snapshot" || pr.pendingSnapshot === null || pr.pendingSnapshot.index !== meta.index) return;
    // Only a response that moves the transfer sends a chunk: the follower wants a later chunk
    // than the one in flight, restarts at 0, or installed it. Answering duplicated or stale
    // responses too would keep each of them bouncing between leader and follower for the
    // rest of the transfer (and duplicates multiply them); a lost chunk is resent by
    // resendStalledSnapshots.
    if (!m.chunkLast && m.chunk !== 0 && m.chunk <= pr.snapshotChunk) return;
    pr.snapshotStallTicks = 0;
    pr.snapshotResends = 0;
    if (m.chunkLast) {
      pr.match = Math.max(pr.match, meta.index) as LogIndex;
      pr.becomeProbe();
      this.sendAppend(m.from, true);
      return;
    }
    pr.snapshotChunk = m.chunk;
    this.sendSnapshotChunk(m.from, pr);
  }

  private maybeCommit(): boolean {
    const mci = jointCommittedIndex(this.conf, (id) => this.prs.get(id)?.match ?? (0 as LogIndex));
    // Raft §5.4.2: only entries of the current term are committed by counting replicas.
    if (mci > this.log.committed && this.log.term(mci) === this.term) {
      const firstInTerm = !this.committedInTerm();
      this.log.commitTo(mci);
      if (firstInTerm) this.releasePendingReadIndex();
      return true;
    }
    return false;
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  // ---------------------------------------------------------------- sending

  private send(m: Message): void {
    if (m.type !== "preVote" && m.type !== "preVoteResp" && m.type !== "vote" && m.type !== "voteResp") {
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /**
   * Sends the next append to `to` if its progress is not paused. With `sendIfEmpty` false an
   * append is only sent when it carries entries. Returns whether a message was sent.
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to)!;
    if (pr.isPaused()) return false;
    const prevIndex = (pr.next - 1) as LogIndex;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      // The entries this follower needs were compacted: it needs a snapshot.
      pr.becomeSnapshot(this.log.snapshot);
      this.sendSnapshotChunk(to, pr);
      return true;
    }
    const ents = this.log.slice(pr.next, this.log.lastIndex(), this.cfg.appendBytesMax);
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entryBytes(e);
    this.send(makeMessage({
      type: "append", from: this.id, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed,
    }));
    pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1]!.index : prevIndex, bytes);
    return true;
  }

  /**
   * Sends the next chunk of the snapshot being transferred to `to`. A transfer keeps the
   * snapshot it started with even when a newer one is taken meanwhile (as etcd does): else a
   * transfer slower than the snapshot interval would restart forever and the follower would
   * never catch up. It switches to the latest snapshot only at chunk 0 or after
   * `snapshotStallResendsMax` resends without progress (e.g. the driver no longer has the
   * data of the old one and drops its chunks).
   */
  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const latest = this.log.snapshot;
    assert(latest.index > 0, "need a snapshot but none was taken");
    const cur = pr.pendingSnapshot;
    if (cur === null || (cur.index !== latest.index && (pr.snapshotChunk === 0 || pr.snapshotResends >= snapshotStallResendsMax))) {
      pr.becomeSnapshot(latest);
    }
    pr.snapshotStallTicks = 0;
    // chunkData is filled by the driver from the snapshot source (the core holds no data).
    this.send(makeMessage({ type: "snapshot", from: this.id, to, snapshot: pr.pendingSnapshot!, chunk: pr.snapshotChunk }));
  }

  /** Resends the current chunk to followers that have not answered for a few heartbeats. */
  private resendStalledSnapshots(): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id || pr.state !== "snapshot") continue;
      pr.snapshotStallTicks++;
      if (pr.snapshotStallTicks >= 2) {
        pr.snapshotResends++;
        this.sendSnapshotChunk(id, pr);
      }
    }
  }

  private bcastAppend(): void {
    for (const id of this.memberIds) if (id !== this.id) this.sendAppend(id, true);
  }

  private bcastHeartbeat(ctx: Uint8Array | undefined): void {
    for (const id of this.memberIds) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  private sendHeartbeat(to: NodeId, ctx: Uint8Array | undefined): void {
    const pr = this.prs.get(to)!;
    this.send(makeMessage({
      type: "heartbeat", from: this.id, to,
      commit: Math.min(pr.match, this.log.committed) as LogIndex,
      context: ctx ?? emptyBytes,
    }));
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(makeMessage({ type: "timeoutNow", from: this.id, to }));
  }

  /** Called by RawNode.ready(): one broadcast for every proposal since the last Ready. */
  flushBroadcast(): void {
    if (this.pendingBroadcast && this.role === "leader") {
      this.pendingBroadcast = false;
      for (const id of this.memberIds) {
        if (id === this.id) continue;
        while (this.sendAppend(id, false)) { /* fill the pipeline */ }
      }
    }
  }

  // ---------------------------------------------------------------- client requests

  /**
   * Appends proposals to the leader's log. Throws NotLeader, LeadershipTransfer, Backpressure,
   * or LimitExceeded for an entry over `entryBytesMax` (then nothing is appended).
   */
  propose(datas: readonly Uint8Array[]): LogIndex {
    if (this.role !== "leader") throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== none) throw new LeadershipTransferError(this.leadTransferee);
    this.wake();
    let bytes = 0;
    for (const d of datas) {
      checkLimit("entry", "the log entry", d.length, this.cfg.entryBytesMax);
      bytes += d.length;
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax) {
      throw new BackpressureError("uncommittedBytesMax", this.cfg.uncommittedBytesMax, this.uncommittedBytes + bytes);
    }
    this.uncommittedBytes += bytes;
    const last = this.appendEntries(datas.map((data) => ({ type: "normal" as const, data })));
    this.pendingBroadcast = true;
    return last;
  }

  private appendEntries(items: readonly { type: Entry["type"]; data: Uint8Array }[]): LogIndex {
    let index = this.log.lastIndex();
    const ents: Entry[] = items.map((it) => ({ index: (index = (index + 1) as LogIndex), term: this.term, type: it.type, data: it.data }));
    // Not counted for the leader itself until persisted (persisted()), so the Ready's
    // messages may carry them to the followers while they are being written here.
    return this.log.append(ents);
  }

  /**
   * Entries up to `log.stable` are durable on this replica. A leader counts its own copy
   * toward a quorum only from here on, which lets it send entries to its followers in
   * parallel with writing them to its own disk (Raft thesis §10.2.1): a commit never rests on
   * an entry the leader could still lose.
   */
  persisted(): void {
    if (this.role !== "leader") return;
    if (this.prs.get(this.id)!.maybeUpdate(this.log.stable) && this.maybeCommit()) this.bcastAppend();
  }

  /** Entries handed to the application were applied: release their uncommitted budget. */
  reduceUncommitted(ents: readonly Entry[]): void {
    if (this.role !== "leader") return;
    for (const e of ents) if (e.term === this.term) this.uncommittedBytes -= e.data.length;
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
  }

  /**
   * Linearizable read (Raft thesis §6.4): records the commit index and confirms leadership
   * with a heartbeat round; a ReadState {ctx, index} comes out in a later Ready.
   */
  readIndex(ctx: Uint8Array): void {
    if (this.role !== "leader") throw new NotLeaderError(this.lead);
    this.readSinceBeat = true;
    // A quiesced leader may have been deposed unawares: the read's heartbeat round (which
    // needs a quorum) wakes the group and confirms leadership as on an active leader.
    this.wake();
    if (this.readOnly.size + this.pendingReadIndex.length >= this.cfg.readIndexPendingMax) {
      throw new BackpressureError("readIndexPendingMax", this.cfg.readIndexPendingMax, this.readOnly.size + this.pendingReadIndex.length + 1);
    }
    if (!this.committedInTerm()) {
      // Our commit index may be stale until an entry of this term commits (Raft §8).
      // Refuse a duplicate context here, to the caller: found only when the queue is released
      // (inside maybeCommit, while stepping a follower's appendResp), startReadIndex's throw
      // would abort that step half-way and lose the other queued reads.
      if (this.pendingReadIndex.some((p) => bytesEqual(p, ctx))) {
        throw new InvalidArgumentError("readIndex.ctx", "a read with this context is already pending");
      }
      this.pendingReadIndex.push(ctx);
      return;
    }
    this.startReadIndex(ctx);
  }

  private startReadIndex(ctx: Uint8Array): void {
    if (jointVoteResult(this.conf, new Map([[this.id, true]])) === "won") {
      this.readStates.push({ ctx, index: this.log.committed });
      return;
    }
    if (!this.readOnly.add(this.log.committed, ctx, this.id)) {
      throw new InvalidArgumentError("readIndex.ctx", "a read with this context is already pending");
    }
    this.sendReadHeartbeats(ctx);
  }

  /**
   * A ReadIndex round's heartbeats go to the voters whose answers confirmed the previous
   * round, if they still make a quorum with this replica and were heard from in this
   * CheckQuorum window; else to every member. A round needs a quorum's answers, not
   * everyone's: with 3 voters, one follower's. Sending it to all cost a heartbeat, an answer
   * and a Ready on every follower per read batch, and the answers past the quorum did
   * nothing (with three groups on a machine each leader's read batches are a third of one
   * group's, so this was a large part of a get's CPU: docs/benchmarks.md, "Read rounds to a
   * quorum"). Safety is unchanged: a read is still released only once a quorum of this
   * term's voters answered. Liveness: if a chosen voter stops answering, the next tick's
   * heartbeat goes to every member and carries the newest pending context
   * (ReadOnly.lastPendingCtx), so the round is confirmed by whoever answers, at most a
   * heartbeat interval later, and those become the next rounds' voters.
   */
  private sendReadHeartbeats(ctx: Uint8Array): void {
    const peers = this.readPeers;
    const chosen = new Map<NodeId, boolean>([[this.id, true]]);
    for (const id of peers) if (this.prs.get(id)?.recentActive) chosen.set(id, true);
    if (chosen.size !== peers.length + 1 || jointVoteResult(this.conf, chosen) !== "won") {
      this.bcastHeartbeat(ctx);
      return;
    }
    for (const id of peers) this.sendHeartbeat(id, ctx);
  }

  private releasePendingReadIndex(): void {
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const ctx of pending) this.startReadIndex(ctx);
  }

  /** Leadership transfer (Raft thesis §3.10). */
  transferLeader(to: NodeId): void {
    if (this.role !== "leader") throw new NotLeaderError(this.lead);
    if (!isVoter(this.conf, to)) throw new InvalidArgumentError("transferee", `node ${to} is not a voter of this group`);
    if (to === this.id) {
      this.abortLeaderTransfer();
      return;
    }
    if (this.leadTransferee === to) return;
    this.wake();
    this.abortLeaderTransfer();
    this.electionElapsed = 0; // the transfer must finish within an election timeout
    this.leadTransferee = to;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = none;
  }

  get transferee(): NodeId {
    return this.leadTransferee;
  }

  // ---------------------------------------------------------------- quiescence (raft/core/quiesce.ts)

  /** Whether the group is quiesced on this replica. */
  get isQuiesced(): boolean {
    return this.quiesced;
  }

  /**
   * The driver's liveness signal: member `id` is unreachable (its connection is gone). Wakes a
   * quiesced follower whose leader it is (its election timer runs again) and a quiesced leader
   * (it heartbeats again, and CheckQuorum steps it down if a quorum is gone).
   */
  peerDown(id: NodeId): void {
    if (!this.quiesced) return;
    if (this.role === "leader" ? this.prs.has(id) : id === this.lead) this.wake();
  }

  /**
   * Someone asked this replica for a leader's work (a client's request refused NotLeader, a
   * proposal or a read on a follower). A quiesced follower wakes (counts election ticks
   * again) and sends every other member a `wake`: a live leader wakes and heartbeats (so the
   * follower follows it again), and the other followers count election ticks from about the
   * same moment, so a leader cut off silently (a partition, a pause: no liveness signal until
   * the transport's keepalive gives up) is replaced after one election timeout, as in an
   * awake group, and a replica that campaigns finds the others out of their lease as in an
   * awake group. A quiesced leader just wakes. Nothing happens on an awake replica (it counts
   * ticks, or heartbeats, already).
   */
  wakeGroup(): void {
    if (!this.quiesced) return;
    this.wake();
    if (this.role === "leader") return;
    for (const id of this.memberIds) {
      if (id !== this.id) this.send(makeMessage({ type: "wake", from: this.id, to: id }));
    }
  }

  /**
   * A leader with nothing to do quiesces (at a heartbeat, instead of heartbeating): one quiesce
   * heartbeat to every member. Returns whether it did.
   */
  private maybeQuiesce(): boolean {
    if (!this.cfg.quiesce) return false;
    const last = this.log.lastIndex();
    // Only after quiesceIdleBeats intervals in a row without a new entry or a read: a group
    // that gets a write every few intervals would otherwise quiesce and wake between writes,
    // each time a quiesce heartbeat, its answers, and a waking heartbeat round, more messages
    // than the heartbeats of an awake group (docs/benchmarks.md, "Groups at a low rate").
    const active = last !== this.lastIndexAtBeat || this.readSinceBeat;
    this.lastIndexAtBeat = last;
    this.readSinceBeat = false;
    const others: { match: LogIndex; replicating: boolean; recentActive: boolean }[] = [];
    for (const [id, pr] of this.prs) {
      if (id === this.id) others.push({ match: pr.match, replicating: true, recentActive: true });
      else others.push({ match: pr.match, replicating: pr.state === "replicate", recentActive: pr.recentActive });
    }
    const idle = leaderMayQuiesce({
      lastIndex: last, committed: this.log.committed, applied: this.log.applied, committedInTerm: this.committedInTerm(),
      transferring: this.leadTransferee !== none, joint: isJoint(this.conf), selfVoter: isVoter(this.conf, this.id),
      confChangePending: this.pendingConfIndex > this.log.applied,
      readsPending: this.readOnly.size + this.pendingReadIndex.length > 0, proposalsPending: this.pendingBroadcast,
      members: others,
    });
    if (!idle || active) {
      this.idleBeats = 0;
      return false;
    }
    if (++this.idleBeats < this.cfg.quiesceIdleBeats) return false;
    this.idleBeats = 0;
    this.quiesced = true;
    this.quiesceUnacked = new Set(this.memberIds.filter((id) => id !== this.id));
    this.sendQuiesce();
    return true;
  }

  /** A quiesced leader's tick: the quiesce heartbeat again, every heartbeat interval, to the members that did not acknowledge it. */
  private tickQuiesced(): void {
    this.heartbeatElapsed++;
    if (this.heartbeatElapsed < this.cfg.heartbeatTicks) return;
    this.heartbeatElapsed = 0;
    this.sendQuiesce();
  }

  private sendQuiesce(): void {
    for (const id of this.quiesceUnacked) {
      this.send(makeMessage({ type: "heartbeat", from: this.id, to: id, commit: this.log.committed, context: quiesceContext }));
    }
  }

  /**
   * Messages of this term that leave a quiesced replica quiesced: on the leader, heartbeat
   * responses and accepted append responses (late answers to what it sent before it
   * quiesced: every member had acknowledged its last index already; a rejected quiesce
   * heartbeat wakes it in handleQuiesceResp); on a follower, its leader's heartbeats (the
   * quiesce one, or a late one sent before it) and a late empty append of nothing it lacks.
   * Anything else may need the group awake.
   */
  private keepsQuiesced(m: Message): boolean {
    if (m.term !== this.term) return false;
    if (this.role === "leader") return m.type === "heartbeatResp" || (m.type === "appendResp" && !m.reject);
    if (m.from !== this.lead) return false;
    // Its leader's heartbeats, and a late append that says nothing new (sent before the
    // quiesce heartbeat and overtaken by it: the commit index an idle leader sends a little
    // after the entry, raft/node.ts's held commit-only appends).
    return m.type === "heartbeat"
      || (m.type === "append" && m.entries.length === 0 && m.index <= this.log.lastIndex() && m.commit <= this.log.committed);
  }

  /**
   * A follower's answer to a quiesce heartbeat (already committed up to its commit): it
   * quiesces if its log ends at the leader's commit index (nothing of it uncommitted, so
   * nothing for the leader to repair), else it asks the leader to wake (reject).
   */
  private handleQuiesce(m: Message): void {
    const ok = this.cfg.quiesce && this.role === "follower" && this.log.committed === m.commit && this.log.lastIndex() === m.commit;
    if (ok) this.quiesced = true;
    this.send(makeMessage({ type: "heartbeatResp", from: this.id, to: m.from, context: quiesceContext, reject: !ok }));
  }

  private handleQuiesceResp(m: Message): void {
    if (!this.quiesced) return; // woken since: a late answer
    if (m.reject) this.wake();
    else this.quiesceUnacked.delete(m.from);
  }

  /**
   * Ends quiescence: a follower counts a full election timeout from now; a leader heartbeats
   * at once and starts a fresh CheckQuorum window (activity marks cleared: only answers from
   * now on count).
   */
  private wake(): void {
    if (!this.quiesced) return;
    this.quiesced = false;
    this.quiesceUnacked.clear();
    this.electionElapsed = 0;
    if (this.role !== "leader") return;
    this.heartbeatElapsed = 0;
    for (const [id, pr] of this.prs) pr.recentActive = id === this.id;
    this.bcastHeartbeat(this.readOnly.lastPendingCtx());
  }

  // ---------------------------------------------------------------- membership

  /**
   * Proposes a membership change (leader only); returns its index. It takes effect when its
   * entry is applied. Refused, with nothing appended: NotLeader / LeadershipTransfer;
   * ConfChangeInProgress while this leader has not committed an entry of its term (the
   * single-server-change bug of Raft thesis §4.1, fixed as the thesis errata says), while a
   * change is proposed and not applied, or while joint (only leave-joint is allowed then);
   * LearnerLagging for promoting a learner whose match index is more than
   * `learnerLagEntriesMax` behind the last index; InvalidArgument for a change the
   * configuration does not allow (applyConfChange).
   */
  proposeConfChange(cc: ConfChange): LogIndex {
    if (this.role !== "leader") throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== none) throw new LeadershipTransferError(this.leadTransferee);
    this.wake();
    if (!this.committedInTerm()) {
      throw new ConfChangeInProgressError(`leader ${this.id} has not committed an entry of its term ${this.term} yet`);
    }
    if (this.pendingConfIndex > this.log.applied) {
      throw new ConfChangeInProgressError(`the change at index ${this.pendingConfIndex} is not applied yet (applied ${this.log.applied})`);
    }
    if (isJoint(this.conf) && cc.kind !== "leaveJoint") {
      throw new ConfChangeInProgressError("the group is in a joint configuration; it must leave it first");
    }
    const result = applyConfChange(this.conf, cc);
    const last = this.log.lastIndex();
    for (const c of cc.kind === "simple" ? [cc.change] : cc.kind === "enterJoint" ? cc.changes : []) {
      if (c.type !== "promote") continue;
      const match = this.prs.get(c.node)!.match;
      if (match + this.cfg.learnerLagEntriesMax < last) throw new LearnerLaggingError(c.node, match, last);
    }
    const data = encodeConfChangeEntry({ change: cc, result });
    this.uncommittedBytes += data.length;
    this.pendingConfIndex = this.appendEntries([{ type: "confChange", data }]);
    this.pendingBroadcast = true;
    return this.pendingConfIndex;
  }

  /** Applies a committed conf-change entry (RawNode.advance, in log order; or replay at start). */
  applyConfEntry(e: Entry): void {
    assert(e.type === "confChange", "applyConfEntry of a non-conf-change entry");
    this.setConf(e.index, decodeConfChangeEntry(e.data).result);
  }

  /**
   * Switches to configuration `c` effective at `index` (etcd-io/raft switchToConfig): progress
   * for new members, none for removed ones. A leader that is no longer a voter hands
   * leadership to the most caught-up voter and steps down; it never counts itself in a quorum
   * it is not part of (the quorum functions only count the configuration's voters).
   */
  private setConf(index: LogIndex, c: ConfState): void {
    this.conf = c;
    this.memberIds = members(c);
    this.confHistory.push({ index, conf: c });
    const last = this.log.lastIndex();
    for (const id of this.memberIds) {
      if (!this.prs.has(id)) this.prs.set(id, new Progress((last + 1) as LogIndex, this.cfg.inflightAppendsMax, this.cfg.inflightBytesMax));
    }
    for (const id of [...this.prs.keys()]) if (id !== this.id && !this.memberIds.includes(id)) this.prs.delete(id);
    if (this.role !== "leader") return;
    if (this.leadTransferee !== none && !isVoter(c, this.leadTransferee)) this.abortLeaderTransfer();
    if (!isVoter(c, this.id)) this.handOver();
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.memberIds) if (id !== this.id && this.prs.get(id)!.match === 0) this.sendAppend(id, true);
  }

  /**
   * A leader that is not a voter of its configuration (it removed itself, or a removed replica
   * was elected to bring the others up to date: see hup) leads as a lame duck: it keeps
   * replicating, refuses proposals (a transfer is in progress) and hands leadership to the
   * most caught-up voter (timeoutNow once its log matches). Stepping down at once instead
   * could leave the voters unaware that the removal committed, each needing the vote of a
   * replica with a longer log that no longer campaigns (found by the simulator).
   */
  private handOver(): void {
    let best: NodeId = none;
    for (const id of allVoters(this.conf)) {
      if (best === none || this.prs.get(id)!.match > this.prs.get(best)!.match) best = id;
    }
    if (best === none) return;
    this.abortLeaderTransfer();
    this.electionElapsed = 0;
    this.leadTransferee = best;
    if (this.prs.get(best)!.match === this.log.lastIndex()) this.sendTimeoutNow(best);
    else this.sendAppend(best, true);
  }

  /**
   * Auto-leave: a leader whose applied configuration is joint with autoLeave proposes
   * leave-joint by itself, once nothing is pending and an entry of its term committed (also
   * a leader elected while joint, e.g. after the previous one crashed). Called after apply.
   */
  maybeAutoLeave(): void {
    if (this.role !== "leader" || !isJoint(this.conf) || !this.conf.autoLeave) return;
    if (this.leadTransferee !== none || this.pendingConfIndex > this.log.applied || !this.committedInTerm()) return;
    this.proposeConfChange({ kind: "leaveJoint" });
  }

  /** The index from which the configuration in effect holds (a conf change's, or the snapshot's). */
  get confIndex(): LogIndex {
    return this.confHistory[this.confHistory.length - 1]!.index;
  }

  /** The configuration in effect at `index` (>= the latest snapshot's index). */
  confAt(index: LogIndex): ConfState {
    let c: ConfState | undefined;
    for (const h of this.confHistory) if (h.index <= index) c = h.conf;
    assert(c !== undefined, () => `no configuration known at index ${index}`);
    return c;
  }

  /** Records a snapshot taken locally and compacts the log up to `compactIndex`. */
  compact(meta: SnapshotMeta, compactIndex: LogIndex): void {
    this.log.compact(meta, compactIndex);
    // Keep the configuration at the snapshot and every later one.
    let at = 0;
    while (at + 1 < this.confHistory.length && this.confHistory[at + 1]!.index <= meta.index) at++;
    if (at > 0) this.confHistory.splice(0, at);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
