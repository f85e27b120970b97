/**
 * RawNode: the synchronous, deterministic face of the Raft core (etcd-io/raft rawnode.go).
 * The driver (raft/node.ts, or a test) calls tick/step/propose/readIndex/transferLeader, then
 * takes a Ready, carries it out in the documented order, and calls advance(). No async, no
 * timers, no I/O: time and randomness come in through the config's Rng and tick().
 */
import { assert } from "../../common/assert";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { RaftConfig } from "./config";
import { snapshotMetaWith, type ConfChange, type ConfState } from "./conf-change";
import { RaftLog } from "./log";
import { Raft } from "./raft";
import type { Entry, HardState, Message, Ready, SnapshotMeta, SoftState } from "./types";

/** What a replica restarts from: its log store's state and its state machine's applied index. */
export interface RawNodeInit {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta;
  readonly compacted: { readonly index: LogIndex; readonly term: Term };
  readonly entries: readonly Entry[];
  /** The state machine's durable applied index; entries after it are handed out again. */
  readonly applied: LogIndex;
}

export class RawNode {
  private readonly raft: Raft;
  private prevHard: HardState;
  private prevSoft: SoftState;
  private readyOut = false;

  constructor(private readonly cfg: RaftConfig, init: RawNodeInit) {
    assert(init.applied >= init.snapshot.index || init.snapshot.index === 0 || init.applied >= init.compacted.index,
      () => `state machine applied ${init.applied} is below the log's compaction point ${init.compacted.index}`);
    const log = new RaftLog({
      compacted: init.compacted,
      snapshot: init.snapshot,
      entries: init.entries,
      committed: init.hardState.commit,
      applied: init.applied,
    });
    this.raft = new Raft(cfg, { hardState: init.hardState, log });
    this.prevHard = this.raft.hardState();
    this.prevSoft = this.softState();
  }

  get id(): NodeId {
    return this.cfg.id;
  }

  tick(): void {
    assert(!this.readyOut, "tick() while a Ready is outstanding");
    this.raft.tick();
  }

  /** Steps a message from a peer. Messages for another replica are a bug in the caller. */
  step(m: Message): void {
    assert(m.to === this.cfg.id, () => `message for ${m.to} stepped on ${this.cfg.id}`);
    assert(!this.readyOut, "step() while a Ready is outstanding");
    this.raft.stepMessage(m);
  }

  /** Starts an election now (tests, or an operator forcing one). */
  campaign(): void {
    this.raft.hup(false);
  }

  /**
   * The driver's liveness signal for quiescence (raft/core/quiesce.ts): its transport finds
   * member `id` unreachable. Wakes a quiesced follower of `id`, or a quiesced leader.
   */
  peerDown(id: NodeId): void {
    assert(!this.readyOut, "peerDown() while a Ready is outstanding");
    this.raft.peerDown(id);
  }

  /**
   * A client asked this replica for a leader's work: a quiesced follower wakes and wakes the
   * other members, a quiesced leader wakes (Raft.wakeGroup; raft/core/quiesce.ts).
   */
  wakeGroup(): void {
    assert(!this.readyOut, "wakeGroup() while a Ready is outstanding");
    this.raft.wakeGroup();
  }

  /** Whether the group is quiesced here: the leader sends no heartbeats; a follower counts no election ticks. */
  isQuiesced(): boolean {
    return this.raft.isQuiesced;
  }

  /**
   * The transport reports that `peer`'s process is gone (connection reset or refused): a
   * follower of it campaigns within two ticks (Raft.leaderUnreachable).
   */
  leaderUnreachable(peer: NodeId): void {
    assert(!this.readyOut, "leaderUnreachable() while a Ready is outstanding");
    this.raft.leaderUnreachable(peer);
  }

  /** Proposes commands; returns the index of the last one. Throws NotLeader/Backpressure/LeadershipTransfer. */
  propose(datas: readonly Uint8Array[]): LogIndex {
    return this.raft.propose(datas);
  }

  /** Starts a linearizable read identified by `ctx` (unique among pending reads). */
  readIndex(ctx: Uint8Array): void {
    this.raft.readIndex(ctx);
  }

  transferLeader(to: NodeId): void {
    this.raft.transferLeader(to);
  }

  /** On a leader, the voter a leadership transfer is handing leadership to (0: none in progress). */
  transferee(): NodeId {
    return this.raft.transferee;
  }

  /**
   * Proposes a membership change; returns its index. It takes effect when the entry is
   * applied (advance() applies it: the driver does nothing special). Throws NotLeader,
   * LeadershipTransfer, ConfChangeInProgress, LearnerLagging or InvalidArgument (Raft.proposeConfChange).
   */
  proposeConfChange(cc: ConfChange): LogIndex {
    return this.raft.proposeConfChange(cc);
  }

  /** The configuration in effect (the latest applied). */
  confState(): ConfState {
    return this.raft.conf;
  }

  /** The index from which confState() holds (its conf change's index, or the snapshot's). */
  confIndex(): LogIndex {
    return this.raft.confIndex;
  }

  /**
   * Records a snapshot the state machine took at `index` (<= applied) and compacts the log at
   * or below `compactIndex`. Returns the snapshot's meta (its term read from the log).
   */
  compact(index: LogIndex, compactIndex: LogIndex): SnapshotMeta {
    const t = this.raft.log.term(index);
    assert(t !== undefined, () => `snapshot at ${index} outside the log`);
    const meta: SnapshotMeta = snapshotMetaWith(index, t, this.raft.confAt(index));
    this.raft.compact(meta, compactIndex);
    return meta;
  }

  softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role, term: this.raft.term };
  }

  /** Read-only view for status and checkers. */
  status(): {
    id: NodeId; term: Term; vote: NodeId; leader: NodeId; role: SoftState["role"];
    commit: LogIndex; applied: LogIndex; lastIndex: LogIndex; firstIndex: LogIndex; snapshotIndex: LogIndex;
    progress: Record<number, string>;
  } {
    const r = this.raft;
    const progress: Record<number, string> = {};
    if (r.role === "leader") for (const [id, pr] of r.prs) progress[id] = pr.describe();
    return {
      id: r.id, term: r.term, vote: r.vote, leader: r.lead, role: r.role,
      commit: r.log.committed, applied: r.log.applied, lastIndex: r.log.lastIndex(),
      firstIndex: r.log.firstIndex(), snapshotIndex: r.log.snapshot.index, progress,
    };
  }

  /** On a leader, each member's match index (its own: the last index); empty elsewhere. */
  matchIndexes(): Map<NodeId, LogIndex> {
    const r = this.raft;
    const out = new Map<NodeId, LogIndex>();
    if (r.role !== "leader") return out;
    for (const [id, pr] of r.prs) out.set(id, id === r.id ? r.log.lastIndex() : pr.match);
    return out;
  }

  /**
   * On a leader, whether member `id` (not the leader itself) is in the replicate state and has
   * been sent every entry of the log, entries in flight included: an empty append to it then
   * says nothing but a commit index (the appends in flight will be answered, and a lost one is
   * found by the next rejection or heartbeat response). To a member in probe or snapshot state
   * (a new learner, one behind, one that just installed a snapshot) an empty append is a
   * probe. False elsewhere and for a non-member.
   */
  sentWholeLog(id: NodeId): boolean {
    const r = this.raft;
    if (r.role !== "leader" || id === r.id) return false;
    const pr = r.prs.get(id);
    return pr !== undefined && pr.state === "replicate" && pr.next === r.log.lastIndex() + 1;
  }

  /** The index of the last entry in the log (cheap: no status object). */
  lastIndex(): LogIndex {
    return this.raft.log.lastIndex();
  }

  /** Term of the entry at `i` if still in memory. */
  termAt(i: LogIndex): Term | undefined {
    return this.raft.log.term(i);
  }

  /** Entries in memory in [lo, hi] (for checkers and status). */
  entriesBetween(lo: LogIndex, hi: LogIndex): Entry[] {
    return this.raft.log.slice(lo, hi, Number.MAX_SAFE_INTEGER);
  }

  hasReady(): boolean {
    const r = this.raft;
    r.flushBroadcast();
    if (r.msgs.length > 0 || r.readStates.length > 0 || r.snapshotChunks.length > 0 || r.installedSnapshot) return true;
    if (r.log.unstableEntries().length > 0) return true;
    if (r.log.committed > r.log.applied) return true;
    if (!hardStateEqual(r.hardState(), this.prevHard)) return true;
    const ss = this.softState();
    return ss.leader !== this.prevSoft.leader || ss.role !== this.prevSoft.role || ss.term !== this.prevSoft.term;
  }

  /** Takes what must be persisted, sent and applied. Call advance(rd) when done. */
  ready(): Ready {
    assert(!this.readyOut, "ready() called again before advance()");
    const r = this.raft;
    r.flushBroadcast();
    const hs = r.hardState();
    const ss = this.softState();
    const rd: Ready = {
      softState: ss.leader !== this.prevSoft.leader || ss.role !== this.prevSoft.role || ss.term !== this.prevSoft.term ? ss : undefined,
      hardState: hardStateEqual(hs, this.prevHard) ? undefined : hs,
      entries: r.log.unstableEntries(),
      snapshotChunks: r.snapshotChunks,
      snapshot: r.installedSnapshot,
      messages: r.msgs,
      committedEntries: r.log.nextCommitted(this.cfg.applyBytesMax),
      readStates: r.readStates,
    };
    r.msgs = [];
    r.readStates = [];
    r.snapshotChunks = [];
    r.installedSnapshot = undefined;
    this.readyOut = true;
    return rd;
  }

  /** Acknowledges that `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    assert(this.readyOut, "advance() without ready()");
    this.readyOut = false;
    const r = this.raft;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      r.log.stableTo(last.index, last.term);
      r.persisted();
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!;
      // A conf change takes effect when applied, i.e. here (docs/design.md §3 Raft).
      for (const e of rd.committedEntries) if (e.type === "confChange" && e.index > r.log.applied) r.applyConfEntry(e);
      if (last.index > r.log.applied) r.log.appliedTo(last.index);
      r.reduceUncommitted(rd.committedEntries);
      r.maybeAutoLeave();
    }
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
