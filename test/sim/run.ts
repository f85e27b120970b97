/**
 * The Raft mode (`npm run sim`): one Raft group of 1, 3 or 5 RaftNodes with the production log
 * store, clients proposing unique values and reading linearizably, the Nemesis's faults and
 * membership churn (nemesis.ts). The seed decides the cluster size, the fault rates and every
 * random choice. Run by the one runner (event-loop.ts): a safety phase with faults under client
 * load, then a liveness phase that heals everything, restarts the crashed nodes (or all) and
 * requires one leader and progress (a fresh write applied on every node) within a bound.
 * Same seed, same code: same trace, byte for byte.
 */
import type { NodeId } from "../../common/ids";
import { describeConfState, members } from "../../raft/core/conf-change";
import { Checker } from "./checkers";
import { SimClient, SimCluster, type ClientConfig, type ClusterConfig, type NetStats, type NodeHandle } from "./cluster";
import { drawLogReadFaults, type SimKvStateMachine } from "./disk";
import { type LoopStats, type SimDefaults, type SimResult, type SimRun, type SimRunOptions, type SimWorld, runWorld } from "./event-loop";
import { MembershipNemesis, Nemesis, type NemesisParams, restartForLiveness } from "./nemesis";
import { drawFaults, raftFaultDraws } from "./network";
import { SimRng } from "./rng";

/**
 * Virtual length of the safety phase (2500 ticks of 10 ms). `SEED=s npm run sim` and the
 * test suite use the same default, so a seed replays exactly. About 0.2 s of CPU per seed.
 */
export const defaultSafetyMs = 25_000;

/** Everything a seed decides. */
export interface SimParams extends NemesisParams {
  readonly cluster: ClusterConfig;
  readonly clients: number;
  readonly client: ClientConfig;
  /** The liveness phase starts by restarting every node (else only the crashed ones). */
  readonly fullRestart: boolean;
  /** Membership churn (MembershipNemesis): mean virtual ms between changes; 0 = none. */
  readonly membershipGapMs?: number;
}

/**
 * The runner's options (defaults: a 25 s safety phase; 10 s of liveness plus 20 ms per
 * snapshot chunk of the largest state, as a lagging node may need all of it; checks every 8
 * drains; 2,000,000 events), and overrides of the derived parameters (tests).
 */
export interface RunOptions extends SimRunOptions {
  readonly params?: (p: SimParams) => SimParams;
}

export interface RunStats extends LoopStats, NetStats {
  nodes: number;
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
  /** Restarts that needed the emulated fix of the unrecorded-restore bug. */
  interruptedInstalls: number;
  /** Membership changes proposed and appended / refused (ConfChangeInProgress, LearnerLagging, ...); nodes retired. */
  confChanges: number;
  confChangesRefused: number;
  retired: number;
}

export type RunResult = SimResult<RunStats, SimParams>;

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
  const logReadFaults = drawLogReadFaults(rot, size >= 3 && !withChurn, 0.35);
  // Quiescence (raft/core/quiesce.ts): on in three seeds in four; idle windows for the
  // clients in half the seeds (the group quiesces in them, and the nemesis crashes,
  // partitions and pauses quiesced leaders). From a stream of its own.
  const q = new SimRng(seed).fork("quiesce");
  // In a quarter of them the liveness signal never reports a cut or paused peer (only a
  // crash, by its connection reset), as gRPC's keepalive (10 + 5 s) far beyond a seed's
  // faults: a quiesced leader cut off silently is then replaced only because the clients'
  // requests on the followers wake them (Raft.wakeGroup). From a stream of its own.
  const silent = new SimRng(seed).fork("quiesce-silent").bool(0.25);
  const quiesceOn = q.bool(0.75);
  const quiesceDetectMs = q.range(20, 1000);
  const quiesce = { on: quiesceOn || silent, detectMs: silent ? Infinity : quiesceDetectMs };
  const everyMs = q.range(300, 3000);
  const idle = q.bool(0.5) ? { everyMs, forMs: q.range(100, Math.max(100, everyMs - 100)) } : undefined;
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
      network: drawFaults(r, faulty, delayMinMs, raftFaultDraws),
      disk: { minMs: diskMinMs, maxMs: diskMinMs + r.range(0, 8) },
      ...(logReadFaults ? { logReadFaults } : {}),
      quiesce,
    },
    clients: r.range(1, 3),
    client: {
      readRate: r.bool(0.25) ? 0 : r.between(0, 0.4),
      thinkMsMax: r.range(0, 40),
      attemptTimeoutMs: r.range(100, 800),
      retryMs: r.range(5, 30),
      concurrency: r.pick([1, 1, 2, 4]),
      ...(idle ? { idle } : {}),
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

/** The Raft mode's defaults (the CLI and the tests share them, so seeds replay). */
const raftDefaults: SimDefaults = { mode: "raft", safetyMs: defaultSafetyMs, livenessMs: 10_000, checkEvery: 8, maxEvents: 2_000_000 };

/** One Raft group with its clients, nemesis and membership churn, as the runner drives it. */
class RaftWorld implements SimWorld<RunStats> {
  readonly root: SimRng;
  readonly checker = new Checker();
  readonly cluster: SimCluster;
  readonly header: string;
  readonly groups: readonly SimCluster[];
  private readonly clients: SimClient[] = [];
  private readonly nemesis: Nemesis<SimKvStateMachine, number>;
  private readonly churn: MembershipNemesis<SimKvStateMachine, number>;
  private clientsDone = false;
  private freshAcked = false;

  constructor(private readonly run: SimRun, readonly params: SimParams) {
    this.root = new SimRng(run.seed);
    this.cluster = new SimCluster(params.cluster, run.clock, this.root.fork("cluster"), this.checker, run.trace);
    this.groups = [this.cluster];
    this.header = `seed ${run.seed} params ${JSON.stringify(params)}`;
    this.nemesis = new Nemesis(this.cluster, this.root.fork("nemesis"), params);
    this.churn = new MembershipNemesis(this.cluster, this.root.fork("membership"), params.membershipGapMs ?? 0);
  }

  failure(): string | undefined {
    return this.checker.failure ?? this.cluster.failures[0];
  }

  start(): void {
    const { cluster, params } = this;
    for (const id of cluster.ids) cluster.start(id);
    for (let i = 1; i <= params.clients; i++) {
      const c = new SimClient(cluster, i, this.root.fork(`client-${i}`), params.client);
      this.clients.push(c);
      c.start();
    }
    this.nemesis.start();
    this.churn.start();
  }

  beginLiveness(): number {
    const { cluster, params, run } = this;
    // A node far behind catches up by a snapshot sent one chunk per round trip: allow 20 ms
    // per chunk of the largest state on top of the fixed bound.
    let stateBytes = 0;
    for (const d of cluster.disks.values()) stateBytes = Math.max(stateBytes, JSON.stringify(d.smValues).length);
    const boundMs = run.livenessMs + 20 * Math.ceil(stateBytes / params.cluster.snapshotChunkBytes);
    const deadline = run.clock.nowMs() + boundMs;
    this.nemesis.stop();
    this.churn.stop();
    for (const c of this.clients) c.stop();
    restartForLiveness(run.trace, [cluster], params.fullRestart);
    void Promise.all(this.clients.map((c) => c.done)).then(() => { this.clientsDone = true; });
    // A fresh write must be acknowledged (retrying with new values after unknown outcomes).
    const probe = new SimClient(cluster, 0, this.root.fork("probe"), { readRate: 0, thinkMsMax: 0, attemptTimeoutMs: 500, retryMs: 10, concurrency: 1 });
    let attempt = 0;
    const probeLoop = async (): Promise<void> => {
      while (!this.freshAcked && run.failure === undefined && run.clock.nowMs() < deadline) {
        const outcome = await probe.write(`fresh-${++attempt}`);
        if (outcome === "acked") this.freshAcked = true;
      }
    };
    probeLoop().catch((e: Error) => cluster.clientFailed(0, e));
    return boundMs;
  }

  /** The members of the leader's configuration that can serve (not stopped by a detected corruption). */
  private serving(leader: NodeHandle): Set<NodeId> {
    return new Set(members(leader.node!.confState()).filter((id) => !this.cluster.corrupted.has(id)));
  }

  settled(): boolean {
    if (!this.freshAcked || !this.clientsDone) return false;
    const { cluster } = this;
    const leader = cluster.leader();
    if (!leader) return false;
    // Every member of the leader's configuration (a node added whose change never
    // committed is not one) is up and follows it.
    const mem = this.serving(leader);
    const live = cluster.live().filter((h) => mem.has(h.id));
    if (live.length !== mem.size) return false;
    if (!cluster.followsLeader(leader, live)) return false;
    const commit = leader.node!.status().commit;
    return live.every((h) => h.node!.status().applied >= commit && h.sm.values().length >= this.checker.maxAckedPosition);
  }

  unsettled(boundMs: number): string {
    return `liveness: no stable leader with progress within ${boundMs} ms after healing (fresh write acked: ${this.freshAcked}, clients done: ${this.clientsDone})\n${describeCluster(this.cluster)}`;
  }

  finalChecks(): void {
    const { cluster } = this;
    cluster.checkLogs();
    const mem = this.serving(cluster.leader()!);
    const final = cluster.live().filter((h) => mem.has(h.id));
    for (const h of final) this.checker.allAckedIn(h.id, h.sm.values());
    const lens = final.map((h) => h.sm.values().length);
    if (new Set(lens).size !== 1) this.run.fail(`replicas ended with different list lengths: ${lens.join(", ")}`);
  }

  stats(loop: LoopStats): RunStats {
    const { cluster, checker } = this;
    let lostWrites = 0;
    let lostUnsyncedSaves = 0;
    let snapshotsTaken = 0;
    for (const d of cluster.disks.values()) {
      lostWrites += d.lostWrites + d.storage.stats.lostSyncs;
      lostUnsyncedSaves += d.storage.lost(d.logDir);
      snapshotsTaken += d.snapshotsTaken;
    }
    return {
      ...loop,
      nodes: this.params.cluster.size,
      ...cluster.netStats(),
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
      ...cluster.logFaultStats(),
      interruptedInstalls: cluster.stats.interruptedInstalls,
      pauses: cluster.stats.pauses,
      confChanges: this.churn.proposed,
      confChangesRefused: this.churn.refused,
      retired: cluster.retired.size,
    };
  }
}

export async function runSeed(seed: number, opts: RunOptions = {}): Promise<RunResult> {
  seed = seed >>> 0;
  const base = deriveParams(seed);
  const params = opts.params ? opts.params(base) : base;
  const r = await runWorld(seed, opts, raftDefaults, (run) => new RaftWorld(run, params));
  return { seed, ok: r.ok, failure: r.failure, traceHash: r.traceHash, stats: r.stats, params, buggify: r.buggify };
}

function describeCluster(cluster: SimCluster): string {
  return cluster.describe((h) => `values:${h.sm.values().length} conf:${describeConfState(h.node!.confState())}@${h.node!.confIndex()}`);
}
