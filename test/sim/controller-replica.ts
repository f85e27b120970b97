/**
 * The controller replica of the simulator: the production state machine
 * (controller/rocks-state.ts's RocksControllerStateMachine) over the node's simulated storage
 * (sim-kv.ts's SimKvStorage: fsync latency on the virtual clock, unsynced writes lost on a
 * power loss), wrapped so the checkers see what it did:
 *
 * - after each apply (its batch is synced when the promise resolves) the wrapper reads what
 *   the storage now holds (the configs the batch created, the duplicate table, the pending
 *   joins, the applied index) into a `ControllerDurable` and reports the applied entries with
 *   their results and created configs to the observer;
 * - after a snapshot restore it reloads everything from the storage and reports it;
 * - at each start it loads the `ControllerDurable` from the storage, so a crash that kept an
 *   apply the process never saw complete (kill -9 keeps what was written) shows up there.
 *
 * Snapshots are the production ControllerSnapshot bytes re-served in small chunks, so
 * InstallSnapshot runs with many chunks. The wrapper also gives the ControllerService the
 * state view it needs (ControllerStateView), delegating to the production state machine.
 */
import { assert } from "../../common/assert";
import type { CorruptionError } from "../../common/errors";
import type { ConfigNum, GroupId, LogIndex, NodeId } from "../../common/ids";
import type { Entry, SnapshotMeta } from "../../raft/core/types";
import { bytesSnapshotSource, type SnapshotSink, type SnapshotSource, type StateMachine } from "../../raft/state-machine";
import {
  clientIdBytes, controllerPb as pb, decodeConfig, decodeLogEntry, encodeCommand, intentFromWire, memberFromWire, pendingJoinFromWire,
  resultFromWire,
} from "../../controller/codec";
import { type Config, initialConfig } from "../../controller/config";
import type { PendingJoin } from "../../controller/pending-joins";
import { type ReplicaState, noReplicaState } from "../../controller/replica-intents";
import type { ReplicaIntent } from "../../common/replica-change";
import { clusterInitResult, controllerKeys, noopResult, RocksControllerStateMachine } from "../../controller/rocks-state";
import type { ControllerStateView } from "../../controller/service";
import type { CommandResult, ControllerCommand, ControllerOp, DedupEntry } from "../../controller/state-machine";
import type { Clock, Logger } from "../../common/env";
import type { CommandResult as Result } from "../../controller/state-machine";
import type { IdentifyAnswer } from "../../controller/join-check";
import { ControllerService, type IntentFeed } from "../../controller/service";
import type { SimClock } from "./clock";
import type { NodeHandle, Trace } from "./cluster";
import { recordedRestoreSink, type SimDisk } from "./disk";
import type { SimRng } from "./rng";
import type { SimKvStorage } from "./sim-kv";
import { detectedOnOpen, peekPayloads, type StateFlips } from "./shard-replica";

/** One node's controller state as its storage holds it (what the checkers compare). */
export class ControllerDurable {
  applied = 0 as LogIndex;
  /** configs[n] is config n; config 0 exists from creation. */
  configs: Config[];
  dedup = new Map<string, DedupEntry>();
  pending: ReadonlyMap<GroupId, PendingJoin> = new Map();
  /** The replica intents and the controller group's members. */
  replicas: ReplicaState = noReplicaState;

  constructor(readonly node: NodeId, readonly shardCount: number) {
    this.configs = [initialConfig(shardCount)];
  }

  latest(): Config {
    return this.configs[this.configs.length - 1]!;
  }
}

/** One applied entry as the checkers see it. */
export interface AppliedEntry {
  readonly index: LogIndex;
  readonly entry: Entry;
  /** The decoded command (undefined for noops and cluster-id entries). */
  readonly cmd: ControllerCommand | undefined;
  readonly result: CommandResult;
  readonly created: Config | undefined;
}

/** What the controller checkers see of the state machines' durable writes. */
export interface ControllerObserver {
  /** An apply batch became durable on `node`; `state` is what the storage holds after it. */
  applied(node: NodeId, entries: readonly AppliedEntry[], state: ControllerDurable): void;
  /** A snapshot restore at `index` became durable on `node` (it replaced everything). */
  restored(node: NodeId, index: LogIndex, state: ControllerDurable): void;
}

export interface SimControllerOptions {
  readonly shardCount: number;
  /** Chunk size the snapshots are re-served in. */
  readonly chunkBytes: number;
  readonly observer?: ControllerObserver;
  /**
   * Sabotage (checker tests only): every command reaches the production state machine with a
   * fresh sequence number (its log index), so the duplicate table never recognizes a retry.
   */
  readonly ignoreDedup?: boolean;
  /** Bit flips in the state machine's reads and the replicas they stop (absent: none). */
  readonly flips?: StateFlips;
}

const latin1 = (b: Buffer): string => b.toString("latin1");
const prefixOf = (b: Buffer): string => String.fromCharCode(b[0]!);

/**
 * Reads the controller state in `dir` of `storage` (its applied index, every config, the
 * duplicate table, the pending joins), without read faults. A directory not created yet reads
 * as the state it is created with.
 */
export function loadControllerDurable(storage: SimKvStorage, dir: string, node: NodeId, shardCount: number): ControllerDurable {
  const d = new ControllerDurable(node, shardCount);
  const m = peekPayloads(storage, dir);
  if (m === undefined || !m.has(latin1(controllerKeys.shardCount))) return d;
  d.configs = [];
  const configs: [string, Buffer][] = [];
  const cp = prefixOf(controllerKeys.configsStart);
  for (const [k, v] of m) if (k[0] === cp) configs.push([k, v]);
  configs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  d.configs = configs.map(([, v]) => decodeConfig(v));
  refreshDurable(d, m);
  return d;
}

/** Re-reads the applied index, the duplicate table, the pending joins and the replica state of `d` from `m`. */
function refreshDurable(d: ControllerDurable, m: ReadonlyMap<string, Buffer>): void {
  const a = m.get(latin1(controllerKeys.applied));
  assert(a !== undefined && a.length === 8, `sim controller ${d.node}: applied index record missing`);
  d.applied = Number(a.readBigUInt64BE(0)) as LogIndex;
  const dp = prefixOf(controllerKeys.dedupStart);
  const pp = prefixOf(controllerKeys.pendingStart);
  const ip = prefixOf(controllerKeys.intentsStart);
  d.dedup = new Map();
  const pending = new Map<GroupId, PendingJoin>();
  const intents = new Map<GroupId, ReplicaIntent>();
  for (const [k, v] of m) {
    if (k[0] === dp) {
      const w = pb.DedupEntry.decode(v);
      const id = Buffer.from(w.clientId ?? new Uint8Array(0));
      assert(id.length === clientIdBytes, `sim controller ${d.node}: dedup entry with a ${id.length}-byte client id`);
      d.dedup.set(id.toString("hex"), { seq: w.seq ?? 0, result: resultFromWire(w.result ?? {}), lastIndex: (w.lastIndex ?? 0) as LogIndex });
    } else if (k[0] === pp) {
      const p = pendingJoinFromWire(pb.PendingJoin.decode(v));
      pending.set(p.gid, p);
    } else if (k[0] === ip) {
      const [gid, i] = intentFromWire(pb.GroupIntent.decode(v));
      intents.set(gid, i);
    }
  }
  d.pending = pending;
  const c = m.get(latin1(controllerKeys.controllers));
  d.replicas = { intents, controllers: c === undefined ? [] : (pb.Group.decode(c).members ?? []).map((w) => memberFromWire(w, "controllers")) };
}

/** The production controller state machine of one incarnation of a simulated node. */
export class SimControllerStateMachine implements StateMachine<CommandResult>, ControllerStateView {
  /** What the storage held at start, then after every reported apply and restore. */
  readonly durable: ControllerDurable;
  /** Resolves once the production state machine is open. */
  readonly ready: Promise<void>;
  private rsm: RocksControllerStateMachine | undefined;

  constructor(
    private readonly storage: SimKvStorage,
    private readonly dir: string,
    private readonly disk: SimDisk,
    private readonly opts: SimControllerOptions,
  ) {
    this.durable = loadControllerDurable(storage, dir, disk.node, opts.shardCount);
    disk.smApplied = this.durable.applied;
    const flips = opts.flips;
    const onCorruption = flips && ((e: CorruptionError) => flips.detected(disk.node, e));
    const store = (flips?.watch(storage, dir) ?? storage).incarnation();
    this.ready = detectedOnOpen(RocksControllerStateMachine.open(dir, opts.shardCount, store, onCorruption), flips, disk.node).then((rsm) => {
      assert(rsm.appliedIndex() === this.durable.applied, () => `sim controller ${disk.node}: opened at ${rsm.appliedIndex()}, storage says ${this.durable.applied}`);
      this.rsm = rsm;
    });
    // A crash while it opens: the incarnation is gone; its callers (if any) see the rejection.
    this.ready.catch(() => undefined);
  }

  /** Whether the production state machine is open (the service reads it). */
  get isOpen(): boolean {
    return this.rsm !== undefined;
  }

  private get sm(): RocksControllerStateMachine {
    assert(this.rsm !== undefined, "sim controller: used before it opened");
    return this.rsm;
  }

  appliedIndex(): LogIndex {
    return this.rsm?.appliedIndex() ?? this.durable.applied;
  }

  async apply(entries: readonly Entry[]): Promise<CommandResult[]> {
    await this.ready;
    const given = this.opts.ignoreDedup ? entries.map(freshSeq) : entries;
    const results = await this.sm.apply(given);
    this.report(entries, results);
    return results;
  }

  /** Reads what the batch left in the storage and tells the observer. */
  private report(entries: readonly Entry[], results: readonly CommandResult[]): void {
    const d = this.durable;
    const m = peekPayloads(this.storage, this.dir)!;
    const before = d.configs.length;
    for (let n = before; n <= this.sm.latestNum(); n++) {
      const v = m.get(latin1(controllerKeys.config(n)));
      assert(v !== undefined, () => `sim controller ${d.node}: config ${n} <= latest ${this.sm.latestNum()} not stored`);
      d.configs.push(decodeConfig(v));
    }
    refreshDurable(d, m);
    this.disk.smApplied = d.applied;
    let nextNew = before;
    const out: AppliedEntry[] = entries.map((entry, i) => {
      const result = results[i]!;
      if (entry.type !== "normal") return { index: entry.index, entry, cmd: undefined, result, created: undefined };
      const cmd = decodeLogEntry(entry.data);
      if ("kind" in cmd) return { index: entry.index, entry, cmd: undefined, result, created: undefined };
      // Configs are created in entry order; a retry answered from the duplicate table (even
      // one in the same batch) names an existing config, and an AckJoin the latest one.
      let created: Config | undefined;
      if (result.ok && cmd.op.kind !== "ackJoin" && result.configNum === nextNew && nextNew < d.configs.length) created = d.configs[nextNew++];
      return { index: entry.index, entry, cmd, result, created };
    });
    assert(nextNew === d.configs.length, () => `sim controller ${d.node}: the batch stored configs up to ${d.configs.length - 1}, the results name up to ${nextNew - 1}`);
    this.opts.observer?.applied(d.node, out, d);
  }

  async snapshot(): Promise<SnapshotSource> {
    await this.ready;
    this.disk.snapshotsTaken++;
    const src = await this.sm.snapshot();
    const parts: Uint8Array[] = [];
    try {
      for (let n = 0; ; n++) {
        const c = await src.readChunk(n);
        parts.push(c.data);
        if (c.last) break;
      }
    } finally {
      src.close();
    }
    return bytesSnapshotSource(src.index, Buffer.concat(parts), this.opts.chunkBytes);
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    return recordedRestoreSink(this.disk, meta, this.ready.then(() => this.sm.restore(meta)), () => {
      const fresh = loadControllerDurable(this.storage, this.dir, this.disk.node, this.opts.shardCount);
      Object.assign(this.durable, { applied: fresh.applied, configs: fresh.configs, dedup: fresh.dedup, pending: fresh.pending, replicas: fresh.replicas });
      this.opts.observer?.restored(this.disk.node, meta.index, this.durable);
    });
  }

  // ---- ControllerStateView (what ControllerService reads), from the production state machine

  shardCount(): number {
    return this.sm.shardCount();
  }

  clusterId(): string | undefined {
    return this.sm.clusterId();
  }

  /** The latest durable config (the durable view at start, before the state machine opened). */
  latest(): Config {
    return this.rsm?.latest() ?? this.durable.latest();
  }

  latestNum(): ConfigNum {
    return this.latest().num;
  }

  config(num: number): Promise<Config | undefined> {
    return this.sm.config(num);
  }

  pendingJoins(): ReadonlyMap<GroupId, PendingJoin> {
    return this.sm.pendingJoins();
  }

  replicaState(): ReplicaState {
    return this.sm.replicaState();
  }

  /** The production state machine's intent listeners (RocksControllerStateMachine.subscribeIntents). */
  subscribeIntents(listener: () => void): () => void {
    return this.sm.subscribeIntents(listener);
  }

  stackingRefusal(op: ControllerOp): string | undefined {
    return this.sm.stackingRefusal(op);
  }

  dedupEntry(clientId: string): DedupEntry | undefined {
    return this.sm.dedupEntry(clientId);
  }
}

/** The sabotage of `ignoreDedup`: the entry's command with its log index as sequence number. */
function freshSeq(e: Entry): Entry {
  if (e.type !== "normal") return e;
  const cmd = decodeLogEntry(e.data);
  if ("kind" in cmd) return e;
  return { ...e, data: encodeCommand({ ...cmd, seq: e.index }) };
}

/**
 * The simulated controllers' addresses as the service's member map: every id answers by the
 * naming rule, as the daemon's live map answers for its members. Only `get` is meaningful:
 * the simulator records no members (recordMembers: false), so nothing iterates it.
 */
class SimAddresses extends Map<NodeId, string> {
  constructor(private readonly of: (id: NodeId) => string | undefined) {
    super();
  }

  override get(id: NodeId): string | undefined {
    return this.of(id);
  }
}

/** One incarnation of a simulated controller replica. */
export type ControllerHandle = NodeHandle<SimControllerStateMachine, Result>;

export interface SimControllerNodesOptions extends SimControllerOptions {
  readonly trace: Trace;
  /** ShardKV.Identify of the server at `address`, for the join check. */
  readonly identify: (address: string) => Promise<IdentifyAnswer>;
  /** Called with the state a node starts from (read from its storage), and its disk. */
  readonly onStart?: (id: NodeId, state: ControllerDurable, disk: SimDisk) => void;
  /** The address of replica `id` in NotLeader replies (default `c<id>`). */
  readonly address?: (id: NodeId) => string;
  /**
   * Open a WatchIntent feed (ControllerService.watchIntent) of each of gids 0..watchIntentGids
   * on every service, woken by the production state machine's intent listeners as the daemon
   * wires them, and record each feed's updates (intentFeedsBehind). Default: none.
   */
  readonly watchIntentGids?: number;
  /** Sabotage (checker tests): the feeds are not woken by the state machine's intent listeners. */
  readonly silentIntentFeeds?: boolean;
}

/** One WatchIntent feed the simulator reads: the last update it handed out. */
interface IntentWatch {
  readonly gid: GroupId;
  readonly feed: IntentFeed;
  /** The last update read, undefined before the first (intentKey form). */
  last: string | undefined;
  updates: number;
}

/**
 * The controller replicas of a run: the state machine of each incarnation (`makeSm`,
 * SimCluster's factory) over its node's storage (`<dataDir>/state` beside the Raft log) and
 * its ControllerService.
 */
export class SimControllerNodes {
  private readonly services = new Map<NodeId, {
    readonly gen: number; readonly svc: ControllerService; role: string; term: number; readonly watches: IntentWatch[]; readonly sm: SimControllerStateMachine;
    /** The incarnation it serves (a crashed one's service stays here until the node is asked again). */
    readonly handle: ControllerHandle;
  }>();

  constructor(private readonly clock: SimClock, private readonly rng: SimRng, private readonly opts: SimControllerNodesOptions) {}

  /** SimCluster's state machine factory. */
  readonly makeSm = (disk: SimDisk, id: NodeId): SimControllerStateMachine => {
    const sm = new SimControllerStateMachine(disk.storage, `${disk.dataDir}/state`, disk, this.opts);
    this.opts.onStart?.(id, sm.durable, disk);
    return sm;
  };

  /**
   * The ControllerService of the live incarnation `h` (undefined until its node started and
   * its state machine opened). The soft state reaches it before each request (the daemon
   * hands it over at every Ready).
   */
  service(h: ControllerHandle): ControllerService | undefined {
    let s = this.services.get(h.id);
    if (s !== undefined && s.gen !== h.gen) {
      s.svc.stop();
      s = undefined;
      this.services.delete(h.id);
    }
    if (!h.alive || h.node === undefined || !h.sm.isOpen) return undefined;
    const node = h.node;
    if (s === undefined) {
      const clock: Clock = { nowMs: () => this.clock.nowMs(), after: (ms, fn) => this.clock.after(ms, () => { if (h.alive) fn(); }) };
      const trace = this.opts.trace;
      const logger: Logger = {
        info: (m) => trace(`n${h.id} service: ${m}`),
        warn: (m) => trace(`n${h.id} service warn: ${m.split("\n")[0]}`),
        debug() {},
        debugEnabled: false,
      };
      const svc = new ControllerService({
        id: h.id, node, sm: h.sm, clock, rng: this.rng.fork(`service-${h.id}-${h.gen}`), logger,
        members: new SimAddresses((id) => (id === 0 ? undefined : this.opts.address?.(id) ?? `c${id}`)), recordMembers: false,
        identify: this.opts.identify,
      });
      s = { gen: h.gen, svc, role: "", term: -1, watches: this.watchIntents(svc, h.sm), sm: h.sm, handle: h };
      this.services.set(h.id, s);
    }
    const ss = node.softState();
    if (ss.role !== s.role || ss.term !== s.term) {
      s.role = ss.role;
      s.term = ss.term;
      s.svc.onSoftState(ss);
    }
    return s.svc;
  }

  /** Opens the feeds of SimControllerNodesOptions.watchIntentGids on `svc`, each read by a loop until it closes. */
  private watchIntents(svc: ControllerService, sm: SimControllerStateMachine): IntentWatch[] {
    const n = this.opts.watchIntentGids;
    if (n === undefined) return [];
    if (this.opts.silentIntentFeeds !== true) sm.subscribeIntents(() => svc.onIntentsChanged());
    const watches: IntentWatch[] = [];
    for (let gid = 0; gid <= n; gid++) {
      const w: IntentWatch = { gid: gid as GroupId, feed: svc.watchIntent(gid), last: undefined, updates: 0 };
      watches.push(w);
      void (async () => {
        for (let u = await w.feed.next(); u !== undefined; u = await w.feed.next()) {
          const key = intentKey(u.intent);
          assert(key !== w.last, () => `intent feed of gid ${gid}: the same state handed out twice: ${key || "none"}`);
          w.last = key;
          w.updates++;
        }
      })();
    }
    return watches;
  }

  /**
   * The WatchIntent feeds of the live services whose last update is not the intent their
   * replica holds now (a change applied without waking its feed), each as one line; and how
   * many updates the feeds handed out after their first, in all (the live incarnations only).
   * Call once the run has settled.
   */
  intentFeedsBehind(): { behind: string[]; updates: number } {
    const behind: string[] = [];
    let updates = 0;
    for (const [id, s] of this.services) {
      for (const w of s.watches) {
        updates += Math.max(0, w.updates - 1);
        // A crashed incarnation's feeds died with it: its state machine may hold an apply whose
        // write the crash lost (the core decides before the write; the listeners hear after it).
        if (!w.feed.isOpen || !s.handle.alive) continue;
        const now = intentKey(s.sm.replicaState().intents.get(w.gid));
        if (w.last !== now) behind.push(`n${id} gid ${w.gid}: the feed last said ${w.last === undefined ? "nothing" : w.last || "none"}, the replica holds ${now || "none"}`);
      }
    }
    return { behind, updates };
  }
}

/** The simulator's view of one intent's state, as IntentFeed compares them ("" = none). */
const intentKey = (i: ReplicaIntent | undefined): string => (i === undefined ? "" : JSON.stringify(i));

/** What RaftNode hands back for a noop and a cluster-id entry (the production values). */
export { clusterInitResult, noopResult };
