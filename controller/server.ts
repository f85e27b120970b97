/**
 * One replica of the configuration controller (DESIGN.md §4): a RaftNode over a RocksDB log
 * (dataDir/raft) driving the RocksDB controller state machine (dataDir/state), and one
 * grpc.Server on one port hosting both the Raft transport and the Controller service
 * (proto/controller.proto). `controller/main.ts` wraps it as the `shardkv-controller` daemon.
 *
 * Handlers validate at the edge and never touch core state: wire -> domain with the codec
 * (InvalidArgumentError naming the field), a leadership check (NotLeaderError with the
 * leader's address from the peer list), a fast validateOp against the latest config, then
 * `propose` of the encoded command; RaftNode's loop does the rest. Every failure goes through
 * `toServiceError` (common/grpc-errors.ts), so clients get the same typed errors back.
 *
 * A Join is also checked before it is proposed (controller/join-check.ts): a majority of each
 * new group's servers must answer Identify as its replicas, unless the request says `force`.
 * The check is the leader's, at the edge, like the fast validation: it writes nothing, and a
 * retry of a Join the log already applied skips it.
 *
 * The fast validation never refuses what the log would accept: a request whose (clientId,
 * seq) the duplicate table already holds is proposed without it (a retry of an applied Join
 * must get its config number back, not "group already in config"), and a refusal is only
 * final after a ReadIndex barrier has brought the latest config up to date.
 *
 * Data directory: its identity (common/data-dir.ts) is checked before anything else is
 * opened; a directory of another daemon, group or replica is refused. The cluster id: a
 * leader that finds none applied proposes a random one (InitCluster), and every replica
 * records the committed one in its identity; Query and Status answer it.
 *
 * NATS: with `natsUrl`, the leader publishes every config it sees committed (see
 * ConfigPublisher) protobuf-encoded on `shardkv.config`. NATS is only a hint: the
 * connection is made in the background, publishing never waits for the NATS server, and a
 * missing NATS server is logged once and otherwise ignored.
 */
import * as grpc from "@grpc/grpc-js";
import { connect, type NatsConnection } from "nats";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { assert } from "../common/assert";
import { claimDataDir, type DataDirIdentity, recordClusterId, writeIdentity } from "../common/data-dir";
import type { Logger } from "../common/env";
import { BackpressureError, InvalidArgumentError, NotLeaderError, RetryLaterError, ShardKVError, StoppedError } from "../common/errors";
import type { Failpoints } from "../common/failpoints";
import { toServiceError } from "../common/grpc-errors";
import { failpointClientOptions, failpointService } from "../common/grpc-failpoints";
import type { GroupId, NodeId } from "../common/ids";
import { realClock, realRng } from "../common/real-env";
import type { SoftState } from "../raft/core/types";
import { RaftNode } from "../raft/node";
import { probeLegacyDataDir } from "../raft/storage/legacy-data-dir";
import { RocksLogStore } from "../raft/storage/rocks-log-store";
import { addFailpointAdmin } from "../raft/transport/failpoint-admin";
import { startDaemonNode } from "../raft/daemon-node";
import { GrpcTransport, RaftTransportServer, listen, raftGrpcServerOptions } from "../raft/transport/grpc-transport";
import type { shardkv } from "../proto/gen/controller.js";
import { type Config, shardCountDefault } from "./config";
import {
  ackJoinOpFromWire, configToWire, encodeClusterInit, encodeCommand, encodeConfig, joinOpFromWire, leaveOpFromWire, moveOpFromWire, requestIdFromWire,
} from "./codec";
import { controllerService, type ControllerImplementation } from "../proto/gen/controller-grpc";
import { identifyServer } from "./identify-client";
import { checkJoin } from "./join-check";
import { RocksControllerStateMachine } from "./rocks-state";
import { type CommandResult, type ControllerOp, validateOp } from "./state-machine";

/** The Raft group id of the controller (shard groups use their gids, which are >= 1). */
export const controllerGroup = 0 as GroupId;
/** NATS subject on which the leader publishes each new config (encoded shardkv.controller.Config). */
import { configSubject } from "./config";
export { configSubject };
/** Watch streams one replica serves at once; beyond it Watch fails with Backpressure. */
export const watchStreamsMax = 1024;
/**
 * Configs a new leader (or a leader whose NATS connection just came up) republishes before
 * the new ones: the previous leader may have died between committing a config and flushing
 * its publication. Subscribers de-duplicate by num.
 */
export const natsRepublishConfigs = 16;
/** Default: take a controller snapshot and compact the log every this many applied entries. */
export const controllerSnapshotEveryEntries = 1000;
/** A leader whose InitCluster proposal failed proposes again after this long (while still leader). */
const clusterInitRetryMs = 100;

export interface ControllerServerOptions {
  /** This replica's id, a key of `peers`. */
  readonly id: NodeId;
  /** Address to bind ("host:port"; port 0 picks one, see ControllerServer.port). */
  readonly listen: string;
  /** Every replica's advertised address, this one included (also sent as leader addresses). */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Directory of this replica's data (raft/ and state/ below it). */
  readonly dataDir: string;
  /** Shard count when the data directory is created (default 64); must match on later starts. */
  readonly shardCount?: number;
  /** NATS server URL ("nats://host:port"); no publishing without it. */
  readonly natsUrl?: string;
  /** Milliseconds per Raft tick. Default 100 (election timeout 1-2 s). */
  readonly tickMs?: number;
  /** Snapshot and compact every this many applied entries. Default controllerSnapshotEveryEntries. */
  readonly snapshotEveryEntries?: number;
  /** Test-only failpoints (docs/failpoints.md); undefined = off, nothing wrapped. */
  readonly failpoints?: Failpoints;
  readonly logger: Logger;
  /** Called when the Raft loop dies (storage failure, broken invariant). Default: rethrow (crash). */
  readonly onFatal?: (e: Error) => void;
}

export class ControllerServer {
  private stopping: Promise<void> | undefined;
  private readonly watches = new Set<WatchStream>();
  private soft: SoftState | undefined;
  /** The InitCluster round in progress (one at a time). */
  private clusterInit: Promise<void> | undefined;
  /** Identity rewrites, one at a time in order. */
  private identityWrites: Promise<void> = Promise.resolve();

  private constructor(
    private readonly opts: ControllerServerOptions,
    private readonly grpcServer: grpc.Server,
    private readonly tserver: RaftTransportServer,
    private readonly sm: RocksControllerStateMachine,
    private readonly node: RaftNode<CommandResult>,
    private readonly publisher: ConfigPublisher | undefined,
    /** The port the server is bound to. */
    readonly port: number,
    private ident: DataDirIdentity,
  ) {}

  /** This replica's data directory identity (the cluster id once recorded). */
  identity(): DataDirIdentity {
    return this.ident;
  }

  /** Opens the data directory, binds the port, starts Raft (and the NATS publisher). */
  static async start(opts: ControllerServerOptions): Promise<ControllerServer> {
    const { logger } = opts;
    assert(opts.peers.has(opts.id), `peers must include this replica ${opts.id}`);
    let identity = await claimDataDir(opts.dataDir, { kind: "controller", gid: 0, nodeId: opts.id, shardCount: opts.shardCount }, probeLegacyDataDir);
    if (identity.shardCount === undefined) {
      identity = { ...identity, shardCount: shardCountDefault };
      await writeIdentity(opts.dataDir, identity);
    }
    const sm = await RocksControllerStateMachine.open(join(opts.dataDir, "state"), identity.shardCount);
    let storage: RocksLogStore | undefined;
    let transport: GrpcTransport | undefined;
    const grpcServer = new grpc.Server(raftGrpcServerOptions);
    try {
      const applied = sm.clusterId();
      if (applied !== undefined) identity = await recordClusterId(opts.dataDir, identity, applied, "the cluster its controller state records");
      storage = await RocksLogStore.open(join(opts.dataDir, "raft"));
      const tserver = new RaftTransportServer(grpcServer, { logger });
      // The service is added before binding; handlers refuse with Stopped until Raft runs.
      let server: ControllerServer | undefined;
      // Failpoints hook (docs/failpoints.md): identities when opts.failpoints is undefined.
      grpcServer.addService(controllerService, failpointService(opts.failpoints, controllerService, ControllerServer.implementation(() => server)));
      addFailpointAdmin(grpcServer, opts.failpoints, (m) => logger.info(`controller ${opts.id}: ${m}`));
      const port = await listen(grpcServer, opts.listen);
      transport = new GrpcTransport(
        { group: controllerGroup, self: opts.id, peers: opts.peers, clock: realClock, rng: realRng, logger }, tserver,
      );
      const publisher = opts.natsUrl === undefined ? undefined : new ConfigPublisher(opts.natsUrl, sm, logger);
      sm.subscribe(() => server?.onNewConfig());
      const { node, attach } = await startDaemonNode<CommandResult>({
        group: controllerGroup, id: opts.id, peers: opts.peers, tickMs: opts.tickMs,
        snapshotEveryEntries: opts.snapshotEveryEntries ?? controllerSnapshotEveryEntries,
        failpoints: opts.failpoints, onFatal: opts.onFatal, transport, storage, logger, dataDir: opts.dataDir,
      }, sm);
      server = new ControllerServer(opts, grpcServer, tserver, sm, node, publisher, port, identity);
      const started = server;
      sm.subscribeClusterId((id) => started.onClusterId(id));
      attach((ss) => started.onSoftState(ss));
      publisher?.start();
      logger.info(
        `controller ${opts.id} listening on ${opts.listen} (port ${port}); ${sm.shardCount()} shards; ` +
        `latest config ${sm.latestNum()}, applied index ${sm.appliedIndex()}; peers ${[...opts.peers].map(([i, a]) => `${i}=${a}`).join(",")}` +
        (opts.natsUrl ? `; NATS ${opts.natsUrl}` : "; no NATS"),
      );
      return server;
    } catch (e) {
      grpcServer.forceShutdown();
      await transport?.close();
      await storage?.close();
      await sm.close();
      throw e;
    }
  }

  /** This replica's status (what the Status RPC answers). */
  status(): shardkv.controller.StatusReply.$Properties {
    const s = this.node.status();
    return {
      id: this.opts.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      leaderAddress: this.opts.peers.get(s.leader) ?? "",
      commitIndex: s.commit,
      appliedIndex: s.applied,
      firstIndex: s.firstIndex,
      snapshotIndex: s.snapshotIndex,
      latestConfigNum: this.sm.latestNum(),
      shardCount: this.sm.shardCount(),
      clusterId: this.sm.clusterId() ?? "",
    };
  }

  /**
   * Graceful stop: ends Watch streams, stops accepting Raft traffic, stops the RaftNode
   * (pending proposals fail with Stopped), drains NATS, shuts the gRPC server down and
   * closes RocksDB. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const log = this.opts.logger;
      for (const w of [...this.watches]) w.close();
      this.tserver.close();
      await this.node.stop();
      await this.publisher?.stop();
      await shutdownGrpc(this.grpcServer, 2000);
      await Promise.all([...this.watches].map((w) => w.done));
      await this.sm.close();
      log.info(`controller ${this.opts.id} stopped`);
    })();
    return this.stopping;
  }

  // ------------------------------------------------------------------ events

  private onSoftState(ss: SoftState): void {
    const prev = this.soft;
    this.soft = ss;
    if (prev?.role !== ss.role || prev?.leader !== ss.leader || prev?.term !== ss.term) {
      this.opts.logger.info(`controller ${this.opts.id}: ${ss.role} in term ${ss.term}, leader ${ss.leader || "unknown"}`);
    }
    this.publisher?.setLeader(ss.role === "leader");
    if (ss.role === "leader" && this.sm.clusterId() === undefined) void this.initCluster().catch(() => undefined);
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
        while (this.sm.clusterId() === undefined) {
          if (this.stopping) throw new StoppedError("controller");
          // The soft state reaches this server (onReady) just before the node acts on it: a
          // proposal made at once may still be refused as NotLeader, and is retried.
          if (this.soft?.role !== "leader") this.requireLeader();
          try {
            await this.node.propose(encodeClusterInit({ kind: "init-cluster", clusterId: randomBytes(16).toString("hex") }));
          } catch (e) {
            if (this.stopping || this.soft?.role !== "leader") throw e;
            await new Promise<void>((r) => realClock.after(clusterInitRetryMs, r));
          }
        }
      } finally {
        this.clusterInit = undefined;
      }
    })();
    return this.clusterInit;
  }

  /** The cluster id is durable here: record it in the data directory's identity. */
  private onClusterId(clusterId: string): void {
    const { dataDir, logger, id } = this.opts;
    this.identityWrites = this.identityWrites.then(async () => {
      this.ident = await recordClusterId(dataDir, this.ident, clusterId, "the cluster the controller group committed");
      logger.info(`controller ${id}: cluster ${clusterId}`);
    }).catch((e: Error) => {
      if (this.opts.onFatal) this.opts.onFatal(e);
      else throw e;
    });
  }

  private onNewConfig(): void {
    for (const w of this.watches) w.wake();
    this.publisher?.wake();
  }

  // ------------------------------------------------------------------ handlers

  private static implementation(server: () => ControllerServer | undefined): ControllerImplementation {
    const unary = <Req, Res>(fn: (s: ControllerServer, req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
      (call, callback) => {
        const s = server();
        const run = s === undefined || s.stopping ? Promise.reject(new StoppedError("controller")) : fn(s, call.request);
        run.then(
          (res) => callback(null, res),
          (e) => callback(toServiceError(s ? s.describeFailure(e) : e), null),
        );
      };
    return {
      join: unary((s, req: shardkv.controller.JoinRequest) =>
        s.change(req.id, () => joinOpFromWire(req), req.force ? undefined : (op) => s.checkJoin(op))),
      leave: unary((s, req: shardkv.controller.LeaveRequest) => s.change(req.id, () => leaveOpFromWire(req))),
      move: unary((s, req: shardkv.controller.MoveRequest) => s.change(req.id, () => moveOpFromWire(req))),
      ackJoin: unary(async (s, req: shardkv.controller.AckJoinRequest) =>
        ({ abortedNum: (await s.commit(req.id, () => ackJoinOpFromWire(req))).abortedNum ?? 0 })),
      query: unary((s, req: shardkv.controller.QueryRequest) => s.query(req)),
      status: unary(async (s) => s.status()),
      watch: (call) => {
        const s = server();
        if (s === undefined || s.stopping) {
          call.emit("error", toServiceError(new StoppedError("controller")));
          return;
        }
        s.watch(call);
      },
    };
  }

  /** Adds the leader's address to a NotLeaderError; logs unexpected failures. */
  private describeFailure(e: unknown): unknown {
    if (e instanceof NotLeaderError && !e.leaderAddress) return new NotLeaderError(e.leaderHint, this.opts.peers.get(e.leaderHint));
    if (!(e instanceof ShardKVError)) this.opts.logger.warn(`controller ${this.opts.id}: request failed: ${(e as Error)?.stack ?? e}`);
    return e;
  }

  private requireLeader(): void {
    const ss = this.node.softState();
    if (ss.role !== "leader") throw new NotLeaderError(ss.leader, this.opts.peers.get(ss.leader));
  }

  /** True when the duplicate table already holds this client's request `seq` (or a later one). */
  private isRetry(clientId: string, seq: number): boolean {
    const e = this.sm.dedupEntry(clientId);
    return e !== undefined && e.seq >= seq;
  }

  /**
   * Proposes a change after the edge checks: the fast validation, then `precheck` (the join
   * check), both skipped for a retry of a request the duplicate table already holds.
   */
  private async change(
    wireId: shardkv.controller.RequestId.$Properties | null | undefined,
    toOp: () => ControllerOp,
    precheck?: (op: ControllerOp) => Promise<void>,
  ): Promise<shardkv.controller.ChangeReply.$Properties> {
    return { configNum: (await this.commit(wireId, toOp, precheck)).configNum };
  }

  /**
   * Validates `op` at the edge (against the latest config and the pending joins; a change
   * that must wait for a pending group's acknowledgement is refused as RetryLater before it
   * reaches the log), runs `precheck`, proposes it and returns its successful result.
   */
  private async commit(
    wireId: shardkv.controller.RequestId.$Properties | null | undefined,
    toOp: () => ControllerOp,
    precheck?: (op: ControllerOp) => Promise<void>,
  ): Promise<Extract<CommandResult, { ok: true }>> {
    const { clientId, seq } = requestIdFromWire(wireId);
    const op = toOp();
    this.requireLeader();
    if (!this.isRetry(clientId, seq)) {
      try {
        validateOp(this.sm.latest(), op, this.sm.pendingJoins());
      } catch (e) {
        if (!(e instanceof InvalidArgumentError)) throw e;
        // The latest config may lag the log by entries committed a moment ago: refuse only
        // against a config that reflects every write committed before this request.
        await this.node.readBarrier();
        if (!this.isRetry(clientId, seq)) validateOp(this.sm.latest(), op, this.sm.pendingJoins());
      }
      const wait = this.sm.stackingRefusal(op);
      if (wait !== undefined) throw new RetryLaterError(wait);
      if (precheck && !this.isRetry(clientId, seq)) await precheck(op);
    }
    const result = await this.node.propose(encodeCommand({ clientId, seq, op, shardCount: this.sm.shardCount() }));
    if (!result.ok) throw result.retryable ? new RetryLaterError(result.reason) : new InvalidArgumentError(result.field, result.reason);
    return result;
  }

  /**
   * The join check (controller/join-check.ts): refuses the Join with InvalidArgument (field
   * `groups`, the one-line verdict) unless a majority of each new group's servers answer
   * Identify as its replicas with this cluster's shard count and cluster id.
   */
  private async checkJoin(op: ControllerOp): Promise<void> {
    if (op.kind !== "join") return;
    const expect = { shardCount: this.sm.shardCount(), clusterId: this.sm.clusterId() ?? "" };
    const refusal = await checkJoin(op.groups, expect, (a) => identifyServer(a, failpointClientOptions(this.opts.failpoints, a)));
    if (refusal === undefined) return;
    this.opts.logger.info(`controller ${this.opts.id}: ${refusal}`);
    throw new InvalidArgumentError("groups", refusal);
  }

  private async query(req: shardkv.controller.QueryRequest): Promise<shardkv.controller.QueryReply.$Properties> {
    const num = req.num ?? -1;
    if (!Number.isSafeInteger(num) || num < -1) throw new InvalidArgumentError("num", `must be -1 (latest) or a config number >= 0, got ${num}`);
    this.requireLeader();
    await this.node.readBarrier();
    const latest = this.sm.latest();
    const c = num === -1 || num >= latest.num ? latest : await this.sm.config(num);
    assert(c !== undefined, `config ${num} <= latest ${latest.num} is missing`);
    // A group's first leader establishes the id right after its election; a query that
    // comes first waits for it, so every reply of this version carries one.
    if (this.sm.clusterId() === undefined) await this.initCluster();
    return { config: configToWire(c), clusterId: this.sm.clusterId() ?? "" };
  }

  private watch(call: grpc.ServerWritableStream<shardkv.controller.WatchRequest, shardkv.controller.Config.$Properties>): void {
    const from = call.request.fromNum ?? 0;
    if (!Number.isSafeInteger(from) || from < 0) {
      call.emit("error", toServiceError(new InvalidArgumentError("from_num", `must be a config number >= 0, got ${from}`)));
      return;
    }
    if (this.watches.size >= watchStreamsMax) {
      call.emit("error", toServiceError(new BackpressureError("watchStreamsMax", watchStreamsMax, this.watches.size + 1)));
      return;
    }
    const w = new WatchStream(call, from, this.sm, this.opts.logger);
    this.watches.add(w);
    void w.done.then(() => this.watches.delete(w));
  }
}

/**
 * One Watch call: streams configs `from`, `from + 1`, ... read from RocksDB by number, so the
 * stream has no gaps and no duplicates whatever the order of wake-ups; when it has caught up
 * with the latest durable config it sleeps until the next one (or a restore) wakes it. Respects
 * the stream's back-pressure. Ends the stream with OK when closed (server stop), and quietly
 * when the client cancels.
 */
class WatchStream {
  readonly done: Promise<void>;
  private next: number;
  private closed = false;
  /** Resolves the wait for a new config (set while caught up). */
  private wakeUp: (() => void) | undefined;
  /** Ends the wait for the stream to drain (set while the client is slow). */
  private stopDrainWait: (() => void) | undefined;

  constructor(
    private readonly call: grpc.ServerWritableStream<shardkv.controller.WatchRequest, shardkv.controller.Config.$Properties>,
    from: number,
    private readonly sm: RocksControllerStateMachine,
    private readonly logger: Logger,
  ) {
    this.next = from;
    call.on("cancelled", () => this.close());
    call.on("close", () => this.close());
    this.done = this.run();
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  close(): void {
    this.closed = true;
    this.wake();
    this.stopDrainWait?.();
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed) {
        if (this.next > this.sm.latestNum()) {
          await new Promise<void>((resolve) => {
            this.wakeUp = resolve;
            // A config may have become durable between the check and now: look again.
            if (this.next <= this.sm.latestNum() || this.closed) this.wake();
          });
          continue;
        }
        const c: Config | undefined = await this.sm.config(this.next);
        if (this.closed) break;
        assert(c !== undefined, `config ${this.next} <= latest ${this.sm.latestNum()} is missing`);
        this.next++;
        if (!this.call.write(configToWire(c))) await this.drained();
      }
    } catch (e) {
      if (!this.closed) {
        this.logger.warn(`watch stream failed: ${(e as Error).message}`);
        this.call.emit("error", toServiceError(e));
        return;
      }
    }
    if (!this.call.cancelled && this.call.writable) this.call.end();
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.call.off("drain", done);
        this.stopDrainWait = undefined;
        resolve();
      };
      this.call.once("drain", done);
      this.stopDrainWait = done;
    });
  }
}

/**
 * Publishes configs on NATS while this replica is the leader: a pump that walks config
 * numbers in order (reading each from RocksDB), so publications are in order without gaps
 * for as long as one leader lives. On becoming leader, and when the NATS connection comes
 * (back) up, it starts `natsRepublishConfigs` configs back, covering configs a dead leader
 * committed but never got out; publications are therefore at least once, and subscribers
 * de-duplicate by num. Nothing waits on the NATS server: `publish` only buffers, and while
 * the connection is down the pump holds (bounded: it resumes at most natsRepublishConfigs back).
 */
class ConfigPublisher {
  private nc: NatsConnection | undefined;
  private connected = false;
  private leader = false;
  /** The next config num to publish; meaningful while leader. */
  private next = 1;
  private pumping = false;
  private stopped = false;
  private warnedPublish = false;

  constructor(
    private readonly url: string,
    private readonly sm: RocksControllerStateMachine,
    private readonly logger: Logger,
  ) {}

  /** Connects in the background (forever, with NATS's own reconnect policy). */
  start(): void {
    this.logger.info(`NATS: connecting to ${this.url} in the background`);
    const cancelWarn = realClock.after(3000, () => {
      if (!this.connected && !this.stopped) {
        this.logger.warn(`NATS: ${this.url} not reachable yet; configs are not published until it is (the controller works without it)`);
      }
    });
    connect({ servers: this.url, reconnect: true, maxReconnectAttempts: -1, waitOnFirstConnect: true, name: "shardkv-controller" }).then(
      (nc) => {
        cancelWarn();
        if (this.stopped) {
          void nc.close();
          return;
        }
        this.nc = nc;
        this.logger.info(`NATS: connected to ${nc.getServer()}`);
        this.onConnected();
        void this.watchStatus(nc);
      },
      (e: Error) => {
        cancelWarn();
        this.logger.warn(`NATS: cannot connect to ${this.url}: ${e.message}; configs will not be published`);
      },
    );
  }

  setLeader(leader: boolean): void {
    if (leader && !this.leader) this.next = Math.max(1, this.sm.latestNum() - natsRepublishConfigs + 1);
    this.leader = leader;
    this.wake();
  }

  wake(): void {
    if (!this.pumping) void this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const nc = this.nc;
    if (!nc) return;
    let cancel = (): void => {};
    const timeout = new Promise<void>((resolve) => (cancel = realClock.after(2000, resolve)));
    await Promise.race([nc.drain().catch(() => undefined), timeout]);
    cancel();
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  }

  private onConnected(): void {
    this.connected = true;
    this.next = Math.max(this.next, this.sm.latestNum() - natsRepublishConfigs + 1, 1);
    this.wake();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.connected = false;
        this.logger.warn(`NATS: disconnected from ${String(s.data)}; reconnecting in the background`);
      } else if (s.type === "reconnect") {
        this.logger.info(`NATS: reconnected to ${String(s.data)}`);
        this.onConnected();
      }
    }
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.stopped && this.leader && this.connected && this.nc && this.next <= this.sm.latestNum()) {
        const c = await this.sm.config(this.next);
        if (c === undefined || this.stopped || !this.leader) break;
        try {
          this.nc.publish(configSubject, encodeConfig(c));
        } catch (e) {
          if (!this.warnedPublish) {
            this.warnedPublish = true;
            this.logger.warn(`NATS: publishing config ${c.num} failed: ${(e as Error).message}; carrying on without NATS`);
          }
          break;
        }
        this.next = c.num + 1;
      }
    } catch (e) {
      if (!this.stopped) this.logger.warn(`NATS: publisher stopped: ${(e as Error).message}`);
    } finally {
      this.pumping = false;
    }
  }
}

/** Graceful gRPC shutdown, forced after `graceMs` (open calls are cancelled). */
function shutdownGrpc(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const cancel = realClock.after(graceMs, () => {
      server.forceShutdown();
      resolve();
    });
    server.tryShutdown(() => {
      cancel();
      resolve();
    });
  });
}
