/**
 * The migration driver of a shard group (docs/design.md#52-a-reconfiguration-step-by-step), independent of the transport: the
 * daemon runs it with the controller's gRPC client and shard-server/grpc-group-rpc.ts, the
 * simulator (test/sim/shard-run.ts) with a controller group and RPCs over its simulated
 * network.
 *
 * Runs on the leader only (checked at each step): every `pollMs` it (a) proposes the next
 * config when the group is settled (configs come from `offer` (the controller's Watch
 * stream), a `kick` (a NATS push), or a query to the controller at most every
 * `configPollMs`), (b) starts a pull worker per pulling shard, (c) a gc worker
 * per shard waiting for its previous owner's delete acknowledgement. Workers are independent,
 * so one dead group only holds up its own shards. All state decisions are made by the log
 * (stale or duplicate proposals are ignored when applied). It never holds anything across an
 * RPC that a pull handler needs: answering a pull only reads the replica's applied state.
 */
import { assert } from "../common/assert";
import { buggify, buggifyAmount } from "../common/buggify";
import type { Cancel, Clock, Logger } from "../common/env";
import { InvalidArgumentError, NotLeaderError, ShardKVError, StoppedError, UnreachableError } from "../common/errors";
import type { ConfigNum, GroupId, NodeId, ShardId } from "../common/ids";
import { type Config, abortedJoinCovering } from "../controller/config";
import type { ApplyResult } from "./apply";
import { chunkBytes, positionAfter } from "./chunks";
import { MigrationPacer, type PacerOptions } from "./migration-pacer";
import { proposeOp, type ShardNode } from "./service";
import { type ShardGroupCore, takenFromAbortedJoin } from "./state-machine";
import type { PullPosition, ShardChunkIn, ShardOp } from "./types";

/** Default migration driver period. */
export const driverPeriodMs = 100;

/** Where the driver learns configs (the controller group). */
export interface ConfigSource {
  /** Config `num` (-1: the latest); a config with a lower num when `num` does not exist yet. */
  query(num: number): Promise<Config>;
  /**
   * Acknowledges this group's join in config `joinNum` (controller AckJoin); resolves with 0,
   * or with the config that aborted the join. Absent: joins are not acknowledged (a
   * controller that does not track pending joins).
   */
  ackJoin?(gid: GroupId, joinNum: ConfigNum): Promise<number>;
}

export interface PullRequest {
  readonly configNum: ConfigNum;
  readonly shard: ShardId;
  /** Resume after this key; undefined: from the first key. */
  readonly afterKey: Uint8Array | undefined;
}

/** One PullShard stream; `cancel` ends it (the iterator then throws or ends). */
export interface PullStream extends AsyncIterable<ShardChunkIn> {
  cancel(): void;
}

/**
 * Calls to other groups' replicas. Failures are common/errors types (NotLeaderError with the
 * leader's address when known, TimeoutError, StoppedError for "not ready yet", ...).
 */
export interface GroupRpc {
  pullShard(address: string, req: PullRequest): PullStream;
  deleteShard(address: string, configNum: ConfigNum, shard: ShardId): Promise<void>;
}

/** What the driver needs of the state machine. */
export interface DriverStateView {
  readonly core: ShardGroupCore;
}

export interface MigrationDriverOptions {
  readonly gid: GroupId;
  /** This replica (for log lines). */
  readonly id: NodeId;
  readonly logger: Logger;
  /** Period of the driver loop. Default driverPeriodMs. */
  readonly pollMs?: number;
  /**
   * How often the leader queries the controller for the next config when none was offered
   * or pushed. Default: at every run of the loop (pollMs). A daemon fed by the controller's
   * Watch stream sets it to a slow backstop (each query is a ReadIndex round on the
   * controller group).
   */
  readonly configPollMs?: number;
  /**
   * Cap on the key+value bytes of pulled chunks inserted per second, over all the shards
   * this leader pulls (0 or undefined: none). Chunks are spaced so the average stays under it.
   */
  readonly migrationBytesPerSec?: number;
  /**
   * Pace the inserts by the group's load (migration-pacer.ts: by the latency of the foreground
   * requests, told by observeForeground), under the cap. Default true; false: only the cap paces.
   */
  readonly migrationPacing?: boolean;
  /** The pacer's other parameters (the simulator scales them to its small shards); default pacerDefaults. */
  readonly migrationPacer?: Partial<PacerOptions>;
  /** Timers, polling periods and the pacer's measurements (monotonic). */
  readonly clock: Clock;
  /** The timestamps of proposed commands (log time: log-clock.ts in the daemon). */
  readonly logClock: Clock;
  /** Told of the pulled chunks (the daemon's metrics, shard-server/shard-metrics.ts); absent: nothing is. */
  readonly observer?: MigrationObserver;
}

/** What the driver reports of the chunks it pulls (each measured by chunkBytes). */
export interface MigrationObserver {
  /** A chunk of `bytes` arrived from the previous owner; it is in flight until settled. */
  received(bytes: number): void;
  /** The chunk's insert settled: applied (`inserted`), or refused, failed or abandoned. */
  settled(bytes: number, inserted: boolean): void;
  /** The pace after an insert, in bytes per second (Infinity: none). */
  paced?(bytesPerSec: number): void;
}

export class MigrationDriver {
  private stopped = false;
  private timer: Cancel | undefined;
  private configBusy = false;
  private readonly pulls = new Set<ShardId>();
  private readonly gcs = new Set<ShardId>();
  private readonly streams = new Set<PullStream>();
  /** Configs are immutable: cached by num. */
  private readonly configs = new Map<number, Config>();
  /** The leader address last seen per group. */
  private readonly leaders = new Map<GroupId, string>();
  private readonly lastWarn = new Map<string, string>();
  private lastGcWait = "";
  private readonly tasks = new Set<Promise<void>>();
  /** When the controller was last queried for a config (clock ms). */
  private lastQueryAt = -Infinity;
  /** A push arrived: query the controller at the next chance. */
  private kicked = false;
  /** Set while nextConfig waits on a query: takes an offered config instead of waiting on. */
  private offerWaiter: ((c: Config) => void) | undefined;
  /** Migration pacing: when each chunk may be inserted. */
  private readonly pacer: MigrationPacer;
  /** Pull workers waiting for their pacing slot (woken by stop). */
  private readonly pacing = new Set<() => void>();
  private abortCheckBusy = false;
  /** The highest config number learned from the controllers (offered or queried); 0: none. */
  private newestSeen = 0;
  /** When the controller was last asked whether a handoff's new owner was aborted (clock ms). */
  private lastAbortCheckAt = -Infinity;
  /** The last aborted-joins check: the config it read, and this group's config then. */
  private abortChecked = { newest: 0, own: -1 };

  constructor(
    private readonly opts: MigrationDriverOptions,
    private readonly sm: DriverStateView,
    private readonly node: ShardNode,
    private readonly configSource: ConfigSource,
    private readonly rpc: GroupRpc,
  ) {
    this.pacer = new MigrationPacer({ ...opts.migrationPacer, capBytesPerSec: opts.migrationBytesPerSec ?? 0, adaptive: opts.migrationPacing ?? true });
  }

  start(): void {
    this.schedule();
  }

  /** A pushed config (NATS): look for the next config now (the poll would within configPollMs). */
  kick(): void {
    this.kicked = true;
    if (!this.stopped) this.tick();
  }

  /** A committed config (from the controller's Watch): cached, and proposed when its turn comes. */
  offer(c: Config): void {
    this.seen(c);
    if (!this.configs.has(c.num)) this.configs.set(c.num, c);
    this.offerWaiter?.(c);
    if (!this.stopped) this.tick();
  }

  /**
   * The highest config number this replica learned from the controllers (by the Watch stream
   * or a query; 0 before any): readiness wants the group to have applied it.
   */
  newestConfigNum(): number {
    return this.newestSeen;
  }

  private seen(c: Config): Config {
    if (c.num > this.newestSeen) this.newestSeen = c.num;
    return c;
  }

  /** Stops the loop, cancels open pulls and waits for the workers to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.();
    for (const s of this.streams) s.cancel();
    for (const wake of [...this.pacing]) wake();
    await Promise.all([...this.tasks]);
  }

  /** Stops at once without waiting (a crashed process in the simulator). */
  halt(): void {
    this.stopped = true;
    this.timer?.();
    for (const s of this.streams) s.cancel();
    for (const wake of [...this.pacing]) wake();
  }

  private get tag(): string {
    return `g${this.opts.gid} n${this.opts.id}`;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.after(this.opts.pollMs ?? driverPeriodMs, () => {
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
    const quiet = e instanceof NotLeaderError || e instanceof StoppedError || e instanceof UnreachableError;
    const log = quiet ? this.opts.logger.debug : this.opts.logger.warn;
    log(`${this.tag}: ${name}: ${msg}`);
  }

  private tick(): void {
    if (!this.isLeader() || buggify("migration.tick.skip")) return;
    const core = this.sm.core;
    const every = this.opts.configPollMs;
    const due = every === undefined || this.kicked || this.configs.has(core.config.num + 1) || this.opts.clock.nowMs() - this.lastQueryAt >= every;
    if (!this.configBusy && core.settled() && due) {
      this.kicked = false;
      this.configBusy = true;
      this.spawn("config", () => this.nextConfig(), () => (this.configBusy = false));
    }
    // Only the shards in migration (kept by the state machine): an idle leader's tick does
    // not walk every shard.
    const migrating = core.migratingMetas();
    const abortEvery = every ?? this.opts.pollMs ?? driverPeriodMs;
    if (!this.abortCheckBusy && migrating.some((m) => m.state === "handoff")) {
      // The newest config offered (the Watch offers every config, cached even while this group
      // cannot move on) is checked at once, without a query, when it or this group's config
      // (hence its handoffs) changed since the last check: aborts are cumulative
      // (controller/config.ts nextConfig), so the newest config holds every one. The
      // controller is also queried every abortEvery (no Watch, or a stuck one).
      const newest = this.configs.get(this.newestSeen);
      const unchecked = newest !== undefined && (newest.num > this.abortChecked.newest || core.config.num !== this.abortChecked.own);
      const offered = unchecked && !buggify("migration.abort-check.late") ? newest : undefined;
      if (offered !== undefined || this.opts.clock.nowMs() - this.lastAbortCheckAt >= abortEvery) {
        this.abortCheckBusy = true;
        if (offered === undefined) this.lastAbortCheckAt = this.opts.clock.nowMs();
        this.spawn("aborted joins", () => this.abortHandoffs(offered), () => (this.abortCheckBusy = false));
      }
    }
    for (const m of migrating) {
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
    return proposeOp(this.node, this.opts.logClock, op);
  }

  private async configAt(num: number): Promise<Config> {
    const c = this.configs.get(num);
    if (c) return c;
    const q = this.seen(await this.configSource.query(num));
    if (q.num !== num) throw new InvalidArgumentError("config", `controller has no config ${num} (latest ${q.num})`);
    this.configs.set(num, q);
    return q;
  }

  /** (a) Proposes configs after the current one, one at a time, while the group stays settled. */
  private async nextConfig(): Promise<void> {
    while (this.isLeader() && this.sm.core.settled()) {
      const n = this.sm.core.config.num + 1;
      let c = this.configs.get(n);
      if (c === undefined) {
        this.lastQueryAt = this.opts.clock.nowMs();
        c = await this.queryOrOffer(n);
      }
      if (c.num !== n) return; // no newer config yet
      this.configs.set(n, c);
      if (c.shards.length !== this.sm.core.shardCount) {
        throw new InvalidArgumentError("config", `config ${n} has ${c.shards.length} shards, this group ${this.sm.core.shardCount}`);
      }
      // A shard given away while its previous owner has not acknowledged deleting it would
      // lose that pending gc (the core's handoff -> notOwned drops gcConfigNum), leaving the
      // previous owner frozen in handoff forever: finish such gcs first.
      const waiting = this.sm.core.migratingMetas().filter((m) => m.gcConfigNum !== 0 && c.shards[m.shard] !== this.opts.gid);
      if (waiting.length > 0) {
        const msg = `config ${n} waits until the previous owners of shards ${waiting.map((m) => m.shard).join(",")} acknowledge deleting them`;
        if (msg !== this.lastGcWait) this.opts.logger.info(`${this.tag}: ${msg}`);
        this.lastGcWait = msg;
        return;
      }
      let target = c;
      if (c.groups.has(this.opts.gid) && !this.sm.core.config.groups.has(this.opts.gid) && this.configSource.ackJoin) {
        // This group's join: acknowledged before anything is pulled for it. An aborted join
        // is skipped whole: the group goes to the config that aborted it, owning nothing.
        const abortedNum = await this.configSource.ackJoin(this.opts.gid, n as ConfigNum);
        if (abortedNum > 0) {
          this.opts.logger.warn(`${this.tag}: the join of config ${n} was aborted in config ${abortedNum}; skipping to it, owning nothing`);
          target = await this.configAt(abortedNum);
        }
      }
      const fresh = this.startingEmpty(target);
      const r = await this.propose({ kind: "reconfigure", config: target });
      if (r?.kind !== "reconfigure" || !r.accepted) return; // someone else's proposal won, or not settled
      this.opts.logger.info(`${this.tag}: moved to config ${target.num}`);
      if (fresh.length > 0) {
        this.opts.logger.info(`${this.tag}: shards ${fresh.join(",")} start here empty: config ${target.num} aborted the join of the group holding them, and nobody held them before it`);
      }
    }
  }

  /**
   * The shards config `next` gives this group from a group whose join it aborts and that
   * nobody held before that join (this group does not hold them frozen): they start empty.
   */
  private startingEmpty(next: Config): number[] {
    const core = this.sm.core;
    return next.shards.flatMap((g, s) =>
      g === this.opts.gid && core.config.shards[s] !== g && takenFromAbortedJoin(core.config, next, s as ShardId) && !core.meta(s as ShardId).held ? [s] : []);
  }

  /**
   * Ends the handoffs whose new owner's join was aborted (read from the latest config): each
   * through this group's log, so every replica agrees; the shard's data stays, frozen, until
   * the config returning it is applied. Checks `known` (a config the Watch offered), else the
   * latest config queried from the controller.
   */
  private async abortHandoffs(known?: Config): Promise<void> {
    const core = this.sm.core;
    const handoffs = core.migratingMetas().filter((m) => m.state === "handoff");
    if (handoffs.length === 0) return;
    const own = core.config.num;
    const latest = known ?? this.seen(await this.configSource.query(-1));
    for (const m of handoffs) {
      if (!this.isLeader()) return;
      const to = core.config.num === m.configNum ? core.config.shards[m.shard]! : undefined;
      const aborted = to === undefined ? undefined : abortedJoinCovering(latest, to, m.configNum);
      if (!aborted) continue;
      const r = await this.propose({ kind: "abortHandoff", configNum: m.configNum, shard: m.shard, aborted });
      if (r?.kind === "abortHandoff" && r.accepted) {
        this.opts.logger.info(`${this.tag}: shard ${m.shard} stays here: the join of group ${aborted.gid} it was handed to (config ${m.configNum}) was aborted in config ${aborted.abortNum}`);
      }
    }
    // Recorded once checked whole: a check that failed is made again at the next tick.
    if (latest.num >= this.abortChecked.newest) this.abortChecked = { newest: latest.num, own };
  }

  /**
   * Config `n` from the controller, or as soon as the Watch offers it: on a network that
   * loses messages the backstop query can take an attempt deadline or more, and the group
   * would not move on while it waits.
   */
  private queryOrOffer(n: number): Promise<Config> {
    return new Promise<Config>((resolve, reject) => {
      this.offerWaiter = (c) => {
        if (c.num === n) resolve(c);
      };
      this.configSource.query(n).then((c) => resolve(this.seen(c)), reject);
    }).finally(() => {
      this.offerWaiter = undefined;
    });
  }

  /**
   * Runs `call` against group `gid`'s servers: its last known leader first, then each server,
   * following NotLeader hints. Throws the last error when every server failed.
   */
  private async onGroup<T>(gid: GroupId, servers: readonly string[], call: (address: string) => Promise<T>): Promise<T> {
    if (servers.length === 0) throw new InvalidArgumentError("config", `group ${gid} has no servers`);
    const order = [...new Set([this.leaders.get(gid), ...servers].filter((a): a is string => a !== undefined))];
    let last: unknown;
    for (let i = 0; i < order.length && !this.stopped; i++) {
      let target = order[i]!;
      for (let hops = 0; hops < 3; hops++) {
        try {
          const r = await call(target);
          this.leaders.set(gid, target);
          return r;
        } catch (e) {
          last = e;
          if (e instanceof NotLeaderError && e.leaderAddress && e.leaderAddress !== target) {
            target = e.leaderAddress;
            continue;
          }
          if (this.leaders.get(gid) === target) this.leaders.delete(gid);
          break;
        }
      }
    }
    throw last ?? new StoppedError("migration driver");
  }

  /** (b) Pulls `shard` for config `configNum` from its previous owner, inserting chunk by chunk. */
  private async pull(shard: ShardId, configNum: ConfigNum): Promise<void> {
    const prev = await this.configAt(configNum - 1);
    const owner = prev.shards[shard]!;
    assert(owner !== 0 && owner !== this.opts.gid, () => `shard ${shard} pulling in config ${configNum} from gid ${owner}`);
    await this.onGroup(owner, prev.groups.get(owner) ?? [], (address) => this.pullFrom(address, shard, configNum));
  }

  /**
   * Waits for the turn of a chunk of `bytes` (chunkBytes: duplicate records travel in chunks
   * too, some of several MiB): a slot of bytes / pace each (migration-pacer.ts).
   */
  private async pace(bytes: number): Promise<void> {
    const wait = this.pacer.reserve(bytes, this.opts.clock.nowMs());
    if (wait > 0) await this.sleep(wait);
  }

  /**
   * A foreground request (a client's read or write) this replica answered as leader took
   * `latencyMs` (monotonic clock): the pacer's congestion signal (migration-pacer.ts).
   */
  observeForeground(latencyMs: number): void {
    // BUGGIFY: a pause (GC, a stalled disk) makes a request 20 times slower: the pace may drop.
    this.pacer.observe(buggify("migration.pacer.spike") ? 20 * latencyMs : latencyMs, this.opts.clock.nowMs());
  }

  /** Proposes a chunk's insert. Never rejects: a failure is the outcome's `error`. */
  private async insert(chunk: ShardChunkIn): Promise<InsertOutcome> {
    try {
      const r = await this.propose({ kind: "insert", chunk });
      this.opts.observer?.paced?.(this.pacer.bytesPerSec());
      return { inserted: r?.kind === "insert" && r.accepted };
    } catch (error) {
      return { inserted: false, error };
    }
  }

  /** Waits `ms` on the clock, or until the driver stops. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.pacing.delete(wake);
        cancel();
        resolve();
      };
      const cancel = this.opts.clock.after(ms, wake);
      this.pacing.add(wake);
    });
  }

  /**
   * One PullShard stream, resuming after the last key inserted; returns when the stream ends.
   * Several chunks are in flight at once (proposed, not yet answered: the window,
   * migration-pacer.ts windowBytes), each carrying the position it continues from, which the
   * state machine checks (state-machine.ts continuesPull): a chunk whose insert was lost or
   * reordered makes the ones after it refused, never skipped. The pull stops at the first
   * chunk that did not go in, once every insert in flight has settled, and the next tick
   * resumes from the stored position.
   */
  private async pullFrom(address: string, shard: ShardId, configNum: ConfigNum): Promise<void> {
    const m = this.sm.core.meta(shard);
    if (m.state !== "pulling" || m.configNum !== configNum || !this.isLeader()) return;
    const stream = this.rpc.pullShard(address, { configNum, shard, afterKey: m.pulledAfterKey });
    this.streams.add(stream);
    const flight = new InsertFlight((chunk) => this.insert(chunk), this.opts.observer);
    let pos: PullPosition = { key: m.pulledAfterKey, client: undefined };
    try {
      let last = false;
      for await (const got of stream) {
        if (got.configNum !== configNum || got.shard !== shard) {
          throw new InvalidArgumentError("chunk", `got shard ${got.shard} config ${got.configNum}, asked ${shard} config ${configNum}`);
        }
        const chunk: ShardChunkIn = { ...got, after: pos };
        pos = positionAfter(pos, got);
        // The observer sees the chunk arrive and, once its insert settles, whether it went in.
        const bytes = chunkBytes(chunk);
        this.opts.observer?.received(bytes);
        let proposed = false;
        try {
          // Room in the window first, then the pace's slot: a chunk the pace holds back is one
          // the window would have let go (the pacer raises the pace only for such epochs).
          if (!(await flight.room(bytes, this.pacer.windowBytes(bytes)))) return;
          await this.pace(bytes);
          const late = buggifyAmount("migration.pull.pause", 50);
          if (late > 0) await this.sleep(late);
          if (!this.isLeader()) throw new NotLeaderError(this.node.softState().leader);
          flight.propose(chunk, bytes);
          proposed = true;
        } finally {
          if (!proposed) this.opts.observer?.settled(bytes, false);
        }
        if (chunk.last) {
          last = true;
          break;
        }
        // BUGGIFY: a stream may break anywhere; the next tick resumes after the inserted key.
        if (buggify("migration.pull.break")) throw new StoppedError(`pull of shard ${shard} (stream broken)`);
      }
      if (!(await flight.room(Infinity, 0))) return;
      if (!last) throw new StoppedError("pull stream ended without its last chunk");
      const pace = this.pacer.bytesPerSec();
      const base = this.pacer.baseMs();
      this.opts.logger.info(`${this.tag}: shard ${shard} received for config ${configNum}` +
        (pace === Infinity ? "" : ` (pace now ${(pace / (1024 * 1024)).toFixed(1)} MiB/s${base === undefined ? "" : `, foreground base latency ${base.toFixed(1)} ms`})`));
    } catch (e) {
      throw e instanceof ShardKVError ? e : new StoppedError(`pull of shard ${shard} (${(e as Error)?.message ?? e})`);
    } finally {
      this.streams.delete(stream);
      stream.cancel();
      // Every insert in flight settles before the next pull starts from the stored position.
      await flight.abandon();
    }
  }

  /** (c) Asks `shard`'s previous owner (config gcConfigNum - 1) to delete it, then leaves gc. */
  private async gc(shard: ShardId, gcConfigNum: ConfigNum): Promise<void> {
    const prev = await this.configAt(gcConfigNum - 1);
    const owner = prev.shards[shard]!;
    if (owner !== 0 && owner !== this.opts.gid) {
      await this.onGroup(owner, prev.groups.get(owner) ?? [], async (address) => {
        // BUGGIFY: the request sent twice (as a retry after a lost answer): deleting is idempotent.
        if (buggify("migration.gc.twice")) await this.rpc.deleteShard(address, gcConfigNum, shard);
        await this.rpc.deleteShard(address, gcConfigNum, shard);
      });
    }
    if (!this.isLeader()) throw new NotLeaderError(this.node.softState().leader);
    const r = await this.propose({ kind: "gcDone", configNum: gcConfigNum, shard });
    if (r?.kind === "gcDone" && r.accepted) this.opts.logger.info(`${this.tag}: shard ${shard} deleted by its previous owner (config ${gcConfigNum})`);
  }
}

/** How a chunk's insert ended: applied (`inserted`), refused by the state machine, or failed (`error`). */
interface InsertOutcome {
  readonly inserted: boolean;
  readonly error?: unknown;
}

/**
 * The inserts of one pull stream in flight, oldest first: proposed in the stream's order
 * (BUGGIFY: one lost, proposed twice, or after the next), settled in that order.
 */
class InsertFlight {
  private readonly queue: { readonly bytes: number; readonly outcome: Promise<InsertOutcome> }[] = [];
  private bytes = 0;
  /** A chunk held back by migration.insert.swap: proposed right after the next one. */
  private held: (() => void) | undefined;

  constructor(
    private readonly insert: (chunk: ShardChunkIn) => Promise<InsertOutcome>,
    private readonly observer: MigrationObserver | undefined,
  ) {}

  /**
   * Settles the oldest inserts until `bytes` more fit in `windowBytes` (the queue empties for
   * Infinity). False when one of them did not go in (the pull stops: the chunks after it are
   * refused); throws its error when it failed.
   */
  async room(bytes: number, windowBytes: number): Promise<boolean> {
    while (this.queue.length > 0 && this.bytes + bytes > windowBytes) {
      this.release();
      const f = this.queue.shift()!;
      const o = await f.outcome;
      this.bytes -= f.bytes;
      this.observer?.settled(f.bytes, o.inserted);
      if (o.error !== undefined) throw o.error;
      if (!o.inserted) return false;
    }
    return true;
  }

  propose(chunk: ShardChunkIn, bytes: number): void {
    this.bytes += bytes;
    if (buggify("migration.insert.lost")) {
      this.queue.push({ bytes, outcome: Promise.resolve({ inserted: false, error: new StoppedError("insert proposal lost") }) });
      return;
    }
    if (buggify("migration.insert.twice")) void this.insert(chunk);
    const previous = this.held;
    this.held = undefined;
    if (!chunk.last && buggify("migration.insert.swap")) {
      this.queue.push({ bytes, outcome: new Promise((resolve) => (this.held = () => resolve(this.insert(chunk)))) });
    } else {
      this.queue.push({ bytes, outcome: this.insert(chunk) });
    }
    previous?.();
  }

  /** Proposes a held chunk now. */
  private release(): void {
    const h = this.held;
    this.held = undefined;
    h?.();
  }

  /** Waits for every insert still in flight (the pull ended early); tells the observer. */
  async abandon(): Promise<void> {
    this.release();
    const rest = this.queue.splice(0);
    this.bytes = 0;
    for (const f of rest) this.observer?.settled(f.bytes, (await f.outcome).inserted);
  }
}
