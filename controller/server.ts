/**
 * One replica of the configuration controller ([design](../docs/design.md#4-controller-controller)):
 * a RaftNode over a RocksDB log (dataDir/raft) driving the RocksDB controller state machine
 * (dataDir/state), and one grpc.Server on one port hosting both the Raft transport and the
 * Controller service (proto/controller.proto). `controller/main.ts` wraps it as the
 * `shardkv-controller` daemon.
 *
 * The request handling (validation, leadership, the join check, de-duplication, the cluster
 * id, Watch feeds) is controller/service.ts, which knows no transport. The gRPC handlers here
 * are thin: wire -> domain with the codec (InvalidArgumentError naming the field), a call of
 * the service, domain -> wire; every failure goes through `toServiceError`
 * (common/grpc-errors.ts), so clients get the same typed errors back.
 *
 * Data directory: its identity (common/data-dir.ts) is checked before anything else is
 * opened; a directory of another daemon, group or replica is refused. Every replica records
 * the cluster id the group committed in its identity.
 *
 * Replica changes of the controller group itself: while this replica leads, its replica
 * driver (raft/replica-driver.ts) carries out the group's stored intent (gid 0) from its own
 * applied state and reports through its own service (ControllerService.reportOwn).
 *
 * NATS: with `natsUrl`, the leader publishes every config it sees committed (see
 * ConfigPublisher) protobuf-encoded on `shardkv.config`. NATS is only a hint: the
 * connection is made in the background, publishing never waits for the NATS server, and a
 * missing NATS server is logged once and otherwise ignored.
 */
import { corruptionStops } from "../common/checked-kv";
import * as grpc from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import type { Security } from "../security/credentials";
import { type TlsFiles, natsTls } from "../security/tls-files";
import { connect, type NatsConnection } from "nats";
import { join } from "node:path";
import { assert } from "../common/assert";
import { claimDataDir, type DataDirIdentity, recordClusterId, writeIdentity } from "../common/data-dir";
import type { Logger } from "../common/env";
import { StoppedError } from "../common/errors";
import type { Failpoints } from "../common/failpoints";
import { toServiceError } from "../common/grpc-errors";
import { failpointClientOptions, failpointService } from "../common/grpc-failpoints";
import type { GroupId, LogIndex, NodeId } from "../common/ids";
import { realClock, realRng } from "../common/real-env";
import { shutdownGrpc } from "../common/grpc-service";
import type { SoftState } from "../raft/core/types";
import type { RaftNode } from "../raft/node";
import { probeLegacyDataDir } from "../raft/storage/legacy-data-dir";
import { RocksLogStore } from "../raft/storage/rocks-log-store";
import { addFailpointAdmin } from "../raft/transport/failpoint-admin";
import { addRaftMembersService, raftMembers } from "../raft/transport/members-service";
import { addLeadershipService, handOffOnStop } from "../raft/transport/leadership-service";
import { addReplicaAdmin } from "../raft/transport/replica-admin";
import { replicaHealthProblem, startDaemonNode } from "../raft/daemon-node";
import { ReplicaDriver } from "../raft/replica-driver";
import { GrpcTransport, RaftTransportServer, listen, raftGrpcServerOptions } from "../raft/transport/grpc-transport";
import { AuthorizedServer, accessOf } from "../security/authorization";
import type { shardkv } from "../proto/gen/controller.js";
import { controllerGid, shardCountDefault, sortedGids } from "./config";
import {
  ackJoinOpFromWire, configToWire, encodeConfig, intentToWire, joinOpFromWire, memberToWire, leaveOpFromWire, moveOpFromWire, replicaCancelOpFromWire,
  replicaChangeOpFromWire, replicaDoneOpFromWire, replicaProgressOpFromWire, requestIdFromWire,
} from "./codec";
import { controllerService, type ControllerImplementation } from "../proto/gen/controller-grpc";
import { identifyServer } from "./identify-client";
import { RocksControllerStateMachine } from "./rocks-state";
import { ControllerService, type ControllerStatus, type IntentUpdate } from "./service";
import { ServiceMetrics } from "../common/service-metrics";
import { ControllerMetrics, type ControllerServiceType } from "./controller-metrics";
import { ReplicaStatusSource, type ReplicaStatusFields } from "../raft/replica-status";
import type { CommandResult } from "./state-machine";

/** The Raft group id of the controller (shard groups use their gids, which are >= 1). */
export const controllerGroup = 0 as GroupId;
/** NATS subject on which the leader publishes each new config (encoded shardkv.controller.Config). */
import { configSubject } from "./config";
export { configSubject };
export { watchStreamsMax } from "./service";
/**
 * Configs a new leader (or a leader whose NATS connection just came up) republishes before
 * the new ones: the previous leader may have died between committing a config and flushing
 * its publication. Subscribers de-duplicate by num.
 */
export const natsRepublishConfigs = 16;
/** Default: take a controller snapshot and compact the log every this many applied entries. */
export const controllerSnapshotEveryEntries = 1000;
/** Deadline of one RaftMembers probe of a member's applied configuration. */
const confProbeMs = 1000;

export interface ControllerServerOptions {
  /** This replica's id, a key of `peers`. */
  readonly id: NodeId;
  /** Address to bind ("host:port"; port 0 picks one, see ControllerServer.port). */
  readonly listen: string;
  /**
   * Every replica's advertised address, this one included: bootstraps an empty data directory
   * (with `join`: the members to reach until the configuration arrives). Afterwards the
   * members and their addresses come from the group's configuration (raft/daemon-node.ts).
   */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Join an existing controller group (--join): the data directory must be empty. */
  readonly join?: boolean;
  /** Directory of this replica's data (raft/ and state/ below it). */
  readonly dataDir: string;
  /** Shard count when the data directory is created (default 64); must match on later starts. */
  readonly shardCount?: number;
  /** NATS server URL ("nats://host:port"); no publishing without it. */
  readonly natsUrl?: string;
  /** Milliseconds per Raft tick. Default 100 (election timeout 1-2 s). */
  readonly tickMs?: number;
  /** false: an idle Raft group keeps heartbeating (--no-quiesce); default: it quiesces (raft/core/quiesce.ts). */
  readonly quiesce?: false;
  /** Snapshot and compact every this many applied entries. Default controllerSnapshotEveryEntries. */
  readonly snapshotEveryEntries?: number;
  /** Test-only failpoints (docs/failpoints.md); undefined = off, nothing wrapped. */
  readonly failpoints?: Failpoints;
  /**
   * How every connection of this replica is made, served and accepted (mutual TLS or plaintext).
   * With TLS, every call is checked against what its certificate's role may do
   * (security/authorization.ts); plaintext has no identities and allows everything.
   */
  readonly security: Security;
  readonly logger: Logger;
  /** Called when the Raft loop dies (storage failure, broken invariant). Default: rethrow (crash). */
  readonly onFatal?: (e: Error) => void;
  /** Where this replica's metrics are registered (--metrics-listen); undefined: none measured. */
  readonly metricsRegistry?: Registry;
}

export class ControllerServer {
  private stopping: Promise<void> | undefined;
  /** The Watch streams being served (each promise settles when its stream ends). */
  private readonly watches = new Set<Promise<void>>();
  private soft: SoftState | undefined;
  private readonly service: ControllerService;
  /** Carries out the controller group's stored replica-change intent while this replica leads. */
  private readonly replicaDriver: ReplicaDriver;
  /** Identity rewrites, one at a time in order. */
  private identityWrites: Promise<void> = Promise.resolve();
  /** Undefined without opts.metricsRegistry. */
  private readonly metrics: ControllerMetrics | undefined;
  /** The Status fields both daemons share (log, lag, data directory size, uptime). */
  private readonly statusSource: ReplicaStatusSource;

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
    /** The group's members' addresses, kept current as configuration changes apply (raft/daemon-node.ts). */
    private readonly peers: ReadonlyMap<NodeId, string>,
  ) {
    this.statusSource = new ReplicaStatusSource(opts.dataDir, realClock);
    this.service = new ControllerService({
      id: opts.id, node, sm, clock: realClock, rng: realRng, logger: opts.logger,
      members: peers,
      identify: (a) => identifyServer(a, opts.security, failpointClientOptions(opts.failpoints, a)),
    });
    const service = this.service;
    // Latencies on the monotonic clock.
    this.metrics = opts.metricsRegistry === undefined ? undefined : new ControllerMetrics(opts.metricsRegistry, sm, realClock.nowMs);
    this.replicaDriver = new ReplicaDriver({
      clock: realClock, logger: opts.logger, name: `controller ${opts.id}`, address: (id) => peers.get(id),
      appliedConfIndex: (address) => raftMembers(address, confProbeMs, opts.security).then((r) => Number(r.confIndex) as LogIndex, () => undefined),
    }, node as RaftNode<unknown>, {
      pending: async () => sm.replicaState().intents.get(controllerGid),
      progress: (blocked) => service.reportOwn({ kind: "replicaProgress", gid: controllerGid, blocked }),
      done: (members) => service.reportOwn({ kind: "replicaDone", gid: controllerGid, members }),
    });
  }

  /** The replica's RaftNode and its members' addresses (the RaftMembers service). */
  raftMembers(): { node: RaftNode<unknown>; peers: ReadonlyMap<NodeId, string> } {
    return { node: this.node as RaftNode<unknown>, peers: this.peers };
  }

  /** The replica's RaftNode (the test-only ReplicaAdmin service runs replica changes on it). */
  raftNode(): RaftNode<unknown> {
    return this.node as RaftNode<unknown>;
  }

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
    const sm = await RocksControllerStateMachine.open(join(opts.dataDir, "state"), identity.shardCount, undefined, corruptionStops(opts.onFatal));
    let storage: RocksLogStore | undefined;
    let transport: GrpcTransport | undefined;
    const grpcServer = new AuthorizedServer(raftGrpcServerOptions, { access: accessOf(opts.security), log: (msg, fields) => logger.warn(msg, fields) });
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
      addRaftMembersService(grpcServer, () => server?.raftMembers());
      addLeadershipService(grpcServer, () => server?.raftMembers().node, (m) => logger.info(`controller ${opts.id}: ${m}`));
      addReplicaAdmin(grpcServer, opts.failpoints, () => server?.raftNode(), (m) => logger.info(`controller ${opts.id}: ${m}`));
      const port = await listen(grpcServer, opts.listen, opts.security, logger);
      transport = new GrpcTransport(
        { group: controllerGroup, self: opts.id, peers: opts.peers, security: opts.security, clock: realClock, rng: realRng, logger }, tserver,
      );
      const publisher = opts.natsUrl === undefined ? undefined : new ConfigPublisher(opts.natsUrl, opts.security.source?.files, sm, logger);
      sm.subscribe(() => server?.onNewConfig());
      sm.subscribeIntents(() => server?.service.onIntentsChanged());
      const { node, attach, peers } = await startDaemonNode<CommandResult>({
        group: controllerGroup, id: opts.id, peers: opts.peers, join: opts.join, tickMs: opts.tickMs, quiesce: opts.quiesce,
        snapshotEveryEntries: opts.snapshotEveryEntries ?? controllerSnapshotEveryEntries,
        failpoints: opts.failpoints, onFatal: opts.onFatal, transport, storage, logger, dataDir: opts.dataDir,
        ...(opts.metricsRegistry ? { metricsRegistry: opts.metricsRegistry } : {}),
      }, sm);
      server = new ControllerServer(opts, grpcServer, tserver, sm, node, publisher, port, identity, peers);
      const started = server;
      sm.subscribeClusterId((id) => started.onClusterId(id));
      attach((ss) => started.onSoftState(ss));
      publisher?.start();
      server.replicaDriver.start();
      logger.info(
        `controller ${opts.id} listening on ${opts.listen} (port ${port}); ${sm.shardCount()} shards; ` +
        `latest config ${sm.latestNum()}, applied index ${sm.appliedIndex()}; peers ${[...peers].map(([i, a]) => `${i}=${a}`).join(",")}${opts.join ? " (joining)" : ""}` +
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

  /**
   * This replica's status (what the Status RPC answers): the service's, and the fields both
   * daemons share (raft/replica-status.ts).
   */
  async status(): Promise<ControllerStatus & ReplicaStatusFields> {
    const s = this.service.status();
    return { ...s, ...(await this.statusSource.fields(this.node)) };
  }

  /**
   * Why this replica is not healthy (/healthz, docs/operations.md "Health and readiness"), or
   * undefined (replicaHealthProblem).
   */
  healthProblem(): string | undefined {
    return replicaHealthProblem(this.stopping !== undefined, this.node);
  }

  /**
   * Why this replica is not ready (/readyz), or undefined: healthy, a leader it reaches
   * (RaftNode.leaderContactProblem), and everything it knows committed applied (its
   * configs are current).
   */
  readinessProblem(): string | undefined {
    const problem = this.healthProblem() ?? this.node.leaderContactProblem();
    if (problem !== undefined) return problem;
    const { commit, applied } = this.node.status();
    return applied < commit ? `applied index ${applied} behind commit index ${commit}` : undefined;
  }

  /**
   * Graceful stop: ends Watch streams, stops accepting Raft traffic, stops the RaftNode
   * (pending proposals fail with Stopped), drains NATS, shuts the gRPC server down and
   * closes RocksDB. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const log = this.opts.logger;
      this.service.stop();
      const replicaDriverDone = this.replicaDriver.stop();
      // A leader hands leadership off while Raft still runs (bounded), so the group does not
      // wait an election timeout for a new leader.
      await handOffOnStop(this.node, log, `controller ${this.opts.id}`);
      this.tserver.close();
      await this.node.stop();
      await replicaDriverDone;
      await this.publisher?.stop();
      await shutdownGrpc(this.grpcServer, 2000);
      await Promise.all([...this.watches]);
      await this.sm.close();
      this.metrics?.close();
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
    this.service.onSoftState(ss);
    if (ss.role === "leader" && prev?.role !== "leader") this.replicaDriver.kick();
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
    this.service.onNewConfig();
    this.publisher?.wake();
  }

  // ------------------------------------------------------------------ handlers

  /**
   * The gRPC handlers: decode (InvalidArgumentError naming the field), call the service,
   * encode; every failure goes through toServiceError. Before the server runs, and once it
   * stops, they answer Stopped.
   */
  /**
   * Serves one Watch or WatchIntent stream: the feed `open` makes (refused: the stream fails
   * with the typed error), streamed until it ends, and tracked in `watches` meanwhile. The
   * metric of `type` is recorded when the stream opens (or is refused): its duration is the
   * time to open it.
   */
  private static serveFeed<F extends Feed<T>, T, W>(
    s: ControllerServer | undefined, call: grpc.ServerWritableStream<unknown, W>, type: ControllerServiceType,
    open: (svc: ControllerService) => F, toWireOf: (feed: F) => (item: T) => W,
  ): void {
    const op = s?.metrics?.service.op(type);
    const t0 = op?.start() ?? 0;
    let feed: F;
    try {
      if (s === undefined || s.stopping) throw new StoppedError("controller");
      feed = open(s.service);
    } catch (e) {
      op?.failed(t0, e);
      call.emit("error", toServiceError(e));
      return;
    }
    op?.ok(t0);
    const done = streamFeed(call, feed, toWireOf(feed), s.opts.logger);
    s.watches.add(done);
    void done.then(() => s.watches.delete(done));
  }

  private static implementation(server: () => ControllerServer | undefined): ControllerImplementation {
    const unary = <Req, Res>(type: ControllerServiceType, fn: (svc: ControllerService, req: Req, s: ControllerServer) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
      (call, callback) => {
        const s = server();
        const run = s === undefined || s.stopping
          ? Promise.reject(new StoppedError("controller"))
          : ServiceMetrics.track(s.metrics?.service, type, () => Promise.resolve().then(() => fn(s.service, call.request, s)));
        run.then(
          (res) => callback(null, res),
          (e) => callback(toServiceError(e), null),
        );
      };
    return {
      join: unary("join", async (svc, req: shardkv.controller.JoinRequest) =>
        ({ configNum: await svc.join(requestIdFromWire(req.id), joinOpFromWire(req), { force: req.force }) })),
      leave: unary("leave", async (svc, req: shardkv.controller.LeaveRequest) =>
        ({ configNum: await svc.leave(requestIdFromWire(req.id), leaveOpFromWire(req)) })),
      move: unary("move", async (svc, req: shardkv.controller.MoveRequest) =>
        ({ configNum: await svc.move(requestIdFromWire(req.id), moveOpFromWire(req)) })),
      ackJoin: unary("ack_join", async (svc, req: shardkv.controller.AckJoinRequest) =>
        ({ abortedNum: await svc.ackJoin(requestIdFromWire(req.id), ackJoinOpFromWire(req)) })),
      replicaChange: unary("replica_change", async (svc, req: shardkv.controller.ReplicaChangeRequest) =>
        ({ configNum: await svc.replica(requestIdFromWire(req.id), replicaChangeOpFromWire(req)) })),
      replicaCancel: unary("replica_cancel", async (svc, req: shardkv.controller.ReplicaCancelRequest) =>
        ({ configNum: await svc.replica(requestIdFromWire(req.id), replicaCancelOpFromWire(req)) })),
      replicaDone: unary("replica_done", async (svc, req: shardkv.controller.ReplicaDoneRequest) =>
        ({ configNum: await svc.replica(requestIdFromWire(req.id), replicaDoneOpFromWire(req)) })),
      replicaProgress: unary("replica_progress", async (svc, req: shardkv.controller.ReplicaProgressRequest) =>
        ({ configNum: await svc.replica(requestIdFromWire(req.id), replicaProgressOpFromWire(req)) })),
      query: unary("query", async (svc, req: shardkv.controller.QueryRequest) => {
        const { config, clusterId, replicas } = await svc.query(req.num ?? -1);
        return {
          config: configToWire(config), clusterId,
          intents: sortedGids(replicas.intents).map((g) => intentToWire(g, replicas.intents.get(g)!)),
          controllers: replicas.controllers.map(memberToWire),
        };
      }),
      status: unary("status", (_svc, _req, s) => s.status()),
      watch: (call) => ControllerServer.serveFeed(server(), call, "watch", (svc) => svc.watch(call.request.fromNum ?? 0), () => configToWire),
      watchIntent: (call) => ControllerServer.serveFeed(server(), call, "watch_intent", (svc) => svc.watchIntent(call.request.gid ?? 0), (feed) =>
        (u: IntentUpdate): shardkv.controller.IntentUpdate.$Properties =>
          u.intent === undefined ? { pending: false } : { pending: true, intent: intentToWire(feed.gid, u.intent) }),
    };
  }
}

/** What streamFeed needs of a feed (ConfigFeed, IntentFeed). */
interface Feed<T> {
  next(): Promise<T | undefined>;
  readonly isOpen: boolean;
  readonly closed: Promise<void>;
  close(): void;
}

/**
 * Streams one Watch or WatchIntent call from its feed, respecting the stream's back-pressure.
 * Ends the stream with OK when the feed is closed (server stop), and quietly when the client cancels.
 */
async function streamFeed<T, W>(call: grpc.ServerWritableStream<unknown, W>, feed: Feed<T>, toWire: (item: T) => W, logger: Logger): Promise<void> {
  call.on("cancelled", () => feed.close());
  call.on("close", () => feed.close());
  try {
    for (let c = await feed.next(); c !== undefined; c = await feed.next()) {
      if (!call.write(toWire(c))) await drained(call, feed);
    }
  } catch (e) {
    if (feed.isOpen) {
      feed.close();
      logger.warn(`watch stream failed: ${(e as Error).message}`);
      call.emit("error", toServiceError(e));
      return;
    }
  }
  if (!call.cancelled && call.writable) call.end();
}

/** Resolves when `call` drains or `feed` closes. */
function drained(call: grpc.ServerWritableStream<unknown, unknown>, feed: Feed<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      call.off("drain", done);
      resolve();
    };
    call.once("drain", done);
    void feed.closed.then(done);
  });
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
    /** The controller's TLS files, used for a tls:// URL (security/tls-files.ts natsTls). */
    private readonly tlsFiles: TlsFiles | undefined,
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
    connect({
      servers: this.url, reconnect: true, maxReconnectAttempts: -1, waitOnFirstConnect: true, name: "shardkv-controller", ...natsTls(this.url, this.tlsFiles),
    }).then(
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
