/**
 * The controller's state machine over the simulated disk: the same apply semantics as
 * controller/rocks-state.ts (a ControllerCore decides; the configs an apply batch created, the
 * duplicate-table changes and the new applied index become durable together, in one write),
 * with the SimDisk's fsync latency and crash semantics instead of RocksDB: a crash loses
 * every apply whose write had not completed, exactly like SimKvStateMachine.
 *
 * The durable state of a node (`ControllerDurable`) outlives its incarnations; each
 * incarnation rebuilds its in-memory ControllerCore from it. The core runs ahead of the
 * durable state while a write is in flight; readers (`latest`, `config`) see durable state
 * only, as the real server's Query does.
 *
 * Snapshots are a ControllerSnapshot (controller/codec.ts's protobuf: shard count, every
 * config, the duplicate table, the pending joins) cut into small chunks, so InstallSnapshot runs with many chunks;
 * a restore replaces everything, in one write.
 */
import { assert } from "../../common/assert";
import type { GroupId, LogIndex, NodeId } from "../../common/ids";
import type { Entry, SnapshotMeta } from "../../raft/core/types";
import { copySnapshotMeta } from "../../raft/core/conf-change";
import { bytesSnapshotSink, bytesSnapshotSource, decodeCommitted, type SnapshotSink, type SnapshotSource, type StateMachine } from "../../raft/state-machine";
import {
  clientIdBytes, configFromWire, configToWire, controllerPb as pb, decodeCommand, pendingJoinFromWire, pendingJoinToWire, resultFromWire,
  resultToWire,
} from "../../controller/codec";
import type { PendingJoin } from "../../controller/pending-joins";
import { type Config, initialConfig } from "../../controller/config";
import { type CommandResult, type ControllerCommand, ControllerCore, type DedupEntry } from "../../controller/state-machine";
import type { SimDisk } from "./disk";

/** What RaftNode gets for a noop entry (the same value as controller/rocks-state.ts's noopResult). */
export const simNoopResult: CommandResult = { ok: false, field: "entry", reason: "noop entry" };

/** One node's durable controller state (what survives every crash so far). */
export class ControllerDurable {
  applied = 0 as LogIndex;
  /** configs[n] is config n; config 0 exists from creation. */
  configs: Config[];
  dedup = new Map<string, DedupEntry>();
  /** The joins not yet acknowledged (part of the applied state, like the configs). */
  pending: ReadonlyMap<GroupId, PendingJoin> = new Map();

  constructor(readonly node: NodeId, readonly shardCount: number) {
    this.configs = [initialConfig(shardCount)];
  }

  latest(): Config {
    return this.configs[this.configs.length - 1]!;
  }
}

/** One applied entry as the checkers see it (reported when its apply became durable). */
export interface AppliedEntry {
  readonly index: LogIndex;
  readonly entry: Entry;
  /** The decoded command (undefined for noops). */
  readonly cmd: ControllerCommand | undefined;
  readonly result: CommandResult;
  readonly created: Config | undefined;
}

/** What the controller checkers see of durable state machine writes. */
export interface ControllerObserver {
  /** An apply batch became durable on `node` (configs, dedup and applied index together). */
  applied(node: NodeId, entries: readonly AppliedEntry[], state: ControllerDurable): void;
  /** A snapshot restore at `index` became durable on `node` (it replaced everything). */
  restored(node: NodeId, index: LogIndex, state: ControllerDurable): void;
}

export interface SimControllerOptions {
  readonly chunkBytes: number;
  readonly observer?: ControllerObserver;
  /**
   * Sabotage (checker tests only): apply every command as if the duplicate table were empty,
   * so a retried request executes again.
   */
  readonly ignoreDedup?: boolean;
}

/** The snapshot payload of a durable state (a ControllerSnapshot). */
export function encodeSnapshot(d: ControllerDurable): Uint8Array {
  return pb.ControllerSnapshot.encode({
    shardCount: d.shardCount,
    configs: d.configs.map(configToWire),
    dedup: [...d.dedup].map(([id, e]) => ({ clientId: Buffer.from(id, "hex"), seq: e.seq, result: resultToWire(e.result), lastIndex: e.lastIndex })),
    pending: [...d.pending.values()].map(pendingJoinToWire),
  }).finish();
}

function decodeSnapshot(
  bytes: Uint8Array, index: LogIndex, shardCount: number,
): { configs: Config[]; dedup: Map<string, DedupEntry>; pending: Map<GroupId, PendingJoin> } {
  const snap = pb.ControllerSnapshot.decode(bytes);
  assert(snap.shardCount === shardCount, () => `snapshot ${index}: shard count ${snap.shardCount}, this replica has ${shardCount}`);
  const configs = (snap.configs ?? []).map(configFromWire);
  assert(configs.length > 0, () => `snapshot ${index}: no configs`);
  configs.forEach((c, i) => {
    assert(c.num === i, () => `snapshot ${index}: config #${i} has num ${c.num}`);
    assert(c.shards.length === shardCount, () => `snapshot ${index}: config ${i} has ${c.shards.length} shards`);
  });
  const dedup = new Map<string, DedupEntry>();
  for (const w of snap.dedup ?? []) {
    const id = Buffer.from(w.clientId ?? new Uint8Array(0));
    assert(id.length === clientIdBytes, () => `snapshot ${index}: dedup entry with a ${id.length}-byte client id`);
    dedup.set(id.toString("hex"), { seq: w.seq ?? 0, result: resultFromWire(w.result ?? {}), lastIndex: (w.lastIndex ?? 0) as LogIndex });
  }
  const pending = new Map((snap.pending ?? []).map(pendingJoinFromWire).map((p) => [p.gid, p]));
  return { configs, dedup, pending };
}

/** The controller state machine of one incarnation of a node. */
export class SimControllerStateMachine implements StateMachine<CommandResult> {
  private readonly epoch: number;
  private core: ControllerCore;
  /** The core's own duplicate table (the durable one changes only when a write completes). */
  private coreDedup: Map<string, DedupEntry>;

  constructor(private readonly disk: SimDisk, readonly durable: ControllerDurable, private readonly opts: SimControllerOptions) {
    this.epoch = disk.epoch;
    assert(disk.smApplied === durable.applied, () => `sm ${disk.node}: disk says applied ${disk.smApplied}, controller state ${durable.applied}`);
    this.coreDedup = new Map(durable.dedup);
    this.core = new ControllerCore(durable.latest(), this.coreDedup, durable.pending);
  }

  appliedIndex(): LogIndex {
    return this.durable.applied;
  }

  /** The latest durable config (what Query(-1) returns). */
  latest(): Config {
    return this.durable.latest();
  }

  /** Durable config `num` (Query(num)): the latest for a number beyond it or negative. */
  config(num: number): Config {
    const d = this.durable;
    return num < 0 || num >= d.configs.length ? d.latest() : d.configs[num]!;
  }

  apply(entries: readonly Entry[]): Promise<CommandResult[]> {
    assert(entries.length > 0, "apply of no entries");
    const out: AppliedEntry[] = [];
    const first = entries[0]!.index;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      assert(e.index === first + i, () => `sm ${this.disk.node}: entries not contiguous at ${e.index}`);
      if (e.type !== "normal") {
        out.push({ index: e.index, entry: e, cmd: undefined, result: simNoopResult, created: undefined });
        continue;
      }
      const cmd: ControllerCommand = decodeCommitted(e, decodeCommand, "controller");
      if (this.opts.ignoreDedup) this.coreDedup.clear();
      const o = this.core.apply(cmd, e.index);
      out.push({ index: e.index, entry: e, cmd, result: o.result, created: o.created });
    }
    const last = entries[entries.length - 1]!.index;
    // The duplicate table as the batch leaves it (evictions included); the core's own table
    // is ahead of the durable one until the write completes.
    const dedupAfter = new Map(this.coreDedup);
    const pendingAfter = this.core.pendingJoins();
    return this.disk.write(this.epoch, "apply", () => {
      const d = this.durable;
      assert(first === d.applied + 1, () => `sm ${d.node}: applying ${first}..${last} at applied ${d.applied}`);
      for (const a of out) {
        if (!a.created) continue;
        assert(a.created.num === d.configs.length, () => `sm ${d.node}: entry ${a.index} created config ${a.created!.num}, durable has ${d.configs.length} configs`);
        d.configs.push(a.created);
      }
      d.dedup = dedupAfter;
      d.pending = pendingAfter;
      d.applied = last;
      this.disk.smApplied = last;
      this.opts.observer?.applied(d.node, out, d);
      return out.map((a) => a.result);
    });
  }

  async snapshot(): Promise<SnapshotSource> {
    const d = this.durable;
    this.disk.snapshotsTaken++;
    return bytesSnapshotSource(d.applied, encodeSnapshot(d), this.opts.chunkBytes);
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    return bytesSnapshotSink(async (bytes) => {
      const { configs, dedup, pending } = decodeSnapshot(bytes, meta.index, this.durable.shardCount);
      await this.disk.write(this.epoch, "restore", () => {
        const d = this.durable;
        d.configs = configs;
        d.dedup = dedup;
        d.pending = pending;
        d.applied = meta.index;
        this.disk.smApplied = meta.index;
        this.disk.smRestored = copySnapshotMeta(meta);
        this.opts.observer?.restored(d.node, meta.index, d);
      });
      this.coreDedup = new Map(this.durable.dedup);
      this.core = new ControllerCore(this.durable.latest(), this.coreDedup, this.durable.pending);
    });
  }
}
