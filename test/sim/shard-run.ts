/**
 * One seeded whole-cluster run: a controller group (3 replicas running the production
 * controller state machine and ControllerService, controller-replica.ts)
 * and 2-4 shard groups (1, 3 or 5 replicas; shard-sm.ts, the daemon's apply path), every
 * replica a real RaftNode on its group's simulated network and disk; on every replica the
 * daemon's own MigrationDriver (shard-server/migration-driver.ts) and ShardService
 * (shard-server/service.ts), reached over simulated RPCs (shard-rpc.ts: delays, drops,
 * duplicates, isolation); an admin issuing Join/Leave/Move through the controller group; 2-5
 * clients that are the real client library (client/shardkv.ts's ShardKV, public API only) over
 * SimClientTransport (sim-client-transport.ts): Query answered by the controller replicas'
 * ControllerService, Batch streams by the real serveBatch over each replica's wire handlers
 * (shard-server/wire-handlers.ts), with broken streams, dead incarnations and back-pressure.
 * Faults: nemesis.ts's Nemesis on every group and the controller, RPC isolation, log store read faults.
 * Then a liveness phase: heal, restart, require every group at the latest config with every
 * shard serving on its owner, all gcs done, old owners empty, and fresh ops done, within a bound.
 * Checkers: shard-checkers.ts plus the Raft checkers of every group. The world (ShardWorld)
 * runs on the one runner, event-loop.ts.
 *
 * Same seed, same code: same trace, byte for byte.
 */
import type { Clock, Logger } from "../../common/env";
import { type BatchOp, type BatchResult, type CallOptions, ShardKV } from "../../client/shardkv";
import { InvalidArgumentError, NotLeaderError, RetryLaterError, ServersUnansweredError, ShardKVError, StoppedError, TimeoutError } from "../../common/errors";
import type { ConfigNum, GroupId, NodeId, ShardId, Term } from "../../common/ids";
import { type Config, initialConfig, sortedGids } from "../../controller/config";
import { configToWire } from "../../controller/config-wire";
import { shardOf } from "../../controller/shard-of";
import type { IdentifyAnswer } from "../../controller/join-check";
import type { ControllerService } from "../../controller/service";
import type { ControllerOp } from "../../controller/state-machine";
import type { ApplyResult } from "../../shard-server/apply";
import { type ConfigSource, type GroupRpc, MigrationDriver, type MigrationObserver } from "../../shard-server/migration-driver";
import type { PacerOptions } from "../../shard-server/migration-pacer";
import { LogClock } from "../../shard-server/log-clock";
import { ShardService, type ShardNode, type ShardServiceNode } from "../../shard-server/service";
import type { BatchHandlers } from "../../shard-server/batch-stream";
import { decodeCommand } from "../../shard-server/codec";
import type { ShardChunkIn } from "../../shard-server/types";
import { wireHandlers } from "../../shard-server/wire-handlers";
import type { KvOperation } from "../../deploy/check/linearizability";
import { Checker } from "./checkers";
import type { SimClock } from "./clock";
import { SimCluster, type ClusterConfig, type NodeHandle } from "./cluster";
import { drawLogReadFaults, type SimDisk } from "./disk";
import { type ControllerDurable, type ControllerHandle, SimControllerNodes, type SimControllerStateMachine } from "./controller-replica";
import { drawFaults, type FaultDraws, reliableNetwork, type NetworkFaults } from "./network";
import { SimRng } from "./rng";
import { Nemesis, type NemesisParams, restartForLiveness } from "./nemesis";
import { ShardChecker, type PendingOp } from "./shard-checkers";
import { type LoopStats, type SimDefaults, type SimResult, type SimRun, type SimRunOptions, type SimWorld, runWorld } from "./event-loop";
import { SimRpcNet } from "./shard-rpc";
import { SimClientTransport, type SimClientTransportStats } from "./sim-client-transport";
import { type ShardSabotage, SimShardStateMachine, StateFlips } from "./shard-replica";

/** Virtual length of the safety phase (CLI and tests share it: seeds replay). */
export const shardSafetyMs = 8_000;

/** The fixed seeds `npm test` runs (test/unit/shard-sim.test.ts). */
export const shardFixedSeeds: readonly number[] = Array.from({ length: 50 }, (_, i) => i + 1);

export interface ShardClientConfig {
  readonly concurrency: number;
  readonly thinkMsMax: number;
  readonly attemptMs: number;
  readonly deadlineMs: number;
  /** Probabilities of the op kinds (the rest are puts/appends). */
  readonly getRate: number;
  readonly casRate: number;
  readonly batchRate: number;
  readonly deleteRate: number;
}

export interface ShardSimParams extends NemesisParams {
  readonly controller: ClusterConfig;
  readonly groups: readonly ClusterConfig[];
  readonly shardCount: number;
  readonly keys: number;
  readonly appendKeys: number;
  readonly clients: number;
  readonly client: ShardClientConfig;
  readonly adminGapMs: number;
  readonly rpc: NetworkFaults;
  /** Mean gap between RPC isolations/heals (0: none). */
  readonly rpcNemesisGapMs: number;
  readonly pollMs: number;
  readonly dedupTtlMs: number;
  readonly pullChunkBytes: number;
  /** The driver's migrationBytesPerSec (0: no cap). */
  readonly migrationBytesPerSec: number;
  /** The driver's migrationPacing: the pace adapts to the foreground's latency (under the cap). */
  readonly migrationPacing: boolean;
  /** The pacer's windowBytesMax (--migration-window): bytes of pulled chunks in flight per pull; 0: one chunk at a time. */
  readonly migrationWindowBytes: number;
  /**
   * 0: drivers query the controller at every run (no Watch). Otherwise each replica follows
   * a model of the controller's Watch every this many ms (a controller replica's applied
   * configs, over the faulty RPC network, no ReadIndex) and queries only every 10 pollMs.
   */
  readonly watchMs: number;
  readonly fullRestart: boolean;
  /** Answer messages a Batch stream carries in flight before the server's write reports back-pressure. */
  readonly sendWindow: number;
}

/**
 * The runner's options (defaults: an 8 s safety phase, 20 s of liveness, checks every 16
 * drains, 5,000,000 events), overrides of the derived parameters, and the sabotages of the
 * checker tests.
 */
export interface ShardRunOptions extends SimRunOptions {
  readonly params?: (p: ShardSimParams) => ShardSimParams;
  /** A course the run is made to take (`npm run sim -- --cluster --scenario NAME` replays it); none: the seed's own. */
  readonly scenario?: ShardScenario;
  readonly sabotage?: ShardSabotage & {
    /** Reads skip the leader check and the ReadIndex barrier. */
    readonly unsafeReads?: boolean;
    /** A leader deposed before its entry applied answers success for it (the entry may be lost). */
    readonly ackLost?: boolean;
  };
}

/**
 * Courses a run is made to take, whatever its seed draws (the seed still decides everything
 * else, so a run replays by seed and scenario):
 * - `abort-first-join`: the cluster's first join (forced: no join check) names two or more
 *   groups, and one of them, the victim, cannot reach the controller (a one-way RPC cut from
 *   its servers, which the nemesis does not heal) until the admin's next change, a Leave of
 *   it, has aborted its join. The remaining groups take the shards nobody held before, empty
 *   (docs/design.md 5.3); the victim's servers, once the cut is lifted, are answered "aborted"
 *   and skip to the abort config.
 */
export type ShardScenario = "abort-first-join";
export const shardScenarios: readonly ShardScenario[] = ["abort-first-join"];

/** The loop's counters and the run's (see runShardSeed's stats). */
export type ShardRunStats = LoopStats & Record<string, number>;

export type ShardRunResult = SimResult<ShardRunStats, ShardSimParams>;

/** The groups' (and the controller's) Raft network faults: milder than in the Raft mode. */
const groupFaultDraws: FaultDraws = {
  drop: { on: 0.7, max: 0.1 }, dup: { on: 0.5, max: 0.05 }, spreadMaxMs: 15, long: { on: 0.3, max: 0.02 }, longMinMs: 50, longMaxMs: 300,
};
/** The RPC network's faults (clients, admin, drivers, servers). */
const rpcFaultDraws: FaultDraws = {
  drop: { on: 0.7, max: 0.08 }, dup: { on: 0.6, max: 0.08 }, spreadMaxMs: 15, long: { on: 0.3, max: 0.02 }, longMinMs: 50, longMaxMs: 400,
};

function clusterConfig(r: SimRng, size: number, faulty: boolean): ClusterConfig {
  const delayMinMs = r.range(0, 2);
  const diskMinMs = r.range(0, 2);
  return {
    size,
    tickMs: 10,
    electionTicks: 10,
    heartbeatTicks: r.pick([1, 2, 3]),
    snapshotEveryEntries: r.range(20, 60),
    compactKeepEntries: r.range(0, 10),
    snapshotChunkBytes: r.pick([256, 512, 1024]),
    limits: { appendBytesMax: 1 << 20, inflightAppendsMax: 256, uncommittedBytesMax: 64 << 20 },
    network: drawFaults(r, faulty, delayMinMs, groupFaultDraws),
    disk: { minMs: diskMinMs, maxMs: diskMinMs + r.range(0, 6) },
  };
}

export function deriveShardParams(seed: number): ShardSimParams {
  const r = new SimRng(seed).fork("shard-params");
  const faulty = r.bool(0.9);
  const groupCount = r.pick([2, 3, 3, 3, 4]);
  const groups: ClusterConfig[] = [];
  for (let g = 0; g < groupCount; g++) groups.push(clusterConfig(r, r.pick([3, 3, 3, 3, 1, 5]), faulty));
  const delayMinMs = r.range(1, 3);
  const p: ShardSimParams = {
    controller: clusterConfig(r, 3, faulty),
    groups,
    shardCount: r.range(4, 12),
    keys: r.range(4, 10),
    appendKeys: r.range(2, 5),
    clients: r.range(2, 5),
    client: {
      concurrency: r.range(1, 3),
      thinkMsMax: r.range(10, 120),
      attemptMs: r.range(150, 600),
      deadlineMs: r.range(2000, 5000),
      getRate: r.between(0.2, 0.4),
      casRate: r.between(0, 0.15),
      batchRate: r.between(0, 0.2),
      deleteRate: r.between(0, 0.05),
    },
    adminGapMs: r.range(200, 1500),
    rpc: drawFaults(r, faulty, delayMinMs, rpcFaultDraws),
    rpcNemesisGapMs: faulty && r.bool(0.6) ? r.range(200, 1500) : 0,
    pollMs: r.pick([20, 50, 100]),
    dedupTtlMs: 60_000,
    pullChunkBytes: r.pick([8, 32, 128, 1 << 20]),
    migrationBytesPerSec: 0,
    migrationPacing: true,
    migrationWindowBytes: 0,
    watchMs: 0,
    sendWindow: 4,
    nemesisGapMs: faulty ? r.range(150, 1000) : 0,
    weights: {
      partition: r.range(0, 3),
      heal: r.range(1, 3),
      crash: r.range(0, 3),
      transfer: r.range(0, 2),
      pause: r.range(0, 2),
    },
    downMsMax: r.range(20, 1200),
    fullRestart: r.bool(0.5),
  };
  // Drawn last (earlier draws, hence older seeds' other parameters, stay as they were). Longer
  // than a client's deadline plus its backoff, so a retry always finds its record; short enough
  // that idle clients' records expire during a run.
  const dedupTtlMs = r.pick([10_000, 60_000]);
  r.bool(0.5); // (was: whether applies skip fsync; now they always do, as the daemon's. Drawn so the later draws stay.)
  // Migration pacing (--migration-rate), in bytes per second of virtual time; 0: none.
  const migrationBytesPerSec = r.pick([0, 0, 2_000, 20_000]);
  const watchMs = r.pick([0, 0, 10, 50]);
  const sendWindow = r.pick([1, 2, 4, 16]);
  // Adaptive pacing (--migration-pacing) in three runs of four, with or without the cap above.
  const migrationPacing = r.bool(0.75);
  // Log store read faults in about a quarter of the groups of 3 or more (the controller's
  // too), from a stream of their own (absent when off); such a group has no state machine flips.
  const rot = new SimRng(seed).fork("log-read-faults");
  // Pipelined pulls (--migration-window) in three runs of four, from a stream of their own.
  const migrationWindowBytes = new SimRng(seed).fork("migration-window").pick([0, 2_000, 64_000, 1 << 20]);
  const withLogFaults = (c: ClusterConfig): ClusterConfig => {
    const logReadFaults = drawLogReadFaults(rot, c.size >= 3, 0.25);
    return logReadFaults ? { ...c, logReadFaults } : c;
  };
  return { ...p, dedupTtlMs, migrationBytesPerSec, migrationPacing, migrationWindowBytes, watchMs, sendWindow, controller: withLogFaults(p.controller), groups: p.groups.map(withLogFaults) };
}

type GroupCluster = SimCluster<SimShardStateMachine, ApplyResult>;
type GroupHandle = NodeHandle<SimShardStateMachine, ApplyResult>;
type ControllerCluster = SimCluster<SimControllerStateMachine>;
/** What a controller replica's address serves: the service of the live incarnation, and its handle. */
interface ControllerEndpoint {
  readonly svc: ControllerService;
  readonly h: ControllerHandle;
}
/** What a shard group's address serves: the service of the live incarnation, and its handle. */
interface GroupEndpoint {
  readonly svc: ShardService;
  readonly h: GroupHandle;
}

const dec = new TextDecoder();
const groupAddress = (gid: number, id: number): string => `g${gid}n${id}.sim:7000`;
const ctlAddress = (id: number): string => `c${id}.sim:7001`;
const hex128 = (rng: SimRng): string => {
  let s = "";
  for (let i = 0; i < 4; i++) s += rng.u32().toString(16).padStart(8, "0");
  return s;
};

/** The answer of a write that succeeded, for an entry that may never apply (the ackLost sabotage). */
function fakeSuccess(data: Uint8Array): ApplyResult {
  const { op } = decodeCommand(data);
  const n = op.kind === "write" ? op.write.ops.length : 0;
  const results = Array.from({ length: n }, () => ({ found: false, value: new Uint8Array(0), swapped: false }));
  return { kind: "write", outcome: { ok: true, results, duplicate: false } };
}

/**
 * The migration pacer scaled to the simulation's shards (bytes to kilobytes, against the
 * daemon's megabytes), so that adaptive pacing holds chunks back and adapts in virtual time.
 */
const simPacerScale: Partial<PacerOptions> = { initialBytesPerSec: 4_000, minBytesPerSec: 500, maxBytesPerSec: 1 << 20, epochSamples: 3, epochMs: 100 };

/** The whole simulated deployment. */
class World {
  readonly controller: ControllerCluster;
  readonly groups = new Map<GroupId, GroupCluster>();
  readonly ctlDurables = new Map<NodeId, ControllerDurable>();
  readonly ctlNodes: SimControllerNodes;
  /** Per group, bit flips in its state machines' reads and the replicas they stopped. */
  readonly flips = new Map<GroupId, StateFlips>();
  readonly rpc: SimRpcNet;
  readonly raftCheckers: Checker[] = [];
  readonly drivers = new Set<MigrationDriver>();
  /** Each incarnation's driver, by its state machine (its service tells it the foreground's latencies). */
  private readonly driverOf = new Map<SimShardStateMachine, MigrationDriver>();
  /** How often a driver's pace rose or fell from one insert to the next (adaptive pacing at work). */
  readonly pace = { raised: 0, lowered: 0 };
  /**
   * Pulled chunks: received and not yet settled at once, at most (more than 1: pipelined
   * inserts); and the inserts that did not go in (refused by the continuity check, or failed).
   */
  readonly pulled = { maxInFlight: 0, notInserted: 0 };
  /** Every client's transport (a client that reconnects gets a new one). */
  readonly transports: SimClientTransport<ControllerEndpoint, GroupEndpoint>[] = [];
  /** Deliveries of each write request (client id/seq) to a replica's handler. */
  readonly deliveries = new Map<string, number>();
  /** Error answers of the replicas' Batch handlers to clients, by class. */
  readonly errorAnswers = new Map<string, number>();
  private readonly services = new WeakMap<object, GroupEndpoint>();
  /**
   * Each incarnation's log clock (shard-server/log-clock.ts), on a wall clock skewed by an
   * offset drawn per incarnation from hours behind to hours ahead: log time must not follow it
   * (a restart with another offset is a jump), or duplicate records would expire early and
   * the checker would see a retry applied twice.
   */
  private readonly logClocks = new WeakMap<SimShardStateMachine, LogClock>();
  private readonly wallSkews: SimRng;
  stopped = false;

  constructor(
    readonly params: ShardSimParams,
    readonly clock: SimClock,
    readonly root: SimRng,
    readonly checker: ShardChecker,
    readonly trace: (line: string) => void,
    readonly sabotage: ShardRunOptions["sabotage"],
  ) {
    const shardCount = params.shardCount;
    this.wallSkews = root.fork("wall-skew");
    const cc = new Checker();
    this.raftCheckers.push(cc);
    this.ctlNodes = new SimControllerNodes(clock, root.fork("controller-nodes"), {
      shardCount,
      chunkBytes: params.controller.snapshotChunkBytes,
      trace: (l) => trace(`c ${l}`),
      identify: (address) => this.identify(address),
      address: ctlAddress,
      onStart: (id, d) => this.ctlDurables.set(id, d),
    });
    this.controller = new SimCluster<SimControllerStateMachine>(params.controller, clock, root.fork("controller"), cc, (l) => trace(`c ${l}`), this.ctlNodes.makeSm);
    this.rpc = new SimRpcNet(clock, root.fork("rpc"), params.rpc, trace);
    for (const id of this.controller.ids) {
      this.rpc.register<ControllerEndpoint>(ctlAddress(id), {
        service: () => {
          const h = this.controller.handles.get(id);
          const svc = h ? this.ctlNodes.service(h) : undefined;
          return h && svc ? { h, svc } : undefined;
        },
        generation: () => this.controller.handles.get(id)?.gen ?? 0,
        paused: () => this.controller.isPaused(id),
      });
    }
    params.groups.forEach((cfg, i) => {
      const gid = (i + 1) as GroupId;
      const gc = new Checker();
      this.raftCheckers.push(gc);
      const fr = root.fork(`group-${gid}-state-flips`);
      const flipRate = fr.bool(0.5) ? fr.pick([1e-4, 1e-3]) : 0;
      this.flips.set(gid, new StateFlips(cfg.logReadFaults ? 0 : flipRate, Math.floor((cfg.size - 1) / 2), (id, e) => {
        trace(`g${gid} n${id} stops for good: ${e.message}`);
        cluster.retire(id);
      }));
      const cluster: GroupCluster = new SimCluster<SimShardStateMachine, ApplyResult>(cfg, clock, root.fork(`group-${gid}`), gc, (l) => trace(`g${gid} ${l}`),
        (disk, id) => this.makeReplica(gid, cluster, disk, id));
      this.groups.set(gid, cluster);
      for (const id of cluster.ids) {
        this.rpc.register<GroupEndpoint>(groupAddress(gid, id), {
          service: () => this.endpoint(gid, cluster, id),
          generation: () => cluster.handles.get(id)?.gen ?? 0,
          paused: () => cluster.isPaused(id),
        });
      }
    });
  }

  servers(gid: GroupId): string[] {
    return this.groups.get(gid)!.ids.map((id) => groupAddress(gid, id));
  }

  /**
   * ShardKV.Identify of the server at `address` over the RPC network, for the controller's
   * join check: what shard-server/server.ts's identify answers (no cluster id: the simulated
   * replicas have no data directory).
   */
  private async identify(address: string): Promise<IdentifyAnswer> {
    try {
      return await this.rpc.call<GroupEndpoint, IdentifyAnswer>("controller", address, "identify", async (e) => ({
        ok: true, identity: { gid: e.h.sm.gid, id: e.h.id, shardCount: this.params.shardCount, clusterId: "", hasData: false },
      }), { timeoutMs: 500 });
    } catch (e) {
      return { ok: false, error: (e as Error).message, answered: false };
    }
  }

  /**
   * A client's transport: Query answered by a controller replica's ControllerService (as
   * controller/server.ts's handler: the config in its wire form), Batch streams by the real
   * serveBatch over the replica's wire handlers.
   */
  clientTransport(self: string): SimClientTransport<ControllerEndpoint, GroupEndpoint> {
    const t = new SimClientTransport<ControllerEndpoint, GroupEndpoint>({
      net: this.rpc, clock: this.clock, self, sendWindow: this.params.sendWindow, trace: this.trace,
      query: async ({ svc }, req) => {
        const { config, clusterId } = await svc.query(req.num ?? -1);
        return { config: configToWire(config), clusterId };
      },
      batch: (e) => this.batchHandlers(e),
    });
    this.transports.push(t);
    return t;
  }

  /**
   * The Batch handlers of a replica's incarnation: shard-server/wire-handlers.ts over its
   * ShardService (the state machine reports every read it answers to the checker (a)), counting each
   * write's deliveries and the error answers.
   */
  private batchHandlers({ svc, h }: GroupEndpoint): BatchHandlers {
    const wire = wireHandlers(svc);
    const counted = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => {
      const name = (e as Error)?.constructor?.name ?? "?";
      this.errorAnswers.set(name, (this.errorAnswers.get(name) ?? 0) + 1);
      throw e;
    });
    return {
      ...wire,
      get: (req) => counted(wire.get(req)),
      write: (req) => {
        const id = `${Buffer.from(req.id?.clientId ?? []).toString("hex")}/${req.id?.seq}`;
        this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
        return counted(wire.write(req));
      },
    };
  }

  /** The canonical config `num` (from any controller replica that has it durably). */
  configOf(num: number): Config | undefined {
    for (const d of this.ctlDurables.values()) if (num < d.configs.length) return d.configs[num];
    return undefined;
  }

  private endpoint(gid: GroupId, cluster: GroupCluster, id: NodeId): GroupEndpoint | undefined {
    const h = cluster.handles.get(id);
    if (!h?.alive || !h.node || !h.sm.isOpen) return undefined;
    let e = this.services.get(h);
    if (!e) {
      const node = h.node;
      const unsafe = this.sabotage?.unsafeReads === true;
      const ackLost = this.sabotage?.ackLost === true;
      const n: ShardServiceNode = {
        softState: () => (unsafe ? { ...node.softState(), role: "leader" } : node.softState()),
        propose: (d) => {
          const p = node.propose(d);
          if (!ackLost || node.softState().role !== "leader") return p;
          // Sabotage: a leader acknowledges its entry when it is deposed before the entry applies.
          return p.catch((e: unknown) => {
            if (e instanceof NotLeaderError) return fakeSuccess(d);
            throw e;
          });
        },
        readBarrier: () => (unsafe ? Promise.resolve() : node.readBarrier()),
        wakeGroup: () => node.wakeGroup(),
        pass: (fn) => node.pass(fn),
      };
      const sm = h.sm;
      e = {
        h,
        svc: new ShardService({
          node: n, sm, clock: this.logClockOf(sm), address: (x) => (x === 0 ? undefined : groupAddress(gid, x)),
          // The pacer's congestion signal, as the daemon wires it (shard-server/server.ts).
          foreground: { clock: this.clock, observe: (ms) => this.driverOf.get(sm)?.observeForeground(ms) },
          onRetryAnswered: () => this.retriesAnswered++,
        }),
      };
      this.services.set(h, e);
    }
    return e;
  }

  private logClockOf(sm: SimShardStateMachine): LogClock {
    let c = this.logClocks.get(sm);
    if (!c) {
      const hourMs = 3_600_000;
      const skewMs = this.wallSkews.pick([-2 * hourMs, -this.params.dedupTtlMs * 2, 0, 0, this.params.dedupTtlMs * 2, 2 * hourMs]);
      // Wall time starts 3 h into the epoch, so that an offset never makes it negative.
      c = new LogClock(this.clock, () => sm.logTimeMs(), () => 3 * hourMs + this.clock.nowMs() + skewMs);
      this.logClocks.set(sm, c);
    }
    return c;
  }

  /** One incarnation of replica (gid, id): its state machine, and its migration driver. */
  private makeReplica(gid: GroupId, cluster: GroupCluster, disk: SimDisk, id: NodeId): SimShardStateMachine {
    const p = this.params;
    const self = groupAddress(gid, id);
    // The incarnation this driver belongs to (the handle is created right after this factory).
    const live = (): GroupHandle | undefined => {
      const h = cluster.handles.get(id);
      return h && h.sm === sm && h.alive && h.node ? h : undefined;
    };
    const alive = (): boolean => {
      const h = cluster.handles.get(id);
      return h !== undefined && h.sm === sm && h.alive;
    };
    const clock: Clock = {
      nowMs: () => this.clock.nowMs(),
      after: (ms, fn) => {
        let cancelled = false;
        const fire = (): void => {
          if (cancelled || !alive()) return;
          if (cluster.isPaused(id)) {
            this.clock.after(10, fire);
            return;
          }
          fn();
        };
        const c = this.clock.after(ms, fire);
        return () => {
          cancelled = true;
          c();
        };
      },
    };
    const sm = new SimShardStateMachine(disk.storage, `${disk.dataDir}/state`, disk, {
      gid, shardCount: p.shardCount, dedupTtlMs: p.dedupTtlMs, snapshotChunkBytes: cluster.cfg.snapshotChunkBytes, observer: this.checker, sabotage: this.sabotage,
      onRewind: () => this.snapshotRewinds++, flips: this.flips.get(gid), clock,
    });
    // Its start behind the last incarnation's applied index: applies that the crash took, from
    // the write-behind layer (unflushed) or from the disk (unsynced), re-applied from the log.
    const prev = this.lastIncarnation.get(`${gid}/${id}`);
    if (prev !== undefined && sm.appliedIndex() < prev.appliedIndex()) this.restartedBehind++;
    if (prev?.hasUnflushed() === true) this.lostUnflushed++;
    this.lastIncarnation.set(`${gid}/${id}`, sm);
    const node: ShardNode = {
      softState: () => live()?.node!.softState() ?? { role: "follower", leader: 0 as NodeId, term: 0 as Term },
      propose: (data) => {
        const h = live();
        return h ? h.node!.propose(data) : Promise.reject(new StoppedError(self));
      },
      readBarrier: () => {
        const h = live();
        return h ? h.node!.readBarrier() : Promise.reject(new StoppedError(self));
      },
    };
    const rpc: GroupRpc = {
      pullShard: (address, req) => {
        const s = this.rpc.stream<GroupEndpoint, ShardChunkIn>(self, address, `pull ${req.shard}@${req.configNum}`,
          (e) => e.svc.pullChunks(req.configNum, req.shard, req.afterKey, p.pullChunkBytes), { timeoutMs: 0, idleMs: 1500, callerAlive: alive });
        return { cancel: s.cancel, [Symbol.asyncIterator]: () => s.iterable[Symbol.asyncIterator]() };
      },
      deleteShard: (address, configNum, shard) =>
        this.rpc.call<GroupEndpoint, void>(self, address, `delete ${shard}@${configNum}`, (e) => e.svc.deleteShard(configNum, shard), { timeoutMs: 1000, callerAlive: alive }),
    };
    const configs: ConfigSource = {
      query: (num) => this.queryController(self, num, alive),
      ackJoin: (g, joinNum) => this.ackJoin(self, g, joinNum, alive),
    };
    const logger: Logger = { info: (m) => this.trace(`${self} ${m}`), warn: (m) => this.trace(`${self} warn ${m}`), debug: () => {}, debugEnabled: false };
    const driver = new MigrationDriver({
      gid, id, logger, pollMs: p.pollMs, clock, logClock: this.logClockOf(sm), migrationBytesPerSec: p.migrationBytesPerSec, migrationPacing: p.migrationPacing,
      migrationPacer: { ...simPacerScale, windowBytesMax: p.migrationWindowBytes }, observer: this.paceObserver(),
      configPollMs: p.watchMs > 0 ? 10 * p.pollMs : undefined,
    }, sm, node, configs, rpc);
    this.drivers.add(driver);
    this.driverOf.set(sm, driver);
    // The daemon starts its driver once its state is open.
    void sm.ready.then(() => {
      if (!alive()) return;
      driver.start();
      if (p.watchMs > 0) this.watchConfigs(self, driver, clock, alive);
    }, () => undefined);
    return sm;
  }

  private ctlHint: NodeId | undefined;
  /** Snapshot chunks refused because the source cannot go back (RaftNode then takes a fresh snapshot). */
  snapshotRewinds = 0;
  /** Per replica ("gid/id"), its newest incarnation's state machine. */
  private readonly lastIncarnation = new Map<string, SimShardStateMachine>();
  /** Incarnations that started behind the applied index of the one before (see makeReplica). */
  restartedBehind = 0;
  /** Incarnations whose end (a crash) took applied writes its write-behind layer had not written. */
  lostUnflushed = 0;
  /** Retries a leader answered from its duplicate table without proposing them (ShardService.write). */
  retriesAnswered = 0;
  /** Configs handed to drivers by the Watch model (a config offered to several drivers counts each time). */
  watchOffers = 0;

  /**
   * The daemon's Watch stream (shard-server/server.ts watchConfigs), modelled: every watchMs
   * the replica asks one controller replica in turn for the configs it has applied after the
   * last one seen (committed, possibly stale; the RPC may be lost or delayed) and offers them
   * to its driver.
   */
  /** A driver's observer counting the adaptive pace's moves and the chunks in flight. */
  private paceObserver(): MigrationObserver {
    let last: number | undefined;
    let inFlight = 0;
    return {
      received: () => {
        inFlight++;
        if (inFlight > this.pulled.maxInFlight) this.pulled.maxInFlight = inFlight;
      },
      settled: (_bytes, inserted) => {
        inFlight--;
        if (!inserted) this.pulled.notInserted++;
      },
      paced: (bytesPerSec) => {
        if (last !== undefined && bytesPerSec > last) this.pace.raised++;
        if (last !== undefined && bytesPerSec < last) this.pace.lowered++;
        last = bytesPerSec;
      },
    };
  }

  private watchConfigs(self: string, driver: MigrationDriver, clock: Clock, alive: () => boolean): void {
    const ids = this.controller.ids;
    let next = 1;
    let turn = 0;
    const poll = (): void => {
      const target = ids[turn++ % ids.length]!;
      const from = next;
      this.rpc.call<ControllerEndpoint, Config[]>(self, ctlAddress(target), `watch ${from}`, async ({ h }) => {
        const out: Config[] = [];
        for (let n = from; n <= h.sm.latestNum(); n++) {
          const c = await h.sm.config(n);
          if (c === undefined) break;
          out.push(c);
        }
        return out;
      }, { timeoutMs: 400, callerAlive: alive }).then(
        (cs) => {
          for (const c of cs) {
            if (c.num < next) continue;
            next = c.num + 1;
            this.watchOffers++;
            driver.offer(c);
          }
        },
        () => undefined,
      ).finally(() => clock.after(this.params.watchMs, poll));
    };
    clock.after(this.params.watchMs, poll);
  }

  /** A linearizable Query(num) of the controller group over the RPC network (a few attempts). */
  async queryController(from: string, num: number, callerAlive?: () => boolean): Promise<Config> {
    let last: unknown;
    let target = this.ctlHint ?? this.controller.ids[0]!;
    for (let tries = 0; tries < 4; tries++) {
      try {
        const c = await this.rpc.call<ControllerEndpoint, Config>(from, ctlAddress(target), `query ${num}`,
          async ({ svc }) => (await svc.query(num)).config, { timeoutMs: 400, callerAlive });
        this.ctlHint = target;
        return c;
      } catch (e) {
        last = e;
        if (e instanceof NotLeaderError && e.leaderHint !== 0) target = e.leaderHint;
        else target = this.controller.ids[(this.controller.ids.indexOf(target) + 1) % this.controller.ids.length]!;
      }
    }
    throw last instanceof ShardKVError ? last : new StoppedError("controller query");
  }

  /**
   * AckJoin(gid, joinNum) through the controller group, as a group's leader sends it: the
   * request id is derived from (gid, joinNum), so every replica's ack of one join is one
   * request (idempotent anyway). Resolves with the aborting config's number, or 0.
   */
  async ackJoin(from: string, gid: GroupId, joinNum: number, callerAlive?: () => boolean): Promise<number> {
    const clientId = (gid.toString(16).padStart(16, "0") + joinNum.toString(16).padStart(16, "0"));
    const op = { kind: "ackJoin" as const, gid, joinNum: joinNum as ConfigNum };
    let last: unknown;
    let target = this.ctlHint ?? this.controller.ids[0]!;
    for (let tries = 0; tries < 4; tries++) {
      try {
        const aborted = await this.rpc.call<ControllerEndpoint, number>(from, ctlAddress(target), `ack join ${gid}@${joinNum}`,
          ({ svc }) => svc.ackJoin({ clientId, seq: 1 }, op), { timeoutMs: 600, callerAlive });
        this.ctlHint = target;
        return aborted;
      } catch (e) {
        if (e instanceof InvalidArgumentError) throw e;
        last = e;
        if (e instanceof NotLeaderError && e.leaderHint !== 0) target = e.leaderHint;
        else target = this.controller.ids[(this.controller.ids.indexOf(target) + 1) % this.controller.ids.length]!;
      }
    }
    throw last instanceof ShardKVError ? last : new StoppedError("controller ack");
  }

  allClusters(): SimCluster<never, unknown>[] {
    return [this.controller, ...this.groups.values()] as unknown as SimCluster<never, unknown>[];
  }
}

/**
 * The `abort-first-join` scenario's plan for the admin: the groups of the first join, the one
 * of them whose join it aborts, and what lifts that group's cut once the abort is answered.
 */
interface FirstJoinAbort {
  readonly first: readonly GroupId[];
  readonly victim: GroupId;
  readonly aborted: () => void;
}

/** The admin: random Join/Leave/Move through the controller group, each retried with its (clientId, seq). */
class SimAdmin {
  private readonly clientId: string;
  private seq = 0;
  private hint: NodeId | undefined;
  stopping = false;
  done: Promise<void> = Promise.resolve();
  changes = 0;

  constructor(private readonly w: World, private readonly rng: SimRng, private readonly plan?: FirstJoinAbort) {
    this.clientId = hex128(rng);
  }

  start(): void {
    this.done = this.loop().catch((e: Error) => this.w.checker.fail(`admin: ${e.stack ?? e}`));
  }

  private async loop(): Promise<void> {
    const gids = [...this.w.groups.keys()];
    const plan = this.plan;
    const first = plan?.first ?? this.rng.shuffle(gids).slice(0, this.rng.range(1, gids.length));
    // The scenario's first join is forced: its victim could not answer the join check.
    let view = await this.change({ kind: "join", groups: new Map(first.map((g) => [g, this.w.servers(g)])) }, plan !== undefined);
    if (plan) {
      // Its victim has not acknowledged (it cannot reach the controller): the Leave aborts its join.
      view = (await this.change({ kind: "leave", gids: [plan.victim] })) ?? view;
      plan.aborted();
    }
    // Liveness needs a group to serve the shards: while none has joined (every join so far was
    // refused: its servers did not answer the join check in time), the admin goes on.
    const noGroup = (): boolean => (view?.groups.size ?? 0) === 0;
    while (!this.stopping || noGroup()) {
      await this.sleep(this.rng.range(1, 2 * this.w.params.adminGapMs));
      if (this.stopping && !noGroup()) break;
      const c = view ?? initialConfig(this.w.params.shardCount);
      const present = sortedGids(c.groups);
      const absent = gids.filter((g) => !c.groups.has(g));
      const k = this.rng.int(3);
      let op: ControllerOp;
      if ((k === 0 && absent.length > 0) || present.length === 0) op = { kind: "join", groups: new Map([[this.rng.pick(absent.length > 0 ? absent : gids), this.w.servers(this.rng.pick(absent.length > 0 ? absent : gids))]]) };
      else if (k === 1 && present.length > 1) op = { kind: "leave", gids: [this.rng.pick(present)] };
      else op = { kind: "move", shard: this.rng.int(this.w.params.shardCount) as ShardId, gid: this.rng.pick(present) };
      if (op.kind === "join") {
        const g = [...op.groups.keys()][0]!;
        op = { kind: "join", groups: new Map([[g, this.w.servers(g)]]) };
      }
      view = (await this.change(op)) ?? view;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.w.clock.after(ms, r));
  }

  /**
   * Sends `op` through a controller replica's ControllerService until one reply comes (same
   * (clientId, seq) on every retry); then the latest config. `force`: a join without the join check.
   */
  private async change(op: ControllerOp, force = false): Promise<Config | undefined> {
    const cmd = { clientId: this.clientId, seq: ++this.seq };
    const ids = this.w.controller.ids;
    this.w.trace(`admin #${cmd.seq} ${op.kind} ${JSON.stringify(op, (_k, v) => (v instanceof Map ? [...v.keys()] : v))}`);
    for (;;) {
      if (this.stopping && this.w.stopped) return undefined;
      const target = this.hint ?? this.rng.pick(ids);
      try {
        const r = await this.w.rpc.call<ControllerEndpoint, string>("admin", ctlAddress(target), `change #${cmd.seq}`, ({ svc }) => {
          const reply = op.kind === "join" ? svc.join(cmd, op, { force }) : op.kind === "leave" ? svc.leave(cmd, op) : op.kind === "move" ? svc.move(cmd, op) : op.kind === "ackJoin" ? svc.ackJoin(cmd, op) : svc.replica(cmd, op);
          return reply.then((num) => `config ${num}`, (e: unknown) => {
            // The admin joins each group with its own servers, so the join check can refuse
            // one only for servers that gave no answer (crashed, cut off): a refusal the real
            // client waits out (ServersUnansweredError), never one it gives up on at once.
            if (e instanceof InvalidArgumentError && e.field === "groups" && !(e instanceof ServersUnansweredError)) {
              this.w.checker.fail(`admin #${cmd.seq}: a join of a group's own servers refused as final: ${e.message}`);
            }
            if (e instanceof InvalidArgumentError) return `refused ${e.message}`;
            throw e;
          });
        }, { timeoutMs: 600 });
        this.hint = target;
        this.changes++;
        this.w.trace(`admin #${cmd.seq} -> ${r}`);
        try {
          return await this.w.queryController("admin", -1);
        } catch {
          return undefined;
        }
      } catch (e) {
        if (e instanceof RetryLaterError) {
          // A pending group has not acknowledged its join yet: the real client retries the same
          // request until its deadline; so does the admin (the request was not remembered).
          this.w.trace(`admin #${cmd.seq} waits: ${e.reason}`);
          this.hint = target;
          await this.sleep(this.rng.range(20, 100));
          continue;
        }
        this.hint = e instanceof NotLeaderError && e.leaderHint !== 0 ? e.leaderHint : undefined;
        await this.sleep(this.rng.range(5, 40));
      }
    }
  }
}

/** A value of the client API's results as the history's string (undefined: absent). */
const str = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : dec.decode(v));

/** One op of a client's write: a put, append, delete or cas (expected undefined: absent), or a get inside a batch. */
interface WriteOp {
  readonly type: BatchOp["type"];
  readonly key: string;
  readonly value: string;
  readonly expected?: string;
}

/**
 * A client: the real `ShardKV` (client/shardkv.ts, its public API only) over SimClientTransport
 * (sim-client-transport.ts: Query to the controller replicas' ControllerService, Batch streams
 * served by the real serveBatch over each replica's wire-handlers.ts), on the SimClock and a
 * SimRng fork of its own. It issues random operations with unique tokens and records each in
 * the checker's history: an answer is the operation's output; a TimeoutError (the call's
 * deadline passed) leaves it pending forever (it may or may not have taken effect). Anything
 * else the library throws fails the seed: the run sends only valid requests, so a definitive
 * refusal (InvalidArgumentError) is a bug, and an open, unaborted client throws nothing else.
 */
class SimKvClient {
  private kv: ShardKV | undefined;
  private tokens = 0;
  private connects = 0;
  private closed = false;
  /** The last value this client saw per key (cas expectations). */
  private readonly lastSeen = new Map<string, string | undefined>();
  stopping = false;
  done: Promise<void> = Promise.resolve();
  readonly stats = { ops: 0, acked: 0, gaveUp: 0, connectTimeouts: 0 };

  constructor(
    private readonly w: World,
    readonly id: number,
    private readonly rng: SimRng,
    private readonly cfg: ShardClientConfig,
    private readonly keys: readonly string[],
    private readonly appendKeys: ReadonlySet<string>,
  ) {}

  get address(): string {
    return `client-${this.id}`;
  }

  start(): void {
    this.done = this.connect().then(async (ok) => {
      if (!ok) return;
      const loops: Promise<void>[] = [];
      for (let i = 0; i < this.cfg.concurrency; i++) loops.push(this.loop());
      await Promise.all(loops);
    }).catch((e: Error) => this.w.checker.fail(`client ${this.id}: ${e.stack ?? e}`));
  }

  /**
   * ShardKV.connect until it loads a config (a connect that timed out is retried with a new
   * client: nothing was recorded for it); false once stopping or failed.
   */
  async connect(): Promise<boolean> {
    while (!this.stopping && this.w.checker.failure === undefined) {
      const n = ++this.connects;
      try {
        this.kv = await ShardKV.connect({
          controllers: this.rng.shuffle(this.w.controller.ids.map(ctlAddress)),
          clock: this.w.clock,
          rng: this.rng.fork(`kv-${n}`),
          transport: this.w.clientTransport(this.address),
          deadlineMs: this.cfg.deadlineMs,
          attemptMs: this.cfg.attemptMs,
        });
        this.w.trace(`client ${this.id} connected (config ${this.kv.currentConfig.num})`);
        return true;
      } catch (e) {
        if (!(e instanceof TimeoutError)) throw e;
        this.stats.connectTimeouts++;
        this.w.trace(`client ${this.id} connect timed out: ${e.message}`);
      }
    }
    return false;
  }

  /** Closes the client at the end of the run (calls still in flight then end with StoppedError, not recorded). */
  close(): void {
    this.closed = true;
    this.kv?.close();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.w.clock.after(Math.max(0, ms), r));
  }

  private async loop(): Promise<void> {
    while (!this.stopping && this.w.checker.failure === undefined) {
      await this.randomOp();
      await this.sleep(this.rng.range(1, this.cfg.thinkMsMax));
    }
  }

  private token(): string {
    return `c${this.id}.${++this.tokens};`;
  }

  private async randomOp(): Promise<void> {
    const r = this.rng.float();
    const c = this.cfg;
    const key = this.rng.pick(this.keys);
    if (r < c.getRate) {
      await this.get(key);
      return;
    }
    if (r < c.getRate + c.batchRate) return this.batch(key);
    const appendOnly = this.appendKeys.has(key);
    if (!appendOnly && r < c.getRate + c.batchRate + c.casRate) {
      await this.write([{ type: "cas", key, value: this.token(), expected: this.lastSeen.get(key) }]);
      return;
    }
    if (!appendOnly && r < c.getRate + c.batchRate + c.casRate + c.deleteRate) {
      await this.write([{ type: "delete", key, value: "" }]);
      return;
    }
    await this.write([{ type: appendOnly || this.rng.bool(0.5) ? "append" : "put", key, value: this.token() }]);
  }

  /** A multi-op batch on one shard: 2-3 ops on keys of `key`'s shard. */
  private async batch(key: string): Promise<void> {
    const s = shardOf(key, this.w.params.shardCount);
    const same = this.keys.filter((k) => shardOf(k, this.w.params.shardCount) === s);
    const n = Math.min(same.length, this.rng.range(2, 3));
    const ks = this.rng.shuffle(same).slice(0, n);
    await this.write(ks.map((k) => {
      const x = this.rng.int(3);
      if (x === 0) return { type: "get" as const, key: k, value: "" };
      return { type: this.appendKeys.has(k) || x === 1 ? "append" as const : "put" as const, key: k, value: this.token() };
    }));
  }

  private record(op: KvOperation): PendingOp {
    this.stats.ops++;
    return this.w.checker.invoke(this.id, op, this.w.clock.nowMs());
  }

  /**
   * Runs one call of the client library; its result, or undefined when its deadline passed
   * (TimeoutError: the outcome is unknown). Any other failure fails the seed (see the class).
   */
  private async call<T>(what: string, run: (kv: ShardKV, opts: CallOptions) => Promise<T>, deadlineMs = this.cfg.deadlineMs): Promise<{ readonly r: T } | undefined> {
    try {
      const r = await run(this.kv!, { deadlineMs });
      this.stats.acked++;
      return { r };
    } catch (e) {
      if (this.closed) return undefined;
      if (e instanceof TimeoutError) {
        this.stats.gaveUp++;
        this.w.trace(`client ${this.id} ${what}: unknown: ${e.message}`);
        return undefined;
      }
      const kind = e instanceof InvalidArgumentError ? "refused" : `failed with ${(e as Error)?.constructor?.name ?? typeof e}`;
      this.w.checker.fail(`client ${this.id}: ${what} ${kind}: ${(e as Error)?.message ?? e}`);
      return undefined;
    }
  }

  /** A linearizable get; whether it was answered. */
  async get(key: string, deadlineMs?: number): Promise<boolean> {
    const rec = this.record({ op: "get", input: { key } });
    const a = await this.call(`get ${key}`, (kv, o) => kv.get(key, o), deadlineMs);
    if (a === undefined) return false;
    const v = str(a.r);
    rec.output = { value: v };
    rec.returnMs = this.w.clock.nowMs();
    this.lastSeen.set(key, v);
    this.w.checker.observed(key, v, `client ${this.id} get`);
    return true;
  }

  /**
   * One write request: a single op through its own call (put, append, delete, cas), several
   * (one shard) through batch. Whether it was answered.
   */
  async write(ops: readonly WriteOp[], deadlineMs?: number): Promise<boolean> {
    const recs = ops.map((o) => {
      switch (o.type) {
        case "get": return this.record({ op: "get", input: { key: o.key } });
        case "put": return this.record({ op: "put", input: { key: o.key, value: o.value } });
        case "append": return this.record({ op: "append", input: { key: o.key, value: o.value } });
        case "delete": return this.record({ op: "delete", input: { key: o.key } });
        case "cas": return this.record({ op: "cas", input: { key: o.key, expected: o.expected, value: o.value } });
      }
    });
    const what = ops.map((o) => `${o.type} ${o.key}${o.value ? ` ${o.value}` : ""}`).join(", ");
    const a = await this.call(what, (kv, opts): Promise<readonly BatchResult[]> => {
      const o = ops[0]!;
      if (ops.length > 1) {
        return kv.batch(ops.map((x): BatchOp => (x.type === "get" || x.type === "delete" ? { type: x.type, key: x.key }
          : x.type === "cas" ? { type: "cas", key: x.key, expected: x.expected ?? null, value: x.value } : { type: x.type, key: x.key, value: x.value })), opts);
      }
      switch (o.type) {
        case "get": return kv.get(o.key, opts).then((v) => [{ found: v !== undefined, value: v, swapped: false }]);
        case "put": return kv.put(o.key, o.value, opts).then(() => [noResult]);
        case "append": return kv.append(o.key, o.value, opts).then(() => [noResult]);
        case "delete": return kv.delete(o.key, opts).then((found) => [{ ...noResult, found }]);
        case "cas": return kv.cas(o.key, o.expected ?? null, o.value, opts).then((c) => [{ found: c.current !== undefined, value: c.current, swapped: c.swapped }]);
      }
    }, deadlineMs);
    if (a === undefined) return false;
    const now = this.w.clock.nowMs();
    ops.forEach((o, i) => {
      const res = a.r[i]!;
      const rec = recs[i]!;
      rec.returnMs = now;
      switch (o.type) {
        case "get": {
          const v = res.found ? str(res.value) : undefined;
          rec.output = { value: v };
          this.lastSeen.set(o.key, v);
          this.w.checker.observed(o.key, v, `client ${this.id} batch get`);
          break;
        }
        case "put":
          rec.output = { ok: true };
          this.lastSeen.set(o.key, o.value);
          break;
        case "append":
          rec.output = { ok: true };
          if (this.appendKeys.has(o.key)) this.w.checker.ackedAppend(o.key, o.value);
          break;
        case "delete":
          rec.output = { existed: res.found };
          this.lastSeen.set(o.key, undefined);
          break;
        case "cas": {
          rec.output = { swapped: res.swapped };
          const cur = res.found ? str(res.value) : undefined;
          this.w.checker.observed(o.key, cur, `client ${this.id} cas`);
          this.lastSeen.set(o.key, res.swapped ? o.value : cur);
          break;
        }
      }
    });
    return true;
  }
}

/** The result of a put or append (the API returns none). */
const noResult: BatchResult = { found: false, value: undefined, swapped: false };

/** The whole-cluster mode's defaults (the CLI and the tests share them, so seeds replay). */
const shardDefaults: SimDefaults = { mode: "cluster", safetyMs: shardSafetyMs, livenessMs: 20_000, checkEvery: 16, maxEvents: 5_000_000 };

/** The whole deployment with its admin, clients and faults, as the runner drives it. */
class ShardWorld implements SimWorld<ShardRunStats> {
  readonly root: SimRng;
  readonly appendKeys = new Set<string>();
  readonly keys: string[] = [];
  readonly checker: ShardChecker;
  readonly w: World;
  readonly header: string;
  readonly groups: readonly SimCluster<never, unknown>[];
  private admin: SimAdmin | undefined;
  private readonly clients: SimKvClient[] = [];
  private readonly nemeses: Nemesis<never, unknown>[] = [];
  private rpcNemesisOn = false;
  private othersDone = false;
  private probeDone = false;

  constructor(private readonly run: SimRun, readonly params: ShardSimParams, sabotage: ShardRunOptions["sabotage"], private readonly scenario?: ShardScenario) {
    this.root = new SimRng(run.seed).fork("shards");
    for (let i = 0; i < params.appendKeys; i++) this.appendKeys.add(`a${i}`);
    let w: World | undefined;
    this.checker = new ShardChecker((num) => w?.configOf(num), this.appendKeys);
    w = new World(params, run.clock, this.root, this.checker, run.trace, sabotage);
    this.w = w;
    this.groups = w.allClusters();
    this.header = `shard seed ${run.seed}${scenario ? ` scenario ${scenario}` : ""} params ${JSON.stringify(params)}${sabotage ? ` SABOTAGE ${JSON.stringify(sabotage)}` : ""}`;
  }

  failure(): string | undefined {
    if (this.checker.failure !== undefined) return this.checker.failure;
    for (const c of this.w.raftCheckers) if (c.failure !== undefined) return `raft: ${c.failure}`;
    for (const c of this.w.allClusters()) if (c.failures.length > 0) return c.failures[0];
    return undefined;
  }

  start(): void {
    const { w, params, root, keys, appendKeys } = this;
    for (const c of w.allClusters()) for (const id of c.ids) c.start(id);
    for (let i = 0; i < params.keys; i++) keys.push(`k${i}`);
    for (const k of appendKeys) keys.push(k);
    this.admin = new SimAdmin(w, root.fork("admin"), this.scenario === "abort-first-join" ? this.firstJoinAbort() : undefined);
    this.admin.start();
    for (let i = 1; i <= params.clients; i++) {
      const c = new SimKvClient(w, i, root.fork(`client-${i}`), params.client, keys, appendKeys);
      this.clients.push(c);
      c.start();
    }
    // One nemesis per Raft group (at half the rate each); no leadership transfer in a 1-node group.
    w.allClusters().forEach((c, i) => this.nemeses.push(new Nemesis(c, root.fork(`nemesis-${i}`), {
      ...params, nemesisGapMs: params.nemesisGapMs * 2, weights: { ...params.weights, transfer: c.ids.length > 1 ? params.weights.transfer : 0 },
    })));
    for (const n of this.nemeses) n.start();
    // RPC faults: isolate one address (a controller replica, a server, a client) or heal.
    const rng = root.fork("rpc-nemesis");
    this.rpcNemesisOn = params.rpcNemesisGapMs > 0;
    const addresses = [...w.controller.ids.map(ctlAddress), ...[...w.groups.keys()].flatMap((g) => w.servers(g)), ...this.clients.map((c) => `client-${c.id}`)];
    const rpcNemesis = (): void => {
      this.run.clock.after(rng.range(1, 2 * params.rpcNemesisGapMs), () => {
        if (!this.rpcNemesisOn) return;
        if (rng.bool(0.4)) w.rpc.heal();
        else w.rpc.isolate(rng.pick(addresses));
        rpcNemesis();
      });
    };
    if (this.rpcNemesisOn) rpcNemesis();
  }

  /**
   * The `abort-first-join` scenario's plan (from a stream of its own): two or more groups in
   * the first join, the victim among them cut off from every controller replica from the
   * start (no query, no AckJoin reaches them) until the admin's Leave aborted its join.
   */
  private firstJoinAbort(): FirstJoinAbort {
    const { w } = this;
    const rng = this.root.fork("scenario-abort-first-join");
    const gids = [...w.groups.keys()];
    const first = rng.shuffle(gids).slice(0, rng.range(2, gids.length));
    const victim = first[0]!;
    w.trace(`scenario abort-first-join: first join ${first.join(",")}; group ${victim} cannot reach the controller until its join is aborted`);
    w.rpc.sever(w.servers(victim), w.controller.ids.map(ctlAddress));
    return { first, victim, aborted: () => w.rpc.mend() };
  }

  beginLiveness(): number {
    const { w, params, run, keys, appendKeys, checker } = this;
    const start = run.clock.nowMs();
    const livenessMs = run.livenessMs;
    for (const n of this.nemeses) n.stop();
    this.rpcNemesisOn = false;
    const admin = this.admin!;
    admin.stopping = true;
    for (const c of this.clients) c.stopping = true;
    w.rpc.heal();
    w.rpc.faults = { ...reliableNetwork };
    restartForLiveness(run.trace, w.allClusters(), params.fullRestart);
    void Promise.all([admin.done, ...this.clients.map((c) => c.done)]).then(() => { this.othersDone = true; });
    // Fresh operations must complete: a new client connects, then puts and gets one key of every shard.
    const probe = new SimKvClient(w, 0, this.root.fork("probe"), { ...params.client, concurrency: 1, deadlineMs: livenessMs }, keys, appendKeys);
    this.clients.push(probe);
    const probeRun = async (): Promise<void> => {
      const end = start + livenessMs;
      let ok = await probe.connect();
      const covered = new Set<number>();
      for (let i = 0; ok && covered.size < params.shardCount && i < 10_000; i++) {
        const k = `p${i}`;
        const s = shardOf(k, params.shardCount);
        if (covered.has(s)) continue;
        covered.add(s);
        ok = await probe.write([{ type: "put", key: k, value: `probe.${i};` }], Math.max(1, end - run.clock.nowMs()))
          && await probe.get(k, Math.max(1, end - run.clock.nowMs()));
      }
      if (!ok) run.fail(`liveness: the probe's operations did not complete within ${livenessMs} ms`);
      this.probeDone = true;
    };
    probeRun().catch((e: Error) => checker.fail(`probe: ${e.stack ?? e}`));
    return livenessMs;
  }

  settled(): boolean {
    if (!this.othersDone || !this.probeDone) return false;
    const latest = this.w.controller.leader()?.sm.latest();
    if (!latest) return false;
    for (const [gid, c] of this.w.groups) {
      const l = c.leader();
      if (!l) return false;
      const core = l.sm.core;
      if (core.config.num !== latest.num) return false;
      for (const m of core.allMetas()) {
        const owned = latest.shards[m.shard] === gid;
        if (owned && (m.state !== "serving" || m.gcConfigNum !== 0)) return false;
        if (!owned && m.state !== "notOwned") return false;
      }
      const commit = l.node!.status().commit;
      for (const h of c.live()) if (h.sm.appliedIndex() < commit) return false;
      // Every replica up, but those a detected corruption of their log store stopped for good.
      if (c.live().length !== c.serving().length) return false;
    }
    return true;
  }

  unsettled(boundMs: number): string {
    return `liveness: not settled within ${boundMs} ms after healing (probe done: ${this.probeDone}, clients done: ${this.othersDone})\n${describeWorld(this.w)}`;
  }

  finalChecks(): void {
    const { w, params, run } = this;
    w.stopped = true;
    const latest = w.controller.leader()!.sm.latest();
    // gc: replicas hold no data of shards their group does not own.
    for (const [gid, c] of w.groups) {
      for (const id of c.serving()) {
        const sm = c.handles.get(id)!.sm;
        for (let s = 0; s < params.shardCount; s++) {
          const held = latest.shards[s] !== gid ? sm.stored(s as ShardId).size : 0;
          if (held > 0) run.fail(`gc: g${gid}n${id} still holds ${held} keys of shard ${s}, owned by group ${latest.shards[s]} in config ${latest.num}`);
        }
      }
    }
    const finals = new Map<string, string | undefined>();
    for (const key of this.keys) {
      const s = shardOf(key, params.shardCount);
      const l = w.groups.get(latest.shards[s]!)!.leader()!;
      const v = l.sm.stored(s).get(Buffer.from(key).toString("latin1"));
      finals.set(key, v === undefined ? undefined : dec.decode(v));
    }
    this.checker.finish(finals, run.clock.nowMs());
  }

  end(): void {
    for (const d of this.w.drivers) d.halt();
    for (const c of this.clients) c.close();
    this.run.trace(`error answers: ${JSON.stringify([...this.w.errorAnswers].sort())}`);
  }

  stats(loop: LoopStats): ShardRunStats {
    const { w, clients, checker } = this;
    let crashes = 0;
    let snapshotsInstalled = 0;
    let lostUnsyncedApplies = 0;
    const logFaults = { corruptReads: 0, flippedReads: 0, corruptions: 0 };
    for (const c of w.allClusters()) {
      crashes += c.stats.crashes;
      snapshotsInstalled += c.stats.snapshotsInstalled;
      const f = c.logFaultStats();
      logFaults.corruptReads += f.corruptReads;
      logFaults.flippedReads += f.flippedReads;
      logFaults.corruptions += f.corruptions;
    }
    // Apply batches (written without fsync) that a power loss dropped: those replicas restarted behind and re-applied.
    for (const c of w.groups.values()) for (const d of c.disks.values()) lostUnsyncedApplies += d.storage.lost(`${d.dataDir}/state`);
    return {
      ...loop, groups: w.groups.size, shards: this.params.shardCount,
      configs: (w.controller.leader()?.sm.latest().num ?? -1),
      adminChanges: this.admin?.changes ?? 0,
      ops: clients.reduce((n, c) => n + c.stats.ops, 0),
      acked: clients.reduce((n, c) => n + c.stats.acked, 0),
      gaveUp: clients.reduce((n, c) => n + c.stats.gaveUp, 0),
      connectTimeouts: clients.reduce((n, c) => n + c.stats.connectTimeouts, 0),
      wrongGroup: w.errorAnswers.get("WrongGroupError") ?? 0,
      notLeader: w.errorAnswers.get("NotLeaderError") ?? 0,
      writesDelivered: w.deliveries.size,
      writesRedelivered: [...w.deliveries.values()].filter((n) => n > 1).length,
      ...transportStats(w.transports),
      crashes, snapshotsInstalled, lostUnsyncedApplies, restartedBehind: w.restartedBehind, lostUnflushed: w.lostUnflushed, snapshotRewinds: w.snapshotRewinds,
      retriesAnswered: w.retriesAnswered,
      ...Object.fromEntries(Object.entries(checker.stats)),
      rpcCalls: w.rpc.stats.calls, rpcDuplicated: w.rpc.stats.duplicated, rpcTimeouts: w.rpc.stats.timeouts, pulls: w.rpc.stats.streams,
      probeDone: this.probeDone ? 1 : 0, watchOffers: w.watchOffers,
      paceRaised: w.pace.raised, paceLowered: w.pace.lowered, pulledMaxInFlight: w.pulled.maxInFlight, pulledNotInserted: w.pulled.notInserted,
      ...logFaults,
      stateFlips: [...w.flips.values()].reduce((n, f) => n + f.flippedReads(), 0),
      stateCorruptions: [...w.flips.values()].reduce((n, f) => n + f.stopped.size, 0),
    };
  }
}

export async function runShardSeed(seed: number, opts: ShardRunOptions = {}): Promise<ShardRunResult> {
  seed = seed >>> 0;
  const base = deriveShardParams(seed);
  const params = opts.params ? opts.params(base) : base;
  const r = await runWorld(seed, opts, shardDefaults, (run) => new ShardWorld(run, params, opts.sabotage, opts.scenario));
  return { seed, ok: r.ok, failure: r.failure, traceHash: r.traceHash, stats: r.stats, params, buggify: r.buggify };
}

/** The client transports' stats, summed. */
function transportStats(ts: readonly { readonly stats: SimClientTransportStats }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ts) for (const [k, v] of Object.entries(t.stats)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function describeWorld(w: World): string {
  const lines: string[] = [];
  const latest = w.controller.leader()?.sm.latest();
  lines.push(`  controller latest config: ${latest ? `${latest.num} ${JSON.stringify(latest.shards)}` : "no leader"}`);
  for (const [gid, c] of w.groups) {
    for (const id of c.ids) {
      const h = c.handles.get(id);
      if (!h?.alive || !h.node) {
        lines.push(`  g${gid}n${id}: down`);
        continue;
      }
      const st = h.node.status();
      const metas = h.sm.core.allMetas().filter((m) => m.state !== "notOwned" || m.gcConfigNum !== 0)
        .map((m) => `${m.shard}:${m.state}@${m.configNum}${m.gcConfigNum ? `/gc${m.gcConfigNum}` : ""}`).join(" ");
      lines.push(`  g${gid}n${id}: ${st.role} term:${st.term} commit:${st.commit} applied:${st.applied} config:${h.sm.core.config.num} ${metas}`);
    }
  }
  return lines.join("\n");
}
