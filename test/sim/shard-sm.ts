/**
 * A shard group's state machine over the simulated disk: the apply path is the daemon's own
 * (shard-server/apply.ts's ShardApplier over the pure ShardGroupCore); what RocksDB stores
 * (key/value data, shard metas, duplicate tables, config, applied index) is a
 * `ShardDurable` here, changed by the same Effects in the same order, in ONE write per apply
 * batch that completes after the disk's fsync latency (a crash loses every apply not synced,
 * and a restart rebuilds the core from what is durable, so missing Effects would show).
 *
 * With `unsyncedApplies` (like the daemon, whose applies skip fsync) an apply is visible at
 * once and reaches the disk after its latency; a crash before that sends the replica back to an
 * earlier applied index (RaftNode re-applies from the log), and `snapshot()` first waits until
 * everything applied is durable. Without it, an apply resolves once durable; the core runs
 * ahead meanwhile, so `pullChunks` waits for it, as RocksShardStateMachine did with synced
 * applies. Reads (`get`, `pullChunks`, snapshots) see the applied state. Snapshots (the whole
 * state, codec-encoded) and pulled chunks are small, so multi-chunk paths run.
 */
import { assert } from "../../common/assert";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId } from "../../common/ids";
import { InvalidArgumentError, WrongGroupError } from "../../common/errors";
import { decodeConfig, encodeConfig } from "../../controller/codec";
import { type Config, initialConfig } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import type { Entry, SnapshotMeta } from "../../raft/core/types";
import { copySnapshotMeta } from "../../raft/core/conf-change";
import { bytesSnapshotSink, bytesSnapshotSource, type SnapshotSink, type SnapshotSource, type StateMachine } from "../../raft/state-machine";
import { type ApplyResult, ShardApplier } from "../../shard-server/apply";
import { decodeDedupRecord, decodeShardMeta, encodeDedupRecord, encodeShardMeta } from "../../shard-server/codec";
import { cutShardChunks } from "../../shard-server/chunks";
import { ShardNotReadyError } from "../../shard-server/errors";
import type { ShardStateView } from "../../shard-server/service";
import { type Effects, ShardGroupCore } from "../../shard-server/state-machine";
import type { DedupRecord, ShardChunkIn, ShardCommand, ShardMeta } from "../../shard-server/types";
import type { SimDisk } from "./disk";

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
const fromLatin1 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));

/** One replica's durable shard state (what survives every crash so far). */
export class ShardDurable {
  applied = 0 as LogIndex;
  config: Config;
  /** Stored metas (missing: notOwned). */
  metas = new Map<ShardId, ShardMeta>();
  dedup = new Map<ShardId, Map<string, DedupRecord>>();
  /** shard -> key (latin1) -> value. */
  data = new Map<ShardId, Map<string, Uint8Array>>();

  constructor(readonly gid: GroupId, readonly node: NodeId, readonly shardCount: number) {
    this.config = initialConfig(shardCount);
  }

  /** Whether `shard` is served by this durable state. */
  serves(shard: ShardId): boolean {
    return this.metas.get(shard)?.state === "serving" && this.config.shards[shard] === this.gid;
  }

  keysOf(shard: ShardId): number {
    return this.data.get(shard)?.size ?? 0;
  }

  value(shard: ShardId, key: string): Uint8Array | undefined {
    return this.data.get(shard)?.get(key);
  }

  /** Applies one command's Effects, in the order Effects prescribes (as the RocksDB batch does). */
  stage(fx: Effects): void {
    for (const s of fx.clearShards) {
      this.data.delete(s);
      this.dedup.delete(s);
    }
    for (const w of fx.writes) {
      let m = this.data.get(w.shard);
      if (!m) this.data.set(w.shard, (m = new Map()));
      if (w.value === undefined) m.delete(latin1(w.key));
      else m.set(latin1(w.key), w.value);
    }
    for (const m of fx.metas) this.metas.set(m.shard, m);
    for (const d of fx.dedup) {
      let t = this.dedup.get(d.shard);
      if (!t) this.dedup.set(d.shard, (t = new Map()));
      if (d.record === undefined) t.delete(d.clientId);
      else t.set(d.clientId, d.record);
    }
    if (fx.config) this.config = fx.config;
  }

  /** A deep copy (maps copied; records, metas and values are immutable and shared). */
  clone(): ShardDurable {
    const c = new ShardDurable(this.gid, this.node, this.shardCount);
    c.applied = this.applied;
    c.config = this.config;
    c.metas = new Map(this.metas);
    c.dedup = new Map([...this.dedup].map(([s, t]) => [s, new Map(t)]));
    c.data = new Map([...this.data].map(([s, m]) => [s, new Map(m)]));
    return c;
  }

  core(dedupTtlMs: number): ShardGroupCore {
    return new ShardGroupCore({
      gid: this.gid, shardCount: this.shardCount, config: this.config, metas: [...this.metas.values()], dedup: this.dedup, dedupTtlMs,
    });
  }
}

/** One applied entry as the checkers see it (reported when its apply became durable). */
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
  /** An apply batch became durable on (gid, node). */
  applied(gid: GroupId, node: NodeId, entries: readonly ShardAppliedEntry[], state: ShardDurable): void;
  restored(gid: GroupId, node: NodeId, index: LogIndex, state: ShardDurable): void;
}

/** Sabotages (checker tests only). */
export interface ShardSabotage {
  /** Apply every write as if its client had no duplicate record (a retry executes again). */
  readonly ignoreDedup?: boolean;
  /** Apply writes to any shard this group ever held, whatever its state (no ownership check at apply). */
  readonly skipOwnership?: boolean;
}

export interface SimShardOptions {
  readonly dedupTtlMs: number;
  /**
   * Like RocksShardStateMachine: an apply is visible at once and written without fsync (a crash
   * loses it: the replica restarts at an earlier applied index and re-applies from the log);
   * snapshot() first waits until everything applied is durable. Otherwise each apply resolves
   * only once durable.
   */
  readonly unsyncedApplies?: boolean;
  readonly snapshotChunkBytes: number;
  readonly observer?: ShardObserver;
  readonly sabotage?: ShardSabotage;
}

function encodeSnapshot(d: ShardDurable): Uint8Array {
  const b64 = (x: Uint8Array) => Buffer.from(x).toString("base64");
  const o = {
    config: b64(encodeConfig(d.config)),
    metas: [...d.metas.values()].map((m) => b64(encodeShardMeta(m))),
    dedup: [...d.dedup].flatMap(([s, t]) => [...t].map(([id, r]) => [s, b64(encodeDedupRecord(id, r))])),
    data: [...d.data].flatMap(([s, m]) => [...m].map(([k, v]) => [s, Buffer.from(k, "latin1").toString("base64"), b64(v)])),
  };
  return new TextEncoder().encode(JSON.stringify(o));
}

function decodeSnapshotInto(bytes: Uint8Array, d: ShardDurable): void {
  const o = JSON.parse(new TextDecoder().decode(bytes)) as {
    config: string; metas: string[]; dedup: [number, string][]; data: [number, string, string][];
  };
  const u = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
  d.config = decodeConfig(u(o.config));
  assert(d.config.shards.length === d.shardCount, "snapshot of another shard count");
  d.metas = new Map(o.metas.map((m) => decodeShardMeta(u(m))).map((m) => [m.shard, m]));
  d.dedup = new Map();
  for (const [s, r] of o.dedup) {
    const [id, rec] = decodeDedupRecord(u(r));
    let t = d.dedup.get(s as ShardId);
    if (!t) d.dedup.set(s as ShardId, (t = new Map()));
    t.set(id, rec);
  }
  d.data = new Map();
  for (const [s, k, v] of o.data) {
    let m = d.data.get(s as ShardId);
    if (!m) d.data.set(s as ShardId, (m = new Map()));
    m.set(Buffer.from(k, "base64").toString("latin1"), u(v));
  }
}

/** The shard state machine of one incarnation of one replica. */
export class SimShardStateMachine implements StateMachine<ApplyResult>, ShardStateView {
  private readonly epoch: number;
  private c: ShardGroupCore;
  private readonly applier: ShardApplier;
  private inFlight: Promise<void> | undefined;
  /**
   * What reads see: the durable state itself, or (unsyncedApplies) a copy that runs ahead of
   * it by the applies not yet on disk.
   */
  private visible: ShardDurable;

  constructor(private readonly disk: SimDisk, readonly durable: ShardDurable, private readonly opts: SimShardOptions) {
    this.epoch = disk.epoch;
    assert(disk.smApplied === durable.applied, () => `sm g${durable.gid} n${disk.node}: disk says applied ${disk.smApplied}, shard state ${durable.applied}`);
    this.visible = opts.unsyncedApplies ? durable.clone() : durable;
    this.c = durable.core(opts.dedupTtlMs);
    this.applier = new ShardApplier({ who: `shard group ${durable.gid}`, shardCount: durable.shardCount, dedupTtlMs: opts.dedupTtlMs });
    if (opts.sabotage?.skipOwnership) this.breakOwnership();
  }

  get core(): ShardGroupCore {
    return this.c;
  }

  appliedIndex(): LogIndex {
    return this.visible.applied;
  }

  /** The state reads see (durable, or ahead of it with unsynced applies). */
  get state(): ShardDurable {
    return this.visible;
  }

  /** Sabotage: the core's ownership check lets writes to a shard in any state through. */
  private breakOwnership(): void {
    const c = this.c;
    const real = c.serves.bind(c);
    c.serves = (s: ShardId) => real(s) || c.meta(s).state === "handoff" || c.meta(s).state === "pulling";
  }

  apply(entries: readonly Entry[]): Promise<ApplyResult[]> {
    const p = this.applyNow(entries);
    const done = p.then(() => undefined, () => undefined);
    this.inFlight = done;
    void done.then(() => {
      if (this.inFlight === done) this.inFlight = undefined;
    });
    return p;
  }

  private async applyNow(entries: readonly Entry[]): Promise<ApplyResult[]> {
    assert(entries.length > 0, "apply of no entries");
    const d = this.visible;
    const first = entries[0]!.index;
    // Reads of later entries in the batch see earlier ones: copy-on-write per shard.
    const work = new Map<ShardId, Map<string, Uint8Array>>();
    const cleared = new Set<ShardId>();
    const shardMap = (s: ShardId): Map<string, Uint8Array> | undefined => work.get(s) ?? (cleared.has(s) ? undefined : d.data.get(s));
    const store = { read: (s: ShardId, key: Uint8Array) => shardMap(s)?.get(latin1(key)) };
    const out: ShardAppliedEntry[] = [];
    const fxs: Effects[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === first + i, () => `sm g${d.gid} n${d.node}: entries not contiguous at ${e.index}`);
      if (this.opts.sabotage?.ignoreDedup && e.type === "normal") {
        for (const s of this.c.allMetas()) (this.c.dedupOf(s.shard) as Map<string, DedupRecord>).clear();
      }
      const a = await this.applier.apply(this.c, e, store);
      if (a.cmd !== undefined) {
        fxs.push(a.fx);
        for (const s of a.fx.clearShards) {
          cleared.add(s);
          work.set(s, new Map());
        }
        for (const w of a.fx.writes) {
          let m = work.get(w.shard);
          if (!m) work.set(w.shard, (m = new Map(shardMap(w.shard) ?? [])));
          if (w.value === undefined) m.delete(latin1(w.key));
          else m.set(latin1(w.key), w.value);
        }
      }
      let shardData: Map<ShardId, Map<string, Uint8Array>> | undefined;
      const r = a.result;
      if (r?.kind === "reconfigure" && r.accepted) {
        shardData = new Map();
        for (const m of a.fx.metas) if (m.state === "handoff") shardData.set(m.shard, new Map(shardMap(m.shard) ?? []));
      } else if (r?.kind === "insert" && r.accepted && a.cmd?.op.kind === "insert" && a.cmd.op.chunk.last) {
        const s = a.cmd.op.chunk.shard;
        shardData = new Map([[s, new Map(shardMap(s) ?? [])]]);
      }
      out.push({ index: e.index, cmd: a.cmd, result: a.result, configNum: this.c.config.num, shardData });
    }
    const last = entries[entries.length - 1]!.index;
    const durable = this.durable;
    const persist = (): void => {
      assert(first === durable.applied + 1, () => `sm g${durable.gid} n${durable.node}: applying ${first}..${last} at durable applied ${durable.applied}`);
      for (const fx of fxs) durable.stage(fx);
      durable.applied = last;
      this.disk.smApplied = last;
    };
    if (!this.opts.unsyncedApplies) {
      return this.disk.write(this.epoch, "apply", () => {
        persist();
        this.opts.observer?.applied(d.gid, d.node, out, d);
        return out.map((a) => a.result);
      });
    }
    assert(first === d.applied + 1, () => `sm g${d.gid} n${d.node}: applying ${first}..${last} at applied ${d.applied}`);
    for (const fx of fxs) d.stage(fx);
    d.applied = last;
    this.opts.observer?.applied(d.gid, d.node, out, d);
    await this.disk.writeUnsynced(this.epoch, "apply (no fsync)", persist);
    return out.map((a) => a.result);
  }

  /** The daemon's read point: durable ownership, then the durable value. */
  async get(shard: ShardId, key: Uint8Array): Promise<Uint8Array | undefined> {
    const d = this.visible;
    if (!Number.isInteger(shard) || shard < 0 || shard >= d.shardCount) throw new InvalidArgumentError("shard", `must be in [0, ${d.shardCount}), got ${shard}`);
    const s = shardOf(key, d.shardCount);
    if (s !== shard) throw new InvalidArgumentError("key", `key of shard ${s} read as shard ${shard}`);
    if (!d.serves(shard) && !this.opts.sabotage?.skipOwnership) throw new WrongGroupError(shard, d.config.num);
    return d.value(shard, latin1(key));
  }

  async *pullChunks(configNum: ConfigNum, shard: ShardId, afterKey: Uint8Array | undefined, chunkBytesMax: number): AsyncGenerator<ShardChunkIn> {
    const d = this.visible;
    if (!Number.isInteger(shard) || shard < 0 || shard >= d.shardCount) throw new InvalidArgumentError("shard", `must be in [0, ${d.shardCount}), got ${shard}`);
    while (this.inFlight !== undefined) await this.inFlight;
    const ready = this.c.canServePull(configNum, shard);
    if (ready === "notReady") throw new ShardNotReadyError(shard, configNum, this.c.config.num);
    if (ready === "gone") {
      const m = this.c.meta(shard);
      throw new InvalidArgumentError("config_num", `shard ${shard} is not in handoff for config ${configNum} in group ${d.gid} (state ${m.state} at config ${m.configNum})`);
    }
    const dedup = new Map(this.c.dedupOf(shard));
    const after = afterKey === undefined ? undefined : latin1(afterKey);
    const kvs0 = [...(d.data.get(shard) ?? new Map<string, Uint8Array>())]
      .filter(([k]) => after === undefined || Buffer.compare(Buffer.from(k, "latin1"), Buffer.from(after, "latin1")) > 0)
      .sort(([a], [b]) => Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")));
    yield* cutShardChunks({ configNum, shard }, kvs0.map(([k, v]) => ({ key: fromLatin1(k), value: v })), dedup, chunkBytesMax);
  }

  async snapshot(): Promise<SnapshotSource> {
    // RaftNode compacts the log up to the snapshot: everything applied must be durable first.
    // A synced write completes after every earlier write (in order), like a RocksDB WAL sync.
    while (this.durable.applied < this.visible.applied) await this.disk.write(this.epoch, "sync", () => undefined);
    this.disk.snapshotsTaken++;
    return bytesSnapshotSource(this.visible.applied, encodeSnapshot(this.visible), this.opts.snapshotChunkBytes);
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    return bytesSnapshotSink(async (bytes) => {
      const d = this.durable;
      const p = this.disk.write(this.epoch, "restore", () => {
        decodeSnapshotInto(bytes, d);
        d.applied = meta.index;
        this.disk.smApplied = meta.index;
        this.disk.smRestored = copySnapshotMeta(meta);
        this.opts.observer?.restored(d.gid, d.node, meta.index, d);
      });
      const done = p.then(() => undefined, () => undefined);
      this.inFlight = done;
      await p;
      if (this.opts.unsyncedApplies) this.visible = d.clone();
      this.c = d.core(this.opts.dedupTtlMs);
      if (this.opts.sabotage?.skipOwnership) this.breakOwnership();
      this.applier.reset();
      if (this.inFlight === done) this.inFlight = undefined;
    });
  }
}
