/**
 * One replica of a shard group (docs/design.md#5-shard-groups): a RaftNode over a RocksDB log (dataDir/raft)
 * driving the RocksDB shard state machine (dataDir/state), and one grpc.Server on one port
 * hosting both the Raft transport and the ShardKV service (proto/shardkv.proto).
 * `shard-server/main.ts` wraps it as the `shardkv-server` daemon.
 *
 * Handlers validate at the edge (codec, size limits, key-to-shard), then: Get = ReadIndex
 * barrier + read with ownership checked at the read point; Write = propose, ownership checked
 * when applied; PullShard = stream the frozen shard (any replica that has applied the
 * migration's config may answer: its applied state is committed state); DeleteShard = propose,
 * reply when applied. Followers answer NotLeader with the leader's address. Every failure
 * goes through `toServiceError`.
 *
 * Request handling is shard-server/service.ts's ShardService (shared with the simulator); the
 * handlers here only convert between the wire and the domain.
 *
 * The migration driver runs on the leader only, every ~100 ms (shard-server/migration-driver.ts,
 * with the controller's gRPC client and GrpcGroupRpc):
 * learning the next config from the controller, pulling gained shards from their previous
 * owners chunk by chunk (one worker per shard, so a shard that arrives serves at once even if
 * another waits for a dead group), and telling previous owners to delete shards that arrived.
 * It never holds anything across an RPC that a pull handler needs: answering a pull only
 * reads this replica's applied state.
 *
 * The replica driver (raft/replica-driver.ts) runs on the leader too: it reads the group's
 * stored replica-change intent from the controller when kicked by the controller's
 * WatchIntent stream (and every intentBackstopMs besides) and carries it out
 * (docs/design.md §3 Raft, membership), reporting progress and the new members.
 *
 * Data directory: its identity (common/data-dir.ts) is checked first thing, before RocksDB is
 * opened or any controller asked; the shard count comes from --shards, else the identity,
 * else (a new directory) the controllers, and is recorded. The cluster id is learned from the
 * controllers' first answer after the start and recorded; the migration driver (the only
 * path by which configs reach the group) starts only after that check passed, and
 * controllers of another cluster stop the server (onFatal with a DataDirError naming both).
 */
import { corruptionStops } from "../common/checked-kv";
import * as grpc from "@grpc/grpc-js";
import type { Registry } from "prom-client";
import type { Security } from "../security/credentials";
import { natsTls } from "../security/tls-files";
import { join } from "node:path";
import { assert } from "../common/assert";
import { claimDataDir, type DataDirIdentity, recordClusterId, writeIdentity } from "../common/data-dir";
import type { Logger } from "../common/env";
import { AbortError, InvalidArgumentError, ShardKVError, StoppedError, TimeoutError } from "../common/errors";
import type { Failpoints } from "../common/failpoints";
import { failpointClientOptions, failpointService } from "../common/grpc-failpoints";
import { toServiceError } from "../common/grpc-errors";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId } from "../common/ids";
import { realClock, realRng, wallClockMs } from "../common/real-env";
import { LogClock } from "./log-clock";
import { shutdownGrpc } from "../common/grpc-service";
import { ControllerClient } from "../controller/client";
import { configSubject } from "../controller/config";
import type { shardkv } from "../proto/gen/shardkv.js";
import type { SoftState } from "../raft/core/types";
import { connect, type NatsConnection } from "nats";
import { RaftNode } from "../raft/node";
import { probeLegacyDataDir } from "../raft/storage/legacy-data-dir";
import { RocksLogStore } from "../raft/storage/rocks-log-store";
import { addFailpointAdmin } from "../raft/transport/failpoint-admin";
import { addRaftMembersService, raftMembers } from "../raft/transport/members-service";
import { addLeadershipService, handOffOnStop } from "../raft/transport/leadership-service";
import { addReplicaAdmin } from "../raft/transport/replica-admin";
import { raftMembersToWire, replicaHealthProblem, startDaemonNode } from "../raft/daemon-node";
import { ReplicaStatusSource } from "../raft/replica-status";
import { intentPollMsDefault, ReplicaDriver } from "../raft/replica-driver";
import { GrpcTransport, RaftTransportServer, listen, raftGrpcServerOptions } from "../raft/transport/grpc-transport";
import { AuthorizedServer, accessOf } from "../security/authorization";
import type { BatchHandlers } from "./batch-stream";
import { shardChunkToWire, shardPb } from "./codec";
import { GrpcGroupRpc } from "./grpc-group-rpc";
import { serveGrpcBatch } from "./grpc-service";
import { shardKVService, type ShardKVImplementation } from "../proto/gen/shardkv-grpc";
import { driverPeriodMs, MigrationDriver } from "./migration-driver";
import { type ApplyResult, RocksShardStateMachine } from "./rocks-state";
import { ShardService } from "./service";
import { wireHandlers } from "./wire-handlers";
import { migrationChunkBytesMax } from "../common/limits";
import { dedupTtlMsDefault, shardSnapshotEveryEntries } from "./defaults";
import { ServiceMetrics } from "../common/service-metrics";
import { chunkBytes } from "./chunks";
import { ShardServerMetrics, type ShardServiceType } from "./shard-metrics";

export { validateWrite } from "./service";
export { driverPeriodMs } from "./migration-driver";
/**
 * With the Watch stream running, how often the leader still queries the controller (a
 * backstop for a stream stuck on a controller replica cut off from its group). Each query is
 * a ReadIndex round on the controller group, which wakes it from quiescence: at 1 s, three
 * group leaders kept an idle controller group awake (docs/benchmarks.md, "The cost of many
 * groups").
 */
export const configBackstopMs = 10_000;
/** Without the Watch stream (it ended, or --no-watch), how often the leader queries the controller. */
export const configPollNoWatchMs = 1000;
/**
 * With the WatchIntent stream running, how often the leader still reads its group's
 * replica-change intent while none is pending (the same backstop as configBackstopMs, for the
 * same reason: each read is a ReadIndex round that wakes a quiesced controller group; at
 * intentPollMsDefault, 1 s, the group leaders kept it awake: docs/benchmarks.md, "Issue 20:
 * the idle controller group"). Without the stream (it ended, or watchConfigs false): intentPollMsDefault.
 */
export const intentBackstopMs = configBackstopMs;
/**
 * How long a shard server with a new data directory and no --shards waits for the
 * controllers to tell it the shard count before it gives up with one line.
 */
export const shardCountWaitMs = 60_000;
/** How long the leader retries one ReplicaDone report (with one request id) before it tries again later. */
const replicaDoneDeadlineMs = 30_000;
/** Deadline of one RaftMembers probe of a member's applied configuration. */
const confProbeMs = 1000;
/** Key, value and duplicate-record bytes per pulled chunk (a larger single record goes alone). */
export const pullChunkBytes = migrationChunkBytesMax;
export { dedupTtlMsDefault, shardSnapshotEveryEntries } from "./defaults";

export interface ShardServerOptions {
  readonly gid: GroupId;
  /** This replica's id, a key of `peers`. */
  readonly id: NodeId;
  /** Address to bind ("host:port"; port 0 picks one, see ShardServer.port). */
  readonly listen: string;
  /**
   * Every replica of this group, this one included: bootstraps an empty data directory (with
   * `join`: the members to reach until the configuration arrives). Afterwards the members and
   * their addresses come from the group's configuration (raft/daemon-node.ts).
   */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Join an existing group (--join): the data directory must be empty. */
  readonly join?: boolean;
  /** Directory of this replica's data (raft/ and state/ below it). */
  readonly dataDir: string;
  /** Controller replica addresses. */
  readonly controllers: readonly string[];
  /** Shard count; default: the controller's (config 0). Must match the data directory. */
  readonly shardCount?: number;
  /** Milliseconds per Raft tick. Default 100. */
  readonly tickMs?: number;
  /** false: an idle Raft group keeps heartbeating (--no-quiesce); default: it quiesces (raft/core/quiesce.ts). */
  readonly quiesce?: false;
  readonly dedupTtlMs?: number;
  readonly snapshotEveryEntries?: number;
  /** Cap on pulled shard bytes inserted per second (0 or undefined: none). */
  readonly migrationBytesPerSec?: number;
  /** Pace pulls by the group's load under the cap (migration-pacer.ts). Default true. */
  readonly migrationPacing?: boolean;
  /** Bytes of pulled chunks in flight per pull at most (0 or undefined: one chunk at a time). */
  readonly migrationWindowBytes?: number;
  /** Keys whose value length the apply path remembers (default lengthCacheKeysDefault; 0 = none). */
  readonly lengthCacheKeys?: number;
  /**
   * NATS server URL: a config pushed on `shardkv.config` makes the leader look for the next
   * config at once instead of at its next poll. Only a hint: polling stays the source of
   * truth, and an absent or unreachable NATS changes nothing else.
   */
  readonly natsUrl?: string;
  /** Period of the migration driver's loop (pulls, gc, config). Default driverPeriodMs. */
  readonly pollMs?: number;
  /**
   * Learn configs from the controller's Watch stream (default true): a new config reaches
   * the group as soon as a controller replica applies it, and the controller is queried only
   * every `configBackstopMs` besides; likewise the group's replica-change intent from the
   * WatchIntent stream, read every `intentBackstopMs` besides. false: query the config at
   * every run of the driver (pollMs), the intent every intentPollMsDefault.
   */
  readonly watchConfigs?: boolean;
  /** Test-only failpoints (docs/failpoints.md); undefined = off, nothing wrapped. */
  readonly failpoints?: Failpoints;
  /**
   * How every connection of this replica is made, served and accepted (mutual TLS or plaintext).
   * With TLS, every call is checked against what its certificate's role may do
   * (security/authorization.ts); plaintext has no identities and allows everything.
   */
  readonly security: Security;
  readonly logger: Logger;
  /** Called when the Raft loop dies. Default: rethrow (crash). */
  readonly onFatal?: (e: Error) => void;
  /** Where this replica's metrics are registered (--metrics-listen); undefined: none measured. */
  readonly metricsRegistry?: Registry;
}

const none = new Uint8Array(0);


export class ShardServer {
  private stopping: Promise<void> | undefined;
  private soft: SoftState | undefined;
  private readonly driver: MigrationDriver;
  /** Carries out the group's stored replica-change intent while this replica leads. */
  private readonly replicaDriver: ReplicaDriver;
  /** The replica driver's own controller client (its reports never wait behind the migration driver's). */
  private readonly replicaController: ControllerClient;
  private readonly service: ShardService;
  /** Get and Write in wire terms: every Batch stream runs them. */
  private readonly handlers: BatchHandlers;
  private readonly groupRpc: GrpcGroupRpc;
  private nats: NatsConnection | undefined;
  private readonly watchAbort = new AbortController();
  /** The Watch stream ended (the driver then queries the controller every configPollNoWatchMs). */
  private watchEnded = false;
  /** The WatchIntent stream ended (the replica driver then reads the intent every intentPollMsDefault). */
  private intentWatchEnded = false;
  /** Open Batch streams (ended when the server stops). */
  private readonly batchStreams = new Set<() => void>();
  /** This replica's data directory identity (the cluster id once learned). */
  private ident: DataDirIdentity;
  /** Undefined without opts.metricsRegistry. */
  private readonly metrics: ShardServerMetrics | undefined;

  /** The Status fields both daemons share (log, lag, data directory size, uptime). */
  private readonly statusSource: ReplicaStatusSource;

  private constructor(
    private readonly opts: ShardServerOptions,
    private readonly grpcServer: grpc.Server,
    private readonly tserver: RaftTransportServer,
    private readonly sm: RocksShardStateMachine,
    private readonly node: RaftNode<ApplyResult>,
    private readonly controller: ControllerClient,
    /** The port the server is bound to. */
    readonly port: number,
    identity: DataDirIdentity,
    /** The group's members' addresses, kept current as configuration changes apply (raft/daemon-node.ts). */
    private readonly peers: ReadonlyMap<NodeId, string>,
  ) {
    this.ident = identity;
    this.statusSource = new ReplicaStatusSource(opts.dataDir, realClock);
    this.groupRpc = new GrpcGroupRpc(opts.security, { clientOptions: (a) => failpointClientOptions(opts.failpoints, a) });
    const watchEnded = (): boolean => this.watchEnded;
    // Commands carry log time (log-clock.ts), never a wall clock that may jump.
    const logClock = new LogClock(realClock, () => sm.logTimeMs(), wallClockMs);
    this.service = new ShardService({
      node, sm, clock: logClock, address: (id) => peers.get(id),
      // The migration pacer judges the group's load by its clients' latencies (migration-pacer.ts).
      foreground: { clock: realClock, observe: (ms) => this.driver.observeForeground(ms) },
    });
    // Latencies on the monotonic clock.
    this.metrics = opts.metricsRegistry === undefined ? undefined : new ShardServerMetrics(opts.metricsRegistry, sm, realClock.nowMs);
    const handlers = wireHandlers(this.service, { describe: (e) => this.describeFailure(e), stopping: () => this.stopping !== undefined });
    this.handlers = this.metrics?.observe(handlers) ?? handlers;
    this.driver = new MigrationDriver(
      {
        gid: opts.gid, id: opts.id, logger: opts.logger, pollMs: opts.pollMs ?? driverPeriodMs, clock: realClock, logClock,
        // Read at every run of the driver: slow while the Watch stream runs, fast once it ended.
        get configPollMs() {
          return opts.watchConfigs === false ? undefined : watchEnded() ? configPollNoWatchMs : configBackstopMs;
        },
        migrationBytesPerSec: opts.migrationBytesPerSec, migrationPacing: opts.migrationPacing, observer: this.metrics?.migration,
        migrationPacer: { windowBytesMax: opts.migrationWindowBytes ?? 0 },
      },
      sm, node, controller, this.groupRpc,
    );
    this.replicaController = ShardServer.controllerClient(opts, 5000);
    const rc = this.replicaController;
    const signal = this.watchAbort.signal;
    const intentWatched = (): boolean => opts.watchConfigs !== false && !this.intentWatchEnded;
    this.replicaDriver = new ReplicaDriver({
      clock: realClock, logger: opts.logger, name: `g${opts.gid} n${opts.id}`, address: (id) => peers.get(id),
      // Read at every wait: slow while the WatchIntent stream kicks the driver, fast once it ended.
      get idlePollMs() {
        return intentWatched() ? intentBackstopMs : intentPollMsDefault;
      },
      appliedConfIndex: (address) => raftMembers(address, confProbeMs, opts.security).then((r) => Number(r.confIndex) as LogIndex, () => undefined),
    }, node as RaftNode<unknown>, {
      pending: async () => (await rc.queryCluster(-1, { signal })).replicas.intents.get(opts.gid),
      progress: async (blocked) => void (await rc.replicaProgress(opts.gid, blocked, { signal })),
      done: async (members) => void (await rc.replicaDone(opts.gid, members, { signal, deadlineMs: replicaDoneDeadlineMs })),
    });
  }

  /** A client of the controllers with this server's failpoints and a `deadlineMs` per call. */
  private static controllerClient(opts: ShardServerOptions, deadlineMs: number): ControllerClient {
    return new ControllerClient({
      controllers: opts.controllers, security: opts.security, deadlineMs, attemptMs: 1000, clientOptions: (a) => failpointClientOptions(opts.failpoints, a),
    });
  }

  /**
   * What this replica is: its group, id, shard count and the cluster id it belongs to
   * (undefined until learned from the controllers). What an Identify call answers.
   */
  identity(): { gid: GroupId; nodeId: NodeId; shardCount: number; clusterId: string | undefined } {
    return { gid: this.opts.gid, nodeId: this.opts.id, shardCount: this.ident.shardCount!, clusterId: this.ident.clusterId };
  }

  /** Checks the controllers' cluster id (see verifyCluster), then starts learning configs. */
  private startDriver(): void {
    this.verifyCluster().then(
      (ok) => {
        if (!ok || this.stopping) return;
        this.driver.start();
        this.replicaDriver.start();
        if (this.opts.watchConfigs !== false) {
          this.watchConfigs();
          this.watchIntent();
        }
        if (this.opts.natsUrl !== undefined) this.subscribe(this.opts.natsUrl);
      },
      (e: Error) => {
        if (this.stopping) return;
        if (this.opts.onFatal) this.opts.onFatal(e);
        else throw e;
      },
    );
  }

  /**
   * Asks the controllers for their cluster id until one answers: records it when this
   * directory has none, rejects with a DataDirError naming both when it has another.
   * Controllers of an earlier version answer none: then nothing is checked (said once).
   * Resolves false when the server stopped first.
   */
  private async verifyCluster(): Promise<boolean> {
    const { gid, id, logger, controllers, dataDir } = this.opts;
    let waiting = false;
    while (!this.stopping) {
      let clusterId: string | undefined;
      try {
        clusterId = (await this.controller.queryCluster(-1)).clusterId;
      } catch (e) {
        // Whatever the controllers answer meanwhile (unreachable, no leader, overloaded), the
        // check waits for them: it is what the driver waits for anyway.
        if (this.stopping) return false;
        if (!waiting) {
          logger.info(`g${gid} n${id}: waiting for the controllers at ${controllers.join(",")} to check the cluster id ` +
            `(configs are learned once they answer; last: ${(e as Error).message})`);
        }
        waiting = true;
        if (!(e instanceof TimeoutError)) await new Promise<void>((r) => realClock.after(configPollNoWatchMs, r));
        continue;
      }
      if (clusterId === undefined) {
        logger.warn(`g${gid} n${id}: the controllers at ${controllers.join(",")} do not report a cluster id (an earlier version?); not checked`);
        return true;
      }
      this.ident = await recordClusterId(dataDir, this.ident, clusterId, `the cluster of the controllers at ${controllers.join(",")}`);
      if (waiting) logger.info(`g${gid} n${id}: controllers answered: cluster ${clusterId}`);
      return true;
    }
    return false;
  }

  /**
   * Feeds the driver every config from the one after the current one on, from the
   * controller's Watch stream (any controller replica; the client resumes after the last
   * config seen and reconnects with backoff). Configs are committed and immutable, so the
   * driver proposes them as they are; the slow query backstop covers a stream stuck on a
   * replica cut off from its group.
   */
  private watchConfigs(): void {
    const { gid, id, logger } = this.opts;
    const signal = this.watchAbort.signal;
    void (async () => {
      try {
        for await (const c of this.controller.watch(this.sm.core.config.num + 1, signal)) this.driver.offer(c);
      } catch (e) {
        if (!signal.aborted) logger.warn(`g${gid} n${id}: config watch ended (${(e as Error).message}); querying the controller every ${configPollNoWatchMs} ms`);
      } finally {
        this.watchEnded = true;
      }
    })();
  }

  /**
   * Kicks the replica driver at each update of the controller's WatchIntent stream for this
   * group (any controller replica; the client reconnects with backoff, and each new stream
   * starts with the intent as it stands). The driver then reads the intent linearizably, so
   * the stream only decides when; the driver's slow backstop covers a stream stuck on a
   * replica cut off from its group. Once the stream ends for good (a controller without
   * WatchIntent), the driver reads every intentPollMsDefault again.
   */
  private watchIntent(): void {
    const { gid, id, logger } = this.opts;
    const signal = this.watchAbort.signal;
    void (async () => {
      try {
        for await (const _ of this.replicaController.watchIntent(gid, signal)) this.replicaDriver.kick();
      } catch (e) {
        if (!signal.aborted) {
          logger.warn(`g${gid} n${id}: replica-change intent watch ended (${(e as Error).message}); reading the intent every ${intentPollMsDefault} ms`);
        }
      } finally {
        this.intentWatchEnded = true;
        this.replicaDriver.kick();
      }
    })();
  }

  /** Subscribes to config pushes in the background; each one runs the driver at once. */
  private subscribe(url: string): void {
    const { gid, id, logger } = this.opts;
    connect({
      servers: url, reconnect: true, maxReconnectAttempts: -1, waitOnFirstConnect: true, name: `shardkv-server g${gid}`,
      ...natsTls(url, this.opts.security.source?.files),
    }).then(
      (nc) => {
        if (this.stopping) {
          void nc.close();
          return;
        }
        this.nats = nc;
        nc.subscribe(configSubject, { callback: () => this.driver.kick() });
        logger.info(`g${gid} n${id}: NATS: subscribed to ${configSubject} at ${nc.getServer()}`);
      },
      (e) => logger.warn(`g${gid} n${id}: NATS at ${url} unavailable (${(e as Error).message}); polling only`),
    );
  }

  static async start(opts: ShardServerOptions): Promise<ShardServer> {
    const { logger } = opts;
    assert(opts.peers.has(opts.id), `peers must include this replica ${opts.id}`);
    if (opts.controllers.length === 0) throw new InvalidArgumentError("controllers", "at least one controller address is needed");
    // First thing: is the data directory this replica's? (Nothing opened or waited for yet.)
    let identity = await claimDataDir(opts.dataDir, { kind: "shard-server", gid: opts.gid, nodeId: opts.id, shardCount: opts.shardCount }, probeLegacyDataDir);
    const controller = ShardServer.controllerClient(opts, 5000);
    if (identity.shardCount === undefined) {
      try {
        identity = await ShardServer.learnShardCount(opts, identity);
      } catch (e) {
        controller.close();
        throw e;
      }
    }
    const shardCount = identity.shardCount!;
    let sm: RocksShardStateMachine;
    try {
      sm = await RocksShardStateMachine.open(join(opts.dataDir, "state"), {
        gid: opts.gid, shardCount, dedupTtlMs: opts.dedupTtlMs ?? dedupTtlMsDefault, lengthCacheKeys: opts.lengthCacheKeys,
        onCorruption: corruptionStops(opts.onFatal), onWriteFailed: opts.onFatal,
      });
    } catch (e) {
      controller.close();
      throw e;
    }
    let storage: RocksLogStore | undefined;
    let transport: GrpcTransport | undefined;
    const grpcServer = new AuthorizedServer(raftGrpcServerOptions, { access: accessOf(opts.security), log: (msg, fields) => logger.warn(msg, fields) });
    try {
      storage = await RocksLogStore.open(join(opts.dataDir, "raft"));
      const tserver = new RaftTransportServer(grpcServer, { logger });
      let server: ShardServer | undefined;
      // Failpoints hook (docs/failpoints.md): identities when opts.failpoints is undefined.
      grpcServer.addService(shardKVService, failpointService(opts.failpoints, shardKVService, ShardServer.implementation(() => server)));
      addFailpointAdmin(grpcServer, opts.failpoints, (m) => logger.info(`g${opts.gid} n${opts.id}: ${m}`));
      addRaftMembersService(grpcServer, () => server?.raftMembers());
      addLeadershipService(grpcServer, () => server?.raftMembers().node, (m) => logger.info(`g${opts.gid} n${opts.id}: ${m}`));
      addReplicaAdmin(grpcServer, opts.failpoints, () => server?.raftNode(), (m) => logger.info(`g${opts.gid} n${opts.id}: ${m}`));
      const port = await listen(grpcServer, opts.listen, opts.security, logger);
      transport = new GrpcTransport(
        { group: opts.gid, self: opts.id, peers: opts.peers, security: opts.security, clock: realClock, rng: realRng, logger }, tserver,
      );
      const { node, attach, peers } = await startDaemonNode<ApplyResult>({
        group: opts.gid, id: opts.id, peers: opts.peers, join: opts.join, tickMs: opts.tickMs, quiesce: opts.quiesce,
        snapshotEveryEntries: opts.snapshotEveryEntries ?? shardSnapshotEveryEntries,
        failpoints: opts.failpoints, onFatal: opts.onFatal, transport, storage, logger, dataDir: opts.dataDir,
        ...(opts.metricsRegistry ? { metricsRegistry: opts.metricsRegistry } : {}),
      }, sm);
      server = new ShardServer(opts, grpcServer, tserver, sm, node, controller, port, identity, peers);
      const started = server;
      attach((ss) => started.onSoftState(ss));
      server.startDriver();
      logger.info(
        `shard server g${opts.gid} n${opts.id} listening on ${opts.listen} (port ${port}); ${shardCount} shards; ` +
        `config ${sm.core.config.num}, applied index ${sm.appliedIndex()}; peers ${[...peers].map(([i, a]) => `${i}=${a}`).join(",")}${opts.join ? " (joining)" : ""}`,
      );
      return server;
    } catch (e) {
      grpcServer.forceShutdown();
      await transport?.close();
      await storage?.close();
      await sm.close();
      controller.close();
      throw e;
    }
  }

  /**
   * A new data directory without --shards: asks the controllers for the shard count (saying
   * once what it waits for), up to shardCountWaitMs, and records it in the identity (with the
   * cluster id they answered). Gives up with one line naming the controllers.
   */
  private static async learnShardCount(opts: ShardServerOptions, identity: DataDirIdentity): Promise<DataDirIdentity> {
    const addrs = opts.controllers.join(",");
    opts.logger.info(`g${opts.gid} n${opts.id}: new data directory ${opts.dataDir} without --shards: waiting up to ${shardCountWaitMs / 1000} s for the controllers at ${addrs} to tell the shard count`);
    const client = ShardServer.controllerClient(opts, shardCountWaitMs);
    let answer: { config: { shards: readonly unknown[] }; clusterId: string | undefined };
    try {
      answer = await client.queryCluster(0);
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      throw new InvalidArgumentError("--shards", `not given, and no controller at ${addrs} answered within ${shardCountWaitMs / 1000} s to tell the shard count of new data directory ${opts.dataDir}; start the controllers or give --shards`);
    } finally {
      client.close();
    }
    const next = { ...identity, shardCount: answer.config.shards.length };
    if (answer.clusterId === undefined) {
      await writeIdentity(opts.dataDir, next);
      return next;
    }
    return recordClusterId(opts.dataDir, next, answer.clusterId, `the cluster of the controllers at ${addrs}`);
  }

  /** Whether config pushes from NATS are being received (false without --nats). */
  get configPushSubscribed(): boolean {
    return this.nats !== undefined;
  }

  /** The replica's RaftNode and its members' addresses (the RaftMembers service). */
  raftMembers(): { node: RaftNode<unknown>; peers: ReadonlyMap<NodeId, string> } {
    return { node: this.node as RaftNode<unknown>, peers: this.peers };
  }

  /** The replica's RaftNode (the test-only ReplicaAdmin service runs replica changes on it). */
  raftNode(): RaftNode<unknown> {
    return this.node as RaftNode<unknown>;
  }

  /** This replica's status (what the Status RPC answers). */
  async status(): Promise<shardkv.kv.StatusReply.$Properties> {
    const s = this.node.status();
    const stats = await this.sm.shardStats();
    const stateWire = {
      notOwned: shardPb.ShardState.SHARD_NOT_OWNED, serving: shardPb.ShardState.SHARD_SERVING,
      pulling: shardPb.ShardState.SHARD_PULLING, handoff: shardPb.ShardState.SHARD_HANDOFF, gc: shardPb.ShardState.SHARD_GC,
      held: shardPb.ShardState.SHARD_HELD,
    } as const;
    return {
      gid: this.opts.gid,
      id: this.opts.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      leaderAddress: this.peers.get(s.leader) ?? "",
      configNum: this.sm.core.config.num,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      shards: stats.map((st) => ({
        shard: st.shard, state: stateWire[st.state], configNum: st.configNum, keys: st.keys, bytes: st.bytes, dedupClients: st.dedupClients,
      })),
      members: raftMembersToWire(this.node.memberStatuses(), this.peers),
      confIndex: this.node.confIndex(),
      ...(await this.statusSource.fields(this.node)),
    };
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
   * (RaftNode.leaderContactProblem), and the newest config it learned from the controllers
   * applied (during a reconfiguration that is briefly not so).
   */
  readinessProblem(): string | undefined {
    const problem = this.healthProblem() ?? this.node.leaderContactProblem();
    if (problem !== undefined) return problem;
    const applied = this.sm.core.config.num;
    const newest = this.driver.newestConfigNum();
    return applied < newest ? `config ${applied} applied, config ${newest} known from the controllers` : undefined;
  }

  /**
   * Who this replica is (what the Identify RPC answers, leader or not): the controller's join
   * check asks it of every server of a group before the group joins.
   */
  identify(): shardkv.kv.IdentifyReply.$Properties {
    return {
      gid: this.opts.gid,
      id: this.opts.id,
      shardCount: this.sm.core.shardCount,
      // The cluster of this replica's data directory ("" until it has learned one): the
      // controller's join check compares it with its own.
      clusterId: this.ident.clusterId ?? "",
      hasData: this.sm.hasData(),
    };
  }

  /**
   * Graceful stop: stops the migration driver, stops accepting Raft traffic, stops the
   * RaftNode (pending proposals fail with Stopped), shuts gRPC down, closes RocksDB.
   * From the first moment of the stop, no handler acknowledges anything. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.nats?.close().catch(() => undefined);
      this.watchAbort.abort();
      // The driver halts now, but its tasks may wait on a proposal: stopping the node fails
      // those (Stopped) before the driver is waited for (a proposal could otherwise wait
      // forever once the peers are gone, and the stop with it).
      const driverDone = this.driver.stop();
      const replicaDriverDone = this.replicaDriver.stop();
      // A leader hands leadership off while Raft still runs (bounded), so the group does not
      // wait an election timeout for a new leader.
      await handOffOnStop(this.node, this.opts.logger, `g${this.opts.gid} n${this.opts.id}`);
      this.tserver.close();
      for (const stop of [...this.batchStreams]) stop();
      await this.node.stop();
      await driverDone;
      await replicaDriverDone;
      this.replicaController.close();
      this.groupRpc.close();
      await shutdownGrpc(this.grpcServer, 2000);
      this.controller.close();
      await this.sm.close();
      this.metrics?.close();
      this.opts.logger.info(`shard server g${this.opts.gid} n${this.opts.id} stopped`);
    })();
    return this.stopping;
  }

  private onSoftState(ss: SoftState): void {
    const prev = this.soft;
    this.soft = ss;
    if (prev?.role !== ss.role || prev?.leader !== ss.leader || prev?.term !== ss.term) {
      this.opts.logger.info(`g${this.opts.gid} n${this.opts.id}: ${ss.role} in term ${ss.term}, leader ${ss.leader || "unknown"}`);
    }
    if (ss.role === "leader" && prev?.role !== "leader") this.replicaDriver.kick();
  }

  // ------------------------------------------------------------------ handlers

  private static implementation(server: () => ShardServer | undefined): ShardKVImplementation {
    const unary = <Req, Res>(type: ShardServiceType, fn: (s: ShardServer, req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
      (call, callback) => {
        const s = server();
        const run = s === undefined || s.stopping
          ? Promise.reject(new StoppedError("shard server"))
          : ServiceMetrics.track(s.metrics?.service, type, () => fn(s, call.request));
        run.then(
          // A server that is shutting down acknowledges nothing more.
          (res) => (s?.stopping ? callback(toServiceError(new StoppedError("shard server")), null) : callback(null, res)),
          (e) => callback(toServiceError(s ? s.describeFailure(e) : e), null),
        );
      };
    return {
      deleteShard: unary("delete_shard", (s, req: shardkv.kv.DeleteShardRequest) => s.deleteShard(req)),
      status: unary("status", (s) => s.status()),
      identify: unary("identify", async (s) => s.identify()),
      batch: (call) => {
        const s = server();
        if (s === undefined || s.stopping) {
          call.emit("error", toServiceError(new StoppedError("shard server")));
          return;
        }
        s.serveBatch(call);
      },
      pullShard: (call) => {
        const s = server();
        if (s === undefined || s.stopping) {
          call.emit("error", toServiceError(new StoppedError("shard server")));
          return;
        }
        void s.pullShard(call);
      },
    };
  }

  private serveBatch(call: Parameters<ShardKVImplementation["batch"]>[0]): void {
    // onClosed may run before serveGrpcBatch returns (a stream refused at once).
    let stop: (() => void) | undefined;
    let closed = false;
    stop = serveGrpcBatch(call, this.handlers, this.opts.failpoints, () => {
      closed = true;
      if (stop) this.batchStreams.delete(stop);
    });
    if (!closed) this.batchStreams.add(stop);
  }

  private describeFailure(e: unknown): unknown {
    if (!(e instanceof ShardKVError)) this.opts.logger.warn(`g${this.opts.gid} n${this.opts.id}: request failed: ${(e as Error)?.stack ?? e}`);
    return this.service.describeFailure(e);
  }

  private async deleteShard(req: shardkv.kv.DeleteShardRequest): Promise<shardkv.kv.DeleteShardReply.$Properties> {
    const configNum = uintField(req.configNum, "config_num") as ConfigNum;
    const shard = uintField(req.shard, "shard") as ShardId;
    await this.service.deleteShard(configNum, shard);
    return {};
  }

  /** Streams a frozen shard in chunks, respecting the stream's back-pressure. */
  private async pullShard(call: grpc.ServerWritableStream<shardkv.kv.PullShardRequest, shardkv.kv.ShardChunk.$Properties>): Promise<void> {
    let cancelled = false;
    call.on("cancelled", () => (cancelled = true));
    const op = this.metrics?.service.op("pull_shard");
    const t0 = op?.start() ?? 0;
    try {
      const req = call.request;
      const configNum = uintField(req.configNum, "config_num") as ConfigNum;
      const shard = uintField(req.shard, "shard") as ShardId;
      const afterKey = req.afterKeySet ? (req.afterKey ?? none) : undefined;
      // pullChunks starts reading only once the state on disk matches the core.
      const chunks = this.service.pullChunks(configNum, shard, afterKey, pullChunkBytes);
      for (let r = await chunks.next(); !r.done; r = await chunks.next()) {
        const chunk = r.value;
        if (cancelled || this.stopping) {
          await chunks.return(undefined);
          break;
        }
        const written = call.write(shardChunkToWire(chunk));
        this.metrics?.sent(chunkBytes(chunk));
        if (!written) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              call.off("drain", done);
              call.off("cancelled", done);
              resolve();
            };
            call.once("drain", done);
            call.once("cancelled", done);
          });
        }
      }
      if (this.stopping && !cancelled) throw new StoppedError("shard server");
      if (cancelled) op?.failed(t0, new AbortError("pull by its puller"));
      else {
        call.end();
        op?.ok(t0);
      }
    } catch (e) {
      op?.failed(t0, e);
      if (!cancelled) call.emit("error", toServiceError(this.describeFailure(e)));
    }
  }
}

function uintField(v: number | null | undefined, field: string): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(field, `must be a non-negative integer, got ${n}`);
  return n;
}

