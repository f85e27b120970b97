/**
 * Branded numeric ids and units, so that passing a term where an index belongs does not
 * compile. All are plain JS numbers at run time (safe integers; uint64 on the wire).
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A Raft term (Raft §5.1). 0 before any election. */
export type Term = Brand<number, "Term">;
/** A position in the Raft log, 1-based; 0 means "before the first entry". */
export type LogIndex = Brand<number, "LogIndex">;
/** A replica's id inside its Raft group, >= 1; 0 means "none". */
export type NodeId = Brand<number, "NodeId">;
/** A Raft group id (a shard group or the controller group). */
export type GroupId = Brand<number, "GroupId">;
/** A shard number in [0, shardCount). */
export type ShardId = Brand<number, "ShardId">;
/** A configuration number; config 0 has no groups. */
export type ConfigNum = Brand<number, "ConfigNum">;

export const term = (n: number): Term => n as Term;
export const logIndex = (n: number): LogIndex => n as LogIndex;
export const nodeId = (n: number): NodeId => n as NodeId;
export const groupId = (n: number): GroupId => n as GroupId;
export const shardId = (n: number): ShardId => n as ShardId;
export const configNum = (n: number): ConfigNum => n as ConfigNum;

/** "No node": no vote cast, no known leader. */
export const noNode: NodeId = 0 as NodeId;
