/**
 * The controller's applied state on RocksDB (docs/design.md §2 "Applied state lives in RocksDB")
 * through the storage seam (common/kv-store.ts): the whole configuration history,
 * the duplicate table and the applied index, in the replica's own database directory (the Raft
 * log lives in another). RaftNode drives it through the StateMachine contract; the controller
 * server reads configs from it for Query and Watch.
 *
 * A directory of the previous format (configs without members, no "r" records) opens as is:
 * its groups' servers read as voters of unknown id (controller/config-wire.ts), no intent
 * pending.
 *
 * Key layout (binary keys; a one-byte ASCII prefix per kind):
 *   "ms"                        shard count         u32 BE (fixed when the directory is created)
 *   "ma"                        applied index       u64 BE
 *   "mi"                        cluster id          UTF-8 (absent until an InitCluster entry applied)
 *   "mc"                        controller members  shardkv.controller.Group (gid 0; absent until recorded)
 *   "!f"                        format marker       common/checked-kv.ts
 *   "c" ++ u64 BE num           config `num`        shardkv.controller.Config (protobuf)
 *   "d" ++ 16-byte client id    duplicate entry     shardkv.controller.DedupEntry (protobuf)
 *   "p" ++ u64 BE gid           pending join        shardkv.controller.PendingJoin (protobuf)
 *   "r" ++ u64 BE gid           replica intent      shardkv.controller.GroupIntent (protobuf; gid 0: the controller group)
 *
 * Every value is stored as a record with a CRC-32C of key and value: the state machine reads
 * and writes the payloads above through a CheckedKvStore (common/checked-kv.ts), which
 * verifies every read. A value that fails it stops the state machine (every later call
 * rejects with StoppedError, a read that found it too) and calls `onCorruption`, which stops
 * the replica; an open that finds one rejects with the CorruptionError.
 *
 * Every apply writes the configs it created, the duplicate-table changes (and evictions) and
 * the new applied index in ONE synced batch for the whole entries array, so a restart resumes
 * exactly where the last durable apply left off and never replays the world. Only the latest
 * config and the duplicate table (bounded by dedupClientsMax) are kept in memory, in a
 * ControllerCore; historical configs are read from RocksDB on demand.
 *
 * Snapshots are a ControllerSnapshot (shard count, every config, the duplicate table, the
 * cluster id, the pending joins, the replica intents, the controller group's members) cut into chunks; restoring one replaces everything in one
 * synced batch, and is refused (DataDirError) when it carries another cluster's id than the
 * one applied here.
 */
import { assert } from "../common/assert";
import { CorruptionError, DataDirError, InvalidArgumentError } from "../common/errors";
import { type CheckedKvStore, openCheckedKv, StateStop } from "../common/checked-kv";
import type { ConfigNum, LogIndex } from "../common/ids";
import type { Entry, SnapshotMeta } from "../raft/core/types";
import { bytesSnapshotSink, bytesSnapshotSource, decodeCommitted, type SnapshotSink, type SnapshotSource, type StateMachine } from "../raft/state-machine";
import type { KvOp, KvReader, KvStorage } from "../common/kv-store";
import { rocksStorage } from "../raft/storage/rocks-kv";
import { type Config, initialConfig, shardCountDefault, validateShardCount } from "./config";
import {
  clientIdBytes, configFromWire, configToWire, controllerPb as pb, decodeConfig, decodeLogEntry, encodeConfig, intentFromWire, intentToWire, memberFromWire, memberToWire,
  pendingJoinFromWire, pendingJoinToWire, resultFromWire, resultToWire,
} from "./codec";
import type { Member, ReplicaIntent } from "../common/replica-change";
import type { ReplicaState } from "./replica-intents";
import type { GroupId } from "../common/ids";
import type { PendingJoin } from "./pending-joins";
import { type CommandResult, type ControllerCommand, ControllerCore, type DedupEntry } from "./state-machine";
import { snapshotChunkBytesMax } from "../common/limits";

/** Bytes per snapshot chunk sent to a lagging follower (1 MiB). */
export const controllerSnapshotChunkBytes = snapshotChunkBytesMax;

/**
 * The result RaftNode hands back for a noop entry. Nobody proposes noops (the Raft core
 * appends one per term), so nobody reads it; it exists because apply returns one result per entry.
 */
export const noopResult: CommandResult = { ok: false, field: "entry", reason: "noop entry" };

const shardCountKey = Buffer.from("ms");
const appliedKey = Buffer.from("ma");
const clusterIdKey = Buffer.from("mi");
const controllersKey = Buffer.from("mc");
const configPrefix = 0x63; // 'c'
const dedupPrefix = 0x64; // 'd'
const pendingPrefix = 0x70; // 'p'
const intentPrefix = 0x72; // 'r'

/** A one-byte prefix and a u64 BE number (a config number or a gid). */
function gidKey(prefix: number, gid: number): Buffer {
  const k = Buffer.alloc(9);
  k[0] = prefix;
  k.writeBigUInt64BE(BigInt(gid), 1);
  return k;
}

/** The keys of the store's records (exported for tests). */
export const controllerKeys = {
  shardCount: shardCountKey,
  applied: appliedKey,
  clusterId: clusterIdKey,
  controllers: controllersKey,
  config(num: number): Buffer {
    return gidKey(configPrefix, num);
  },
  dedup(clientId: string): Buffer {
    const id = Buffer.from(clientId, "hex");
    assert(id.length === clientIdBytes && id.toString("hex") === clientId, `dedup key: bad client id ${clientId}`);
    return Buffer.concat([Buffer.from([dedupPrefix]), id]);
  },
  pending(gid: number): Buffer {
    return gidKey(pendingPrefix, gid);
  },
  intent(gid: number): Buffer {
    return gidKey(intentPrefix, gid);
  },
  intentsStart: Buffer.from([intentPrefix]),
  intentsEnd: Buffer.from([intentPrefix + 1]),
  pendingStart: Buffer.from([pendingPrefix]),
  pendingEnd: Buffer.from([pendingPrefix + 1]),
  configsStart: Buffer.from([configPrefix]),
  configsEnd: Buffer.from([configPrefix + 1]),
  dedupStart: Buffer.from([dedupPrefix]),
  dedupEnd: Buffer.from([dedupPrefix + 1]),
};

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

function encodeDedup(clientId: string, e: DedupEntry): Uint8Array {
  return pb.DedupEntry.encode({ clientId: Buffer.from(clientId, "hex"), seq: e.seq, result: resultToWire(e.result), lastIndex: e.lastIndex }).finish();
}

function dedupFromWire(w: { clientId?: Uint8Array | null; seq?: number | null; result?: object | null; lastIndex?: number | null }): [string, DedupEntry] {
  const id = Buffer.from(w.clientId ?? new Uint8Array(0));
  assert(id.length === clientIdBytes, `dedup entry with a ${id.length}-byte client id`);
  return [id.toString("hex"), { seq: w.seq ?? 0, result: resultFromWire(w.result ?? {}), lastIndex: (w.lastIndex ?? 0) as LogIndex }];
}


/** A key of the layout in words, for CorruptionErrors ("config 12"). */
export function describeControllerKey(k: Buffer): string {
  if (k.length === 9 && k[0] === configPrefix) return `config ${k.readBigUInt64BE(1)}`;
  if (k.length === 9 && k[0] === pendingPrefix) return `pending join of group ${k.readBigUInt64BE(1)}`;
  if (k.length === 1 + clientIdBytes && k[0] === dedupPrefix) return `duplicate entry of client ${k.subarray(1).toString("hex")}`;
  const named: Record<string, string> = { ms: "shard count", ma: "applied index", mi: "cluster id", "!f": "format marker" };
  return named[k.toString("latin1")] ?? `key ${k.toString("hex")}`;
}

/** Called with each config once it is durable, in num order (after a restore: the latest only). */
export type ConfigListener = (c: Config) => void;

/** What an InitCluster entry returns (nobody reads it: the proposer reads clusterId()). */
export const clusterInitResult: CommandResult = { ok: false, field: "entry", reason: "cluster id entry" };

export class RocksControllerStateMachine implements StateMachine<CommandResult> {
  private applied: LogIndex;
  private core: ControllerCore;
  private shards: number;
  /**
   * The latest config that is durable. The core runs ahead of it while an apply's batch is
   * being written; readers (Query, Watch) see only durable configs.
   */
  private durableLatestConfig: Config;
  private readonly listeners = new Set<ConfigListener>();
  private readonly clusterListeners = new Set<(clusterId: string) => void>();
  /** Called once a change of the replica intents is durable (an apply's batch, a snapshot install). */
  private readonly intentListeners = new Set<() => void>();
  private closed = false;
  /** Set when a state change failed (see changing()) or a read found a corrupt value. */
  private readonly stop: StateStop;
  /** The cluster id once durable here (undefined until an InitCluster entry or a snapshot set it). */
  private cluster: string | undefined;

  private constructor(
    /** The database directory (for messages). */
    readonly dir: string,
    private readonly db: CheckedKvStore,
    shardCount: number,
    applied: LogIndex,
    core: ControllerCore,
    clusterId: string | undefined,
    onCorruption: ((e: CorruptionError) => void) | undefined,
  ) {
    this.stop = new StateStop("controller state", onCorruption);
    db.onCorruption = (e) => this.stop.corrupted(e);
    this.cluster = clusterId;
    this.shards = shardCount;
    this.applied = applied;
    this.core = core;
    this.durableLatestConfig = core.latest;
  }

  private get durableLatest(): ConfigNum {
    return this.durableLatestConfig.num;
  }

  /**
   * Opens (creating if missing) the state in `dir`. On creation it stores the shard count
   * (`shardCount`, default 64) and config 0. On a later open, a `shardCount` that differs from
   * the stored one is an InvalidArgumentError naming both (undefined means "not given").
   * `onCorruption` is called once when a stored value fails its checksum: the replica must
   * stop (see the module comment).
   */
  static async open(
    dir: string, shardCount?: number, storage: KvStorage = rocksStorage, onCorruption?: (e: CorruptionError) => void,
  ): Promise<RocksControllerStateMachine> {
    if (shardCount !== undefined) validateShardCount(shardCount);
    const db = await openCheckedKv(storage, dir, describeControllerKey);
    try {
      let stored = await db.get(shardCountKey);
      if (stored === undefined) {
        const n = shardCount ?? shardCountDefault;
        const c0 = initialConfig(n);
        await db.write([
          { type: "put", key: controllerKeys.config(0), value: encodeConfig(c0) },
          { type: "put", key: appliedKey, value: u64(0) },
          // Written last in the batch (the batch is atomic anyway): its presence means "created".
          { type: "put", key: shardCountKey, value: u32(n) },
        ], { sync: true });
        stored = u32(n);
      }
      assert(stored.length === 4, `${dir}: shard count record has ${stored.length} bytes, want 4`);
      const n = stored.readUInt32BE(0);
      if (shardCount !== undefined && shardCount !== n) {
        throw new InvalidArgumentError("shards", `data dir ${dir} was created with ${n} shards, --shards says ${shardCount}`);
      }
      const a = await db.get(appliedKey);
      assert(a !== undefined && a.length === 8, `${dir}: applied index record missing or not 8 bytes`);
      const applied = Number(a.readBigUInt64BE(0)) as LogIndex;
      const { latest, dedup, pending, replicas } = await loadCore(db, dir);
      assert(latest.shards.length === n, `${dir}: latest config ${latest.num} has ${latest.shards.length} shards, the directory ${n}`);
      const cluster = await db.get(clusterIdKey);
      return new RocksControllerStateMachine(dir, db, n, applied, new ControllerCore(latest, dedup, pending, replicas), cluster?.toString("utf8"), onCorruption);
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  appliedIndex(): LogIndex {
    return this.applied;
  }

  /** The cluster's shard count (fixed at creation). */
  shardCount(): number {
    return this.shards;
  }

  /** The cluster's id once durable on this replica; undefined until then. */
  clusterId(): string | undefined {
    return this.cluster;
  }

  /** Adds a listener called once the cluster id is durable here; returns its remover. */
  subscribeClusterId(listener: (clusterId: string) => void): () => void {
    this.clusterListeners.add(listener);
    return () => this.clusterListeners.delete(listener);
  }

  /** The latest durable config. */
  latest(): Config {
    return this.durableLatestConfig;
  }

  /** Number of the latest durable config. */
  latestNum(): ConfigNum {
    return this.durableLatest;
  }

  /** The joins no replica has acknowledged yet (may run ahead of durable state during an apply). */
  pendingJoins(): ReadonlyMap<GroupId, PendingJoin> {
    return this.core.pendingJoins();
  }

  /** The pending replica changes and the controller group's members (may run ahead of durable state during an apply). */
  replicaState(): ReplicaState {
    return this.core.replicaState();
  }

  /** Why `op` must wait for a pending group's acknowledgement, or undefined (see ControllerCore). */
  stackingRefusal(op: ControllerCommand["op"]): string | undefined {
    return this.core.stackingRefusal(op);
  }

  /** The duplicate-table entry of `clientId` (hex), if any. */
  dedupEntry(clientId: string): DedupEntry | undefined {
    return this.core.dedupEntries().get(clientId);
  }

  /** Config `num` from RocksDB, or undefined if it does not exist (yet). */
  async config(num: number): Promise<Config | undefined> {
    this.checkUsable("read");
    if (!Number.isSafeInteger(num) || num < 0 || num > this.durableLatest) return undefined;
    if (num === this.durableLatest) return this.durableLatestConfig;
    const v = await this.stop.reading("read", () => this.db.get(controllerKeys.config(num)));
    return v === undefined ? undefined : decodeConfig(v);
  }

  /**
   * Adds a listener called once a change of the replica intents (or the controller group's
   * members) is durable here, and after a snapshot install; returns its remover.
   */
  subscribeIntents(listener: () => void): () => void {
    this.intentListeners.add(listener);
    return () => this.intentListeners.delete(listener);
  }

  /** Adds a listener for new durable configs; returns the function that removes it. */
  subscribe(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply(entries: readonly Entry[]): Promise<CommandResult[]> {
    return this.changing("apply", () => this.applyNow(entries));
  }

  /**
   * Runs a state change. The core decides each command before the batch is written, so a
   * failed write leaves it ahead of a database in an unknown state: the state machine stops
   * (the call rejects with the write's error, every later change and read with StoppedError),
   * and a restart reloads core and database, which agree.
   */
  private async changing<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.checkUsable(what);
    try {
      return await fn();
    } catch (e) {
      this.stop.failed(e);
      throw e;
    }
  }

  /** Throws StoppedError after a failed state change or a corrupt value. */
  private checkUsable(what: string): void {
    this.stop.check(what);
  }

  private async applyNow(entries: readonly Entry[]): Promise<CommandResult[]> {
    assert(entries.length > 0, "apply of no entries");
    assert(!this.closed, "apply after close");
    const ops: KvOp[] = [];
    const results: CommandResult[] = [];
    const created: Config[] = [];
    let cluster = this.cluster;
    const pendingBefore = this.core.pendingJoins();
    const intentsBefore = this.core.replicaIntents();
    let pendingChanged = false;
    let intentsChanged = false;
    for (const e of entries) {
      assert(e.index > this.applied, () => `apply of entry ${e.index} at applied ${this.applied}`);
      if (e.type !== "normal") {
        results.push(noopResult);
        continue;
      }
      const cmd = decodeCommitted(e, decodeLogEntry, "controller");
      if ("kind" in cmd) {
        // The first InitCluster committed sets the id for good; later ones are no-ops.
        if (cluster === undefined) {
          cluster = cmd.clusterId;
          ops.push({ type: "put", key: clusterIdKey, value: Buffer.from(cluster, "utf8") });
        }
        results.push(clusterInitResult);
        continue;
      }
      const out = this.core.apply(cmd, e.index);
      results.push(out.result);
      if (out.created) {
        ops.push({ type: "put", key: controllerKeys.config(out.created.num), value: encodeConfig(out.created) });
        created.push(out.created);
      }
      if (out.dedup) {
        ops.push({ type: "put", key: controllerKeys.dedup(out.dedup.clientId), value: encodeDedup(out.dedup.clientId, out.dedup.entry) });
        if (out.dedup.evicted !== undefined) ops.push({ type: "del", key: controllerKeys.dedup(out.dedup.evicted) });
      }
      pendingChanged ||= out.pendingChanged;
      intentsChanged ||= out.intentsChanged === true;
    }
    if (pendingChanged) {
      // The pending set is small (groups joined and not yet acknowledged): rewrite it whole.
      for (const gid of pendingBefore.keys()) ops.push({ type: "del", key: controllerKeys.pending(gid) });
      for (const p of this.core.pendingJoins().values()) {
        ops.push({ type: "put", key: controllerKeys.pending(p.gid), value: pb.PendingJoin.encode(pendingJoinToWire(p)).finish() });
      }
    }
    if (intentsChanged) {
      // At most one intent per group: rewrite them whole as well.
      for (const gid of intentsBefore.keys()) ops.push({ type: "del", key: controllerKeys.intent(gid) });
      for (const [gid, i] of this.core.replicaIntents()) ops.push(intentPut(gid, i));
      ops.push(controllersPut(this.core.controllerMembers()));
    }
    const last = entries[entries.length - 1]!.index;
    ops.push({ type: "put", key: appliedKey, value: u64(last) });
    await this.db.write(ops, { sync: true });
    this.applied = last;
    this.setCluster(cluster);
    if (created.length > 0) {
      this.durableLatestConfig = created[created.length - 1]!;
      for (const c of created) this.notify(c);
    }
    if (intentsChanged) this.notifyIntents();
    return results;
  }

  async snapshot(): Promise<SnapshotSource> {
    this.checkUsable("snapshot");
    const index = this.applied;
    const configs: ReturnType<typeof configToWire>[] = [];
    for await (const [, v] of this.db.iterator({ gte: controllerKeys.configsStart, lt: controllerKeys.configsEnd })) {
      configs.push(pb.Config.decode(v));
    }
    const dedup: object[] = [];
    for await (const [, v] of this.db.iterator({ gte: controllerKeys.dedupStart, lt: controllerKeys.dedupEnd })) {
      dedup.push(pb.DedupEntry.decode(v));
    }
    assert(configs.length === this.durableLatest + 1, `snapshot: ${configs.length} configs stored, latest is ${this.durableLatest}`);
    const pending: object[] = [];
    for await (const [, v] of this.db.iterator({ gte: controllerKeys.pendingStart, lt: controllerKeys.pendingEnd })) {
      pending.push(pb.PendingJoin.decode(v));
    }
    const intents: object[] = [];
    for await (const [, v] of this.db.iterator({ gte: controllerKeys.intentsStart, lt: controllerKeys.intentsEnd })) {
      intents.push(pb.GroupIntent.decode(v));
    }
    const controllers = this.core.controllerMembers().map(memberToWire);
    const bytes = pb.ControllerSnapshot.encode({ shardCount: this.shards, configs, dedup, pending, intents, controllers, clusterId: this.cluster ?? "" }).finish();
    return bytesSnapshotSource(index, bytes, controllerSnapshotChunkBytes);
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    return bytesSnapshotSink((bytes) => this.install(meta.index, bytes));
  }

  /** Releases the database; the state machine is unusable afterwards. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.clusterListeners.clear();
    this.intentListeners.clear();
    await this.db.close();
  }

  private async install(index: LogIndex, bytes: Uint8Array): Promise<void> {
    const snap = pb.ControllerSnapshot.decode(bytes);
    const shardCount = snap.shardCount ?? 0;
    validateShardCount(shardCount);
    const configs = (snap.configs ?? []).map(configFromWire);
    assert(configs.length > 0, `snapshot ${index}: no configs`);
    configs.forEach((c, i) => {
      assert(c.num === i, `snapshot ${index}: config ${i} has num ${c.num}`);
      assert(c.shards.length === shardCount, `snapshot ${index}: config ${i} has ${c.shards.length} shards, want ${shardCount}`);
    });
    const dedup = new Map((snap.dedup ?? []).map(dedupFromWire));
    const cluster = snap.clusterId || undefined;
    if (this.cluster !== undefined && cluster !== this.cluster) {
      // A leader of another cluster reached this replica (its --peers name another cluster's
      // replicas): installing would replace this cluster's history with that one's.
      throw new DataDirError(this.dir, `controller state ${this.dir} belongs to cluster ${this.cluster}, ` +
        `but a snapshot of cluster ${cluster ?? "(none yet)"} was sent to it; check --peers`, true);
    }
    const pending = new Map((snap.pending ?? []).map(pendingJoinFromWire).map((p) => [p.gid, p]));
    const replicas: ReplicaState = {
      intents: new Map((snap.intents ?? []).map(intentFromWire)),
      controllers: (snap.controllers ?? []).map((m) => memberFromWire(m, "controllers")),
    };
    await this.changing("snapshot install", async () => {
      const ops: KvOp[] = [];
      // Everything this replica had goes: the snapshot is the whole state at `index`.
      ops.push({ type: "delRange", gte: controllerKeys.configsStart, lt: controllerKeys.dedupEnd });
      ops.push({ type: "delRange", gte: controllerKeys.pendingStart, lt: controllerKeys.pendingEnd });
      ops.push({ type: "delRange", gte: controllerKeys.intentsStart, lt: controllerKeys.intentsEnd });
      for (const c of configs) ops.push({ type: "put", key: controllerKeys.config(c.num), value: encodeConfig(c) });
      for (const [id, e] of dedup) ops.push({ type: "put", key: controllerKeys.dedup(id), value: encodeDedup(id, e) });
      for (const p of pending.values()) ops.push({ type: "put", key: controllerKeys.pending(p.gid), value: pb.PendingJoin.encode(pendingJoinToWire(p)).finish() });
      for (const [gid, i] of replicas.intents) ops.push(intentPut(gid, i));
      ops.push(controllersPut(replicas.controllers));
      ops.push({ type: "put", key: appliedKey, value: u64(index) });
      // The snapshot's shard count is the cluster's; a replica created with another one was
      // misconfigured, and adopting the snapshot's makes it consistent with the group again.
      ops.push({ type: "put", key: shardCountKey, value: u32(shardCount) });
      if (cluster !== undefined) ops.push({ type: "put", key: clusterIdKey, value: Buffer.from(cluster, "utf8") });
      await this.db.write(ops, { sync: true });
      const latest = configs[configs.length - 1]!;
      const grew = latest.num > this.durableLatest;
      this.shards = shardCount;
      this.core = new ControllerCore(latest, dedup, pending, replicas);
      this.applied = index;
      this.durableLatestConfig = latest;
      this.setCluster(cluster);
      if (grew) this.notify(latest);
      this.notifyIntents();
    });
  }

  /** Takes `cluster` (durable) as the cluster id, telling the listeners when it is new. */
  private setCluster(cluster: string | undefined): void {
    if (cluster === undefined || cluster === this.cluster) return;
    this.cluster = cluster;
    for (const l of [...this.clusterListeners]) l(cluster);
  }

  private notifyIntents(): void {
    for (const l of [...this.intentListeners]) l();
  }

  private notify(c: Config): void {
    for (const l of [...this.listeners]) l(c);
  }
}

/** The controller group's members record (none: deleted). */
function controllersPut(members: readonly Member[]): KvOp {
  if (members.length === 0) return { type: "del", key: controllersKey };
  return { type: "put", key: controllersKey, value: pb.Group.encode({ gid: 0, members: members.map(memberToWire) }).finish() };
}

function intentPut(gid: GroupId, i: ReplicaIntent): KvOp {
  return { type: "put", key: controllerKeys.intent(gid), value: pb.GroupIntent.encode(intentToWire(gid, i)).finish() };
}

/** Reads the latest config, the whole duplicate table, the pending joins and the replica intents. */
async function loadCore(db: KvReader, dir: string): Promise<{
  latest: Config; dedup: Map<string, DedupEntry>; pending: Map<GroupId, PendingJoin>; replicas: ReplicaState;
}> {
  let latest: Config | undefined;
  for await (const [k, v] of db.iterator({ gte: controllerKeys.configsStart, lt: controllerKeys.configsEnd, reverse: true, limit: 1 })) {
    latest = decodeConfig(v);
    assert(Number(k.readBigUInt64BE(1)) === latest.num, `${dir}: config stored under ${k.toString("hex")} has num ${latest.num}`);
  }
  assert(latest !== undefined, `${dir}: no config stored`);
  const dedup = new Map<string, DedupEntry>();
  for await (const [, v] of db.iterator({ gte: controllerKeys.dedupStart, lt: controllerKeys.dedupEnd })) {
    const [id, e] = dedupFromWire(pb.DedupEntry.decode(v));
    dedup.set(id, e);
  }
  const pending = new Map<GroupId, PendingJoin>();
  for await (const [, v] of db.iterator({ gte: controllerKeys.pendingStart, lt: controllerKeys.pendingEnd })) {
    const p = pendingJoinFromWire(pb.PendingJoin.decode(v));
    pending.set(p.gid, p);
  }
  const intents = new Map<GroupId, ReplicaIntent>();
  for await (const [, v] of db.iterator({ gte: controllerKeys.intentsStart, lt: controllerKeys.intentsEnd })) {
    const [gid, i] = intentFromWire(pb.GroupIntent.decode(v));
    intents.set(gid, i);
  }
  const c = await db.get(controllersKey);
  const controllers = c === undefined ? [] : (pb.Group.decode(c).members ?? []).map((m) => memberFromWire(m, "controllers"));
  return { latest, dedup, pending, replicas: { intents, controllers } };
}
