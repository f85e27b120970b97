/** Domain types of a shard group's replicated state (docs/design.md#51-a-shards-life). */
import type { ConfigNum, ShardId } from "../common/ids";
import type { AbortedJoin, Config } from "../controller/config";

/**
 * A shard's state in this group's current config:
 * - notOwned: not ours (nothing stored);
 * - serving: ours, with its data;
 * - pulling: ours in the current config, waiting for the previous owner's data;
 * - handoff: ours in the previous config, frozen until the new owner confirms it has it.
 * `gcConfigNum` (serving only) marks a shard received in that config whose previous owner has
 * not yet confirmed deleting it (the "Gc" state of docs/design.md#51-a-shards-life).
 */
export type ShardState = "notOwned" | "serving" | "pulling" | "handoff";

export interface ShardMeta {
  readonly shard: ShardId;
  readonly state: ShardState;
  /** pulling/handoff: the config of the migration. */
  readonly configNum: ConfigNum;
  /** pulling: the last key inserted so far (resume point), undefined before the first. */
  readonly pulledAfterKey?: Uint8Array;
  /**
   * pulling: the client of the last duplicate record inserted in the current pass over the
   * shard's records (which follow every key, by client id); undefined before the first.
   */
  readonly pulledAfterClient?: string;
  /** Non-zero: waiting for the previous owner's DeleteShard acknowledgement. */
  readonly gcConfigNum: ConfigNum;
  /**
   * notOwned only: the shard was in handoff to a group whose join was aborted; its data stays
   * here, frozen, and serves again (without a pull) when the config returning it is applied.
   */
  readonly held?: boolean;
}

export type OpType = "get" | "put" | "append" | "delete" | "cas";

export interface KvOp {
  readonly type: OpType;
  readonly key: Uint8Array;
  /** put/append: the value; cas: the new value. */
  readonly value: Uint8Array;
  /** cas: the expected current value (ignored with expectAbsent). */
  readonly expected?: Uint8Array;
  readonly expectAbsent?: boolean;
}

/**
 * What a put or a delete needs of a key's current value: whether the key exists and the length
 * of its value (0 when absent). An object, never bytes, so that it cannot be taken for a value.
 */
export interface ValueLength {
  readonly exists: boolean;
  readonly length: number;
}

/**
 * A key's current value as an applied write reads it: its bytes, undefined when absent, or,
 * for a key that only puts and deletes touch, possibly just its ValueLength (the storage may
 * know that without reading the value).
 */
export type CurrentValue = Uint8Array | ValueLength | undefined;

/** Whether the key exists. */
export const currentExists = (v: CurrentValue): boolean => v !== undefined && (v instanceof Uint8Array || v.exists);

/** The length of the key's value, undefined when the key is absent. */
export const currentLength = (v: CurrentValue): number | undefined => (currentExists(v) ? v!.length : undefined);

export interface OpResult {
  readonly found: boolean;
  readonly value: Uint8Array;
  readonly swapped: boolean;
}

/** A client's replies not yet acknowledged, on one shard. */
export interface DedupRecord {
  readonly ackedBelow: number;
  readonly replies: ReadonlyMap<number, readonly OpResult[]>;
  readonly lastSeenMs: number;
}

export interface ClientWrite {
  /** Hex of the 16-byte client id. */
  readonly clientId: string;
  readonly seq: number;
  readonly ackedBelow: number;
  readonly shard: ShardId;
  readonly ops: readonly KvOp[];
}

/**
 * A position in a pull: after the key `key` (undefined: before the first key) and, among the
 * duplicate records that follow every key, after client `client` (undefined: before the first
 * record, or still among the keys).
 */
export interface PullPosition {
  readonly key: Uint8Array | undefined;
  readonly client: string | undefined;
}

export interface ShardChunkIn {
  readonly configNum: ConfigNum;
  readonly shard: ShardId;
  readonly kvs: readonly { readonly key: Uint8Array; readonly value: Uint8Array }[];
  readonly last: boolean;
  /** The shard's duplicate table, in the chunks after the keys. */
  readonly dedup: ReadonlyMap<string, DedupRecord>;
  /**
   * Insert entries: the position the chunk continues from (set by the puller, never sent by
   * the previous owner); applying the insert checks it against the stored one. Undefined in
   * entries written before positions existed (one chunk in flight at a time).
   */
  readonly after?: PullPosition;
}

/** What a Raft log entry of a shard group does (proto Command.op). */
export type ShardOp =
  | { readonly kind: "write"; readonly write: ClientWrite }
  | { readonly kind: "reconfigure"; readonly config: Config }
  | { readonly kind: "insert"; readonly chunk: ShardChunkIn }
  | { readonly kind: "deleteShard" | "gcDone"; readonly configNum: ConfigNum; readonly shard: ShardId }
  /** The shard's handoff for `configNum` ends without a pull: its new owner's join was `aborted`. */
  | { readonly kind: "abortHandoff"; readonly configNum: ConfigNum; readonly shard: ShardId; readonly aborted: AbortedJoin };

/** A shard group's log entry: the op and the proposing leader's timestamp (log time). */
export interface ShardCommand {
  readonly timestampMs: number;
  readonly op: ShardOp;
}
