/**
 * One seeded run of the controller in the simulator: 3 or 5 replicas running real RaftNodes
 * over the simulated network and disks, each applying the production controller state machine
 * (RocksControllerStateMachine over the node's SimKvStorage, controller-replica.ts) and
 * answering through the production request handling (controller/service.ts's
 * ControllerService, as the gRPC handlers do); the faults of nemesis.ts (drops, duplicates,
 * delays, partitions, pauses, crashes at any write, restarts, leadership transfers), and at
 * each crash a kill -9 or a power loss of the state machine's storage; 1-3 admin clients
 * issuing random Join/Leave/Move and replica requests (valid and invalid ones) with a (clientId, seq), retrying the
 * same request after a timeout, a refusal or a reply it pretends to have lost, one request at
 * a time; and linearizable Query(-1) / Query(n). Checkers: controller-checkers.ts plus the Raft ones.
 * Then a liveness phase: heal, restart, and require a fresh completed change, a Query(-1)
 * reflecting it, and identical histories on every replica still serving, within a bound. In
 * about a third of the seeds the log stores have read faults (a replica that detects one stops
 * for good). The world (ControllerWorld) runs on the one runner, event-loop.ts.
 *
 * Same seed, same code: same trace, byte for byte.
 */
import { BackpressureError, InvalidArgumentError, LeadershipTransferError, NotLeaderError, RetryLaterError } from "../../common/errors";
import type { ConfigNum, GroupId, NodeId, ShardId } from "../../common/ids";
import { encodeConfig } from "../../controller/codec";
import { type Config, groupMembers, initialConfig, sortedGids } from "../../controller/config";
import type { Member } from "../../common/replica-change";
import type { IdentifyAnswer } from "../../controller/join-check";
import type { ControllerService } from "../../controller/service";
import type { CommandResult, ControllerCommand, ControllerOp } from "../../controller/state-machine";
import { Checker } from "./checkers";
import { SimCluster, type ClusterConfig, type NetStats } from "./cluster";
import { ControllerChecker, describeOp, describeResult } from "./controller-checkers";
import { type ControllerDurable, type ControllerHandle, SimControllerNodes, type SimControllerStateMachine } from "./controller-replica";
import { drawLogReadFaults } from "./disk";
import { drawFaults, raftFaultDraws } from "./network";
import { SimRng } from "./rng";
import { StateFlips } from "./shard-replica";
import { type LoopStats, type SimDefaults, type SimResult, type SimRun, type SimRunOptions, type SimWorld, runWorld } from "./event-loop";
import { Nemesis, type NemesisParams, restartForLiveness } from "./nemesis";


/** Virtual length of the safety phase (the CLI and the tests use the same default: seeds replay). */
export const controllerSafetyMs = 12_000;
/** Share of the admin clients' requests that are about a group's replicas (intents, reports). */
const replicaOpRate = 0.2;
/** The controller group's members as the admin clients report them (ReplicaDone of gid 0). */
const simControllerMembers: readonly Member[] = [1, 2, 3].map((i) => ({ id: i as NodeId, address: `c${i}:7000`, learner: false }));

/** The fixed controller seeds the test suite runs (test/unit/controller-sim.test.ts). */
export const controllerFixedSeeds: readonly number[] = Array.from({ length: 120 }, (_, i) => i + 1);

export interface AdminClientConfig {
  /** Probability that an operation is a Query (else a change). */
  readonly queryRate: number;
  /** Probability that a query goes to a random node first (a deposed leader must not serve it). */
  readonly randomNodeRate: number;
  /** Probability that a change is meant to be invalid (joining a present gid, leaving an unknown one...). */
  readonly invalidRate: number;
  /** Probability that the client acts as if a reply were lost, and retries the same request. */
  readonly dropReplyRate: number;
  /** Pause between operations, uniform integer ms in [1, thinkMsMax]. */
  readonly thinkMsMax: number;
  /** An attempt is abandoned (outcome unknown: retry the same request) after this long. */
  readonly attemptTimeoutMs: number;
  /** Pause before a retry. */
  readonly retryMs: number;
}

export interface ControllerSimParams extends NemesisParams {
  readonly cluster: ClusterConfig;
  readonly shardCount: number;
  /** Admin clients use gids 1..maxGid (so gids leave and rejoin). */
  readonly maxGid: number;
  readonly clients: number;
  readonly client: AdminClientConfig;
  readonly fullRestart: boolean;
}

/**
 * The runner's options (defaults: a 12 s safety phase; 10 s of liveness plus 20 ms per
 * snapshot chunk of the largest state; checks every 8 drains; 2,000,000 events), overrides of
 * the derived parameters, and the sabotages of the checker tests.
 */
export interface ControllerRunOptions extends SimRunOptions {
  readonly params?: (p: ControllerSimParams) => ControllerSimParams;
  /** Sabotage (checker tests): the state machines ignore the duplicate table. */
  readonly brokenDedup?: boolean;
  /** Compare with the pure model (default true; the sabotage test turns it off to isolate checker (c)). */
  readonly model?: boolean;
  /** Sabotage (checker tests): queries read a random replica's configs without a readBarrier. */
  readonly unsafeQueries?: boolean;
  /** Sabotage (checker tests): the WatchIntent feeds are not woken when the intents change. */
  readonly silentIntentFeeds?: boolean;
}

export interface ControllerRunStats extends LoopStats, NetStats {
  nodes: number;
  crashes: number;
  restarts: number;
  pauses: number;
  leaders: number;
  committedEntries: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  interruptedInstalls: number;
  lostWrites: number;
  configs: number;
  changesCompleted: number;
  changesOk: number;
  changesRefused: number;
  replies: number;
  lateReplies: number;
  lostReplies: number;
  retries: number;
  queries: number;
  restores: number;
  /** WatchIntent updates the feeds handed out after their first (changes of an intent told). */
  intentUpdates: number;
  /** Log entries of requests applied before (retries answered from the duplicate table). */
  duplicateEntries: number;
  /** Restarts that found applies the crashed process never saw complete (checked later). */
  unreportedApplies: number;
  /** Changes refused by the service's validation before the log. */
  edgeRefusals: number;
  /** Log store reads that failed the storage's checksum or returned a flipped bit; replicas stopped by a detected one. */
  corruptReads: number;
  flippedReads: number;
  corruptions: number;
  /** Values the state machines read with a flipped bit, and the replicas that detected one and stopped for good. */
  stateFlips: number;
  stateCorruptions: number;
}

export interface ControllerRunResult extends SimResult<ControllerRunStats, ControllerSimParams> {
  /** Configs created per request (checker (c)'s tally). */
  readonly createdPerRequest: ReadonlyMap<string, number>;
}

export function deriveControllerParams(seed: number): ControllerSimParams {
  const r = new SimRng(seed).fork("controller-params");
  const size = r.pick([3, 3, 5]);
  const delayMinMs = r.range(0, 3);
  const diskMinMs = r.range(0, 2);
  const faulty = r.bool(0.9);
  const p: ControllerSimParams = {
    cluster: {
      size,
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: r.pick([1, 2, 3]),
      snapshotEveryEntries: r.range(10, 40),
      compactKeepEntries: r.range(0, 10),
      snapshotChunkBytes: r.pick([128, 256, 512, 1024]),
      limits: r.bool(0.5)
        ? { appendBytesMax: 1 << 20, inflightAppendsMax: 256, uncommittedBytesMax: 64 << 20 }
        : {
          appendBytesMax: r.pick([60, 200, 1 << 20]),
          inflightAppendsMax: r.pick([1, 2, 4, 256]),
          uncommittedBytesMax: r.pick([100, 400, 64 << 20]),
        },
      network: drawFaults(r, faulty, delayMinMs, raftFaultDraws),
      disk: { minMs: diskMinMs, maxMs: diskMinMs + r.range(0, 8) },
    },
    shardCount: r.pick([1, 2, 3, 5, 8, 10, 16]),
    maxGid: r.range(3, 8),
    clients: r.range(1, 3),
    client: {
      queryRate: r.between(0.1, 0.5),
      randomNodeRate: r.between(0, 0.5),
      invalidRate: r.between(0.1, 0.4),
      dropReplyRate: r.between(0.05, 0.3),
      thinkMsMax: r.range(1, 60),
      attemptTimeoutMs: r.range(100, 800),
      retryMs: r.range(5, 30),
    },
    nemesisGapMs: faulty ? r.range(30, 500) : 0,
    weights: {
      partition: r.range(0, 4),
      heal: r.range(1, 4),
      crash: r.range(0, 3),
      transfer: r.range(0, 2),
      pause: r.range(0, 2),
    },
    downMsMax: r.range(20, 1500),
    fullRestart: r.bool(0.5),
  };
  // Log store read faults in about a third of the seeds, from a stream of their own (absent
  // when off, so the other seeds run as they did); such a seed has no state machine flips.
  const logReadFaults = drawLogReadFaults(new SimRng(seed).fork("log-read-faults"), true, 0.35);
  return logReadFaults ? { ...p, cluster: { ...p.cluster, logReadFaults } } : p;
}

type ControllerCluster = SimCluster<SimControllerStateMachine>;
type Handle = ControllerHandle;

/**
 * An admin client: one request at a time, each with (clientId, seq); retries the SAME request
 * after a timeout, a refusal (NotLeader, Backpressure, ...), a crash of the node it asked, or
 * a reply it pretends to have lost; moves to the next request only once one reply is taken.
 */
export class SimAdminClient {
  readonly clientId: string;
  private seq = 0;
  private hint: NodeId | undefined;
  private stopping = false;
  /** The latest config this client has seen (its requests are drawn against it). */
  private view: Config;
  retries = 0;
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly cluster: ControllerCluster,
    private readonly nodes: SimControllerNodes,
    private readonly checker: ControllerChecker,
    readonly id: number,
    private readonly rng: SimRng,
    private readonly cfg: AdminClientConfig,
    private readonly shardCount: number,
    private readonly maxGid: number,
    private readonly unsafeQueries = false,
  ) {
    let hex = "";
    for (let i = 0; i < 4; i++) hex += rng.u32().toString(16).padStart(8, "0");
    this.clientId = hex;
    this.view = initialConfig(shardCount);
  }

  start(): void {
    this.done = this.loop().catch((e: Error) => this.cluster.clientFailed(this.id, e));
  }

  /** Finishes the request in progress, then stops. */
  stop(): void {
    this.stopping = true;
  }

  private trace(s: string): void {
    this.cluster.trace(`a${this.id} ${s}`);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (this.rng.bool(this.cfg.queryRate)) {
        await this.query(this.rng.bool(0.25) ? this.rng.int(this.view.num + 1) : -1);
      } else {
        const op = this.randomOp();
        const r = await this.change(op);
        if (op.kind === "join" && r?.ok) await this.settleJoin(op, r.configNum);
        // "Query(-1) after a completed change reflects it" (the checker knows what it must see).
        if (r?.ok && this.rng.bool(0.5)) await this.query(-1);
      }
      await this.cluster.sleep(`a${this.id} think`, this.rng.range(1, Math.max(1, this.cfg.thinkMsMax)));
    }
  }

  /**
   * What the joined groups' leaders would do: acknowledge the join (a pending group holds up
   * changes that would move its shards away), or, one time in ten, the admin aborts it at once
   * with a Leave of the groups (they never came up). Runs even while stopping, so no group
   * stays pending for good.
   */
  private async settleJoin(op: Extract<ControllerOp, { kind: "join" }>, joinNum: number): Promise<void> {
    const abort = this.rng.bool(0.1);
    // One Leave of every group the join added: a Leave of one of them alone may hand its
    // shards to another, still pending, and is refused (RetryLater) until that one is
    // acknowledged, which this admin would only do after it (seed 1404744372 of --controller
    // waited so for good). An abort another admin's leave already made (or a refused one)
    // falls back to the acks, which are then no-ops or say the join was aborted.
    if (abort && (await this.change({ kind: "leave", gids: [...op.groups.keys()] }))?.ok) return;
    for (const gid of op.groups.keys()) await this.change({ kind: "ackJoin", gid, joinNum: joinNum as ConfigNum });
  }

  private servers(gid: number): string[] {
    const n = this.rng.range(1, 2);
    return Array.from({ length: n }, (_, i) => `g${gid}-${this.rng.int(100)}.sim:${7000 + i}`);
  }

  /**
   * A random request about a group's replicas (gid 0, the controller group, too), drawn
   * against this client's view: a stored intent, a cancel, a progress report, the members a
   * group's leader reports; and invalid ones (an unknown gid, a malformed address, an id 0,
   * members with no voter). Whether an intent is pending is not in the view: the controller
   * decides, and refuses what does not fit.
   */
  private randomReplicaOp(present: readonly GroupId[], unknown: GroupId): ControllerOp {
    const r = this.rng;
    const gid = (present.length === 0 || r.bool(0.2) ? 0 : r.pick(present)) as GroupId;
    const members: readonly Member[] = gid === 0 ? simControllerMembers : groupMembers(this.view, gid);
    const ids = members.map((m) => m.id).filter((i) => i > 0);
    const someId = (ids.length > 0 && r.bool(0.8) ? r.pick(ids) : r.range(1, 6)) as NodeId;
    const newId = (Math.max(0, ...ids) + r.range(1, 2)) as NodeId;
    const address = `g${gid}-r${r.int(100)}.sim:7000`;
    if (r.bool(this.cfg.invalidRate)) {
      switch (r.int(4)) {
        case 0: return { kind: "replicaChange", gid: unknown, change: { kind: "remove", id: someId }, force: false };
        case 1: return { kind: "replicaChange", gid, change: { kind: "addLearner", id: newId, address: "no-port-here" }, force: false };
        case 2: return { kind: "replicaChange", gid, change: { kind: "promote", id: 0 as NodeId }, force: false };
        default: return { kind: "replicaDone", gid, members: [{ id: newId, address, learner: true }] };
      }
    }
    switch (r.pick(["change", "change", "change", "cancel", "progress", "done", "done"] as const)) {
      case "change": {
        const force = r.bool(0.2);
        switch (r.int(4)) {
          case 0: return { kind: "replicaChange", gid, change: { kind: "addLearner", id: newId, address }, force };
          case 1: return { kind: "replicaChange", gid, change: { kind: "promote", id: someId }, force };
          case 2: return { kind: "replicaChange", gid, change: { kind: "remove", id: someId }, force };
          default: return { kind: "replicaChange", gid, change: { kind: "replace", oldId: someId, newId, address }, force };
        }
      }
      case "cancel": return { kind: "replicaCancel", gid };
      case "progress": return { kind: "replicaProgress", gid, blocked: r.bool(0.5) ? "" : `replica ${someId} does not answer` };
      case "done": {
        // What a leader reports after carrying out some change: known ids, a voter kept.
        const known = members.map((m, i) => ({ ...m, id: (m.id > 0 ? m.id : 100 + i) as NodeId }));
        const next = r.bool(0.5) || known.length < 2 ? [...known, { id: newId, address, learner: r.bool(0.5) }] : known.slice(1);
        return { kind: "replicaDone", gid, members: next.some((m) => !m.learner) ? next : [{ ...next[0]!, learner: false }, ...next.slice(1)] };
      }
    }
  }

  /** A random change drawn against this client's view: valid ones, and the invalid kinds the controller must refuse at its edge. */
  randomOp(): ControllerOp {
    const r = this.rng;
    const v = this.view;
    const present = sortedGids(v.groups);
    const free: GroupId[] = [];
    for (let g = 1; g <= this.maxGid; g++) if (!v.groups.has(g as GroupId)) free.push(g as GroupId);
    const unknown = (free.length > 0 ? r.pick(free) : this.maxGid + 1) as GroupId;
    if (r.bool(replicaOpRate)) return this.randomReplicaOp(present, unknown);
    let kind = r.pick(["join", "join", "join", "leave", "leave", "move", "move"] as const);
    if (r.bool(this.cfg.invalidRate)) {
      switch (kind) {
        case "join": {
          const variant = r.int(3);
          if (variant === 0 && present.length > 0) {
            // Joining a gid that is already there (maybe along with a new one).
            const groups = new Map<GroupId, string[]>([[r.pick(present), this.servers(0)]]);
            if (free.length > 0 && r.bool(0.5)) groups.set(r.pick(free), this.servers(1));
            return { kind: "join", groups };
          }
          if (variant === 1) return { kind: "join", groups: new Map([[unknown, []]]) };
          return { kind: "join", groups: new Map([[unknown, ["no-port-here"]]]) };
        }
        case "leave": {
          const variant = r.int(3);
          if (variant === 1 && present.length > 0) return { kind: "leave", gids: [...present] }; // every group
          if (variant === 2 && present.length > 0) {
            const g = r.pick(present);
            return { kind: "leave", gids: [g, g] };
          }
          return { kind: "leave", gids: [unknown] };
        }
        case "move":
          if (r.bool(0.5) || present.length === 0) return { kind: "move", shard: r.int(this.shardCount) as ShardId, gid: unknown };
          return { kind: "move", shard: this.shardCount as ShardId, gid: r.pick(present) };
      }
    }
    if (kind === "leave" && present.length < 2) kind = "join";
    if (kind === "move" && present.length === 0) kind = "join";
    if (kind === "join" && free.length === 0) kind = present.length >= 2 ? "leave" : "move";
    switch (kind) {
      case "join": {
        const k = r.range(1, Math.min(3, free.length));
        const groups = new Map<GroupId, string[]>();
        for (const g of r.shuffle(free).slice(0, k)) groups.set(g, this.servers(g));
        return { kind: "join", groups };
      }
      case "leave": {
        const k = r.range(1, Math.min(2, present.length - 1));
        return { kind: "leave", gids: r.shuffle(present).slice(0, k) };
      }
      case "move":
        return { kind: "move", shard: r.int(this.shardCount) as ShardId, gid: r.pick(present) };
    }
  }

  /** The hinted leader if it is up, else (or with probability `randomRate`) any live node; with its service. */
  private target(randomRate = 0): { h: Handle; svc: ControllerService } | undefined {
    const live = this.cluster.live().flatMap((h) => {
      const svc = this.nodes.service(h);
      return svc ? [{ h, svc }] : [];
    });
    if (live.length === 0) return undefined;
    if (this.hint !== undefined && !(randomRate > 0 && this.rng.bool(randomRate))) {
      const t = live.find((x) => x.h.id === this.hint);
      if (t) return t;
    }
    return this.rng.pick(live);
  }

  /**
   * Sends `op` as the next request through the ControllerService of the node it targets and
   * retries the same (clientId, seq) until a reply is taken. Undefined only when the run has failed.
   */
  async change(op: ControllerOp): Promise<CommandResult | undefined> {
    const cmd: ControllerCommand = { clientId: this.clientId, seq: ++this.seq, op, shardCount: this.shardCount };
    this.checker.issuing(cmd);
    this.trace(`change ${describeOp(cmd)}`);
    for (let tries = 0; ; tries++) {
      if (this.checker.failure !== undefined) return undefined;
      if (tries > 0) this.retries++;
      const t = this.target();
      if (!t) {
        await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      const h = t.h;
      this.trace(`send #${cmd.seq} -> n${h.id}${tries > 0 ? ` (retry ${tries})` : ""}`);
      const appliedAtSend = this.checker.isApplied(cmd);
      const o = await this.cluster.attempt(this.id, `a${this.id} timeout`, this.cfg.attemptTimeoutMs, asResult(callService(t.svc, cmd)), (late) => {
        if (!late.ok) return;
        this.trace(`late reply #${cmd.seq} from n${h.id}: ${describeResult(late.value)}`);
        this.checker.reply(cmd, h.id, late.value, "late", appliedAtSend);
      });
      if (o.ok) {
        if (!this.stopping && this.rng.bool(this.cfg.dropReplyRate)) {
          // The reply was lost on its way back: the client cannot tell; it retries the same request.
          this.trace(`reply #${cmd.seq} from n${h.id} lost: ${describeResult(o.value)}`);
          this.checker.reply(cmd, h.id, o.value, "lost", appliedAtSend);
          await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
          continue;
        }
        this.trace(`reply #${cmd.seq} from n${h.id}: ${describeResult(o.value)}`);
        this.checker.reply(cmd, h.id, o.value, "reply", appliedAtSend);
        this.checker.completed(cmd, o.value);
        this.hint = h.id;
        return o.value;
      }
      if ("timeout" in o) {
        this.trace(`timeout #${cmd.seq} at n${h.id}`);
        this.hint = undefined;
        continue;
      }
      const e = o.error;
      this.trace(`refused #${cmd.seq} by n${h.id}: ${e.name}${e instanceof RetryLaterError ? ` ${e.reason}` : ""}`);
      if (e instanceof RetryLaterError) {
        // A pending group has not acknowledged its join: nothing was remembered; the real
        // client retries the same request until its deadline, so does this one.
        this.hint = h.id;
        await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      if (e instanceof NotLeaderError) {
        this.hint = e.leaderHint !== 0 ? e.leaderHint : undefined;
        // Follow a fresh hint at once; otherwise back off (two nodes may point at each other).
        if (this.hint === undefined || tries > 0) await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      if (!(e instanceof BackpressureError || e instanceof LeadershipTransferError)) this.hint = undefined; // Stopped, Timeout...
      await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
    }
  }

  /**
   * A linearizable Query(num) (-1: the latest) through the (hinted) node's ControllerService
   * (sabotage `unsafeQueries`: a random replica's durable configs, no ReadIndex barrier).
   * Gives up after 5 attempts (undefined).
   */
  async query(num: number): Promise<Config | undefined> {
    for (let tries = 0; tries < 5; tries++) {
      if (this.checker.failure !== undefined) return undefined;
      const t = this.target(tries === 0 ? this.cfg.randomNodeRate : 0);
      if (!t) {
        await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      const h = t.h;
      const mustSee = this.checker.maxRepliedNum;
      this.trace(`query ${num} -> n${h.id} mustSee:${mustSee}`);
      const o = this.unsafeQueries
        ? { ok: true as const, value: h.sm.durable.configs[num] ?? h.sm.durable.latest() }
        : await this.cluster.attempt(this.id, `a${this.id} timeout`, this.cfg.attemptTimeoutMs, t.svc.query(num).then((r) => r.config), () => {});
      if (o.ok) {
        const c = o.value;
        this.trace(`query ${num} n${h.id} -> config ${c.num}`);
        this.checker.queryDone(h.id, num, mustSee, c);
        if (c.num > this.view.num) this.view = c;
        this.hint = h.id;
        return c;
      }
      if ("timeout" in o) {
        this.hint = undefined;
        continue;
      }
      if (o.error instanceof NotLeaderError) {
        this.hint = o.error.leaderHint !== 0 ? o.error.leaderHint : undefined;
        if (this.hint === undefined || tries > 0) await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
        continue;
      }
      await this.cluster.sleep(`a${this.id} retry`, this.cfg.retryMs);
    }
    return undefined;
  }
}

/** Calls the service method of `cmd`'s op, as the gRPC handler of that request does. */
function callService(svc: ControllerService, cmd: ControllerCommand): Promise<ConfigNum> {
  const id = { clientId: cmd.clientId, seq: cmd.seq };
  const op = cmd.op;
  switch (op.kind) {
    case "join": return svc.join(id, op);
    case "leave": return svc.leave(id, op);
    case "move": return svc.move(id, op);
    case "ackJoin": return svc.ackJoin(id, op);
    default: return svc.replica(id, op);
  }
}

/**
 * The reply as a CommandResult (what the checkers compare): a config number, or the
 * InvalidArgument refusal; every other error (NotLeader, RetryLater, ...) stays an error.
 */
function asResult(p: Promise<ConfigNum>): Promise<CommandResult> {
  return p.then(
    (configNum) => ({ ok: true as const, configNum }),
    (e: unknown) => {
      if (e instanceof InvalidArgumentError) return { ok: false as const, field: e.field, reason: e.reason };
      throw e;
    },
  );
}

/**
 * ShardKV.Identify in the controller-only simulation: a server named `g<gid>-<host>:<7000 + i>`
 * is replica i + 1 of group gid (the join check then sees each new group's servers answer);
 * any other address refuses the connection.
 */
export async function identifyByName(address: string, shardCount: number): Promise<IdentifyAnswer> {
  const m = /^g(\d+)-[^:]*:(\d+)$/.exec(address);
  if (!m) return { ok: false, error: "connection refused", answered: false };
  return { ok: true, identity: { gid: Number(m[1]), id: Number(m[2]) - 7000 + 1, shardCount, clusterId: "", hasData: false } };
}

/** The controller mode's defaults (the CLI and the tests share them, so seeds replay). */
const controllerDefaults: SimDefaults = { mode: "controller", safetyMs: controllerSafetyMs, livenessMs: 10_000, checkEvery: 8, maxEvents: 2_000_000 };

/** The controller group with its admin clients and nemesis, as the runner drives it. */
class ControllerWorld implements SimWorld<ControllerRunStats> {
  readonly root: SimRng;
  readonly raftChecker = new Checker();
  readonly checker: ControllerChecker;
  readonly cluster: ControllerCluster;
  readonly nodes: SimControllerNodes;
  readonly header: string;
  readonly groups: readonly ControllerCluster[];
  /** Each node's latest state machine's view of its storage. */
  private readonly durables = new Map<NodeId, ControllerDurable>();
  private readonly flips: StateFlips;
  private readonly clients: SimAdminClient[] = [];
  private readonly nemesis: Nemesis<SimControllerStateMachine, unknown>;
  private probe: SimAdminClient | undefined;
  private probeDone = false;
  private clientsDone = false;

  constructor(private readonly run: SimRun, readonly params: ControllerSimParams, private readonly opts: ControllerRunOptions) {
    const { seed, clock, trace } = run;
    this.root = new SimRng(seed).fork("controller");
    this.checker = new ControllerChecker(params.shardCount, { model: opts.model });
    const flipRng = new SimRng(seed).fork("state-flips");
    const flipRate = flipRng.bool(0.5) ? flipRng.pick([1e-4, 1e-3, 5e-3]) : 0;
    this.flips = new StateFlips(params.cluster.logReadFaults ? 0 : flipRate, Math.floor((params.cluster.size - 1) / 2), (id, e) => {
      trace(`n${id} stops for good: ${e.message}`);
      this.cluster.retire(id);
    });
    this.nodes = new SimControllerNodes(clock, this.root.fork("controller-nodes"), {
      flips: this.flips,
      shardCount: params.shardCount,
      chunkBytes: params.cluster.snapshotChunkBytes,
      observer: this.checker,
      ignoreDedup: opts.brokenDedup,
      trace,
      identify: (address) => identifyByName(address, params.shardCount),
      // Every service watches every gid the admin clients use (0: the controller group).
      watchIntentGids: params.maxGid, silentIntentFeeds: opts.silentIntentFeeds,
      onStart: (id, d, disk) => {
        this.durables.set(id, d);
        this.checker.restarted(id, d, () => disk.entries());
      },
    });
    this.cluster = new SimCluster<SimControllerStateMachine>(params.cluster, clock, this.root.fork("cluster"), this.raftChecker, trace, this.nodes.makeSm);
    this.groups = [this.cluster];
    const sabotage = `${opts.brokenDedup ? " BROKEN-DEDUP" : ""}${opts.unsafeQueries ? " UNSAFE-QUERIES" : ""}${opts.silentIntentFeeds ? " SILENT-INTENT-FEEDS" : ""}${opts.model === false ? " NO-MODEL" : ""}`;
    this.header = `controller seed ${seed} params ${JSON.stringify(params)}${sabotage}`;
    this.nemesis = new Nemesis(this.cluster, this.root.fork("nemesis"), params);
  }

  /** The latest durable state of each replica (`serving`: only those liveness requires). */
  private allDurables(serving = false): ControllerDurable[] {
    return (serving ? this.cluster.serving() : this.cluster.ids).flatMap((id) => this.durables.get(id) ?? []);
  }

  failure(): string | undefined {
    return this.raftChecker.failure ?? this.checker.failure ?? this.cluster.failures[0];
  }

  checkFull(): void {
    this.checker.compareHistories(this.allDurables());
  }

  start(): void {
    const { cluster, params } = this;
    for (const id of cluster.ids) cluster.start(id);
    for (let i = 1; i <= params.clients; i++) {
      const c = new SimAdminClient(cluster, this.nodes, this.checker, i, this.root.fork(`admin-${i}`), params.client, params.shardCount, params.maxGid, this.opts.unsafeQueries);
      this.clients.push(c);
      c.start();
    }
    this.nemesis.start();
  }

  beginLiveness(): number {
    const { cluster, params, run, checker } = this;
    // A replica far behind catches up by a snapshot sent one chunk per round trip: allow 20 ms
    // per chunk of the largest state on top of the fixed bound.
    let stateBytes = 0;
    for (const d of this.durables.values()) stateBytes = Math.max(stateBytes, d.configs.reduce((n, c) => n + encodeConfig(c).length, 0) + 64 * d.dedup.size);
    const boundMs = run.livenessMs + 20 * Math.ceil(stateBytes / params.cluster.snapshotChunkBytes);
    this.nemesis.stop();
    for (const c of this.clients) c.stop();
    restartForLiveness(run.trace, [cluster], params.fullRestart);
    void Promise.all(this.clients.map((c) => c.done)).then(() => { this.clientsDone = true; });
    // A fresh change must complete, and a Query(-1) after it must reflect it.
    const probe = new SimAdminClient(cluster, this.nodes, checker, 0, this.root.fork("probe"),
      { ...params.client, dropReplyRate: 0, randomNodeRate: 0, attemptTimeoutMs: 500, retryMs: 10 }, params.shardCount, params.maxGid);
    this.probe = probe;
    const probeGid = 1000 as GroupId;
    const probeRun = async (): Promise<void> => {
      const r = await probe.change({ kind: "join", groups: new Map([[probeGid, [`g${probeGid}-probe.sim:7000`, `g${probeGid}-probe.sim:7001`]]]) });
      if (r === undefined) return;
      if (!r.ok) {
        run.fail(`liveness: the probe's join of group ${probeGid} was refused: ${describeResult(r)}`);
        return;
      }
      // As the group's leader would: a pending group would hold up the admins' last changes.
      if ((await probe.change({ kind: "ackJoin", gid: probeGid, joinNum: r.configNum })) === undefined) return;
      for (;;) {
        const c = await probe.query(-1);
        if (c === undefined) {
          if (checker.failure !== undefined || run.failure !== undefined) return;
          continue;
        }
        if (!c.groups.has(probeGid) && c.num === r.configNum) run.fail(`liveness: Query(-1) returned config ${c.num} without the probe's group`);
        this.probeDone = true;
        return;
      }
    };
    probeRun().catch((e: Error) => cluster.clientFailed(0, e));
    return boundMs;
  }

  settled(): boolean {
    if (!this.probeDone || !this.clientsDone) return false;
    const { cluster } = this;
    // Every replica up, but those a detected corruption of their log store stopped for good.
    const live = cluster.live();
    if (live.length !== cluster.serving().length) return false;
    const leader = cluster.leader();
    if (!leader || !cluster.followsLeader(leader, live)) return false;
    const commit = leader.node!.status().commit;
    return live.every((h) => h.node!.status().applied >= commit && h.sm.appliedIndex() >= commit);
  }

  unsettled(boundMs: number): string {
    return `liveness: no stable leader with a completed change and every replica caught up within ${boundMs} ms after healing ` +
      `(probe done: ${this.probeDone}, clients done: ${this.clientsDone})\n${this.cluster.describe((h) => `latest config:${h.sm.latest().num}`)}`;
  }

  finalChecks(): void {
    this.cluster.checkLogs();
    this.checker.compareHistories(this.allDurables());
    const ds = this.allDurables(true);
    const lens = ds.map((d) => d.configs.length);
    if (new Set(lens).size !== 1) this.run.fail(`replicas ended with different config histories: ${lens.map((n) => n - 1).join(", ")} as their latest`);
    // WatchIntent (a group leader's wake-up): every open feed has told its replica's intent as it stands.
    const { behind } = this.nodes.intentFeedsBehind();
    if (behind.length > 0) this.run.fail(`intent feeds not woken by a change of the intent: ${behind.join("; ")}`);
  }

  stats(loop: LoopStats): ControllerRunStats {
    const { cluster, checker, raftChecker } = this;
    let lostWrites = 0;
    let snapshotsTaken = 0;
    for (const d of cluster.disks.values()) {
      lostWrites += d.storage.stats.lostRecords + d.storage.stats.lostSyncs;
      snapshotsTaken += d.snapshotsTaken;
    }
    const cs = checker.stats;
    return {
      ...loop,
      nodes: this.params.cluster.size,
      ...cluster.netStats(),
      crashes: cluster.stats.crashes,
      restarts: cluster.stats.restarts,
      pauses: cluster.stats.pauses,
      leaders: raftChecker.stats.leaders,
      committedEntries: raftChecker.stats.committedEntries,
      snapshotsTaken,
      snapshotsInstalled: cluster.stats.snapshotsInstalled,
      interruptedInstalls: cluster.stats.interruptedInstalls,
      lostWrites,
      configs: checker.configs.length - 1,
      changesCompleted: cs.changesCompleted,
      changesOk: cs.changesOk,
      changesRefused: cs.changesRefused,
      replies: cs.replies,
      lateReplies: cs.lateReplies,
      lostReplies: cs.lostReplies,
      retries: this.clients.reduce((n, c) => n + c.retries, this.probe?.retries ?? 0),
      queries: cs.queries,
      restores: cs.restores,
      intentUpdates: this.nodes.intentFeedsBehind().updates,
      duplicateEntries: cs.duplicateEntries,
      unreportedApplies: cs.unreportedApplies,
      edgeRefusals: cs.edgeRefusals,
      ...cluster.logFaultStats(),
      stateFlips: this.flips.flippedReads(),
      stateCorruptions: this.flips.stopped.size,
    };
  }
}

export async function runControllerSeed(seed: number, opts: ControllerRunOptions = {}): Promise<ControllerRunResult> {
  seed = seed >>> 0;
  const base = deriveControllerParams(seed);
  const params = opts.params ? opts.params(base) : base;
  const r = await runWorld(seed, opts, controllerDefaults, (run) => new ControllerWorld(run, params, opts));
  return {
    seed, ok: r.ok, failure: r.failure, traceHash: r.traceHash, stats: r.stats, params, buggify: r.buggify,
    createdPerRequest: r.world.checker.createdPerRequest(),
  };
}
