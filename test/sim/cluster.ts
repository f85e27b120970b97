/**
 * A simulated Raft group: N RaftNodes over the simulated network and disks, on one virtual
 * clock, each with the production log store (RocksLogStore over its disk's SimKvStorage),
 * with crash (halt + lose unsynced writes) and restart (a new RaftNode over what the disk
 * kept), and clients that propose unique values to the leader and do linearizable reads.
 * Every hook feeds the checkers and the trace. A node whose log store detects corruption
 * stops for good (a daemon exits; an operator replaces the replica).
 */
import type { Cancel, Clock } from "../../common/env";
import { BackpressureError, CorruptionError, LeadershipTransferError, NotLeaderError, StoppedError } from "../../common/errors";
import type { GroupId, LogIndex, NodeId, Term } from "../../common/ids";
import { describeConfState, type ConfState } from "../../raft/core/conf-change";
import { describeMessage, describeReady } from "../../raft/core/describe";
import { jointVoteResult } from "../../raft/core/quorum";
import type { Ready } from "../../raft/core/types";
import { RaftNode } from "../../raft/node";
import type { StateMachine } from "../../raft/state-machine";
import type { LogStore } from "../../raft/storage/log-store";
import { CheckFailure, type Checker, type LogView } from "./checkers";
import type { SimClock } from "./clock";
import { SimDisk, SimKvStateMachine, type DiskLatency, type LogReadFaults } from "./disk";
import { SimNetwork, reliableNetwork, type NetworkFaults } from "./network";
import type { SimRng } from "./rng";

export interface ClusterConfig {
  readonly size: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEveryEntries: number;
  readonly compactKeepEntries: number;
  /** RaftNode's byte trigger for snapshots (undefined: its default, never reached here). */
  readonly snapshotEveryBytes?: number;
  readonly snapshotChunkBytes: number;
  /** Flow-control limits of the Raft core (small ones exercise pipelining and back-pressure). */
  readonly limits: {
    readonly appendBytesMax: number;
    readonly inflightAppendsMax: number;
    readonly uncommittedBytesMax: number;
  };
  readonly network: NetworkFaults;
  readonly disk: DiskLatency;
  /** Sabotage (checker tests only): the log stores' fsync returns before the data is durable. */
  readonly lyingFsync?: boolean;
  /**
   * Read faults of the log stores' databases (absent: none). A node whose store detects one
   * stops for good; faults reach at most as many nodes as the group can lose (a minority of
   * the initial voters).
   */
  readonly logReadFaults?: LogReadFaults;
  /**
   * Quiescence of idle groups (RaftConfig.quiesce; absent: the default, on) and how long the
   * network's liveness signal takes to report a cut or paused peer (SimNetwork.livenessDetectMs).
   */
  readonly quiesce?: { readonly on: boolean; readonly detectMs: number };
}

/** A group's network counters (a run's stats). */
export interface NetStats {
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
  messagesCut: number;
  peakInFlight: number;
  quiesceHeartbeats: number;
}

/** Appends one line to the run's trace. */
export type Trace = (line: string) => void;

/** One incarnation of one node: what lives between a start and a crash. */
export interface NodeHandle<S = SimKvStateMachine, R = number> {
  readonly id: NodeId;
  readonly gen: number;
  readonly sm: S;
  /** Set once RaftNode.start resolved. */
  node: RaftNode<R> | undefined;
  alive: boolean;
  /** Last hard state term and commit seen in a Ready of this incarnation. */
  term: Term;
  commit: LogIndex;
  /** Highest applied index seen in status() (never goes back within an incarnation). */
  applied: LogIndex;
  /** The configuration this node had at its latest Ready, and the one before (checkCommitQuorum). */
  confCur?: ConfState;
  confPrev?: ConfState;
}

/**
 * Makes the state machine of one incarnation of node `id` over its disk (the controller
 * simulation plugs its own in; the default is SimKvStateMachine). A state machine with a
 * `ready` promise (one that opens its storage asynchronously) gets its RaftNode once it resolves.
 */
export type StateMachineFactory<S> = (disk: SimDisk, id: NodeId) => S;

/** The result type of a state machine's apply. */
export type ResultOf<S> = S extends StateMachine<infer R> ? R : never;

const enc = new TextEncoder();

export class SimCluster<S extends StateMachine<unknown> = SimKvStateMachine, R = ResultOf<S>> {
  readonly ids: NodeId[];
  readonly net: SimNetwork;
  readonly disks = new Map<NodeId, SimDisk>();
  readonly handles = new Map<NodeId, NodeHandle<S, R>>();
  /** Fatal errors of nodes (onFatal, failed restarts): each is a bug. */
  readonly failures: string[] = [];
  readonly stats = { crashes: 0, restarts: 0, readies: 0, transfers: 0, snapshotsInstalled: 0, interruptedInstalls: 0, pauses: 0, corruptions: 0 };
  /** Nodes stopped for good by a detected corruption (not restarted, not required by liveness). */
  readonly corrupted = new Set<NodeId>();
  private readonly gens = new Map<NodeId, number>();
  /** Paused nodes and their timer callbacks held until resume. */
  private readonly pauses = new Map<NodeId, (() => void)[]>();

  constructor(
    readonly cfg: ClusterConfig,
    readonly clock: SimClock,
    private readonly rng: SimRng,
    readonly checker: Checker,
    readonly trace: Trace,
    private readonly makeSm?: StateMachineFactory<S>,
  ) {
    this.ids = [];
    for (let i = 1; i <= cfg.size; i++) this.ids.push(i as NodeId);
    this.bootstrapIds = [...this.ids];
    this.net = new SimNetwork(clock, rng.fork("network"), cfg.network, (what, m) => trace(`${what} ${describeMessage(m)}`));
    if (cfg.quiesce) this.net.livenessDetectMs = cfg.quiesce.detectMs;
    for (const id of this.ids) this.makeDisk(id);
  }

  /** The voters the first nodes bootstrap with; nodes added later join with none. */
  private readonly bootstrapIds: readonly NodeId[];
  /** Nodes one of whose starts completed (their bootstrap is recorded durably). */
  private readonly bootstrapped = new Set<NodeId>();

  private makeDisk(id: NodeId): void {
    const observer = {
      logSaved: this.checker.logSaved.bind(this.checker),
      smSaved: this.checker.smSaved.bind(this.checker),
    };
    const disk = new SimDisk(id, this.clock, this.rng.fork(`disk-${id}`), this.cfg.disk, observer, this.trace);
    if (this.cfg.lyingFsync === true) disk.storage.faults.lyingFsync = true;
    if (this.cfg.logReadFaults !== undefined) {
      disk.logReadFaultsOnly(() => this.mayCorrupt(disk));
      disk.setLogReadFaults(this.cfg.logReadFaults);
    }
    this.disks.set(id, disk);
  }

  /** Starts a new, empty node `id` in no configuration (membership churn adds it as a learner). */
  addNode(id: NodeId): void {
    if (this.disks.has(id)) throw new Error(`node ${id} exists`);
    this.trace(`add n${id}`);
    this.makeDisk(id);
    this.ids.push(id);
    this.start(id);
  }

  /**
   * Takes node `id`, removed from the configuration, out of the cluster for good: it is
   * crashed and no longer counted by liveness, restarts or the log checks.
   */
  retire(id: NodeId): void {
    this.trace(`retire n${id}`);
    this.crash(id);
    this.ids.splice(this.ids.indexOf(id), 1);
    this.retired.add(id);
  }

  /** Nodes removed from the group and taken down. */
  readonly retired = new Set<NodeId>();

  /** Runs `fn` after `ms` virtual ms, tracing `label` when it fires. */
  timer(label: string, ms: number, fn: () => void): Cancel {
    return this.clock.after(ms, () => {
      this.trace(label);
      fn();
    });
  }

  sleep(label: string, ms: number): Promise<void> {
    return new Promise((r) => this.timer(label, ms, r));
  }

  /**
   * Whether a read of `disk`'s log may be corrupted: corruption may reach at most a minority
   * of the initial voters (decided at the read: nodes restarting together could otherwise
   * all be hit before the first one stops).
   */
  private mayCorrupt(disk: SimDisk): boolean {
    const hit = (d: SimDisk): boolean => d.storage.stats.corruptReads + d.storage.stats.flippedReads > 0;
    if (hit(disk)) return true;
    let n = 0;
    for (const d of this.disks.values()) if (hit(d)) n++;
    return n < Math.floor((this.bootstrapIds.length - 1) / 2);
  }

  /** Live handles whose RaftNode has started. */
  live(): NodeHandle<S, R>[] {
    const out: NodeHandle<S, R>[] = [];
    for (const id of this.ids) {
      const h = this.handles.get(id);
      if (h && h.alive && h.node) out.push(h);
    }
    return out;
  }

  isUp(id: NodeId): boolean {
    return this.handles.get(id)?.alive === true;
  }

  /** The live node that believes it leads with the highest term. */
  leader(): NodeHandle<S, R> | undefined {
    let best: NodeHandle<S, R> | undefined;
    for (const h of this.live()) {
      const ss = h.node!.softState();
      if (ss.role === "leader" && (!best || ss.term > best.node!.softState().term)) best = h;
    }
    return best;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Starts (a new incarnation of) node `id` over its disk. */
  start(id: NodeId): void {
    const old = this.handles.get(id);
    if (old?.alive) throw new Error(`node ${id} is already running`);
    const gen = (this.gens.get(id) ?? 0) + 1;
    this.gens.set(id, gen);
    const disk = this.disks.get(id)!;
    const unrecorded = disk.restoreNotRecorded();
    if (unrecorded) {
      // RaftNode.start completes this install from the pending-snapshot marker.
      this.stats.interruptedInstalls++;
      this.trace(`n${id}: restarting after an interrupted install of snap ${unrecorded.index}/${unrecorded.term}`);
    }
    this.checker.restarted(id, disk.smValues.length);
    const sm = this.makeSm ? this.makeSm(disk, id) : (new SimKvStateMachine(disk, this.cfg.snapshotChunkBytes) as unknown as S);
    const h: NodeHandle<S, R> = {
      id, gen, sm, node: undefined, alive: true,
      term: disk.hardState.term, commit: disk.hardState.commit, applied: sm.appliedIndex(),
    };
    this.handles.set(id, h);
    this.trace(`start n${id} gen:${gen} term:${disk.hardState.term} commit:${disk.hardState.commit} applied:${sm.appliedIndex()} log:${disk.log.compacted.index}..${disk.log.lastIndex()}`);
    const transport = this.net.transport(id);
    const clock: Clock = {
      nowMs: () => this.clock.nowMs(),
      after: (ms, fn) => this.timer(`n${id} tick`, ms, () => {
        const p = this.pauses.get(id);
        if (p && h.alive) p.push(fn); // a stopped process's timer fires when it resumes
        else fn();
      }),
    };
    const ready = (sm as { readonly ready?: Promise<void> }).ready ?? Promise.resolve();
    // (A crash while the state machine or the log store opens: that incarnation never starts its node.)
    const opened = ready.then(() => (!h.alive ? Promise.reject(new StoppedError(`n${id} crashed while opening`)) : this.openLog(h, disk)));
    opened.then((storage) => (!h.alive ? Promise.reject(new StoppedError(`n${id} crashed while opening`)) : RaftNode.start<R>(
      {
        group: 1 as GroupId,
        join: !this.bootstrapIds.includes(id),
        // Voters bootstrap until a start has recorded it (as the daemon, which always passes its
        // configured voters; RaftNode.start resolves only once the record is durable): a node
        // whose first start a crash cut short bootstraps again. Afterwards a restart takes the
        // configuration its Raft state holds (membership churn may have changed it).
        raft: { id, voters: !this.bootstrapped.has(id) && this.bootstrapIds.includes(id) ? this.bootstrapIds : [], electionTicks: this.cfg.electionTicks, heartbeatTicks: this.cfg.heartbeatTicks, learnerLagEntriesMax: 20, ...this.cfg.limits, ...(this.cfg.quiesce ? { quiesce: this.cfg.quiesce.on } : {}) },
        tickMs: this.cfg.tickMs,
        snapshotEveryEntries: this.cfg.snapshotEveryEntries,
        compactKeepEntries: this.cfg.compactKeepEntries,
        snapshotEveryBytes: this.cfg.snapshotEveryBytes,
        onReady: (rd) => this.onReady(h, rd),
        onApplied: (entries) => this.checker.committedEntries(h.id, h.term, entries),
        // A node already taken down (a state machine that found a corrupt value stops it
        // first, test/sim/shard-replica.ts StateFlips), or a crashed incarnation whose calls
        // fail (its storage handles are dead), reports nothing.
        onFatal: (e) => {
          if (h.alive) this.fatal(h, e);
        },
      },
      { clock, rng: this.rng.fork(`node-${id}-${gen}`), transport, storage },
      sm as unknown as StateMachine<R>,
    ))).then(
      (node) => {
        this.bootstrapped.add(id);
        if (h.alive) h.node = node;
        else node.halt();
      },
      (e: Error) => {
        if (h.alive) this.fatal(h, e, "restart failed: ");
      },
    );
  }

  /**
   * The production log store of incarnation `h` over its disk, checked for flipped bits that
   * got through: every read a flip reached must make the call reject (with CorruptionError).
   */
  private async openLog(h: NodeHandle<S, R>, disk: SimDisk): Promise<LogStore> {
    const flips = (): number => disk.storage.flips(disk.logDir);
    const undetected = (what: string): void => {
      const msg = `node ${h.id} (gen ${h.gen}): a bit flipped in a read of its log store got through ${what} undetected`;
      this.trace(`fatal ${msg}`);
      this.failures.push(msg);
    };
    const before = flips();
    const store = await disk.openLog();
    if (flips() !== before) undetected("RocksLogStore.open");
    // Calls run one at a time here too (the store runs them in call order anyway), so that
    // the flips counted while one runs are its own.
    let tail: Promise<unknown> = Promise.resolve();
    const serial = <T>(call: () => Promise<T>): Promise<T> => {
      const p = tail.then(call);
      tail = p.catch(() => undefined);
      return p;
    };
    const checked = <T>(what: string, call: () => Promise<T>): Promise<T> => serial(() => {
      const at = flips();
      return call().then((v) => {
        if (flips() !== at) undetected(what);
        return v;
      });
    });
    return {
      load: () => checked("load", () => store.load()),
      save: (batch) => checked("save", () => store.save(batch)),
      compact: (snapshot, index, term) => checked("compact", () => store.compact(snapshot, index, term)),
      close: () => serial(() => store.close()),
    };
  }

  /**
   * SIGSTOP: the node's timers and messages (both ways) wait until `resume`. Clients calling
   * it directly are still served (a simplification: they are not over the network).
   */
  pause(id: NodeId): void {
    if (!this.isUp(id) || this.pauses.has(id)) return;
    this.stats.pauses++;
    this.trace(`pause n${id}`);
    this.pauses.set(id, []);
    this.net.pause(id);
  }

  /** SIGCONT: held timers fire now, held messages go. */
  resume(id: NodeId): void {
    const fns = this.pauses.get(id);
    if (!fns) return;
    this.trace(`resume n${id}`);
    this.pauses.delete(id);
    this.net.resume(id);
    for (const fn of fns) fn();
  }

  isPaused(id: NodeId): boolean {
    return this.pauses.has(id);
  }

  /** kill -9: the node stops at once, its unsynced writes are lost, its messages in flight stay in flight. */
  crash(id: NodeId): void {
    const h = this.handles.get(id);
    if (!h?.alive) return;
    this.stats.crashes++;
    if (this.pauses.delete(id)) this.net.resume(id, false); // what a stopped process held dies with it
    this.trace(`crash n${id} gen:${h.gen}`);
    h.alive = false;
    h.node?.halt();
    this.net.crashed(id);
    this.net.processDied(id);
    const disk = this.disks.get(id)!;
    disk.crash();
    disk.crashAfterWrites = undefined;
  }

  /**
   * The start of the liveness phase: no crash point left armed, the network healed and
   * reliable, every paused node resumed, every node crashed first when `fullRestart` (a
   * whole-group power cycle), every down node restarted (one stopped for good stays down).
   */
  restartForLiveness(fullRestart: boolean): void {
    for (const d of this.disks.values()) d.crashAfterWrites = undefined;
    this.net.heal();
    this.net.faults = { ...reliableNetwork };
    for (const id of this.ids) this.resume(id);
    if (fullRestart) for (const id of this.ids) this.crash(id);
    for (const id of this.ids) if (!this.isUp(id)) this.restart(id);
  }

  restart(id: NodeId): void {
    if (this.retired.has(id) || this.corrupted.has(id)) return;
    this.stats.restarts++;
    this.start(id);
  }

  /**
   * Waits for client `client`'s call `p` for up to `timeoutMs` (a timer traced `label`): its
   * outcome, or a timeout. An outcome that settles after the timeout goes to `late` (a client
   * learns from it; what `late` throws fails the client).
   */
  attempt<T>(client: number, label: string, timeoutMs: number, p: Promise<T>, late: (o: Outcome<T>) => void): Promise<Outcome<T>> {
    return new Promise((resolve) => {
      let settled = false;
      const cancel = this.timer(label, timeoutMs, () => {
        settled = true;
        resolve({ ok: false, timeout: true });
      });
      const finish = (o: Outcome<T>): void => {
        if (settled) {
          try {
            late(o);
          } catch (e) {
            this.clientFailed(client, e as Error);
          }
          return;
        }
        settled = true;
        cancel();
        resolve(o);
      };
      p.then((value) => finish({ ok: true, value }), (error: Error) => finish({ ok: false, error }));
    });
  }

  /** A client's loop died: a checker failure (already recorded) or a bug in the harness. */
  clientFailed(client: number, e: Error): void {
    if (e instanceof CheckFailure) return;
    this.failures.push(`client ${client}: ${e.stack ?? e}`);
  }

  private fatal(h: NodeHandle<S, R>, e: Error, prefix = ""): void {
    if (e instanceof CorruptionError && this.cfg.logReadFaults !== undefined) return this.stopCorrupted(h, e);
    const msg = `node ${h.id} (gen ${h.gen}) ${prefix}${e.name}: ${e.message}`;
    this.trace(`fatal ${msg}`);
    this.failures.push(`${msg}\n${e.stack ?? ""}`);
    h.alive = false;
  }

  /**
   * The log store of `h` detected corruption (a read failed the storage's checksum or a
   * record's CRC): the daemon exits, and restarting it finds the same data, so it stays down
   * until an operator deals with it. The rest of the group must keep serving.
   */
  private stopCorrupted(h: NodeHandle<S, R>, e: CorruptionError): void {
    this.stats.corruptions++;
    this.trace(`n${h.id} stops for good: ${e.message}`);
    this.crash(h.id);
    this.corrupted.add(h.id);
  }

  // ------------------------------------------------------------------ hooks

  private onReady(h: NodeHandle<S, R>, rd: Ready): void {
    this.stats.readies++;
    if (rd.snapshot) this.stats.snapshotsInstalled++;
    for (const line of describeReady(rd)) this.trace(`n${h.id}> ${line}`);
    const c = this.checker;
    const conf = h.node?.confState();
    if (conf !== undefined && conf !== h.confCur) {
      h.confPrev = h.confCur;
      h.confCur = conf;
    }
    if (rd.hardState) {
      c.commitMoved(h.id, h.commit, rd.hardState.commit);
      if ((rd.softState ?? h.node?.softState())?.role === "leader" && rd.hardState.commit > h.commit) this.checkCommitQuorum(h, rd.hardState.commit);
      h.commit = rd.hardState.commit;
      h.term = rd.hardState.term;
    }
    if (rd.softState?.role === "leader") {
      c.leaderElected(h.id, rd.softState.term);
      c.leaderLog(h.id, rd.softState.term, this.logAfter(h.id, rd));
    }
  }

  /**
   * A leader's commit index moved to `index`: the entry must be durable on a quorum of the
   * configuration it commits under (joint: both halves), counting only members (a removed or
   * a learner replica holding it does not count). That configuration is the one the leader
   * has applied now or, if a change was applied since its last Ready, the one before it.
   */
  private checkCommitQuorum(h: NodeHandle<S, R>, index: LogIndex): void {
    const term = this.disks.get(h.id)!.log.term(index);
    if (term === undefined) return;
    const holders = new Map<NodeId, boolean>();
    for (const [id, d] of this.disks) {
      if (d.log.term(index) === term || index < d.log.compacted.index) holders.set(id, true);
    }
    const ok = (c: ConfState | undefined) => c !== undefined && jointVoteResult(c, holders) === "won";
    if (!ok(h.confCur) && !ok(h.confPrev)) {
      this.checker.quorumViolated(h.id, index, `held by {${[...holders.keys()].join(",")}}, configuration ${h.confCur ? describeConfState(h.confCur) : "?"}`);
    }
  }

  /**
   * The node's log once `rd` is persisted: its durable log (every earlier Ready was persisted
   * before this one was taken) with rd's snapshot and entries on top.
   */
  private logAfter(id: NodeId, rd: Ready): LogView {
    const log = this.disks.get(id)!.log;
    let offset: number = log.compacted.index;
    let offsetTerm = log.compacted.term;
    let below = (i: number): Term | undefined => log.term(i);
    let last = log.lastIndex();
    if (rd.snapshot) {
      offset = rd.snapshot.index;
      offsetTerm = rd.snapshot.term;
      below = () => undefined;
      last = offset;
    }
    const first = rd.entries.length > 0 ? rd.entries[0]!.index : last + 1;
    if (rd.entries.length > 0) last = rd.entries[rd.entries.length - 1]!.index;
    const o = offset;
    const ot = offsetTerm;
    const base = below;
    return {
      firstIndex: o + 1,
      lastIndex: last,
      term: (i) => (i === o ? ot : i < o || i > last ? undefined : i >= first ? rd.entries[i - first]!.term : base(i)),
    };
  }

  /** The group's network counters, for a run's stats. */
  netStats(): NetStats {
    const ns = this.net.stats;
    return {
      messagesSent: ns.sentMessages,
      messagesDropped: ns.droppedMessages,
      messagesDuplicated: ns.duplicatedMessages,
      messagesCut: ns.cutMessages,
      peakInFlight: this.net.peakInFlight,
      quiesceHeartbeats: ns.quiesceHeartbeats,
    };
  }

  /** The nodes not stopped for good by a detected corruption of their log store (liveness requires these). */
  serving(): NodeId[] {
    return this.ids.filter((id) => !this.corrupted.has(id));
  }

  /**
   * What the log store read faults did: reads that failed the storage's checksum or returned
   * a flipped bit, and the nodes stopped for good (zeros when the group has none).
   */
  logFaultStats(): { corruptReads: number; flippedReads: number; corruptions: number } {
    let corruptReads = 0;
    let flippedReads = 0;
    if (this.cfg.logReadFaults !== undefined) {
      for (const d of this.disks.values()) {
        corruptReads += d.storage.stats.corruptReads;
        flippedReads += d.storage.stats.flippedReads;
      }
    }
    return { corruptReads, flippedReads, corruptions: this.stats.corruptions };
  }

  /** Whether every handle of `live` other than `leader` follows it, in its term. */
  followsLeader(leader: NodeHandle<S, R>, live: readonly NodeHandle<S, R>[]): boolean {
    const term = leader.node!.softState().term;
    return live.every((h) => {
      if (h === leader) return true;
      const ss = h.node!.softState();
      return ss.role === "follower" && ss.leader === leader.id && ss.term === term;
    });
  }

  /** One line per node for a liveness failure: its Raft status, `extra(h)` (its state machine), its progress view. */
  describe(extra: (h: NodeHandle<S, R>) => string): string {
    const lines: string[] = [];
    for (const id of this.ids) {
      const h = this.handles.get(id);
      if (!h?.alive || !h.node) {
        lines.push(`  n${id}: down${this.corrupted.has(id) ? " for good (corruption detected)" : ""}`);
        continue;
      }
      const st = h.node.status();
      lines.push(`  n${id}: ${st.role} term:${st.term} leader:${st.leader} commit:${st.commit} applied:${st.applied} log:${st.firstIndex}..${st.lastIndex} snap:${st.snapshotIndex} ${extra(h)} ${JSON.stringify(st.progress)}`);
    }
    return lines.join("\n");
  }

  /** Cheap checks over every live node (run every few events). */
  checkLive(): void {
    for (const h of this.live()) {
      const st = h.node!.status();
      if (st.applied < h.applied) this.checker.appliedMoved(h.id, h.applied, st.applied);
      h.applied = st.applied;
      if (st.applied > st.commit) throw new Error(`node ${h.id}: applied ${st.applied} > commit ${st.commit}`);
    }
  }

  /** Full pairwise log matching over the durable logs. */
  checkLogs(): void {
    const logs = this.ids.map((id) => [id, this.disks.get(id)!.entries()] as const);
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) this.checker.compareLogs(logs[i]![0], logs[i]![1], logs[j]![0], logs[j]![1]);
    }
  }
}

// ---------------------------------------------------------------------- clients

export interface ClientConfig {
  /** Probability that an operation is a linearizable read. */
  readonly readRate: number;
  /** Pause between operations, uniform integer ms in [1, thinkMsMax] (at least 1: time moves). */
  readonly thinkMsMax: number;
  /** A client gives up on one attempt after this long (outcome unknown). */
  readonly attemptTimeoutMs: number;
  /** Pause before retrying on another node. */
  readonly retryMs: number;
  /** Operations one client keeps in flight at once (each in its own loop). */
  readonly concurrency: number;
  /**
   * Idle windows (absent: none): no operation starts in the first `forMs` of every `everyMs`
   * of virtual time, for every client at once, so the group goes idle (and quiesces).
   */
  readonly idle?: { readonly everyMs: number; readonly forMs: number };
}

/** How a client's attempt ended: a value, an error, or no answer within its timeout. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error } | { ok: false; timeout: true };

/**
 * A client: proposes unique values `c<id>-<seq>` (`concurrency` at a time) to whoever it
 * believes leads, following NotLeader hints, and sometimes reads. A value refused definitively (NotLeader,
 * Backpressure, LeadershipTransfer: never entered the log) is retried as is; after an unknown
 * outcome (timeout, crash) it moves on to a new value and never re-proposes the old one, so
 * every value may be applied at most once.
 */
export class SimClient {
  private seq = 0;
  private hint: NodeId | undefined;
  private stopping = false;
  /** Resolves when the client's loop has ended. */
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly cluster: SimCluster,
    readonly id: number,
    private readonly rng: SimRng,
    private readonly cfg: ClientConfig,
  ) {}

  start(): void {
    const loops: Promise<void>[] = [];
    for (let i = 0; i < this.cfg.concurrency; i++) loops.push(this.loop().catch((e: Error) => this.cluster.clientFailed(this.id, e)));
    this.done = Promise.all(loops).then(() => {});
  }

  stop(): void {
    this.stopping = true;
  }

  private trace(s: string): void {
    this.cluster.trace(`c${this.id} ${s}`);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const idle = this.cfg.idle;
      const into = idle === undefined ? idle : this.cluster.clock.nowMs() % idle.everyMs;
      if (idle !== undefined && into !== undefined && into < idle.forMs) {
        await this.cluster.sleep(`c${this.id} idle`, idle.forMs - into);
        continue;
      }
      if (this.cfg.readRate > 0 && this.rng.bool(this.cfg.readRate)) await this.read();
      else await this.write(`c${this.id}-${++this.seq}`);
      await this.cluster.sleep(`c${this.id} think`, this.rng.range(1, Math.max(1, this.cfg.thinkMsMax)));
    }
  }

  /** The hinted leader if it is up, else (or with probability `randomRate`) any live node. */
  private target(randomRate = 0): NodeHandle | undefined {
    const live = this.cluster.live();
    if (live.length === 0) return undefined;
    if (this.hint !== undefined && !(randomRate > 0 && this.rng.bool(randomRate))) {
      const h = live.find((x) => x.id === this.hint);
      if (h) return h;
    }
    return this.rng.pick(live);
  }

  /** Proposes `value` until it is acknowledged, refused for good, or its outcome is unknown. */
  async write(value: string): Promise<"acked" | "refused" | "unknown"> {
    const checker = this.cluster.checker;
    checker.proposing(value);
    for (let tries = 0; ; tries++) {
      if (this.stopping && tries > 0) {
        checker.refused(value);
        return "refused";
      }
      const h = this.target();
      if (!h) {
        await this.cluster.sleep(`c${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      this.trace(`propose ${value} -> n${h.id}`);
      const o = await this.cluster.attempt(this.id, `c${this.id} timeout`, this.cfg.attemptTimeoutMs, h.node!.propose(enc.encode(value)), (late) => this.lateOutcome(h.id, value, late));
      if (o.ok) {
        this.trace(`ack ${value} #${o.value}`);
        checker.acked(value, o.value);
        checker.ackedBy(h.id, o.value);
        this.hint = h.id;
        return "acked";
      }
      if ("timeout" in o) {
        this.trace(`timeout ${value}`);
        checker.unknown();
        this.hint = undefined;
        return "unknown";
      }
      const e = o.error;
      if (e instanceof NotLeaderError || e instanceof BackpressureError || e instanceof LeadershipTransferError) {
        // Definitely not in the log: retry the same value (at the hinted leader).
        this.trace(`refused ${value} by n${h.id}: ${e.code}`);
        this.hint = e instanceof NotLeaderError && e.leaderHint !== 0 ? e.leaderHint : undefined;
        // Follow a fresh hint at once; otherwise back off (two nodes may point at each other).
        if (this.hint === undefined || tries > 0) await this.cluster.sleep(`c${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      this.trace(`unknown ${value} at n${h.id}: ${e.name}`);
      checker.unknown();
      this.hint = undefined;
      return "unknown";
    }
  }

  /** An attempt that settled after the client stopped waiting: still informative. */
  private lateOutcome(node: NodeId, value: string, o: Outcome<number>): void {
    if (o.ok) {
      this.trace(`late ack ${value} #${o.value}`);
      this.cluster.checker.acked(value, o.value);
      this.cluster.checker.ackedBy(node, o.value);
    } else if ("error" in o && o.error instanceof NotLeaderError) {
      // E.g. its entry was overwritten by another leader's: it must never be applied.
      this.trace(`late refusal ${value}`);
      this.cluster.checker.refused(value);
    }
  }

  /** A linearizable read: readBarrier on the leader, then its local list. */
  async read(): Promise<void> {
    const checker = this.cluster.checker;
    for (let tries = 0; tries < 5 && !this.stopping; tries++) {
      // Sometimes ask a random node: a deposed leader that does not know it yet must not serve.
      const h = this.target(tries === 0 ? 0.5 : 0);
      if (!h) {
        await this.cluster.sleep(`c${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      const mustSee = checker.maxAckedPosition;
      this.trace(`read -> n${h.id} mustSee:${mustSee}`);
      const o = await this.cluster.attempt(this.id, `c${this.id} timeout`, this.cfg.attemptTimeoutMs, h.node!.readBarrier(), () => {});
      if (o.ok) {
        const seen = h.sm.values().length;
        this.trace(`read done n${h.id} saw:${seen}`);
        checker.readDone(h.id, mustSee, seen);
        this.hint = h.id;
        return;
      }
      if ("timeout" in o) return;
      if (o.error instanceof NotLeaderError) {
        this.hint = o.error.leaderHint !== 0 ? o.error.leaderHint : undefined;
        if (this.hint === undefined || tries > 0) await this.cluster.sleep(`c${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      return;
    }
  }
}
