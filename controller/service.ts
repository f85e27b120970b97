/**
 * The request handling of a controller replica, independent of the transport
 * ([design](../docs/design.md#4-controller-controller)): the gRPC handlers of
 * controller/server.ts decode the wire and call it, and a simulator can call it over its own
 * network, so both run the same checks. It never touches core state: it reads the state
 * machine and proposes commands through the Raft node.
 *
 * - Changes (Join, Leave, Move, AckJoin, and the replica changes: ReplicaChange, ReplicaCancel,
 *   ReplicaDone, ReplicaProgress): leader only; a fast validation against the latest
 *   config and the pending joins, then (Join only, unless forced) the join check
 *   (controller/join-check.ts: a majority of each new group's servers must answer Identify as
 *   its replicas), then the proposal; a change that must wait for a pending group's
 *   acknowledgement is refused as RetryLater before it reaches the log.
 * - The fast validation never refuses what the log would accept: a request whose (clientId,
 *   seq) the duplicate table already holds is proposed without it (a retry of an applied Join
 *   must get its config number back, not "group already in config"), and a refusal is only
 *   final after a ReadIndex barrier has brought the latest config up to date.
 * - Query: leader only, after a ReadIndex barrier (linearizable); waits for the cluster id.
 * - Watch: a ConfigFeed per stream; WatchIntent: an IntentFeed per stream (a group's intent as
 *   this replica applied it, any replica); at most watchStreamsMax streams of both at once.
 * - The cluster id: a leader that finds none applied proposes a random one (InitCluster).
 * - The controller group's members: a leader that finds none recorded (unless told not to)
 *   reports them once, as a ReplicaDone of gid 0 with a request id of its own.
 *
 * Every failure leaves as a typed error (common/errors.ts); a NotLeaderError carries the
 * leader's address. After `stop` every request fails with StoppedError.
 */
import { assert } from "../common/assert";
import { buggify } from "../common/buggify";
import type { Clock, Logger, Rng } from "../common/env";
import {
  BackpressureError, InvalidArgumentError, NotLeaderError, RetryLaterError, ServersUnansweredError, ShardKVError, StoppedError,
} from "../common/errors";
import type { ConfigNum, NodeId } from "../common/ids";
import type { RaftNodeStatus } from "../raft/node";
import type { SoftState } from "../raft/core/types";
import { encodeClusterInit, encodeCommand } from "./codec";
import type { Config } from "./config";
import { type IdentifyAnswer, checkJoin } from "./join-check";
import type { PendingJoin } from "./pending-joins";
import { type CommandResult, type ControllerOp, type DedupEntry, validateOp } from "./state-machine";
import type { GroupId } from "../common/ids";
import type { ReplicaState } from "./replica-intents";
import { controllerGid } from "./config";
import type { ReplicaIntent } from "../common/replica-change";

/** Watch and WatchIntent streams one replica serves at once; beyond it they fail with Backpressure. */
export const watchStreamsMax = 1024;
/** A leader whose InitCluster proposal failed proposes again after this long (while still leader). */
export const clusterInitRetryMs = 100;
/** Bytes of a cluster id (written as hex). */
const clusterIdBytes = 16;

/** What the service needs of the Raft node. */
export interface ControllerNode {
  softState(): SoftState;
  status(): Pick<RaftNodeStatus, "role" | "term" | "leader" | "commit" | "applied" | "firstIndex" | "snapshotIndex">;
  propose(data: Uint8Array): Promise<CommandResult>;
  readBarrier(): Promise<void>;
  /** A client's request reached this replica, which does not lead: wake a quiesced group (RaftNode.wakeGroup). */
  wakeGroup(): void;
}

/** What the service needs of the controller state machine (durable state, see RocksControllerStateMachine). */
export interface ControllerStateView {
  shardCount(): number;
  /** The cluster's id once durable here; undefined until then. */
  clusterId(): string | undefined;
  latest(): Config;
  latestNum(): ConfigNum;
  /** Config `num`, or undefined if it does not exist (yet). */
  config(num: number): Promise<Config | undefined>;
  pendingJoins(): ReadonlyMap<GroupId, PendingJoin>;
  /** The pending replica change of each group and the controller group's members. */
  replicaState(): ReplicaState;
  stackingRefusal(op: ControllerOp): string | undefined;
  dedupEntry(clientId: string): DedupEntry | undefined;
}

export interface ControllerServiceDeps {
  /** This replica's id. */
  readonly id: NodeId;
  readonly node: ControllerNode;
  readonly sm: ControllerStateView;
  /** Pauses between InitCluster attempts. */
  readonly clock: Clock;
  /** Draws cluster ids. */
  readonly rng: Rng;
  /** Asks the shard server at `address` who it is (the join check). */
  readonly identify: (address: string) => Promise<IdentifyAnswer>;
  /**
   * The controller group's members and their addresses: in the daemon, the live map
   * raft/daemon-node.ts keeps current as configurations apply (--peers until then). NotLeader
   * replies and Status name the leader's address from it, and a leader that finds no members
   * recorded records these (unless `recordMembers` is false).
   */
  readonly members: ReadonlyMap<NodeId, string>;
  /**
   * Record `members` as the controller group's members when none are (default true); false:
   * never recorded by this service (they then come only from a ReplicaDone of gid 0).
   */
  readonly recordMembers?: boolean;
  readonly logger: Logger;
}

/** A request's id: the client's id (hex of 16 bytes) and its sequence number (>= 1). */
export interface RequestId {
  readonly clientId: string;
  readonly seq: number;
}

type Op<K extends ControllerOp["kind"]> = Extract<ControllerOp, { kind: K }>;
/** The requests about a group's replicas (controller/replica-intents.ts). */
export type ReplicaOp = Op<"replicaChange" | "replicaCancel" | "replicaDone" | "replicaProgress">;

/** What Status answers: this replica's Raft state and the latest config it has applied. */
export interface ControllerStatus {
  readonly id: NodeId;
  readonly role: SoftState["role"];
  readonly term: number;
  readonly leader: NodeId;
  /** "" when the leader is unknown. */
  readonly leaderAddress: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly snapshotIndex: number;
  readonly latestConfigNum: ConfigNum;
  readonly shardCount: number;
  /** "" until the cluster id is durable here. */
  readonly clusterId: string;
}

export class ControllerService {
  private stopped = false;
  private soft: SoftState | undefined;
  /** The InitCluster round in progress (one at a time). */
  private clusterInit: Promise<void> | undefined;
  /** The recording of the controller group's members in progress (one at a time). */
  private membersRecord: Promise<void> | undefined;
  /** This service's own client id and last sequence number (recording the controller group's members). */
  private ownClientId: string | undefined;
  private ownSeq = 0;
  private readonly feeds = new Set<ConfigFeed | IntentFeed>();

  constructor(private readonly d: ControllerServiceDeps) {}

  /** Creates the next config with `op` (unless `force`, after the join check); resolves with its number. */
  join(id: RequestId, op: Op<"join">, opts: { readonly force?: boolean } = {}): Promise<ConfigNum> {
    return this.guard(async () => (await this.commit(id, op, opts.force ? undefined : (o) => this.checkJoin(o))).configNum);
  }

  leave(id: RequestId, op: Op<"leave">): Promise<ConfigNum> {
    return this.guard(async () => (await this.commit(id, op)).configNum);
  }

  move(id: RequestId, op: Op<"move">): Promise<ConfigNum> {
    return this.guard(async () => (await this.commit(id, op)).configNum);
  }

  /** A replica of a joined group acknowledges its join; resolves with the abort config's number, 0 if not aborted. */
  ackJoin(id: RequestId, op: Op<"ackJoin">): Promise<ConfigNum> {
    return this.guard(async () => (await this.commit(id, op)).abortedNum ?? (0 as ConfigNum));
  }

  /**
   * Stores (ReplicaChange), drops (ReplicaCancel) or reports on (ReplicaProgress) a group's
   * pending replica change, resolving with the latest config's number (none is created), or
   * records the members a group's leader reports (ReplicaDone), resolving with the config that
   * records them.
   */
  replica(id: RequestId, op: ReplicaOp): Promise<ConfigNum> {
    return this.guard(async () => (await this.commit(id, op)).configNum);
  }

  /**
   * Reports on the controller group's own intent, as its leader's replica driver
   * (raft/replica-driver.ts) does: a ReplicaProgress or ReplicaDone of gid 0 under this
   * service's own request id, one id for every attempt of the call (so it applies at most
   * once). Tries again after clusterInitRetryMs while this replica leads; rejects when it
   * does not (NotLeader, Stopped) and with the InvalidArgumentError of a refused report.
   */
  async reportOwn(op: Op<"replicaProgress" | "replicaDone">): Promise<void> {
    assert(op.gid === controllerGid, "a controller reports only on its own group");
    this.ownClientId ??= this.newClusterId();
    const id = { clientId: this.ownClientId, seq: ++this.ownSeq };
    for (;;) {
      try {
        await this.replica(id, op);
        return;
      } catch (e) {
        if (e instanceof InvalidArgumentError || e instanceof NotLeaderError || e instanceof StoppedError || this.stopped) throw e;
        if (this.soft?.role !== "leader") this.requireLeader();
        await new Promise<void>((r) => this.d.clock.after(clusterInitRetryMs, r));
      }
    }
  }

  /**
   * Config `num` (-1 or beyond the latest: the latest), linearizable, with the cluster id and
   * the replica state (the pending replica changes and the controller group's members, as of
   * the latest config).
   */
  query(num: number): Promise<{ readonly config: Config; readonly clusterId: string; readonly replicas: ReplicaState }> {
    return this.guard(async () => {
      if (!Number.isSafeInteger(num) || num < -1) throw new InvalidArgumentError("num", `must be -1 (latest) or a config number >= 0, got ${num}`);
      this.requireLeader();
      await this.d.node.readBarrier();
      const latest = this.d.sm.latest();
      const c = num === -1 || num >= latest.num ? latest : await this.d.sm.config(num);
      assert(c !== undefined, `config ${num} <= latest ${latest.num} is missing`);
      // A group's first leader establishes the id right after its election; a query that
      // comes first waits for it, so every reply carries one.
      if (this.d.sm.clusterId() === undefined) await this.initCluster();
      return { config: c, clusterId: this.d.sm.clusterId() ?? "", replicas: this.d.sm.replicaState() };
    });
  }

  /** This replica's status (any replica answers, leader or not). */
  status(): ControllerStatus {
    if (this.stopped) throw new StoppedError("controller");
    const s = this.d.node.status();
    return {
      id: this.d.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      leaderAddress: this.d.members.get(s.leader) ?? "",
      commitIndex: s.commit,
      appliedIndex: s.applied,
      firstIndex: s.firstIndex,
      snapshotIndex: s.snapshotIndex,
      latestConfigNum: this.d.sm.latestNum(),
      shardCount: this.d.sm.shardCount(),
      clusterId: this.d.sm.clusterId() ?? "",
    };
  }

  /**
   * A feed of configs `from`, `from + 1`, ... (any replica: its durable configs). Throws
   * InvalidArgument for a bad `from`, Backpressure beyond watchStreamsMax open feeds. The
   * caller closes it when its stream ends; `stop` closes every feed.
   */
  watch(from: number): ConfigFeed {
    if (this.stopped) throw new StoppedError("controller");
    if (!Number.isSafeInteger(from) || from < 0) throw new InvalidArgumentError("from_num", `must be a config number >= 0, got ${from}`);
    if (this.feeds.size >= watchStreamsMax) throw new BackpressureError("watchStreamsMax", watchStreamsMax, this.feeds.size + 1);
    const feed = new ConfigFeed(from, this.d.sm, () => this.feeds.delete(feed));
    this.feeds.add(feed);
    return feed;
  }

  /**
   * A feed of group `gid`'s pending intent as this replica has applied it (any replica): the
   * state now, then each change of it (IntentFeed). Throws InvalidArgument for a bad gid,
   * Backpressure beyond watchStreamsMax open feeds (Watch and WatchIntent together). The
   * caller closes it when its stream ends; `stop` closes every feed.
   */
  watchIntent(gid: number): IntentFeed {
    if (this.stopped) throw new StoppedError("controller");
    if (!Number.isSafeInteger(gid) || gid < 0) throw new InvalidArgumentError("gid", `must be a group id >= 0, got ${gid}`);
    if (this.feeds.size >= watchStreamsMax) throw new BackpressureError("watchStreamsMax", watchStreamsMax, this.feeds.size + 1);
    const feed = new IntentFeed(gid as GroupId, this.d.sm, () => this.feeds.delete(feed));
    this.feeds.add(feed);
    return feed;
  }

  /** Called with every soft state change: a new leader makes sure the cluster has an id. */
  onSoftState(ss: SoftState): void {
    this.soft = ss;
    if (ss.role !== "leader") return;
    const ready = this.d.sm.clusterId() === undefined ? this.initCluster() : Promise.resolve();
    void ready.then(() => this.recordControllers()).catch(() => undefined);
  }

  /** Called when a config became durable (or a snapshot was restored): wakes the feeds. */
  onNewConfig(): void {
    for (const f of this.feeds) if (f instanceof ConfigFeed) f.wake();
  }

  /** Called when a change of the replica intents became durable (or a snapshot was restored): wakes the intent feeds. */
  onIntentsChanged(): void {
    for (const f of this.feeds) if (f instanceof IntentFeed) f.wake();
  }

  /** Refuses every request from now on and closes every feed. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const f of [...this.feeds]) f.close();
  }

  // ---- internals ----

  /** Runs a request: Stopped once stopped; a NotLeaderError gets the leader's address; unexpected failures are logged. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (this.stopped) throw new StoppedError("controller");
      return await fn();
    } catch (e) {
      if (e instanceof NotLeaderError && !e.leaderAddress) throw new NotLeaderError(e.leaderHint, this.d.members.get(e.leaderHint));
      if (!(e instanceof ShardKVError)) this.d.logger.warn(`controller ${this.d.id}: request failed: ${(e as Error)?.stack ?? e}`);
      throw e;
    }
  }

  /** NotLeaderError unless this replica leads (BUGGIFY: a leader too, as one that just stepped down). */
  private requireLeader(): void {
    const ss = this.d.node.softState();
    if (ss.role !== "leader") this.d.node.wakeGroup(); // a quiesced group's leader may be cut off silently
    if (ss.role !== "leader" || buggify("controller.service.not-leader")) throw new NotLeaderError(ss.leader, this.d.members.get(ss.leader));
  }

  /** True when the duplicate table already holds this client's request `seq` (or a later one). */
  private isRetry({ clientId, seq }: RequestId): boolean {
    const e = this.d.sm.dedupEntry(clientId);
    return e !== undefined && e.seq >= seq;
  }

  /**
   * Validates `op` at the edge (against the latest config and the pending joins; a change
   * that must wait for a pending group's acknowledgement is refused as RetryLater before it
   * reaches the log), runs `precheck` (which may complete the op: the join check adds the
   * replica ids it learned), proposes it and returns its successful result. The
   * checks are skipped for a retry of a request the duplicate table already holds.
   */
  private async commit(
    id: RequestId, op: ControllerOp, precheck?: (op: ControllerOp) => Promise<ControllerOp>,
  ): Promise<Extract<CommandResult, { ok: true }>> {
    const { sm, node } = this.d;
    this.requireLeader();
    if (!this.isRetry(id)) {
      try {
        validateOp(sm.latest(), op, sm.pendingJoins(), sm.replicaState());
      } catch (e) {
        if (!(e instanceof InvalidArgumentError)) throw e;
        // The latest config may lag the log by entries committed a moment ago: refuse only
        // against a config that reflects every write committed before this request.
        await node.readBarrier();
        if (!this.isRetry(id)) validateOp(sm.latest(), op, sm.pendingJoins(), sm.replicaState());
      }
      const wait = sm.stackingRefusal(op);
      if (wait !== undefined) throw new RetryLaterError(wait);
      if (precheck && !this.isRetry(id)) op = await precheck(op);
    }
    const result = await node.propose(encodeCommand({ clientId: id.clientId, seq: id.seq, op, shardCount: sm.shardCount() }));
    if (!result.ok) throw result.retryable ? new RetryLaterError(result.reason) : new InvalidArgumentError(result.field, result.reason);
    return result;
  }

  /**
   * The join check (controller/join-check.ts): refuses the Join with InvalidArgument (field
   * `groups`, the one-line verdict) unless a majority of each new group's servers answer
   * Identify as its replicas with this cluster's shard count and cluster id; else returns the
   * Join with the replica ids the servers gave (recorded in the groups' members). A refusal
   * only for servers that gave no answer is a ServersUnansweredError naming them: the client
   * may ask again once they are up (this replica holds the request no longer than one check).
   */
  private async checkJoin(op: ControllerOp): Promise<ControllerOp> {
    if (op.kind !== "join") return op;
    const expect = { shardCount: this.d.sm.shardCount(), clusterId: this.d.sm.clusterId() ?? "" };
    const { refusal, ids, unanswered } = await checkJoin(op.groups, expect, this.d.identify);
    if (refusal === undefined) return { ...op, ids };
    this.d.logger.info(`controller ${this.d.id}: ${refusal}`);
    throw unanswered ? new ServersUnansweredError(refusal, unanswered) : new InvalidArgumentError("groups", refusal);
  }

  /**
   * Makes sure the cluster has an id: while this replica leads and none is applied, proposes
   * a random one and waits for it to apply (the first InitCluster committed wins, so two
   * leaders proposing in turn agree). Retries after clusterInitRetryMs while still leader;
   * rejects (NotLeader, Stopped) once it is not.
   */
  private initCluster(): Promise<void> {
    this.clusterInit ??= (async () => {
      try {
        while (this.d.sm.clusterId() === undefined) {
          if (this.stopped) throw new StoppedError("controller");
          // The soft state reaches this service just before the node acts on it: a proposal
          // made at once may still be refused as NotLeader, and is retried.
          if (this.soft?.role !== "leader") this.requireLeader();
          try {
            await this.d.node.propose(encodeClusterInit({ kind: "init-cluster", clusterId: this.newClusterId() }));
          } catch (e) {
            if (this.stopped || this.soft?.role !== "leader") throw e;
            await new Promise<void>((r) => this.d.clock.after(clusterInitRetryMs, r));
          }
        }
      } finally {
        this.clusterInit = undefined;
      }
    })();
    return this.clusterInit;
  }

  /**
   * Records the controller group's members (`members`, all voters) when none are recorded:
   * proposes them as ReplicaDone(0) while this replica leads, retrying after
   * clusterInitRetryMs; one request id for every attempt, so it applies at most once.
   */
  private recordControllers(): Promise<void> {
    const peers = this.d.members;
    if (this.d.recordMembers === false || this.d.sm.replicaState().controllers.length > 0) return Promise.resolve();
    if (this.membersRecord !== undefined) return this.membersRecord;
    this.ownClientId ??= this.newClusterId();
    const id = { clientId: this.ownClientId, seq: ++this.ownSeq };
    const members = [...peers].sort(([a], [b]) => a - b).map(([nid, address]) => ({ id: nid, address, learner: false }));
    this.membersRecord = (async () => {
      try {
        while (this.d.sm.replicaState().controllers.length === 0) {
          if (this.stopped || this.soft?.role !== "leader") return;
          try {
            await this.replica(id, { kind: "replicaDone", gid: controllerGid, members });
          } catch (e) {
            if (e instanceof InvalidArgumentError) {
              this.d.logger.warn(`controller ${this.d.id}: cannot record the controller group's members: ${e.message}`);
              return;
            }
            await new Promise<void>((r) => this.d.clock.after(clusterInitRetryMs, r));
          }
        }
      } finally {
        this.membersRecord = undefined;
      }
    })();
    return this.membersRecord;
  }

  /** A random id: 16 bytes as hex (a cluster id; this service's client id). */
  private newClusterId(): string {
    let id = "";
    for (let i = 0; i < clusterIdBytes; i++) id += this.d.rng.int(256).toString(16).padStart(2, "0");
    return id;
  }
}

/**
 * What the feeds of Watch and WatchIntent streams share: waiting until woken (`wake`, by the
 * service when the state they follow changed, or `close`), and closing once.
 */
abstract class WakeableFeed {
  protected isClosed = false;
  /** Resolves the wait in progress (set while there is nothing new to hand out). */
  private wakeUp: (() => void) | undefined;
  private markClosed!: () => void;
  /** Resolves once the feed is closed (by its stream or by the service's stop). */
  readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(private readonly onClose: () => void) {}

  /**
   * Waits for the next wake or the close; `moved` is looked at once the wait is set up, as
   * the state may have changed between the caller's look and now (then it ends at once).
   */
  protected waitForWake(moved: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeUp = resolve;
      if (moved() || this.isClosed) this.wake();
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Ends the feed: a waiting `next` resolves with undefined. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.wake();
    this.markClosed();
    this.onClose();
  }
}

/**
 * One Watch stream's source: configs `from`, `from + 1`, ... read by number, so the stream
 * has no gaps and no duplicates whatever the order of wake-ups; when it has caught up with
 * the latest durable config, `next` waits until the next one (or a restore) wakes it.
 */
export class ConfigFeed extends WakeableFeed {
  private nextNum: number;

  constructor(from: number, private readonly sm: Pick<ControllerStateView, "latestNum" | "config">, onClose: () => void) {
    super(onClose);
    this.nextNum = from;
  }

  /** The next config in order, waiting for it when caught up; undefined once closed. */
  async next(): Promise<Config | undefined> {
    while (!this.isClosed) {
      if (this.nextNum > this.sm.latestNum()) {
        await this.waitForWake(() => this.nextNum <= this.sm.latestNum());
        continue;
      }
      const c = await this.sm.config(this.nextNum);
      if (this.isClosed) break;
      assert(c !== undefined, `config ${this.nextNum} <= latest ${this.sm.latestNum()} is missing`);
      this.nextNum++;
      return c;
    }
    return undefined;
  }
}

/** One WatchIntent update: the group's pending intent, undefined when it has none. */
export interface IntentUpdate {
  readonly intent: ReplicaIntent | undefined;
}

/**
 * One WatchIntent stream's source: group `gid`'s pending intent as this replica has applied
 * it, first as it stands when the feed opens, then whenever it differs from the last one
 * handed out (a new intent, a cancel, a progress report, done). Changes that come together
 * are handed out as the latest only: the receiver reads the intent itself (linearizably)
 * when told, so an update is a wake-up, and the first one covers whatever happened while it
 * was not connected.
 */
export class IntentFeed extends WakeableFeed {
  /** The last state handed out (intentKey), undefined before the first. */
  private sent: string | undefined;

  constructor(readonly gid: GroupId, private readonly sm: Pick<ControllerStateView, "replicaState">, onClose: () => void) {
    super(onClose);
  }

  /** The next state that differs from the last handed out, waiting for it; undefined once closed. */
  async next(): Promise<IntentUpdate | undefined> {
    while (!this.isClosed) {
      const intent = this.sm.replicaState().intents.get(this.gid);
      const key = intentKey(intent);
      if (key !== this.sent) {
        this.sent = key;
        return { intent };
      }
      await this.waitForWake(() => intentKey(this.sm.replicaState().intents.get(this.gid)) !== this.sent);
    }
    return undefined;
  }
}

/** Compares intents by value ("" = none). */
function intentKey(intent: ReplicaIntent | undefined): string {
  return intent === undefined ? "" : JSON.stringify(intent);
}
