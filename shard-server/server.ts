/**
 * One replica of a shard group (DESIGN.md §5): a RaftNode over a RocksDB log (dataDir/raft)
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
 * The migration driver runs on the leader only, every ~100 ms (MigrationDriver below):
 * learning the next config from the controller, pulling gained shards from their previous
 * owners chunk by chunk (one worker per shard, so a shard that arrives serves at once even if
 * another waits for a dead group), and telling previous owners to delete shards that arrived.
 * It never holds anything across an RPC that a pull handler needs: answering a pull only
 * reads this replica's applied state.
 */
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { assert } from "../common/assert";
import type { Cancel, Logger } from "../common/env";
import { InvalidArgumentError, NotLeaderError, ShardKVError, StoppedError } from "../common/errors";
import { fromServiceError, toServiceError } from "../common/grpc-errors";
import type { ConfigNum, GroupId, NodeId, ShardId } from "../common/ids";
import { realClock, realRng, wallClockMs } from "../common/real-env";
import { ControllerClient } from "../controller/client";
import { type Config, configSubject } from "../controller/config";
import { shardOf } from "../controller/shard-of";
import type { shardkv } from "../proto/gen/shardkv.js";
import type { SoftState } from "../raft/core/types";
import { connect, type NatsConnection } from "nats";
import { RaftNode } from "../raft/node";
import { RocksLogStore } from "../raft/storage/rocks-log-store";
import { GrpcTransport, RaftTransportServer, listen, raftGrpcServerOptions } from "../raft/transport/grpc-transport";
import { encodeCommand, opResultToWire, shardChunkFromWire, shardChunkToWire, shardPb, writeFromWire } from "./codec";
import { shardKVService, shardKVStub, type ShardKVImplementation, type ShardKVStub } from "./grpc-service";
import { type ApplyResult, RocksShardStateMachine, ShardNotReadyError } from "./rocks-state";
import type { ClientWrite, ShardOp } from "./types";

/** Request limits (issue 4): a key, a value, and a whole write request. */
export const keyBytesMax = 4 * 1024;
export const valueBytesMax = 1024 * 1024;
export const writeBytesMax = 1024 * 1024;
/** Key+value bytes per pulled chunk. */
export const pullChunkBytes = 1024 * 1024;
/** Migration driver period. */
export const driverPeriodMs = 100;
/** Default inactivity after which a client's duplicate records are forgotten (log time). */
export const dedupTtlMsDefault = 10 * 60 * 1000;
/** Default: snapshot and compact every this many applied entries. */
export const shardSnapshotEveryEntries = 10000;

export interface ShardServerOptions {
  readonly gid: GroupId;
  /** This replica's id, a key of `peers`. */
  readonly id: NodeId;
  /** Address to bind ("host:port"; port 0 picks one, see ShardServer.port). */
  readonly listen: string;
  /** Every replica of this group, this one included (also sent as leader addresses). */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Directory of this replica's data (raft/ and state/ below it). */
  readonly dataDir: string;
  /** Controller replica addresses. */
  readonly controllers: readonly string[];
  /** Shard count; default: the controller's (config 0). Must match the data directory. */
  readonly shardCount?: number;
  /** Milliseconds per Raft tick. Default 100. */
  readonly tickMs?: number;
  readonly dedupTtlMs?: number;
  readonly snapshotEveryEntries?: number;
  /**
   * NATS server URL: a config pushed on `shardkv.config` makes the leader look for the next
   * config at once instead of at its next poll. Only a hint: polling stays the source of
   * truth, and an absent or unreachable NATS changes nothing else.
   */
  readonly natsUrl?: string;
  /** How often the leader polls the controller for the next config. Default driverPeriodMs. */
  readonly pollMs?: number;
  readonly logger: Logger;
  /** Called when the Raft loop dies. Default: rethrow (crash). */
  readonly onFatal?: (e: Error) => void;
}

const none = new Uint8Array(0);

export class ShardServer {
  private stopping: Promise<void> | undefined;
  private soft: SoftState | undefined;
  private readonly driver: MigrationDriver;

  private constructor(
    private readonly opts: ShardServerOptions,
    private readonly grpcServer: grpc.Server,
    private readonly tserver: RaftTransportServer,
    private readonly sm: RocksShardStateMachine,
    private readonly node: RaftNode<ApplyResult>,
    private readonly controller: ControllerClient,
    /** The port the server is bound to. */
    readonly port: number,
  ) {
    this.driver = new MigrationDriver(opts, sm, node, controller);
  }

  static async start(opts: ShardServerOptions): Promise<ShardServer> {
    const { logger } = opts;
    assert(opts.peers.has(opts.id), `peers must include this replica ${opts.id}`);
    if (opts.controllers.length === 0) throw new InvalidArgumentError("controllers", "at least one controller address is needed");
    const controller = new ControllerClient({ controllers: opts.controllers, deadlineMs: 5000, attemptMs: 1000 });
    let shardCount = opts.shardCount;
    if (shardCount === undefined) {
      // Wait for the controller group (it may be starting too).
      for (let attempt = 0; ; attempt++) {
        try {
          shardCount = (await controller.query(0)).shards.length;
          break;
        } catch (e) {
          if (e instanceof InvalidArgumentError || attempt >= 11) {
            controller.close();
            throw e;
          }
          logger.warn(`group ${opts.gid}: cannot get the shard count from the controllers yet: ${(e as Error).message}`);
        }
      }
    }
    let sm: RocksShardStateMachine;
    try {
      sm = await RocksShardStateMachine.open(join(opts.dataDir, "state"), {
        gid: opts.gid, shardCount, dedupTtlMs: opts.dedupTtlMs ?? dedupTtlMsDefault,
      });
    } catch (e) {
      controller.close();
      throw e;
    }
    let storage: RocksLogStore | undefined;
    let transport: GrpcTransport | undefined;
    const grpcServer = new grpc.Server(raftGrpcServerOptions);
    try {
      storage = await RocksLogStore.open(join(opts.dataDir, "raft"));
      const tserver = new RaftTransportServer(grpcServer, { logger });
      let server: ShardServer | undefined;
      grpcServer.addService(shardKVService, ShardServer.implementation(() => server));
      const port = await listen(grpcServer, opts.listen);
      transport = new GrpcTransport(
        { group: opts.gid, self: opts.id, peers: opts.peers, clock: realClock, rng: realRng, logger }, tserver,
      );
      let soft: SoftState | undefined;
      const onSoftState = (ss: SoftState): void => {
        if (server) server.onSoftState(ss);
        else soft = ss;
      };
      const snapshotEvery = opts.snapshotEveryEntries ?? shardSnapshotEveryEntries;
      const node = await RaftNode.start<ApplyResult>(
        {
          group: opts.gid,
          raft: { id: opts.id, voters: [...opts.peers.keys()].sort((a, b) => a - b) },
          tickMs: opts.tickMs ?? 100,
          snapshotEveryEntries: snapshotEvery,
          compactKeepEntries: Math.max(1, Math.floor(snapshotEvery / 5)),
          onReady: (rd) => {
            if (rd.softState) onSoftState(rd.softState);
          },
          onFatal: opts.onFatal,
        },
        { clock: realClock, rng: realRng, transport, storage, logger },
        sm,
      );
      server = new ShardServer(opts, grpcServer, tserver, sm, node, controller, port);
      server.onSoftState(soft ?? node.softState());
      server.driver.start();
      logger.info(
        `shard server g${opts.gid} n${opts.id} listening on ${opts.listen} (port ${port}); ${shardCount} shards; ` +
        `config ${sm.core.config.num}, applied index ${sm.appliedIndex()}; peers ${[...opts.peers].map(([i, a]) => `${i}=${a}`).join(",")}`,
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

  /** Whether config pushes from NATS are being received (false without --nats). */
  get configPushSubscribed(): boolean {
    return this.driver.subscribed;
  }

  /** This replica's status (what the Status RPC answers). */
  async status(): Promise<shardkv.kv.StatusReply.$Properties> {
    const s = this.node.status();
    const stats = await this.sm.shardStats();
    const stateWire = {
      notOwned: shardPb.ShardState.SHARD_NOT_OWNED, serving: shardPb.ShardState.SHARD_SERVING,
      pulling: shardPb.ShardState.SHARD_PULLING, handoff: shardPb.ShardState.SHARD_HANDOFF, gc: shardPb.ShardState.SHARD_GC,
    } as const;
    return {
      gid: this.opts.gid,
      id: this.opts.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      leaderAddress: this.opts.peers.get(s.leader) ?? "",
      configNum: this.sm.core.config.num,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      shards: stats.map((st) => ({
        shard: st.shard, state: stateWire[st.state], configNum: st.configNum, keys: st.keys, bytes: st.bytes, dedupClients: st.dedupClients,
      })),
    };
  }

  /**
   * Graceful stop: stops the migration driver, stops accepting Raft traffic, stops the
   * RaftNode (pending proposals fail with Stopped), shuts gRPC down, closes RocksDB.
   * From the first moment of the stop, no handler acknowledges anything. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.driver.stop();
      this.tserver.close();
      await this.node.stop();
      await shutdownGrpc(this.grpcServer, 2000);
      this.controller.close();
      await this.sm.close();
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
  }

  // ------------------------------------------------------------------ handlers

  private static implementation(server: () => ShardServer | undefined): ShardKVImplementation {
    const unary = <Req, Res>(fn: (s: ShardServer, req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
      (call, callback) => {
        const s = server();
        const run = s === undefined || s.stopping ? Promise.reject(new StoppedError("shard server")) : fn(s, call.request);
        run.then(
          // A server that is shutting down acknowledges nothing more.
          (res) => (s?.stopping ? callback(toServiceError(new StoppedError("shard server")), null) : callback(null, res)),
          (e) => callback(toServiceError(s ? s.describeFailure(e) : e), null),
        );
      };
    return {
      get: unary((s, req: shardkv.kv.GetRequest) => s.get(req)),
      write: unary((s, req: shardkv.kv.WriteRequest) => s.write(req)),
      deleteShard: unary((s, req: shardkv.kv.DeleteShardRequest) => s.deleteShard(req)),
      status: unary((s) => s.status()),
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

  private describeFailure(e: unknown): unknown {
    if (e instanceof NotLeaderError && !e.leaderAddress) return new NotLeaderError(e.leaderHint, this.opts.peers.get(e.leaderHint));
    if (!(e instanceof ShardKVError)) this.opts.logger.warn(`g${this.opts.gid} n${this.opts.id}: request failed: ${(e as Error)?.stack ?? e}`);
    return e;
  }

  private requireLeader(): void {
    const ss = this.node.softState();
    if (ss.role !== "leader") throw new NotLeaderError(ss.leader, this.opts.peers.get(ss.leader));
  }

  private get shardCount(): number {
    return this.sm.core.shardCount;
  }

  private async get(req: shardkv.kv.GetRequest): Promise<shardkv.kv.GetReply.$Properties> {
    const key = req.key ?? none;
    if (key.length > keyBytesMax) throw new InvalidArgumentError("key", `key of ${key.length} bytes exceeds the key limit of ${keyBytesMax} bytes`);
    this.requireLeader();
    await this.node.readBarrier();
    const v = await this.sm.get(shardOf(key, this.shardCount), key);
    return v === undefined ? { found: false, value: none } : { found: true, value: v };
  }

  private async write(req: shardkv.kv.WriteRequest): Promise<shardkv.kv.WriteReply.$Properties> {
    const w = writeFromWire(req);
    validateWrite(w, this.shardCount);
    this.requireLeader();
    const r = await this.propose({ kind: "write", write: w });
    if (r === null || r.kind !== "write") throw new InvalidArgumentError("write", `unexpected apply result ${JSON.stringify(r)}`);
    if (!r.outcome.ok) throw r.outcome.error;
    return { results: r.outcome.results.map(opResultToWire) };
  }

  private async deleteShard(req: shardkv.kv.DeleteShardRequest): Promise<shardkv.kv.DeleteShardReply.$Properties> {
    const configNum = uintField(req.configNum, "config_num") as ConfigNum;
    const shard = uintField(req.shard, "shard") as ShardId;
    if (configNum < 1) throw new InvalidArgumentError("config_num", "must be >= 1");
    if (shard >= this.shardCount) throw new InvalidArgumentError("shard", `must be in [0, ${this.shardCount}), got ${shard}`);
    this.requireLeader();
    const r = await this.propose({ kind: "deleteShard", configNum, shard });
    if (r === null || r.kind !== "deleteShard") throw new InvalidArgumentError("delete_shard", `unexpected apply result ${JSON.stringify(r)}`);
    if (r.result === "notReady") throw new ShardNotReadyError(shard, configNum, this.sm.core.config.num);
    return {};
  }

  private propose(op: ShardOp): Promise<ApplyResult> {
    return this.node.propose(encodeCommand({ timestampMs: wallClockMs(), op }));
  }

  /** Streams a frozen shard in chunks, respecting the stream's back-pressure. */
  private async pullShard(call: grpc.ServerWritableStream<shardkv.kv.PullShardRequest, shardkv.kv.ShardChunk.$Properties>): Promise<void> {
    let cancelled = false;
    call.on("cancelled", () => (cancelled = true));
    try {
      const req = call.request;
      const configNum = uintField(req.configNum, "config_num") as ConfigNum;
      const shard = uintField(req.shard, "shard") as ShardId;
      const afterKey = req.afterKeySet ? (req.afterKey ?? none) : undefined;
      // pullChunks starts reading only once the state on disk matches the core.
      const chunks = this.sm.pullChunks(configNum, shard, afterKey, pullChunkBytes);
      for (let r = await chunks.next(); !r.done; r = await chunks.next()) {
        const chunk = r.value;
        if (cancelled || this.stopping) {
          await chunks.return(undefined);
          break;
        }
        if (!call.write(shardChunkToWire(chunk))) {
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
      if (!cancelled) call.end();
    } catch (e) {
      if (!cancelled) call.emit("error", toServiceError(this.describeFailure(e)));
    }
  }
}

function uintField(v: number | null | undefined, field: string): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(field, `must be a non-negative integer, got ${n}`);
  return n;
}

/** Size limits and key-to-shard of a write, at the edge (nothing is proposed on failure). */
export function validateWrite(w: ClientWrite, shardCount: number): void {
  if (w.shard >= shardCount) throw new InvalidArgumentError("shard", `must be in [0, ${shardCount}), got ${w.shard}`);
  let total = 0;
  for (const op of w.ops) {
    if (op.key.length > keyBytesMax) throw new InvalidArgumentError("key", `key of ${op.key.length} bytes exceeds the key limit of ${keyBytesMax} bytes`);
    if (op.value.length > valueBytesMax) throw new InvalidArgumentError("value", `value of ${op.value.length} bytes exceeds the value limit of ${valueBytesMax} bytes`);
    const exp = op.expected?.length ?? 0;
    if (exp > valueBytesMax) throw new InvalidArgumentError("expected", `expected value of ${exp} bytes exceeds the value limit of ${valueBytesMax} bytes`);
    total += op.key.length + op.value.length + exp;
    const s = shardOf(op.key, shardCount);
    if (s !== w.shard) throw new InvalidArgumentError("ops.key", `key of shard ${s} in a request for shard ${w.shard}`);
  }
  if (total > writeBytesMax) throw new InvalidArgumentError("ops", `batch of ${total} bytes exceeds the batch limit of ${writeBytesMax} bytes`);
}

// ------------------------------------------------------------------ migration driver

/**
 * Runs on the leader only (checked at each step): every driverPeriodMs it (a) proposes the
 * next config when the group is settled, (b) starts a pull worker per pulling shard, (c) a gc
 * worker per shard waiting for its previous owner's delete acknowledgement. Workers are
 * independent, so one dead group only holds up its own shards. All state decisions are made
 * by the log (stale or duplicate proposals are ignored when applied).
 */
class MigrationDriver {
  private stopped = false;
  private timer: Cancel | undefined;
  private configBusy = false;
  private readonly pulls = new Set<ShardId>();
  private readonly gcs = new Set<ShardId>();
  private readonly streams = new Set<grpc.ClientReadableStream<unknown>>();
  private readonly stubs = new Map<string, ShardKVStub>();
  /** Configs are immutable: cached by num. */
  private readonly configs = new Map<number, Config>();
  /** The leader address last seen per group. */
  private readonly leaders = new Map<GroupId, string>();
  private readonly lastWarn = new Map<string, string>();
  private lastGcWait = "";
  private readonly tasks = new Set<Promise<void>>();

  constructor(
    private readonly opts: ShardServerOptions,
    private readonly sm: RocksShardStateMachine,
    private readonly node: RaftNode<ApplyResult>,
    private readonly controller: ControllerClient,
  ) {}

  start(): void {
    this.schedule();
    if (this.opts.natsUrl !== undefined) this.subscribe(this.opts.natsUrl);
  }

  private nats: NatsConnection | undefined;

  /** Subscribes to config pushes in the background; each one runs the driver at once. */
  private subscribe(url: string): void {
    connect({ servers: url, reconnect: true, maxReconnectAttempts: -1, waitOnFirstConnect: true, name: `shardkv-server g${this.opts.gid}` }).then(
      (nc) => {
        if (this.stopped) {
          void nc.close();
          return;
        }
        this.nats = nc;
        nc.subscribe(configSubject, { callback: () => this.kick() });
        this.opts.logger.info(`g${this.opts.gid} n${this.opts.id}: NATS: subscribed to ${configSubject} at ${nc.getServer()}`);
      },
      (e) => this.opts.logger.warn(`g${this.opts.gid} n${this.opts.id}: NATS at ${url} unavailable (${(e as Error).message}); polling only`),
    );
  }

  /** Whether the NATS subscription to config pushes is in place. */
  get subscribed(): boolean {
    return this.nats !== undefined;
  }

  /** A pushed config: look for the next config now (the poll would in at most driverPeriodMs). */
  private kick(): void {
    if (!this.stopped) this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.();
    await this.nats?.close().catch(() => undefined);
    for (const s of this.streams) s.cancel();
    await Promise.all([...this.tasks]);
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = realClock.after(this.opts.pollMs ?? driverPeriodMs, () => {
      this.tick();
      this.schedule();
    });
  }

  private isLeader(): boolean {
    return !this.stopped && this.node.softState().role === "leader";
  }

  private spawn(name: string, fn: () => Promise<void>, done: () => void): void {
    const p = fn().then(
      () => {
        this.lastWarn.delete(name);
      },
      (e) => this.warn(name, e),
    ).finally(() => {
      done();
      this.tasks.delete(p);
    });
    this.tasks.add(p);
  }

  private warn(name: string, e: unknown): void {
    if (this.stopped) return;
    const msg = (e as Error)?.message ?? String(e);
    if (this.lastWarn.get(name) === msg) return;
    this.lastWarn.set(name, msg);
    const log = e instanceof NotLeaderError || e instanceof StoppedError ? this.opts.logger.debug : this.opts.logger.warn;
    log(`g${this.opts.gid} n${this.opts.id}: ${name}: ${msg}`);
  }

  private tick(): void {
    if (!this.isLeader()) return;
    const core = this.sm.core;
    if (!this.configBusy && core.settled()) {
      this.configBusy = true;
      this.spawn("config", () => this.nextConfig(), () => (this.configBusy = false));
    }
    for (const m of core.allMetas()) {
      if (m.state === "pulling" && !this.pulls.has(m.shard)) {
        this.pulls.add(m.shard);
        this.spawn(`pull shard ${m.shard}`, () => this.pull(m.shard, m.configNum), () => this.pulls.delete(m.shard));
      }
      // Any state: a shard may be handed on (handoff) before its own gc ended.
      if (m.gcConfigNum !== 0 && !this.gcs.has(m.shard)) {
        this.gcs.add(m.shard);
        this.spawn(`gc shard ${m.shard}`, () => this.gc(m.shard, m.gcConfigNum), () => this.gcs.delete(m.shard));
      }
      // No config hands a shard to nobody: the controller refuses a Leave of every group
      // (controller/state-machine.ts validateOp), so a handoff always has a puller.
    }
  }

  private propose(op: ShardOp): Promise<ApplyResult> {
    return this.node.propose(encodeCommand({ timestampMs: wallClockMs(), op }));
  }

  private async configAt(num: number): Promise<Config> {
    const c = this.configs.get(num);
    if (c) return c;
    const q = await this.controller.query(num);
    if (q.num !== num) throw new InvalidArgumentError("config", `controller has no config ${num} (latest ${q.num})`);
    this.configs.set(num, q);
    return q;
  }

  /** (a) Proposes configs after the current one, one at a time, while the group stays settled. */
  private async nextConfig(): Promise<void> {
    while (this.isLeader() && this.sm.core.settled()) {
      const n = this.sm.core.config.num + 1;
      const c = this.configs.get(n) ?? await this.controller.query(n);
      if (c.num !== n) return; // no newer config yet
      this.configs.set(n, c);
      if (c.shards.length !== this.sm.core.shardCount) {
        throw new InvalidArgumentError("config", `config ${n} has ${c.shards.length} shards, this group ${this.sm.core.shardCount}`);
      }
      // A shard given away while its previous owner has not acknowledged deleting it would
      // lose that pending gc (the core's handoff -> notOwned drops gcConfigNum), leaving the
      // previous owner frozen in handoff forever: finish such gcs first.
      const waiting = this.sm.core.allMetas().filter((m) => m.gcConfigNum !== 0 && c.shards[m.shard] !== this.opts.gid);
      if (waiting.length > 0) {
        const msg = `config ${n} waits until the previous owners of shards ${waiting.map((m) => m.shard).join(",")} acknowledge deleting them`;
        if (msg !== this.lastGcWait) this.opts.logger.info(`g${this.opts.gid} n${this.opts.id}: ${msg}`);
        this.lastGcWait = msg;
        return;
      }
      const r = await this.propose({ kind: "reconfigure", config: c });
      if (r?.kind !== "reconfigure" || !r.accepted) return; // someone else's proposal won, or not settled
      this.opts.logger.info(`g${this.opts.gid} n${this.opts.id}: moved to config ${n}`);
    }
  }

  /**
   * Runs `call` against group `gid`'s servers: its last known leader first, then each server,
   * following NotLeader hints. Throws the last error when every server failed.
   */
  private async onGroup<T>(gid: GroupId, servers: readonly string[], call: (stub: ShardKVStub, address: string) => Promise<T>): Promise<T> {
    if (servers.length === 0) throw new InvalidArgumentError("config", `group ${gid} has no servers`);
    const order = [...new Set([this.leaders.get(gid), ...servers].filter((a): a is string => a !== undefined))];
    let last: unknown;
    for (let i = 0; i < order.length && !this.stopped; i++) {
      let target = order[i]!;
      for (let hops = 0; hops < 3; hops++) {
        try {
          const r = await call(this.stub(target), target);
          this.leaders.set(gid, target);
          return r;
        } catch (e) {
          const err = e instanceof ShardKVError ? e : fromServiceError(e);
          last = err;
          if (err instanceof NotLeaderError && err.leaderAddress && err.leaderAddress !== target) {
            target = err.leaderAddress;
            continue;
          }
          if (this.leaders.get(gid) === target) this.leaders.delete(gid);
          break;
        }
      }
    }
    throw last ?? new StoppedError("migration driver");
  }

  private stub(address: string): ShardKVStub {
    let s = this.stubs.get(address);
    if (!s) {
      s = shardKVStub(address);
      this.stubs.set(address, s);
    }
    return s;
  }

  /** (b) Pulls `shard` for config `configNum` from its previous owner, inserting chunk by chunk. */
  private async pull(shard: ShardId, configNum: ConfigNum): Promise<void> {
    const prev = await this.configAt(configNum - 1);
    const owner = prev.shards[shard]!;
    assert(owner !== 0 && owner !== this.opts.gid, () => `shard ${shard} pulling in config ${configNum} from gid ${owner}`);
    await this.onGroup(owner, prev.groups.get(owner) ?? [], (stub) => this.pullFrom(stub, shard, configNum));
  }

  /** One PullShard stream, resuming after the last key inserted; returns when the stream ends. */
  private async pullFrom(stub: ShardKVStub, shard: ShardId, configNum: ConfigNum): Promise<void> {
    const m = this.sm.core.meta(shard);
    if (m.state !== "pulling" || m.configNum !== configNum || !this.isLeader()) return;
    const after = m.pulledAfterKey;
    const stream = stub.pullShard(
      { configNum, shard, afterKey: after ?? none, afterKeySet: after !== undefined },
      { deadline: new Date(wallClockMs() + 120_000) },
    );
    stream.on("error", () => {}); // surfaced by the iterator; cancel() below ends it with CANCELLED
    this.streams.add(stream);
    try {
      for await (const w of stream as AsyncIterable<shardkv.kv.ShardChunk>) {
        const chunk = shardChunkFromWire(w);
        if (chunk.configNum !== configNum || chunk.shard !== shard) {
          throw new InvalidArgumentError("chunk", `got shard ${chunk.shard} config ${chunk.configNum}, asked ${shard} config ${configNum}`);
        }
        if (!this.isLeader()) throw new NotLeaderError(this.node.softState().leader);
        const r = await this.propose({ kind: "insert", chunk });
        // Not accepted: an older leader's insert overtook us (or the shard moved on); the next
        // tick resumes from the stored point.
        if (r?.kind !== "insert" || !r.accepted || chunk.last) {
          if (chunk.last && r?.kind === "insert" && r.accepted) {
            this.opts.logger.info(`g${this.opts.gid} n${this.opts.id}: shard ${shard} received for config ${configNum}`);
          }
          return;
        }
      }
      throw new StoppedError("pull stream ended without its last chunk");
    } catch (e) {
      throw e instanceof ShardKVError ? e : fromServiceError(e);
    } finally {
      this.streams.delete(stream);
      stream.cancel();
    }
  }

  /** (c) Asks `shard`'s previous owner (config gcConfigNum - 1) to delete it, then leaves gc. */
  private async gc(shard: ShardId, gcConfigNum: ConfigNum): Promise<void> {
    const prev = await this.configAt(gcConfigNum - 1);
    const owner = prev.shards[shard]!;
    if (owner !== 0 && owner !== this.opts.gid) {
      await this.onGroup(owner, prev.groups.get(owner) ?? [], (stub) => new Promise<void>((resolve, reject) => {
        stub.deleteShard({ configNum: gcConfigNum, shard }, new grpc.Metadata(), { deadline: new Date(wallClockMs() + 5000) }, (err) => {
          if (err) reject(fromServiceError(err));
          else resolve();
        });
      }));
    }
    if (!this.isLeader()) throw new NotLeaderError(this.node.softState().leader);
    const r = await this.propose({ kind: "gcDone", configNum: gcConfigNum, shard });
    if (r?.kind === "gcDone" && r.accepted) this.opts.logger.info(`g${this.opts.gid} n${this.opts.id}: shard ${shard} deleted by its previous owner (config ${gcConfigNum})`);
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

