/**
 * A change of one Raft group's replicas, as an operator asks for it (`shardctl replica ...`,
 * `shardctl controller ...`): the intent the controller stores and the group's leader carries
 * out step by step through Raft configuration changes (raft/core/conf-change.ts), so that it
 * survives a crash of any process and finishes when they come back. See docs/design.md
 * (membership) for the flow.
 *
 * This module holds only the shared vocabulary; the controller stores intents
 * (controller/), the group's leader executes them (raft/).
 */
import { oneLine } from "./cli-args";
import type { NodeId } from "./ids";

/** One replica of a group as the configuration records it. */
export interface Member {
  readonly id: NodeId;
  /** host:port the replica serves Raft and its services on. */
  readonly address: string;
  /** Receives the log, never votes (until promoted). */
  readonly learner: boolean;
}

/**
 * What the operator asked for. `replace` is the whole flow in one intent: add `newId` at
 * `address` as a learner, wait until it has caught up, then one joint change that promotes it
 * and removes `oldId`, then leave the joint configuration.
 */
export type ReplicaChange =
  | { readonly kind: "addLearner"; readonly id: NodeId; readonly address: string }
  | { readonly kind: "promote"; readonly id: NodeId }
  | { readonly kind: "remove"; readonly id: NodeId }
  | { readonly kind: "replace"; readonly oldId: NodeId; readonly newId: NodeId; readonly address: string };

/**
 * Where an intent stands, derived from the group's current Raft configuration (so a leader
 * that takes over after a crash knows where to resume without any other record):
 *  - `adding`:     the new replica is not in the configuration yet;
 *  - `catchingUp`: it is a learner whose log is not yet within the promotion bound;
 *  - `joint`:      the joint configuration (promote + remove) is in effect, leave-joint pending;
 *  - `done`:       the configuration is what the intent asked for.
 */
export type ReplicaChangeStep = "adding" | "catchingUp" | "joint" | "done";

/** The stored intent of one group (at most one per group at a time). */
export interface ReplicaIntent {
  readonly change: ReplicaChange;
  /** Skip the strict reconfiguration check (a change leaving fewer than a majority reachable). */
  readonly force: boolean;
  /** Why the intent cannot progress right now, in the operator's terms (empty: nothing wrong). */
  readonly blocked?: string;
}

/** Bytes of the reason a group's leader gives for a blocked intent (ReplicaProgress). */
export const blockedReasonBytesMax = 1024;

/**
 * `reason` as a blocked reason the controller accepts: one line (whitespace runs, newlines
 * included, become one space), cut to blockedReasonBytesMax UTF-8 bytes (ending in "...").
 */
export function blockedReason(reason: string): string {
  const line = oneLine(reason);
  if (Buffer.byteLength(line) <= blockedReasonBytesMax) return line;
  let cut = line.slice(0, blockedReasonBytesMax);
  while (Buffer.byteLength(cut) > blockedReasonBytesMax - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

export function describeReplicaChange(c: ReplicaChange): string {
  switch (c.kind) {
    case "addLearner": return `add replica ${c.id} at ${c.address} as a learner`;
    case "promote": return `promote learner ${c.id} to voter`;
    case "remove": return `remove replica ${c.id}`;
    case "replace": return `replace replica ${c.oldId} by ${c.newId} at ${c.address}`;
  }
}

/** Field by field (a change decoded from the wire may list its fields in another order). */
function sameChange(a: ReplicaChange, b: ReplicaChange): boolean {
  const key = (c: ReplicaChange): string => {
    switch (c.kind) {
      case "addLearner": return `add ${c.id} ${c.address}`;
      case "promote": return `promote ${c.id}`;
      case "remove": return `remove ${c.id}`;
      case "replace": return `replace ${c.oldId} ${c.newId} ${c.address}`;
    }
  };
  return key(a) === key(b);
}

/** Whether the members the controller records are what `change` asks for. */
export function carriedOut(change: ReplicaChange, members: readonly Member[]): boolean {
  const m = (id: number): Member | undefined => members.find((x) => x.id === id);
  switch (change.kind) {
    case "addLearner": return m(change.id) !== undefined;
    case "promote": return m(change.id)?.learner === false;
    case "remove": return m(change.id) === undefined;
    case "replace": return m(change.newId)?.learner === false && m(change.oldId) === undefined;
  }
}

/**
 * What the controller says of a change a command stored (shardkv-local, shardctl --wait): still `pending` (stored, not
 * reported done), `done` (the intent is gone and the recorded members are what it asked), or
 * `dropped` (the intent is gone, or another replaced it, and the members are not what it asked:
 * someone cancelled it).
 */
export function changeOutcome(change: ReplicaChange, intent: ReplicaIntent | undefined, members: readonly Member[]): "pending" | "done" | "dropped" {
  if (intent !== undefined && sameChange(intent.change, change)) return "pending";
  return carriedOut(change, members) ? "done" : "dropped";
}

/** What one poll of a pending change saw, for progress output. */
export interface ReplicaChangeProgress {
  /** "group 1", "the controllers". */
  readonly group: string;
  readonly change: ReplicaChange;
  /** From the group leader's live configuration; undefined while no leader answers. */
  readonly step?: ReplicaChangeStep;
  /** The reason the group's leader reported for not progressing ("" = none). */
  readonly blocked: string;
}

/** "group 1: replace replica 1 by 4 at 127.0.0.1:7005: catchingUp (blocked: ...)". */
export function formatReplicaProgress(p: ReplicaChangeProgress): string {
  return `${p.group}: ${describeReplicaChange(p.change)}: ${p.step ?? "no leader answers"}${p.blocked ? ` (blocked: ${p.blocked})` : ""}`;
}
