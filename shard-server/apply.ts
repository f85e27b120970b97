/**
 * The apply path of a shard group's state machine (shard-server/rocks-state.ts, over RocksDB
 * in the daemon and over the simulated storage in the simulator): decode the committed entry,
 * dispatch its op to the pure ShardGroupCore (ownership checked here, at apply time), expire
 * idle duplicate records at the leader-assigned log time, and return the ApplyResult plus the
 * Effects the storage must make durable (with the applied index, in one write).
 *
 * The storage supplies `ApplyStore`: the current value of a key as of every earlier command
 * (its pending batch first, then durable state). Reads may be asynchronous (RocksDB), so the
 * keys a write touches are fetched before the synchronous core runs.
 */
import { byteKey } from "../common/bytes";
import { assert } from "../common/assert";
import { buggify } from "../common/buggify";
import type { ShardId } from "../common/ids";
import type { Entry } from "../raft/core/types";
import { decodeCommitted } from "../raft/state-machine";
import { decodeCommand } from "./codec";
import { type Effects, emptyEffects, type ShardGroupCore, type WriteOutcome } from "./state-machine";
import type { ClientWrite, CurrentValue, ShardCommand, ShardOp } from "./types";

/** The result of one applied log entry (null for a noop). */
export type ApplyResult =
  | { readonly kind: "write"; readonly outcome: WriteOutcome }
  | { readonly kind: "reconfigure" | "insert" | "gcDone" | "abortHandoff"; readonly accepted: boolean }
  | { readonly kind: "deleteShard"; readonly result: "done" | "notReady" }
  | null;

/** What the apply path reads from storage. */
export interface ApplyStore {
  /**
   * The value of `key` in `shard` as of every command applied before (including the ones of
   * the batch being built). Called only before the core runs, for the keys of a write.
   */
  read(shard: ShardId, key: Uint8Array): CurrentValue | Promise<CurrentValue>;
  /**
   * Optional: told every key the writes of a batch will read, before the first is applied, so
   * a store can fetch them in one trip (RocksDB getMany) instead of one await per key.
   * `valueNeeded` is false for a put or a delete: of the current value, their result and
   * the store's counters need only whether the key exists and its length, and `read` may
   * answer a ValueLength for such a key (when no op of the batch needs its value). May return
   * synchronously (nothing to fetch).
   */
  prefetch?(keys: readonly PrefetchKey[]): void | Promise<void>;
}

/** A key a batch's writes read (see ApplyStore.prefetch). */
export interface PrefetchKey {
  readonly shard: ShardId;
  readonly key: Uint8Array;
  readonly valueNeeded: boolean;
}

/** One applied entry: its result and what storage must make durable for it. */
export interface AppliedCommand {
  readonly cmd: ShardCommand | undefined;
  readonly result: ApplyResult;
  /** Empty for a noop. */
  readonly fx: Effects;
}

export interface ShardApplierOptions {
  /** For error messages ("shard group 3"). */
  readonly who: string;
  readonly shardCount: number;
  /** Duplicate-record inactivity TTL (log time); expiry scans run every TTL/10 of log time. */
  readonly dedupTtlMs: number;
}

/**
 * Applies entries to a core, one at a time. Holds the log time of the last expiry scan (not
 * replicated state: when the scan runs changes no result, see ShardGroupCore.expireDedup).
 */
export class ShardApplier {
  private lastExpireMs = 0;
  /** The newest log time among the commands applied since this process started (log-clock.ts). */
  private newestMs: number | undefined;

  constructor(private readonly opts: ShardApplierOptions) {}

  /** Forgets the expiry schedule (after a snapshot install replaced the core). */
  reset(): void {
    this.lastExpireMs = 0;
  }

  /** The newest log time among the commands applied since start; undefined: none yet. */
  get newestLogTimeMs(): number | undefined {
    return this.newestMs;
  }

  /** Applies entry `e` to `core`; the caller stages `fx` before applying the next entry. */
  async apply(core: ShardGroupCore, e: Entry, store: ApplyStore): Promise<AppliedCommand> {
    return this.applyDecoded(core, this.decode(e), store);
  }

  /**
   * Applies `entries` in order, handing each one's result to `stage` (which must stage its
   * effects) before the next; first tells the store every key the batch's writes read.
   * Where the store and `stage` answer synchronously (the prefetched common case), a command
   * costs no await.
   */
  async applyBatch(core: ShardGroupCore, entries: readonly Entry[], store: ApplyStore, stage: (a: AppliedCommand) => void | Promise<void>): Promise<AppliedCommand[]> {
    const cmds = entries.map((e) => this.decode(e));
    if (store.prefetch) {
      const keys: PrefetchKey[] = [];
      for (const c of cmds) {
        if (c?.op.kind !== "write") continue;
        for (const o of c.op.write.ops) keys.push({ shard: c.op.write.shard, key: o.key, valueNeeded: o.type !== "put" && o.type !== "delete" });
      }
      if (keys.length > 0) {
        const fetched = store.prefetch(keys);
        if (fetched instanceof Promise) await fetched;
      }
    }
    const out: AppliedCommand[] = [];
    for (const cmd of cmds) {
      const applied = this.applyDecoded(core, cmd, store);
      const a = applied instanceof Promise ? await applied : applied;
      const staged = stage(a);
      if (staged instanceof Promise) await staged;
      out.push(a);
    }
    return out;
  }

  private decode(e: Entry): ShardCommand | undefined {
    return e.type === "normal" ? decodeCommitted(e, decodeCommand, this.opts.who) : undefined;
  }

  /** Synchronous unless the store has to read a key the prefetch did not fetch. */
  private applyDecoded(core: ShardGroupCore, cmd: ShardCommand | undefined, store: ApplyStore): AppliedCommand | Promise<AppliedCommand> {
    const fx = emptyEffects();
    if (cmd === undefined) return { cmd: undefined, result: null, fx };
    const op = cmd.op;
    if (op.kind !== "write") return this.done(core, cmd, this.dispatch(core, op, cmd.timestampMs, fx), fx);
    const w = op.write;
    // The core reads synchronously: fetch the keys the ops touch first.
    const fetched = new Map<string, CurrentValue>();
    let pending: Promise<void>[] | undefined;
    if (core.serves(w.shard)) {
      for (const o of w.ops) {
        const k = byteKey(o.key);
        if (fetched.has(k)) continue;
        const v = store.read(w.shard, o.key);
        fetched.set(k, undefined);
        if (v instanceof Promise) (pending ??= []).push(v.then((x) => void fetched.set(k, x)));
        else fetched.set(k, v);
      }
    }
    if (pending === undefined) return this.write(core, cmd, w, fetched, fx);
    return Promise.all(pending).then(() => this.write(core, cmd, w, fetched, fx));
  }

  // (Hot path: methods and anonymous callbacks rather than named closures, which tsx's
  // keepNames turns into an Object.defineProperty call each time one is created.)

  private write(core: ShardGroupCore, cmd: ShardCommand, w: ClientWrite, fetched: Map<string, CurrentValue>, fx: Effects): AppliedCommand {
    const outcome = core.applyWrite(w, cmd.timestampMs, (_shard: ShardId, key: Uint8Array): CurrentValue => {
      const k = byteKey(key);
      assert(fetched.has(k), () => `write read key ${k} not fetched`);
      return fetched.get(k);
    }, fx);
    return this.done(core, cmd, { kind: "write", outcome }, fx);
  }

  /** Expires idle duplicate records every TTL/10 of log time. */
  private done(core: ShardGroupCore, cmd: ShardCommand, result: ApplyResult, fx: Effects): AppliedCommand {
    if (this.newestMs === undefined || cmd.timestampMs > this.newestMs) this.newestMs = cmd.timestampMs;
    // BUGGIFY: when the scan runs changes no result (ShardGroupCore.expireDedup).
    if (cmd.timestampMs - this.lastExpireMs > this.opts.dedupTtlMs / 10 || buggify("shard.dedup.expire-now")) {
      core.expireDedup(cmd.timestampMs, fx);
      this.lastExpireMs = cmd.timestampMs;
    }
    return { cmd, result, fx };
  }

  private dispatch(core: ShardGroupCore, op: Exclude<ShardOp, { kind: "write" }>, nowMs: number, fx: Effects): ApplyResult {
    const shardCount = this.opts.shardCount;
    switch (op.kind) {
      case "reconfigure":
        if (op.config.shards.length !== shardCount) return { kind: "reconfigure", accepted: false };
        return { kind: "reconfigure", accepted: core.applyReconfigure(op.config, fx) };
      case "insert":
        if (op.chunk.shard >= shardCount) return { kind: "insert", accepted: false };
        return { kind: "insert", accepted: core.applyInsert(op.chunk, nowMs, fx) };
      case "deleteShard":
        if (op.shard >= shardCount) return { kind: "deleteShard", result: "done" };
        return { kind: "deleteShard", result: core.applyDeleteShard(op.configNum, op.shard, fx) };
      case "gcDone":
        if (op.shard >= shardCount) return { kind: "gcDone", accepted: false };
        return { kind: "gcDone", accepted: core.applyGcDone(op.configNum, op.shard, fx) };
      case "abortHandoff":
        if (op.shard >= shardCount) return { kind: "abortHandoff", accepted: false };
        return { kind: "abortHandoff", accepted: core.applyAbortHandoff(op.configNum, op.shard, op.aborted, fx) };
    }
  }
}
