/**
 * The apply path of a shard group's state machine, shared by every storage behind it
 * (shard-server/rocks-state.ts over RocksDB, test/sim/shard-sm.ts over the simulated disk), so
 * the simulator exercises exactly the code the daemon runs: decode the committed entry,
 * dispatch its op to the pure ShardGroupCore (ownership checked here, at apply time), expire
 * idle duplicate records at the leader-assigned log time, and return the ApplyResult plus the
 * Effects the storage must make durable (with the applied index, in one write).
 *
 * The storage supplies `ApplyStore`: the current value of a key as of every earlier command
 * (its pending batch first, then durable state). Reads may be asynchronous (RocksDB), so the
 * keys a write touches are fetched before the synchronous core runs.
 */
import { assert } from "../common/assert";
import type { ShardId } from "../common/ids";
import type { Entry } from "../raft/core/types";
import { decodeCommitted } from "../raft/state-machine";
import { decodeCommand } from "./codec";
import { type Effects, emptyEffects, type ShardGroupCore, type WriteOutcome } from "./state-machine";
import type { ShardCommand } from "./types";

/** The result of one applied log entry (null for a noop). */
export type ApplyResult =
  | { readonly kind: "write"; readonly outcome: WriteOutcome }
  | { readonly kind: "reconfigure" | "insert" | "gcDone"; readonly accepted: boolean }
  | { readonly kind: "deleteShard"; readonly result: "done" | "notReady" }
  | null;

/** What the apply path reads from storage. */
export interface ApplyStore {
  /**
   * The value of `key` in `shard` as of every command applied before (including the ones of
   * the batch being built). Called only before the core runs, for the keys of a write.
   */
  read(shard: ShardId, key: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * Optional: told every key the writes of a batch will read, before the first is applied, so
   * a store can fetch them in one trip (RocksDB getMany) instead of one await per key.
   */
  prefetch?(keys: readonly { readonly shard: ShardId; readonly key: Uint8Array }[]): Promise<void>;
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

  constructor(private readonly opts: ShardApplierOptions) {}

  /** Forgets the expiry schedule (after a snapshot install replaced the core). */
  reset(): void {
    this.lastExpireMs = 0;
  }

  /** Applies entry `e` to `core`; the caller stages `fx` before applying the next entry. */
  apply(core: ShardGroupCore, e: Entry, store: ApplyStore): Promise<AppliedCommand> {
    return this.applyDecoded(core, this.decode(e), store);
  }

  /**
   * Applies `entries` in order, handing each one's result to `stage` (which must stage its
   * effects) before the next; first tells the store every key the batch's writes read.
   */
  async applyBatch(core: ShardGroupCore, entries: readonly Entry[], store: ApplyStore, stage: (a: AppliedCommand) => Promise<void>): Promise<AppliedCommand[]> {
    const cmds = entries.map((e) => this.decode(e));
    if (store.prefetch) {
      const keys: { shard: ShardId; key: Uint8Array }[] = [];
      for (const c of cmds) if (c?.op.kind === "write") for (const o of c.op.write.ops) keys.push({ shard: c.op.write.shard, key: o.key });
      if (keys.length > 0) await store.prefetch(keys);
    }
    const out: AppliedCommand[] = [];
    for (const cmd of cmds) {
      const a = await this.applyDecoded(core, cmd, store);
      await stage(a);
      out.push(a);
    }
    return out;
  }

  private decode(e: Entry): ShardCommand | undefined {
    return e.type === "normal" ? decodeCommitted(e, decodeCommand, this.opts.who) : undefined;
  }

  private async applyDecoded(core: ShardGroupCore, cmd: ShardCommand | undefined, store: ApplyStore): Promise<AppliedCommand> {
    const fx = emptyEffects();
    if (cmd === undefined) return { cmd: undefined, result: null, fx };
    const result = await this.dispatch(core, cmd, store, fx);
    if (cmd.timestampMs - this.lastExpireMs > this.opts.dedupTtlMs / 10) {
      core.expireDedup(cmd.timestampMs, fx);
      this.lastExpireMs = cmd.timestampMs;
    }
    return { cmd, result, fx };
  }

  private async dispatch(core: ShardGroupCore, cmd: ShardCommand, store: ApplyStore, fx: Effects): Promise<ApplyResult> {
    const op = cmd.op;
    const shardCount = this.opts.shardCount;
    switch (op.kind) {
      case "write": {
        const w = op.write;
        // The core reads synchronously: fetch the keys the ops touch first.
        const fetched = new Map<string, Uint8Array | undefined>();
        if (core.serves(w.shard)) {
          for (const o of w.ops) {
            const k = Buffer.from(o.key).toString("latin1");
            if (!fetched.has(k)) fetched.set(k, await store.read(w.shard, o.key));
          }
        }
        const read = (_shard: ShardId, key: Uint8Array): Uint8Array | undefined => {
          const k = Buffer.from(key).toString("latin1");
          assert(fetched.has(k), () => `write read key ${k} not fetched`);
          return fetched.get(k);
        };
        return { kind: "write", outcome: core.applyWrite(w, cmd.timestampMs, read, fx) };
      }
      case "reconfigure":
        if (op.config.shards.length !== shardCount) return { kind: "reconfigure", accepted: false };
        return { kind: "reconfigure", accepted: core.applyReconfigure(op.config, fx) };
      case "insert":
        if (op.chunk.shard >= shardCount) return { kind: "insert", accepted: false };
        return { kind: "insert", accepted: core.applyInsert(op.chunk, fx) };
      case "deleteShard":
        if (op.shard >= shardCount) return { kind: "deleteShard", result: "done" };
        return { kind: "deleteShard", result: core.applyDeleteShard(op.configNum, op.shard, fx) };
      case "gcDone":
        if (op.shard >= shardCount) return { kind: "gcDone", accepted: false };
        return { kind: "gcDone", accepted: core.applyGcDone(op.configNum, op.shard, fx) };
    }
  }
}
