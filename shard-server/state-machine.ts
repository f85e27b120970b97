/**
 * The pure state machine of one shard group (docs/design.md#51-a-shards-life): ownership per shard, config
 * changes one at a time, migration (pull, insert, delete, gc) and duplicate detection. It
 * holds the metadata (shard states, duplicate tables) in memory; key/value data stays in
 * RocksDB: the server reads the keys a write touches and passes their current values in, and
 * applies the `Effects` returned, with the applied index, in one batch (rocks-state.ts).
 * Deterministic: replicas applying the same commands reach the same state.
 */
import { byteKey } from "../common/bytes";
import { assert } from "../common/assert";
import { InvalidArgumentError, WrongGroupError } from "../common/errors";
import type { ConfigNum, GroupId, ShardId } from "../common/ids";
import { LimitExceededError, savedReplyBytesPerClientMax, valueBytesMax, writeReplyBytesMax } from "../common/limits";
import { type AbortedJoin, type Config, abortedJoinCovering } from "../controller/config";
import { shardOf } from "../controller/shard-of";
import { positionAfter } from "./chunks";
import { ValueLimitError } from "./errors";
import { type ClientWrite, type CurrentValue, currentExists, type DedupRecord, type KvOp, type OpResult, type ShardChunkIn, type ShardMeta, type ShardState } from "./types";

/** Unacknowledged replies remembered per client per shard (bounds a client's pipelining). */
export const savedRepliesPerClientMax = 4096;

const none = new Uint8Array(0);

/** What applying one command changes in storage, besides the core's in-memory state. */
export interface Effects {
  /** Key writes: value undefined = delete. */
  readonly writes: { shard: ShardId; key: Uint8Array; value: Uint8Array | undefined }[];
  /** Shards whose every key and duplicate record must be deleted (before `writes`). */
  readonly clearShards: ShardId[];
  /** Shard metadata records to store. */
  readonly metas: ShardMeta[];
  /** Duplicate records to store (undefined = delete). */
  readonly dedup: { shard: ShardId; clientId: string; record: DedupRecord | undefined }[];
  /** The new current config, when a reconfiguration was applied. */
  config?: Config;
}

function emptyEffects(): Effects {
  return { writes: [], clearShards: [], metas: [], dedup: [] };
}

/** Reads a key's current value (as of every earlier command). */
export type ReadKey = (shard: ShardId, key: Uint8Array) => CurrentValue;

export type WriteOutcome =
  | { readonly ok: true; readonly results: readonly OpResult[]; readonly duplicate: boolean }
  | { readonly ok: false; readonly error: WrongGroupError | InvalidArgumentError };

export interface ShardGroupInit {
  readonly gid: GroupId;
  readonly shardCount: number;
  /** Current config (config 0 when new). */
  readonly config: Config;
  /** Shard metadata; missing shards are notOwned. */
  readonly metas: readonly ShardMeta[];
  readonly dedup: ReadonlyMap<ShardId, ReadonlyMap<string, DedupRecord>>;
  /** Inactivity after which a client's duplicate records are forgotten (ms of log time). */
  readonly dedupTtlMs: number;
}

export class ShardGroupCore {
  readonly gid: GroupId;
  readonly shardCount: number;
  private cfg: Config;
  private readonly metas: ShardMeta[];
  /**
   * The shards in migration: pulling, in handoff, or waiting for their previous owner's
   * delete acknowledgement (gcConfigNum set). The migration driver's loop and settled() walk
   * these, not every shard.
   */
  private readonly migrating = new Set<ShardId>();
  /** How many of them are pulling or in handoff (0: settled). */
  private unsettled = 0;
  private readonly dedup: Map<ShardId, Map<string, DedupRecord>>;
  private readonly dedupTtlMs: number;
  /**
   * The newest duplicate record's log time when this core was made (loaded from disk or a
   * snapshot); undefined without records. A restarted replica's log time continues from it
   * (log-clock.ts).
   */
  readonly loadedLogTimeMs: number | undefined;

  constructor(init: ShardGroupInit) {
    this.gid = init.gid;
    this.shardCount = init.shardCount;
    this.cfg = init.config;
    assert(init.config.shards.length === init.shardCount, "config shard count mismatch");
    this.metas = Array.from({ length: init.shardCount }, (_, s) => ({
      shard: s as ShardId, state: "notOwned" as const, configNum: 0 as ConfigNum, gcConfigNum: 0 as ConfigNum,
    }));
    for (const m of init.metas) {
      this.metas[m.shard] = m;
      this.track(undefined, m);
    }
    this.dedup = new Map();
    let newest: number | undefined;
    for (const [s, m] of init.dedup) {
      this.dedup.set(s, new Map(m));
      for (const r of m.values()) if (newest === undefined || r.lastSeenMs > newest) newest = r.lastSeenMs;
    }
    this.loadedLogTimeMs = newest;
    this.dedupTtlMs = init.dedupTtlMs;
  }

  get config(): Config {
    return this.cfg;
  }

  meta(shard: ShardId): ShardMeta {
    return this.metas[shard]!;
  }

  allMetas(): readonly ShardMeta[] {
    return this.metas;
  }

  /** The metadata of the shards in migration (pulling, handoff, or gc pending), by shard. */
  migratingMetas(): ShardMeta[] {
    if (this.migrating.size === 0) return [];
    return [...this.migrating].sort((a, b) => a - b).map((s) => this.metas[s]!);
  }

  /** Stores `nm` as its shard's metadata, here and in `fx`. */
  private setMeta(nm: ShardMeta, fx: Effects): void {
    this.track(this.metas[nm.shard], nm);
    this.metas[nm.shard] = nm;
    fx.metas.push(nm);
  }

  private track(was: ShardMeta | undefined, nm: ShardMeta): void {
    if (was !== undefined && isUnsettled(was)) this.unsettled--;
    if (isUnsettled(nm)) this.unsettled++;
    if (isUnsettled(nm) || nm.gcConfigNum !== 0) this.migrating.add(nm.shard);
    else this.migrating.delete(nm.shard);
  }

  dedupOf(shard: ShardId): ReadonlyMap<string, DedupRecord> {
    return this.dedup.get(shard) ?? new Map();
  }

  /** Client records in the duplicate tables of every shard (the metrics' dedup table size). */
  dedupClientCount(): number {
    let n = 0;
    for (const t of this.dedup.values()) n += t.size;
    return n;
  }

  /** Whether this group serves `shard` now (reads and writes). */
  serves(shard: ShardId): boolean {
    return this.metas[shard]!.state === "serving" && this.cfg.shards[shard] === this.gid;
  }

  /** True when no shard is pulling or in handoff: the next config may be applied. */
  settled(): boolean {
    return this.unsettled === 0;
  }

  // ------------------------------------------------------------------ client writes

  /**
   * Applies a client's write batch to one shard at log time `nowMs`. Ownership is checked
   * here, at apply time, and so are the limits only applied state decides: the value an
   * append produces (ValueLimitError) and the bytes of the reply (LimitExceededError). A
   * WrongGroup or invalid request changes nothing (not even the duplicate table), whichever
   * of its ops failed. A retry of a request already applied returns the saved replies.
   */
  applyWrite(w: ClientWrite, nowMs: number, read: ReadKey, fx: Effects): WriteOutcome {
    if (!this.serves(w.shard)) return { ok: false, error: new WrongGroupError(w.shard, this.cfg.num) };
    for (const op of w.ops) {
      const s = shardOf(op.key, this.shardCount);
      if (s !== w.shard) return { ok: false, error: new InvalidArgumentError("ops.key", `key of shard ${s} in a request for shard ${w.shard}`) };
    }
    const retry = this.retryOutcome(w, nowMs);
    if (retry !== undefined) return retry;
    const table = this.shardDedup(w.shard);
    const prev = this.live(table.get(w.clientId), nowMs);
    const results: OpResult[] = [];
    const writesBefore = fx.writes.length;
    let refused: InvalidArgumentError | undefined;
    if (w.ops.length === 1) {
      // The common case, without the overlay (hot path: no named closures, see apply.ts).
      const r = applyOp(w.ops[0]!, read(w.shard, w.ops[0]!.key), (key: Uint8Array, v: Uint8Array | undefined) => {
        fx.writes.push({ shard: w.shard, key, value: v });
      });
      if (r instanceof InvalidArgumentError) refused = r;
      else results.push(r);
    } else {
      // Later ops of the batch see the earlier ones' writes.
      const overlay = new Map<string, CurrentValue>();
      for (const op of w.ops) {
        const k = byteKey(op.key);
        const cur = overlay.has(k) ? overlay.get(k) : read(w.shard, op.key);
        const r = applyOp(op, cur, (key: Uint8Array, v: Uint8Array | undefined) => {
          overlay.set(byteKey(key), v);
          fx.writes.push({ shard: w.shard, key, value: v });
        });
        if (r instanceof InvalidArgumentError) {
          refused = r;
          break;
        }
        results.push(r);
      }
    }
    const replyBytes = refused === undefined ? resultsBytes(results) : 0;
    if (refused === undefined && replyBytes > writeReplyBytesMax) {
      refused = new LimitExceededError("ops", "the reply (values returned by the gets and CASes of the write)", replyBytes, writeReplyBytesMax);
    }
    if (refused !== undefined) {
      // The whole write is refused: none of its ops' writes happen (a batch is atomic).
      fx.writes.length = writesBefore;
      return { ok: false, error: refused };
    }
    // Remember the replies until the client acknowledges them, at most
    // savedRepliesPerClientMax of them and savedReplyBytesPerClientMax of values (the
    // oldest are forgotten first; the newest is always kept), so that one client's record
    // fits in a migration chunk.
    const ackedBelow = Math.max(w.ackedBelow, prev?.ackedBelow ?? 0);
    const replies = new Map<number, readonly OpResult[]>();
    let savedBytes = savedBytesOf(results);
    if (prev) {
      for (const [seq, r] of prev.replies) {
        if (seq < ackedBelow) continue;
        replies.set(seq, r);
        savedBytes += savedBytesOf(r);
      }
    }
    replies.set(w.seq, results);
    while (replies.size > savedRepliesPerClientMax || (savedBytes > savedReplyBytesPerClientMax && replies.size > 1)) {
      const oldest = Math.min(...replies.keys());
      savedBytes -= savedBytesOf(replies.get(oldest)!);
      replies.delete(oldest);
    }
    const record: DedupRecord = { ackedBelow, replies, lastSeenMs: nowMs };
    table.set(w.clientId, record);
    fx.dedup.push({ shard: w.shard, clientId: w.clientId, record });
    return { ok: true, results, duplicate: false };
  }

  /**
   * What applyWrite answers `w` at log time `nowMs` without running it, when `w` (its client
   * id and seq) is a retry of a write applied on a shard this group serves and its client's
   * record is live: the saved replies, or, once the client acknowledged them, the refusal;
   * undefined otherwise (the write would run). Decided by applied, i.e. committed, state: a
   * leader answers a retry with it instead of proposing the write again (ShardService.write).
   */
  retryOutcome(w: ClientWrite, nowMs: number): WriteOutcome | undefined {
    if (!this.serves(w.shard)) return undefined;
    const prev = this.live(this.dedup.get(w.shard)?.get(w.clientId), nowMs);
    if (prev === undefined) return undefined;
    const saved = prev.replies.get(w.seq);
    if (saved) return { ok: true, results: saved, duplicate: true };
    if (w.seq < prev.ackedBelow) {
      return { ok: false, error: new InvalidArgumentError("id.seq", `request ${w.seq} was already acknowledged (acked below ${prev.ackedBelow})`) };
    }
    return undefined;
  }

  /** A record is live while the client was seen within the TTL (log time). */
  private live(r: DedupRecord | undefined, nowMs: number): DedupRecord | undefined {
    return r && nowMs - r.lastSeenMs <= this.dedupTtlMs ? r : undefined;
  }

  private shardDedup(shard: ShardId): Map<string, DedupRecord> {
    let t = this.dedup.get(shard);
    if (!t) {
      t = new Map();
      this.dedup.set(shard, t);
    }
    return t;
  }

  /**
   * Forgets duplicate records idle for longer than the TTL at log time `nowMs`. Expired
   * records already count as absent, so when this runs does not change any result; it only
   * bounds the table.
   */
  expireDedup(nowMs: number, fx: Effects): number {
    let n = 0;
    for (const [shard, t] of this.dedup) {
      for (const [id, r] of t) {
        if (nowMs - r.lastSeenMs > this.dedupTtlMs) {
          t.delete(id);
          fx.dedup.push({ shard, clientId: id, record: undefined });
          n++;
        }
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ reconfiguration

  /**
   * Moves to `next` if it is the very next config and every migration of the current one is
   * done; otherwise ignores it (returns false). Gained shards become pulling (or serving when
   * nobody owned them before), lost shards become handoff (frozen).
   */
  applyReconfigure(next: Config, fx: Effects): boolean {
    if (!this.settled()) return false;
    // The very next config; or, when this group's own join in the very next config was
    // aborted in `next`, `next` itself: the group owned nothing in the configs between (they
    // gave it shards nobody will hand over) and skips them.
    const skipsAbortedJoin = next.num > this.cfg.num + 1 &&
      next.abortedJoins?.some((a) => a.gid === this.gid && a.joinNum === this.cfg.num + 1 && a.abortNum === next.num) === true;
    if (next.num !== this.cfg.num + 1 && !skipsAbortedJoin) return false;
    assert(next.shards.length === this.shardCount, () => `config ${next.num} has ${next.shards.length} shards, want ${this.shardCount}`);
    const prev = this.cfg;
    for (let s = 0; s < this.shardCount; s++) {
      // A shard whose previous owner has not yet confirmed deleting it is not given away
      // yet: its gc obligation lives in this shard's metadata and would be lost with it,
      // leaving that owner frozen in handoff forever.
      if (prev.shards[s] === this.gid && next.shards[s] !== this.gid && this.metas[s]!.gcConfigNum !== 0) return false;
    }
    for (let s = 0; s < this.shardCount; s++) {
      const shard = s as ShardId;
      const was = prev.shards[s] === this.gid;
      const is = next.shards[s] === this.gid;
      const m = this.metas[s]!;
      let nm: ShardMeta | undefined;
      const fromAborted = !was && is && takenFromAbortedJoin(prev, next, shard);
      if (fromAborted && m.held) {
        // Returned by the abort of the join it was handed to: its data never left, frozen.
        nm = { shard, state: "serving", configNum: next.num, gcConfigNum: m.gcConfigNum };
      } else if (!was && is) {
        // Clear anything left from an earlier ownership before receiving the shard.
        fx.clearShards.push(shard);
        this.dedup.delete(shard);
        // Nobody owned it, or only an aborted group: new and empty, serving at once. (An abort
        // gives a shard to a group other than the one it came from only when nobody held it
        // before the join; the group it came from holds it, the branch above.)
        nm = prev.shards[s] === 0 || fromAborted
          ? { shard, state: "serving", configNum: next.num, gcConfigNum: 0 as ConfigNum }
          : { shard, state: "pulling", configNum: next.num, gcConfigNum: 0 as ConfigNum };
      } else if (was && !is) {
        nm = { shard, state: "handoff", configNum: next.num, gcConfigNum: m.gcConfigNum };
      }
      if (nm) this.setMeta(nm, fx);
    }
    this.cfg = next;
    fx.config = next;
    return true;
  }

  // ------------------------------------------------------------------ migration

  /**
   * Inserts a chunk of a pulled shard. Accepted only while the shard is pulling for the
   * chunk's config and the chunk continues from where the pull stands (continuesPull: a
   * chunk that would leave a gap, one already inserted, or one of an older pull is refused,
   * and the puller resumes from the stored position). The duplicate table's records come in
   * the chunks after the keys, in client order (a pull resumed after the last key sends them
   * all again, a new pass over them: a record inserted again is the same frozen record and
   * changes nothing; the table was emptied when the shard became pulling). With the last
   * chunk the shard starts serving, with gc pending toward its previous owner.
   * The records count as seen at `nowMs`, this group's log time of the insert: the previous
   * owner's log time is its own (each group's runs on its replicas' monotonic clocks), so a
   * record keeps at least its TTL in its new group whatever the two groups' clocks say.
   */
  applyInsert(c: ShardChunkIn, nowMs: number, fx: Effects): boolean {
    const m = this.metas[c.shard]!;
    if (m.state !== "pulling" || m.configNum !== c.configNum || !continuesPull(m, c)) return false;
    for (const kv of c.kvs) fx.writes.push({ shard: c.shard, key: kv.key, value: kv.value });
    if (c.dedup.size > 0) {
      const t = this.shardDedup(c.shard);
      for (const [id, frozen] of c.dedup) {
        const r: DedupRecord = { ...frozen, lastSeenMs: nowMs };
        t.set(id, r);
        fx.dedup.push({ shard: c.shard, clientId: id, record: r });
      }
    }
    let nm: ShardMeta;
    if (c.last) {
      nm = { shard: c.shard, state: "serving", configNum: c.configNum, gcConfigNum: c.configNum };
    } else {
      const at = positionAfter(c.after ?? { key: m.pulledAfterKey, client: m.pulledAfterClient }, c);
      nm = { shard: c.shard, state: "pulling", configNum: m.configNum, gcConfigNum: m.gcConfigNum };
      if (at.key !== undefined) nm = { ...nm, pulledAfterKey: at.key };
      if (at.client !== undefined) nm = { ...nm, pulledAfterClient: at.client };
    }
    this.setMeta(nm, fx);
    return true;
  }

  /**
   * The new owner confirmed it has `shard` as of `configNum`: delete it here. Returns "done"
   * when the shard is (now or already) gone for that migration, "notReady" when this group has
   * not reached `configNum` yet (the caller retries).
   */
  applyDeleteShard(configNum: ConfigNum, shard: ShardId, fx: Effects): "done" | "notReady" {
    if (this.cfg.num < configNum) return "notReady";
    const m = this.metas[shard]!;
    if (m.state === "handoff" && m.configNum === configNum) {
      fx.clearShards.push(shard);
      this.dedup.delete(shard);
      this.setMeta({ shard, state: "notOwned", configNum, gcConfigNum: m.gcConfigNum }, fx);
    }
    return "done";
  }

  /** The previous owner acknowledged deleting `shard` for `configNum`: leave gc. */
  applyGcDone(configNum: ConfigNum, shard: ShardId, fx: Effects): boolean {
    const m = this.metas[shard]!;
    if (m.gcConfigNum !== configNum) return false;
    this.setMeta({ ...m, gcConfigNum: 0 as ConfigNum }, fx);
    return true;
  }

  /**
   * The handoff of `shard` for `configNum` ends without a pull: its new owner (the owner in
   * this config) joined in `aborted.joinNum` and that join was aborted in `aborted.abortNum`,
   * so nobody will pull it. The data stays, frozen (held), until the abort config returns the
   * shard. Accepted only while the shard is in handoff for `configNum` to that group.
   */
  applyAbortHandoff(configNum: ConfigNum, shard: ShardId, aborted: AbortedJoin, fx: Effects): boolean {
    const m = this.metas[shard]!;
    if (m.state !== "handoff" || m.configNum !== configNum || this.cfg.num !== configNum) return false;
    if (this.cfg.shards[shard] !== aborted.gid || !(aborted.joinNum <= configNum && configNum < aborted.abortNum)) return false;
    this.setMeta({ shard, state: "notOwned", configNum, gcConfigNum: m.gcConfigNum, held: true }, fx);
    return true;
  }

  /** Whether a pull for (configNum, shard) may be answered now: the shard is frozen here. */
  canServePull(configNum: ConfigNum, shard: ShardId): "ready" | "notReady" | "gone" {
    if (this.cfg.num < configNum) return "notReady";
    const m = this.metas[shard]!;
    return m.state === "handoff" && m.configNum === configNum ? "ready" : "gone";
  }
}

const isUnsettled = (m: ShardMeta): boolean => m.state === "pulling" || m.state === "handoff";

/**
 * Whether chunk `c` continues the pull of `m` (pulling for the chunk's config) from where it
 * stands. A chunk carries the position it continues from (c.after, set by the puller, which
 * keeps several chunks in flight): its key must be the last key inserted, and its client the
 * last record's of the current pass over the records, or none (the chunk opens a new pass: a
 * pull resumed after the last key sends every record again). So a lost or reordered chunk is
 * never skipped: the next one is refused, and the puller resumes from the stored position.
 * An entry written before positions existed (one chunk in flight at a time) has the old check:
 * its first key comes after the last key inserted.
 */
export function continuesPull(m: ShardMeta, c: ShardChunkIn): boolean {
  const after = c.after;
  if (after === undefined) return m.pulledAfterKey === undefined || c.kvs.length === 0 || Buffer.compare(c.kvs[0]!.key, m.pulledAfterKey) > 0;
  const sameKey = after.key === undefined || m.pulledAfterKey === undefined
    ? after.key === m.pulledAfterKey
    : Buffer.compare(after.key, m.pulledAfterKey) === 0;
  return sameKey && (after.client === undefined || after.client === m.pulledAfterClient);
}

/**
 * Whether `next` takes shard `s` from a group whose join `next` aborts (the group owning it in
 * `prev`, the config before). That group never applied a config owning anything (it
 * acknowledges its join before applying it, and an acknowledged join is no longer abortable),
 * so it has no data to hand over: the shard's new owner holds it frozen (it came from there)
 * or nobody held it before the join (docs/design.md#53-joining-a-group).
 */
/**
 * A shard's state as Status and the metrics report it: "gc" (serving, its previous owner's
 * delete not yet acknowledged), "held" (not owned, the frozen data of a handoff whose
 * receiver's join was aborted: docs/design.md#53-joining-a-group), else its state.
 */
export type ShardStatusState = ShardState | "gc" | "held";

export function statusState(m: ShardMeta): ShardStatusState {
  return m.state === "serving" && m.gcConfigNum !== 0 ? "gc" : m.held ? "held" : m.state;
}

export function takenFromAbortedJoin(prev: Config, next: Config, s: ShardId): boolean {
  const from = prev.shards[s]!;
  return from !== 0 && next.shards[s] !== from && abortedJoinCovering(next, from, prev.num)?.abortNum === next.num;
}

/** Bytes of the values in a write's results (what its reply carries besides framing). */
function resultsBytes(results: readonly OpResult[]): number {
  let n = 0;
  for (const r of results) n += r.value.length;
  return n;
}

/**
 * What a saved reply costs its duplicate record: the values plus an allowance for each
 * result's framing (a reply of many ops without values is not free: 100,000 deletes).
 */
function savedBytesOf(results: readonly OpResult[]): number {
  return resultsBytes(results) + 8 * results.length;
}

/**
 * One operation on one key; `set` records a write. Refuses (and does not call `set`) a
 * write whose value would exceed `valueBytesMax`: an append is checked against the value
 * it produces, which only the applied state knows, so every replica decides alike.
 */
function applyOp(op: KvOp, cur: CurrentValue, set: (key: Uint8Array, v: Uint8Array | undefined) => void): OpResult | InvalidArgumentError {
  const found = currentExists(cur);
  if (op.type === "put" || op.type === "delete") return applyBlindOp(op, found, set);
  assert(!found || cur instanceof Uint8Array, () => `a ${op.type} read a key of which the storage gave only the length`);
  const value = cur instanceof Uint8Array ? cur : none;
  switch (op.type) {
    case "get":
      return { found, value, swapped: false };
    case "append": {
      if (value.length + op.value.length > valueBytesMax) return new ValueLimitError(op.key, value.length, op.value.length, valueBytesMax);
      const v = found ? Buffer.concat([value, op.value]) : op.value;
      set(op.key, v);
      return { found, value: none, swapped: false };
    }
    case "cas": {
      const match = op.expectAbsent ? !found : found && Buffer.compare(value, op.expected ?? none) === 0;
      if (match && op.value.length > valueBytesMax) return new LimitExceededError("value", "value", op.value.length, valueBytesMax);
      if (match) set(op.key, op.value);
      return { found, value, swapped: match };
    }
  }
}

/** A put or a delete (`op.type`): it needs only whether the key exists, never its value. */
function applyBlindOp(op: KvOp, found: boolean, set: (key: Uint8Array, v: Uint8Array | undefined) => void): OpResult | InvalidArgumentError {
  if (op.type === "put") {
    if (op.value.length > valueBytesMax) return new LimitExceededError("value", "value", op.value.length, valueBytesMax);
    set(op.key, op.value);
  } else if (found) {
    set(op.key, undefined);
  }
  return { found, value: none, swapped: false };
}

export { emptyEffects };
