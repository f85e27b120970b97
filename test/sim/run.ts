/**
 * One seeded simulation run (TigerBeetle VOPR style): the seed decides the cluster size, the
 * fault rates and every random choice; a safety phase with faults (drops, duplicates, delays,
 * partitions, crashes and restarts, leadership transfers) under client load, then a liveness
 * phase that heals everything, restarts every node and requires one leader and progress (a
 * fresh write applied on every node) within a bounded time. Checkers run throughout.
 *
 * The event loop pops the next virtual timer, runs it, then lets every promise chain it
 * triggered run to completion (one macrotask turn: all simulated I/O is on the virtual clock,
 * so those chains end) before the next event. Same seed, same code: same trace, byte for byte.
 */
import { createHash } from "node:crypto";
import { nextTurn } from "../../common/real-env";
import type { NodeId } from "../../common/ids";
import type { StateMachine } from "../../raft/state-machine";
import { describeConfState, isJoint, members, type ConfChange } from "../../raft/core/conf-change";
import { type BuggifyStats, SimBuggify } from "./buggify";
import { Checker } from "./checkers";
import { SimClock } from "./clock";
import { SimClient, SimCluster, type ClientConfig, type ClusterConfig } from "./cluster";
import { reliableNetwork } from "./network";
import { SimRng } from "./rng";

/**
 * Virtual length of the safety phase (2500 ticks of 10 ms). `SEED=s npm run sim` and the
 * test suite use the same default, so a seed replays exactly. About 0.2 s of CPU per seed.
 */
export const defaultSafetyMs = 25_000;

/** Everything a seed decides. */
export interface SimParams {
  readonly cluster: ClusterConfig;
  readonly clients: number;
  readonly client: ClientConfig;
  /** Mean virtual ms between nemesis actions (0 = no nemesis). */
  readonly nemesisGapMs: number;
  /** Relative weights of the nemesis actions. */
  readonly weights: {
    readonly partition: number; readonly heal: number; readonly crash: number; readonly transfer: number; readonly pause: number;
  };
  /** How long a crashed node stays down, uniform ms in [0, downMsMax]. */
  readonly downMsMax: number;
  /** The liveness phase starts by restarting every node (else only the crashed ones). */
  readonly fullRestart: boolean;
  /** Membership churn (MembershipNemesis): mean virtual ms between changes; 0 = none. */
  readonly membershipGapMs?: number;
}

export interface RunOptions {
  /** Virtual milliseconds of the safety phase. Default `defaultSafetyMs`. */
  readonly safetyMs?: number;
  /**
   * Virtual milliseconds the liveness phase may take before it is a failure, plus 20 ms per
   * snapshot chunk of the largest state (a lagging node may need all of it). Default 10000.
   */
  readonly livenessMs?: number;
  /** Receives every trace line (the hash is computed either way). */
  readonly trace?: (line: string) => void;
  /** Run the cheap whole-cluster checks every this many drains. Default 8. */
  readonly checkEvery?: number;
  /** Events allowed before the run is declared stuck (a livelock at one virtual time). Default 2,000,000. */
  readonly maxEvents?: number;
  /** More messages in flight than this at once is a failure (a message storm). Default 2000 (runs peak near 200). */
  readonly stormMessages?: number;
  /** Timers due at the same virtual time run together before one drain, up to this many. Default 16. */
  readonly sameTimeBatch?: number;
  /** Overrides of the derived parameters (tests). */
  readonly params?: (p: SimParams) => SimParams;
  /** BUGGIFY fault points in the production code (test/sim/buggify.ts). Default on. */
  readonly buggify?: boolean;
}

export interface RunStats {
  events: number;
  /** Macrotask turns that drained the promise chains (same-time events share one). */
  drains: number;
  virtualMs: number;
  nodes: number;
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
  messagesCut: number;
  peakInFlight: number;
  readies: number;
  crashes: number;
  restarts: number;
  leaders: number;
  committedEntries: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  acked: number;
  reads: number;
  refused: number;
  unknown: number;
  /** Writes whose completion a crash interrupted (state machine writes and synced log writes). */
  lostWrites: number;
  /** Log batches written without fsync (commit-only hard state saves) that power losses dropped. */
  lostUnsyncedSaves: number;
  /** Reads of the log stores that failed the storage's checksum, or returned a flipped bit. */
  corruptReads: number;
  flippedReads: number;
  /** Nodes stopped for good because their log store detected corruption. */
  corruptions: number;
  pauses: number;
  /** Virtual ms the liveness phase took to settle (-1: it did not). */
  livenessSettledMs: number;
  /** Restarts that needed the emulated fix of the unrecorded-restore bug. */
  interruptedInstalls: number;
  /** Membership changes proposed and appended / refused (ConfChangeInProgress, LearnerLagging, ...); nodes retired. */
  confChanges: number;
  confChangesRefused: number;
  retired: number;
}

export interface RunResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: string;
  /** sha256 of the trace (one line per event and per Ready line). */
  readonly traceHash: string;
  readonly stats: RunStats;
  readonly params: SimParams;
  /** Which BUGGIFY points the run enabled and how often each fired. */
  readonly buggify: BuggifyStats;
}

export function deriveParams(seed: number): SimParams {
  const r = new SimRng(seed).fork("params");
  const size = r.pick([1, 3, 3, 3, 5, 5]);
  const delayMinMs = r.range(0, 3);
  const diskMinMs = r.range(0, 2);
  const faulty = r.bool(0.85);
  const churn = new SimRng(seed).fork("membership");
  const withChurn = churn.bool(0.35);
  const churnGapMs = withChurn ? churn.range(100, 1500) : 0;
  // Read faults of the log stores in about a third of the seeds of 3 or 5 nodes without
  // membership churn (a node they stop stays down: the group must be able to lose it). From
  // a stream of their own, so the other parameters of every seed stay what they were.
  const rot = new SimRng(seed).fork("log-read-faults");
  const logReadFaults = size >= 3 && !withChurn && rot.bool(0.35) ? { corruptionRate: rot.between(0, 0.002), flipRate: rot.between(0, 0.002) } : undefined;
  return {
    cluster: {
      size,
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: r.pick([1, 2, 3]),
      snapshotEveryEntries: r.range(20, 50),
      compactKeepEntries: r.range(0, 10),
      // Half the seeds also snapshot by bytes (entries are 10-30 bytes): the byte trigger and
      // the byte bound on the entries kept below a snapshot. Drawn from a stream of its own so
      // the other parameters of every seed stay what they were.
      snapshotEveryBytes: new SimRng(seed).fork("snapshot-bytes").bool(0.5) ? new SimRng(seed).fork("snapshot-bytes-n").range(100, 600) : undefined,
      snapshotChunkBytes: r.pick([64, 64, 64, 128, 256]),
      // Half the seeds run with small flow-control limits: one entry per append, a window of
      // one or two appends, proposals refused with Backpressure.
      limits: r.bool(0.5)
        ? { appendBytesMax: 1 << 20, inflightAppendsMax: 256, uncommittedBytesMax: 64 << 20 }
        : {
          appendBytesMax: r.pick([40, 100, 300, 1 << 20]),
          inflightAppendsMax: r.pick([1, 2, 4, 256]),
          uncommittedBytesMax: r.pick([20, 50, 200, 64 << 20]),
        },
      network: {
        dropRate: faulty && r.bool(0.8) ? r.between(0, 0.2) : 0,
        dupRate: faulty && r.bool(0.7) ? r.between(0, 0.1) : 0,
        delayMinMs,
        delayMaxMs: delayMinMs + r.range(1, 30),
        longDelayRate: faulty && r.bool(0.5) ? r.between(0, 0.03) : 0,
        longDelayMs: r.range(50, 400),
      },
      disk: { minMs: diskMinMs, maxMs: diskMinMs + r.range(0, 8) },
      ...(logReadFaults ? { logReadFaults } : {}),
    },
    clients: r.range(1, 3),
    client: {
      readRate: r.bool(0.25) ? 0 : r.between(0, 0.4),
      thinkMsMax: r.range(0, 40),
      attemptTimeoutMs: r.range(100, 800),
      retryMs: r.range(5, 30),
      concurrency: r.pick([1, 1, 2, 4]),
    },
    nemesisGapMs: faulty ? r.range(30, 500) : 0,
    weights: {
      partition: size > 1 ? r.range(0, 4) : 0,
      heal: r.range(1, 4),
      crash: r.range(0, 3),
      transfer: size > 1 ? r.range(0, 2) : 0,
      pause: r.range(0, 2),
    },
    downMsMax: r.range(20, 1500),
    fullRestart: r.bool(0.5),
    // Drawn from a stream of its own, so the other parameters of every seed stay what they were.
    // Absent when off, so the trace of a seed without churn is what it was, byte for byte.
    ...(withChurn ? { membershipGapMs: churnGapMs } : {}),
  };
}

/** Runs every promise chain the last event started (all of them end: I/O is virtual). */
const drain = (): Promise<void> => new Promise((r) => nextTurn(r));

export async function runSeed(seed: number, opts: RunOptions = {}): Promise<RunResult> {
  seed = seed >>> 0;
  const base = deriveParams(seed);
  const params = opts.params ? opts.params(base) : base;
  const safetyMs = opts.safetyMs ?? defaultSafetyMs;
  const livenessMs = opts.livenessMs ?? 10_000;
  const checkEvery = opts.checkEvery ?? 8;
  const maxEvents = opts.maxEvents ?? 2_000_000;
  const stormMessages = opts.stormMessages ?? 2000;
  const sameTimeBatch = opts.sameTimeBatch ?? 16;

  const root = new SimRng(seed);
  const clock = new SimClock();
  const hash = createHash("sha256");
  const sink = opts.trace;
  // Lines are hashed in 64 KiB pieces (one update per line costs more than the rest of tracing).
  let pending = "";
  const trace = (line: string): void => {
    const l = `${clock.nowMs()} ${line}\n`;
    pending += l;
    if (pending.length >= 65536) {
      hash.update(pending);
      pending = "";
    }
    sink?.(l.slice(0, -1));
  };
  const bug = SimBuggify.start(seed, opts.buggify);
  if (bug) bug.trace = trace;
  const checker = new Checker();
  const cluster = new SimCluster(params.cluster, clock, root.fork("cluster"), checker, trace);
  trace(`seed ${seed} params ${JSON.stringify(params)}`);

  let events = 0;
  let drains = 0;
  let lastTimeMs = -1;
  let eventsAtTime = 0;
  let failure: string | undefined;
  const currentFailure = (): string | undefined => checker.failure ?? (cluster.failures.length > 0 ? cluster.failures[0] : undefined);

  /** Runs events until `until()` holds (checked after each event), time passes `deadlineMs`, or a failure. */
  const runUntil = async (until: () => boolean, deadlineMs: number): Promise<boolean> => {
    while (failure === undefined) {
      if (until()) return true;
      const next = clock.peekTime();
      if (next === undefined || next > deadlineMs) return false;
      try {
        clock.runNext();
        events++;
        // Timers due at the same virtual instant run before one shared drain: their promise
        // chains then interleave differently, but just as deterministically, and no chain
        // observes a later time than it would have. The drain (a macrotask turn) is the main
        // cost of the loop.
        const now = clock.nowMs();
        for (let k = 1; k < sameTimeBatch && clock.peekTime() === now; k++) {
          clock.runNext();
          events++;
        }
      } catch (e) {
        failure = checker.failure ?? `uncaught in event: ${(e as Error).stack ?? e}`;
        break;
      }
      await drain();
      drains++;
      if (drains % checkEvery === 0) {
        if (cluster.net.inFlight > stormMessages) {
          failure ??= `message storm: ${cluster.net.inFlight} messages in flight at ${clock.nowMs()} ms (bound ${stormMessages}): some exchange multiplies messages`;
        }
        try {
          cluster.checkLive();
          if (drains % (checkEvery * 128) === 0) cluster.checkLogs();
        } catch (e) {
          failure = checker.failure ?? `check: ${(e as Error).message}`;
        }
      }
      failure ??= currentFailure();
      if (clock.nowMs() !== lastTimeMs) {
        lastTimeMs = clock.nowMs();
        eventsAtTime = 0;
      } else if (++eventsAtTime > 100_000) {
        failure ??= `stuck: 100000 events at virtual time ${lastTimeMs} ms without time moving (livelock)`;
      }
      if (events >= maxEvents) failure ??= `stuck: ${events} events by virtual time ${clock.nowMs()} ms`;
    }
    return false;
  };

  for (const id of cluster.ids) cluster.start(id);
  const clients: SimClient[] = [];
  for (let i = 1; i <= params.clients; i++) {
    const c = new SimClient(cluster, i, root.fork(`client-${i}`), params.client);
    clients.push(c);
    c.start();
  }
  const nemesis = new Nemesis(cluster, root.fork("nemesis"), params);
  nemesis.start();
  const churn = new MembershipNemesis(cluster, root.fork("membership"), params.membershipGapMs ?? 0);
  churn.start();

  // ---------------------------------------------------------------- safety phase
  await runUntil(() => false, safetyMs);

  // ---------------------------------------------------------------- liveness phase
  let livenessSettledMs = -1;
  if (failure === undefined) {
    const start = clock.nowMs();
    // A node far behind catches up by a snapshot sent one chunk per round trip: allow 20 ms
    // per chunk of the largest state on top of the fixed bound.
    let stateBytes = 0;
    for (const d of cluster.disks.values()) stateBytes = Math.max(stateBytes, JSON.stringify(d.smValues).length);
    const transferMs = 20 * Math.ceil(stateBytes / params.cluster.snapshotChunkBytes);
    const deadline = start + livenessMs + transferMs;
    nemesis.stop();
    churn.stop();
    for (const d of cluster.disks.values()) d.crashAfterWrites = undefined;
    for (const c of clients) c.stop();
    cluster.net.heal();
    cluster.net.faults = { ...reliableNetwork };
    trace(`liveness: heal, reliable network, restart ${params.fullRestart ? "every node" : "the crashed nodes"}`);
    for (const id of cluster.ids) cluster.resume(id);
    if (params.fullRestart) {
      // Every node restarts from its disk (a whole-cluster power cycle).
      for (const id of cluster.ids) cluster.crash(id);
    }
    for (const id of cluster.ids) if (!cluster.isUp(id)) cluster.restart(id);

    let clientsDone = false;
    void Promise.all(clients.map((c) => c.done)).then(() => { clientsDone = true; });
    // A fresh write must be acknowledged (retrying with new values after unknown outcomes).
    const probe = new SimClient(cluster, 0, root.fork("probe"), { readRate: 0, thinkMsMax: 0, attemptTimeoutMs: 500, retryMs: 10, concurrency: 1 });
    let freshAcked = false;
    let attempt = 0;
    const probeLoop = async (): Promise<void> => {
      while (!freshAcked && failure === undefined && clock.nowMs() < deadline) {
        const outcome = await probe.write(`fresh-${++attempt}`);
        if (outcome === "acked") freshAcked = true;
      }
    };
    probeLoop().catch((e: Error) => cluster.clientFailed(0, e));
    const settled = (): boolean => {
      if (!freshAcked || !clientsDone) return false;
      const leader = cluster.leader();
      if (!leader) return false;
      // Every member of the leader's configuration (a node added whose change never
      // committed is not one) is up and follows it.
      const mem = new Set(members(leader.node!.confState()).filter((id) => !cluster.corrupted.has(id)));
      const live = cluster.live().filter((h) => mem.has(h.id));
      if (live.length !== mem.size) return false;
      const lss = leader.node!.softState();
      const commit = leader.node!.status().commit;
      for (const h of live) {
        const ss = h.node!.softState();
        if (h !== leader && (ss.role !== "follower" || ss.leader !== leader.id || ss.term !== lss.term)) return false;
        if (h.node!.status().applied < commit || h.sm.values().length < checker.maxAckedPosition) return false;
      }
      return true;
    };
    const ok = await runUntil(settled, deadline);
    if (failure === undefined && !ok) {
      failure = `liveness: no stable leader with progress within ${livenessMs + transferMs} ms after healing (fresh write acked: ${freshAcked}, clients done: ${clientsDone})\n${describeCluster(cluster)}`;
    }
    if (failure === undefined) {
      livenessSettledMs = clock.nowMs() - start;
      trace(`liveness settled in ${livenessSettledMs} ms`);
      try {
        cluster.checkLogs();
        const mem = new Set(members(cluster.leader()!.node!.confState()).filter((id) => !cluster.corrupted.has(id)));
        const final = cluster.live().filter((h) => mem.has(h.id));
        for (const h of final) checker.allAckedIn(h.id, h.sm.values());
        const lens = final.map((h) => h.sm.values().length);
        if (new Set(lens).size !== 1) failure = `replicas ended with different list lengths: ${lens.join(", ")}`;
      } catch (e) {
        failure = checker.failure ?? (e as Error).message;
      }
    }
  }
  trace(failure === undefined ? "ok" : `FAIL ${failure.split("\n")[0]}`);

  let lostWrites = 0;
  let lostUnsyncedSaves = 0;
  let snapshotsTaken = 0;
  let corruptReads = 0;
  let flippedReads = 0;
  for (const d of cluster.disks.values()) {
    lostWrites += d.lostWrites + d.storage.stats.lostSyncs;
    lostUnsyncedSaves += d.storage.lost(d.logDir);
    snapshotsTaken += d.snapshotsTaken;
    corruptReads += d.storage.stats.corruptReads;
    flippedReads += d.storage.stats.flippedReads;
  }
  const ns = cluster.net.stats;
  const stats: RunStats = {
    events,
    drains,
    virtualMs: clock.nowMs(),
    nodes: params.cluster.size,
    messagesSent: ns.sentMessages,
    messagesDropped: ns.droppedMessages,
    messagesDuplicated: ns.duplicatedMessages,
    messagesCut: ns.cutMessages,
    peakInFlight: cluster.net.peakInFlight,
    readies: cluster.stats.readies,
    crashes: cluster.stats.crashes,
    restarts: cluster.stats.restarts,
    leaders: checker.stats.leaders,
    committedEntries: checker.stats.committedEntries,
    snapshotsTaken,
    snapshotsInstalled: cluster.stats.snapshotsInstalled,
    acked: checker.stats.acked,
    reads: checker.stats.reads,
    refused: checker.stats.rejected,
    unknown: checker.stats.unknown,
    lostWrites,
    lostUnsyncedSaves,
    corruptReads,
    flippedReads,
    corruptions: cluster.stats.corruptions,
    livenessSettledMs,
    interruptedInstalls: cluster.stats.interruptedInstalls,
    pauses: cluster.stats.pauses,
    confChanges: churn.proposed,
    confChangesRefused: churn.refused,
    retired: cluster.retired.size,
  };
  hash.update(pending);
  const buggify = await SimBuggify.finish(bug);
  return { seed, ok: failure === undefined, failure, traceHash: hash.digest("hex"), stats, params, buggify };
}

function describeCluster(cluster: SimCluster): string {
  const lines: string[] = [];
  for (const id of cluster.ids) {
    const h = cluster.handles.get(id);
    if (!h?.alive || !h.node) {
      lines.push(`  n${id}: down${cluster.corrupted.has(id) ? " for good (corruption detected)" : ""}`);
      continue;
    }
    const st = h.node.status();
    lines.push(`  n${id}: ${st.role} term:${st.term} leader:${st.leader} commit:${st.commit} applied:${st.applied} log:${st.firstIndex}..${st.lastIndex} snap:${st.snapshotIndex} values:${h.sm.values().length} conf:${describeConfState(h.node.confState())}@${h.node.confIndex()} ${JSON.stringify(st.progress)}`);
  }
  return lines.join("\n");
}

/** What the nemesis needs of a run's parameters. */
export type NemesisParams = Pick<SimParams, "nemesisGapMs" | "weights" | "downMsMax">;

/** The fault injector of the safety phase (also used by the controller simulation). */
export class Nemesis<S extends StateMachine<unknown>, R> {
  private stopped = false;
  private readonly total: number;

  constructor(private readonly cluster: SimCluster<S, R>, private readonly rng: SimRng, private readonly p: NemesisParams) {
    const w = p.weights;
    this.total = w.partition + w.heal + w.crash + w.transfer + w.pause;
  }

  start(): void {
    if (this.p.nemesisGapMs > 0 && this.total > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
  }

  private schedule(): void {
    this.cluster.timer("nemesis", this.rng.range(1, 2 * this.p.nemesisGapMs), () => {
      if (this.stopped) return;
      this.act();
      this.schedule();
    });
  }

  private act(): void {
    const c = this.cluster;
    const w = this.p.weights;
    let x = this.rng.int(this.total);
    if ((x -= w.partition) < 0) return this.partition();
    if ((x -= w.heal) < 0) {
      c.net.heal();
      c.trace("nemesis heal");
      return;
    }
    if ((x -= w.crash) < 0) return this.crash();
    if ((x -= w.pause) < 0) return this.pause();
    const leader = c.leader();
    if (!leader) return;
    const to = this.rng.pick(c.ids.filter((id) => id !== leader.id));
    c.stats.transfers++;
    c.trace(`nemesis transfer n${leader.id} -> n${to}`);
    leader.node!.transferLeader(to);
  }

  private partition(): void {
    const c = this.cluster;
    const ids = c.ids;
    const kind = this.rng.int(4);
    // A new partition replaces the previous one; a one-way cut (kind 2) adds to it.
    if (kind !== 2) c.net.heal();
    if (kind === 0) {
      const id = this.rng.pick(ids);
      c.net.partition([[id], ids.filter((x) => x !== id)]);
    } else if (kind === 1) {
      const shuffled = this.rng.shuffle(ids);
      const k = this.rng.range(1, ids.length - 1);
      c.net.partition([shuffled.slice(0, k), shuffled.slice(k)]);
    } else if (kind === 2) {
      const [a, b] = this.rng.shuffle(ids) as [NodeId, NodeId];
      c.net.cut(a, b, true);
    } else {
      // Isolate the leader (the classic stale-leader scenario).
      const l = c.leader();
      if (l) c.net.partition([[l.id], ids.filter((x) => x !== l.id)]);
    }
    c.trace(`nemesis partition kind:${kind} cuts:${c.net.describeCuts()}`);
  }

  /** Stops a node (the leader half the time) for a while: GC pause, SIGSTOP, VM migration. */
  private pause(): void {
    const c = this.cluster;
    const leader = c.leader();
    const up = c.ids.filter((id) => c.isUp(id) && !c.isPaused(id));
    if (up.length === 0) return;
    const id = leader && !c.isPaused(leader.id) && this.rng.bool(0.5) ? leader.id : this.rng.pick(up);
    c.pause(id);
    c.timer(`nemesis resume n${id}`, this.rng.range(10, 600), () => c.resume(id));
  }

  private crash(): void {
    const c = this.cluster;
    const up = c.ids.filter((id) => c.isUp(id));
    if (up.length === 0) return;
    const id = this.rng.pick(up);
    const down = this.rng.range(0, this.p.downMsMax);
    const crash = (): void => {
      c.crash(id);
      c.timer(`nemesis restart n${id}`, down, () => {
        if (this.stopped || c.isUp(id)) return;
        c.restart(id);
      });
    };
    if (this.rng.bool(0.5)) {
      crash();
      return;
    }
    // Crash between two writes: right after the k-th next write of that node is durable.
    const disk = c.disks.get(id)!;
    if (disk.crashAfterWrites !== undefined) return;
    disk.crashAfterWrites = this.rng.range(1, 6);
    c.trace(`nemesis n${id} crashes after ${disk.crashAfterWrites} writes`);
    disk.onCrashPoint = crash;
  }
}

/**
 * Membership churn of the safety phase: through the leader, adds a new empty node as a
 * learner, promotes a learner, removes a voter (the leader too), or replaces a voter by a
 * learner in one joint change (promote + remove; the leader leaves joint by itself). Changes
 * land amid the Nemesis's crashes and partitions. A node removed by a committed change is
 * retired (taken down for good) once every remaining member applied that change; refusals (a change pending, a lagging learner, no leader)
 * are expected and traced.
 */
export class MembershipNemesis<S extends StateMachine<unknown>, R> {
  private stopped = false;
  private nextId: number;
  proposed = 0;
  refused = 0;
  /**
   * The first configuration index at which each node was seen a member, and the newest
   * configuration seen (configurations applied on different nodes lag one another: a node is
   * retired only once a configuration newer than one that had it leaves it out).
   */
  private readonly memberSince = new Map<NodeId, number>();
  private newest: { index: number; members: NodeId[] } = { index: -1, members: [] };

  constructor(private readonly cluster: SimCluster<S, R>, private readonly rng: SimRng, private readonly gapMs: number) {
    this.nextId = Math.max(...cluster.ids) + 1;
  }

  start(): void {
    if (this.gapMs > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
  }

  private schedule(): void {
    this.cluster.timer("membership", this.rng.range(1, 2 * this.gapMs), () => {
      if (this.stopped) return;
      this.act();
      this.schedule();
    });
  }

  private act(): void {
    const c = this.cluster;
    const leader = c.leader();
    if (!leader) return;
    const conf = leader.node!.confState();
    const mem = members(conf);
    const at = leader.node!.confIndex();
    for (const id of mem) if (!this.memberSince.has(id)) this.memberSince.set(id, at);
    if (at > this.newest.index) this.newest = { index: at, members: mem };
    c.trace(`membership view n${leader.id}: ${describeConfState(conf)} @${at}`);
    // A removed node is taken down only once every remaining member has applied its removal:
    // before that, a voter unaware that the removal committed may still need its vote (or
    // its log) to get anything done.
    const applied = this.newest.members.every((id) => {
      const h = c.handles.get(id);
      return h?.alive === true && h.node !== undefined && h.node.confIndex() >= this.newest.index;
    });
    for (const id of applied ? [...c.ids] : []) {
      const since = this.memberSince.get(id);
      if (since !== undefined && since < this.newest.index && !this.newest.members.includes(id)) c.retire(id);
    }
    if (isJoint(conf)) return; // the leader leaves joint by itself
    let cc: ConfChange;
    const learner = conf.learners.length > 0 ? this.rng.pick(conf.learners) : undefined;
    if (learner !== undefined && this.rng.bool(0.5)) {
      cc = { kind: "simple", change: { type: "promote", node: learner } };
    } else if (learner !== undefined) {
      const old = this.rng.pick(conf.voters);
      cc = { kind: "enterJoint", changes: [{ type: "promote", node: learner }, { type: "remove", node: old }], autoLeave: true };
    } else if (c.ids.length < 6 && (conf.voters.length < 3 || this.rng.bool(0.6))) {
      const id = this.nextId++ as NodeId;
      c.addNode(id);
      cc = { kind: "simple", change: { type: "addLearner", node: id } };
    } else if (conf.voters.length > 1) {
      cc = { kind: "simple", change: { type: "remove", node: this.rng.pick(conf.voters) } };
    } else {
      return;
    }
    const what = JSON.stringify(cc);
    c.trace(`membership n${leader.id} propose ${what}`);
    leader.node!.proposeConfChange(cc).then(
      (index) => {
        this.proposed++;
        c.trace(`membership ${what} at #${index}`);
      },
      (e: Error) => {
        this.refused++;
        c.trace(`membership ${what} refused: ${e.message}`);
      },
    );
  }
}
