/**
 * A shard group replica's state machine in the simulator: the production one
 * (shard-server/rocks-state.ts's RocksShardStateMachine: apply batches written without fsync,
 * reads, pull streaming, snapshots through a staging database and a swap) over the node's
 * simulated storage (sim-kv.ts's SimKvStorage), wrapped so the checkers see what it did.
 *
 * The checkers need, per applied entry, its result, the group's config number after it, and
 * the data of the shards a reconfiguration froze or an insert completed, as of that entry. So
 * the wrapper hands RocksShardStateMachine each batch in segments that end at such an entry
 * (reconfigure, or the last chunk of an insert: rare), and after each segment reads the config
 * from the production core and the data from what the storage holds. Every other run of
 * entries stays one batch, as the daemon applies it.
 *
 * Sabotages (ShardSabotage: they prove the checkers can fail) act on the production code's
 * inputs and core: `ignoreDedup` gives every write a client id of its own (its log index), so
 * the duplicate table never recognizes a retry; `skipOwnership` patches the production core's
 * `serves` so writes to (and reads of) shards in handoff or pulling get through.
 */
import { assert } from "../../common/assert";
import type { Clock } from "../../common/env";
import { CorruptionError } from "../../common/errors";
import { recordPayload } from "../../common/record";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId } from "../../common/ids";
import type { Entry, SnapshotMeta } from "../../raft/core/types";
import { type SnapshotSink, type SnapshotSource, SnapshotRewindError, type StateMachine } from "../../raft/state-machine";
import type { ApplyResult } from "../../shard-server/apply";
import { decodeCommand, encodeCommand } from "../../shard-server/codec";
import { RocksShardStateMachine, shardKeys } from "../../shard-server/rocks-state";
import type { ShardStateView } from "../../shard-server/service";
import type { ShardGroupCore } from "../../shard-server/state-machine";
import type { ShardChunkIn, ShardCommand } from "../../shard-server/types";
import { recordedRestoreSink, type SimDisk } from "./disk";
import type { SimKvStorage } from "./sim-kv";

/** One applied entry as the checkers see it (reported once its batch is written). */
export interface ShardAppliedEntry {
  readonly index: LogIndex;
  readonly cmd: ShardCommand | undefined;
  readonly result: ApplyResult;
  /** The group's config number right after the entry was applied. */
  readonly configNum: ConfigNum;
  /**
   * The data of the shards an accepted reconfiguration handed off, or of the shard an accepted
   * last insert completed, right after the entry (the checkers compare the two).
   */
  readonly shardData?: ReadonlyMap<ShardId, ReadonlyMap<string, Uint8Array>>;
}

export interface ShardObserver {
  /** An apply batch of (gid, node) was written. */
  applied(gid: GroupId, node: NodeId, entries: readonly ShardAppliedEntry[]): void;
  /**
   * A read of `shard` succeeded; `num` is the durable config when it started. The production
   * read refuses (WrongGroup) unless the shard was served from its start to its end, so the
   * config at its start witnesses the ownership it was answered under (a config read after
   * the answer could already be a later one that moved the shard away).
   */
  readServed(gid: GroupId, node: NodeId, shard: ShardId, num: ConfigNum): void;
}

/** Sabotages (checker tests only). */
export interface ShardSabotage {
  /** Apply every write as if its client had no duplicate record (a retry executes again). */
  readonly ignoreDedup?: boolean;
  /** Apply writes to any shard this group ever held, whatever its state (no ownership check at apply or read). */
  readonly skipOwnership?: boolean;
}

export interface SimShardOptions {
  readonly gid: GroupId;
  readonly shardCount: number;
  readonly dedupTtlMs: number;
  readonly snapshotChunkBytes: number;
  readonly observer?: ShardObserver;
  readonly sabotage?: ShardSabotage;
  /** Called when a snapshot source refused to go back (SnapshotRewindError: RaftNode takes a fresh snapshot). */
  readonly onRewind?: () => void;
  /** Bit flips in the state machine's reads and the replicas they stop (absent: none). */
  readonly flips?: StateFlips;
  /** The replica's clock (its write-behind layer's flush timer): virtual, and silent once the incarnation crashed. */
  readonly clock: Clock;
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/**
 * What a state machine's database holds (`SimKvStorage.peek`) as payloads: every value is
 * stored as a checksummed record (common/checked-kv.ts), and peek reads without read faults,
 * so each one verifies.
 */
export function peekPayloads(storage: SimKvStorage, dir: string): Map<string, Buffer> | undefined {
  const m = storage.peek(dir);
  if (m === undefined) return undefined;
  const out = new Map<string, Buffer>();
  for (const [k, v] of m) {
    const p = recordPayload(Buffer.from(k, "latin1"), v);
    assert(p !== undefined, () => `sim: ${dir}: stored value of key ${Buffer.from(k, "latin1").toString("hex")} does not verify`);
    out.set(k, p);
  }
  return out;
}
const dataPrefix = shardKeys.dataRange(0).gte[0]!;

/**
 * Bit flips past the storage's checks in the reads of one group's state machines (SimKvStorage's
 * readFlipRate on each replica's storage), and the replicas a detected flip stopped for good:
 * the state machine's checksums catch the flip (common/checked-kv.ts) and the daemon would
 * exit, so `stop` takes the replica down for good (SimCluster.retire: neither restarted nor
 * counted by liveness). At most `budget` replicas (a minority of the group) are stopped; then
 * the flips are turned off, so the group keeps a majority.
 */
export class StateFlips {
  /** Replicas stopped by a detected corruption. */
  readonly stopped = new Set<NodeId>();
  private readonly storages = new Set<SimKvStorage>();

  constructor(
    private rate: number,
    private readonly budget: number,
    private readonly stop: (id: NodeId, e: CorruptionError) => void,
  ) {
    if (budget <= 0) this.rate = 0;
  }

  /**
   * The storage of a replica's new incarnation: reads of its state machine's databases (under
   * `stateDir`; not the Raft log beside them) flip at the rate while the budget lasts. A group
   * has these or log store read faults (SimCluster), never both, so one minority budget holds.
   */
  watch(storage: SimKvStorage, stateDir: string): SimKvStorage {
    // Off (none drawn, or the group's log store has read faults of its own): the storage's
    // faults are left as they are.
    if (this.rate === 0) return storage;
    this.storages.add(storage);
    storage.faults.readFlipRate = this.rate;
    storage.faults.readFaultsIn = (dir) => dir.startsWith(stateDir);
    return storage;
  }

  /** Replica `id`'s state machine detected a corruption: it stops for good (once). */
  detected(id: NodeId, e: CorruptionError): void {
    if (this.stopped.has(id)) return;
    this.stopped.add(id);
    if (this.stopped.size >= this.budget) {
      this.rate = 0;
      for (const st of this.storages) st.faults.readFlipRate = 0;
    }
    this.stop(id, e);
  }

  /** Values returned with a flipped bit so far (each one must have been detected). */
  flippedReads(): number {
    let n = 0;
    for (const st of this.storages) n += st.stats.flippedReads;
    return n;
  }
}

/** Calls `flips.detected` when `p` rejects with a CorruptionError (an open that found one). */
export function detectedOnOpen<T>(p: Promise<T>, flips: StateFlips | undefined, id: NodeId): Promise<T> {
  return p.catch((e: unknown) => {
    if (e instanceof CorruptionError) flips?.detected(id, e);
    throw e;
  });
}

/** The production shard state machine of one incarnation of a simulated replica. */
export class SimShardStateMachine implements StateMachine<ApplyResult>, ShardStateView {
  /** Resolves once the production state machine is open. */
  readonly ready: Promise<void>;
  private rsm: RocksShardStateMachine | undefined;
  /** The applied index the storage held when this incarnation started (until it opened). */
  private readonly startApplied: LogIndex;

  constructor(
    private readonly storage: SimKvStorage,
    private readonly dir: string,
    private readonly disk: SimDisk,
    private readonly opts: SimShardOptions,
  ) {
    const stored = storage.peek(dir)?.get(latin1(shardKeys.applied));
    const a = stored === undefined ? undefined : recordPayload(shardKeys.applied, stored);
    this.startApplied = (a === undefined ? 0 : Number(a.readBigUInt64BE(0))) as LogIndex;
    const flips = opts.flips;
    const onCorruption = flips && ((e: CorruptionError) => flips.detected(disk.node, e));
    this.ready = detectedOnOpen(RocksShardStateMachine.open(dir, {
      gid: opts.gid, shardCount: opts.shardCount, dedupTtlMs: opts.dedupTtlMs, snapshotChunkBytes: opts.snapshotChunkBytes, clock: opts.clock,
      storage: (flips?.watch(storage, dir) ?? storage).incarnation(), onCorruption,
    }), flips, disk.node)
      .then((rsm) => {
        this.rsm = rsm;
        this.disk.smApplied = rsm.appliedIndex();
        this.sabotageCore();
      });
    // A crash while it opens: the incarnation is gone; its callers (if any) see the rejection.
    this.ready.catch(() => undefined);
  }

  get isOpen(): boolean {
    return this.rsm !== undefined;
  }

  get gid(): GroupId {
    return this.opts.gid;
  }

  private get sm(): RocksShardStateMachine {
    assert(this.rsm !== undefined, () => `sim shard g${this.opts.gid} n${this.disk.node}: used before it opened`);
    return this.rsm;
  }

  get core(): ShardGroupCore {
    return this.sm.core;
  }

  /** Whether applied writes are in the write-behind layer only (not written to the storage yet). */
  hasUnflushed(): boolean {
    if (this.rsm === undefined) return false;
    for (const _ of this.rsm.unflushed()) return true;
    return false;
  }

  /** The production state machine's log time (undefined until it opened). */
  logTimeMs(): number | undefined {
    return this.rsm?.logTimeMs();
  }

  appliedIndex(): LogIndex {
    return this.rsm?.appliedIndex() ?? this.startApplied;
  }

  /** The config number of the durable state (what a read's ownership was checked against). */
  durableConfig(): ConfigNum {
    return this.sm.durableConfig();
  }

  async apply(entries: readonly Entry[], answer?: (i: number, result: ApplyResult) => void): Promise<ApplyResult[]> {
    await this.ready;
    const cmds = entries.map((e) => (e.type === "normal" ? decodeCommand(e.data) : undefined));
    const results: ApplyResult[] = [];
    let from = 0;
    for (let i = 0; i < entries.length; i++) {
      const op = cmds[i]?.op;
      const ends = op?.kind === "reconfigure" || (op?.kind === "insert" && op.chunk.last);
      if (!ends && i < entries.length - 1) continue;
      const segment = entries.slice(from, i + 1);
      const given = this.opts.sabotage?.ignoreDedup ? segment.map((e, k) => ownClient(e, cmds[from + k])) : segment;
      const before = this.sm.core.config.num;
      const at = from;
      const rs = await this.sm.apply(given, answer && ((k, r) => answer(at + k, r)));
      this.report(segment, cmds.slice(from, i + 1), rs, before);
      results.push(...rs);
      from = i + 1;
    }
    return results;
  }

  /** Tells the observer what a written segment did (its last entry may have frozen or completed shards). */
  private report(entries: readonly Entry[], cmds: readonly (ShardCommand | undefined)[], results: readonly ApplyResult[], configBefore: ConfigNum): void {
    const core = this.sm.core;
    this.disk.smApplied = this.sm.appliedIndex();
    // Only a segment's last entry can move the config (segments end at reconfigurations).
    const out: ShardAppliedEntry[] = entries.map((e, i) => ({
      index: e.index, cmd: cmds[i], result: results[i]!, configNum: i === entries.length - 1 ? core.config.num : configBefore,
    }));
    const lastCmd = cmds[cmds.length - 1];
    const r = results[results.length - 1];
    let shardData: Map<ShardId, Map<string, Uint8Array>> | undefined;
    if (r?.kind === "reconfigure" && r.accepted) {
      // The group moves on only when nothing is in handoff: every shard in handoff now was frozen by this entry.
      shardData = new Map();
      for (const m of core.allMetas()) if (m.state === "handoff") shardData.set(m.shard, this.stored(m.shard));
    } else if (r?.kind === "insert" && r.accepted && lastCmd?.op.kind === "insert" && lastCmd.op.chunk.last) {
      const s = lastCmd.op.chunk.shard;
      shardData = new Map([[s, this.stored(s)]]);
    }
    if (shardData) out[out.length - 1] = { ...out[out.length - 1]!, shardData };
    this.opts.observer?.applied(this.opts.gid, this.disk.node, out);
  }

  /**
   * What the replica holds of `shard`'s data: user key (latin1) -> value; what the storage
   * holds, under the applied writes its write-behind layer has not written yet.
   */
  stored(shard: ShardId): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    const ofShard = (k: string) => k.charCodeAt(0) === dataPrefix && ((k.charCodeAt(1) << 8) | k.charCodeAt(2)) === shard;
    for (const [k, v] of this.storage.peek(this.dir) ?? []) {
      if (!ofShard(k)) continue;
      const p = recordPayload(Buffer.from(k, "latin1"), v);
      assert(p !== undefined, () => `sim shard g${this.opts.gid} n${this.disk.node}: stored value of ${k.slice(3)} does not verify`);
      out.set(k.slice(3), p);
    }
    for (const [key, v] of this.sm.unflushed()) {
      const k = key.toString("latin1");
      if (!ofShard(k)) continue;
      if (v === undefined) out.delete(k.slice(3));
      else out.set(k.slice(3), v);
    }
    return out;
  }

  async get(shard: ShardId, key: Uint8Array): Promise<Uint8Array | undefined> {
    const num = this.sm.durableConfig();
    const v = await this.sm.get(shard, key);
    this.opts.observer?.readServed(this.opts.gid, this.disk.node, shard, num);
    return v;
  }

  pullChunks(configNum: ConfigNum, shard: ShardId, afterKey: Uint8Array | undefined, chunkBytesMax: number): AsyncGenerator<ShardChunkIn> {
    return this.sm.pullChunks(configNum, shard, afterKey, chunkBytesMax);
  }

  async snapshot(): Promise<SnapshotSource> {
    await this.ready;
    this.disk.snapshotsTaken++;
    const src = await this.sm.snapshot();
    const onRewind = this.opts.onRewind;
    return {
      index: src.index,
      close: () => src.close(),
      readChunk: (n) => src.readChunk(n).catch((e: unknown) => {
        if (e instanceof SnapshotRewindError) onRewind?.();
        throw e;
      }),
    };
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    return recordedRestoreSink(this.disk, meta, this.ready.then(() => this.sm.restore(meta)), () => this.sabotageCore());
  }

  /** Sabotage `skipOwnership`: the production core lets writes to a shard in handoff or pulling through. */
  private sabotageCore(): void {
    if (!this.opts.sabotage?.skipOwnership) return;
    const c = this.sm.core;
    const real = c.serves.bind(c);
    c.serves = (s: ShardId) => real(s) || c.meta(s).state === "handoff" || c.meta(s).state === "pulling";
  }
}

/** Sabotage `ignoreDedup`: a write entry re-encoded with a client id of its own (from its log index). */
function ownClient(e: Entry, cmd: ShardCommand | undefined): Entry {
  if (cmd?.op.kind !== "write") return e;
  const clientId = e.index.toString(16).padStart(32, "0");
  return { ...e, data: encodeCommand({ ...cmd, op: { ...cmd.op, write: { ...cmd.op.write, clientId, ackedBelow: 0 } } }) };
}
