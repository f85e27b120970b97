/**
 * Conversion between the controller's domain types and proto/controller.proto, with
 * validation at the edge (the cores never see raw wire objects).
 */
import { shardkv } from "../proto/gen/controller.js";
import { InvalidArgumentError } from "../common/errors";
import type { ConfigNum, GroupId, NodeId, ShardId } from "../common/ids";
import type { ReplicaChange, ReplicaIntent } from "../common/replica-change";
import { unknownMemberId } from "./config";
import { memberFromWire, memberToWire } from "./config-wire";
export { configFromWire, configToWire, decodeConfig, encodeConfig, memberFromWire, memberToWire } from "./config-wire";
import { validClusterId } from "../common/data-dir";
import type { PendingJoin } from "./pending-joins";
import type { ClusterInit, CommandResult, ControllerCommand, ControllerOp } from "./state-machine";

const pb = shardkv.controller;
export { pb as controllerPb };

function uint(v: number | null | undefined, field: string): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(field, `must be a non-negative integer, got ${n}`);
  return n;
}


const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Client ids are 16 random bytes (128 bits). */
export const clientIdBytes = 16;

export function requestIdFromWire(id: shardkv.controller.RequestId.$Properties | null | undefined): { clientId: string; seq: number } {
  const cid = id?.clientId ?? new Uint8Array(0);
  if (cid.length !== clientIdBytes) throw new InvalidArgumentError("id.client_id", `must be ${clientIdBytes} bytes, got ${cid.length}`);
  const seq = uint(id?.seq, "id.seq");
  if (seq === 0) throw new InvalidArgumentError("id.seq", "must be >= 1");
  return { clientId: hex(cid), seq };
}

/**
 * A Join from the wire: from a client, each group's servers; from the log, also their
 * members, whose ids the join check learned.
 */
export function joinOpFromWire(r: shardkv.controller.JoinRequest.$Properties): Extract<ControllerOp, { kind: "join" }> {
  const groups = new Map<GroupId, string[]>();
  const ids = new Map<GroupId, NodeId[]>();
  for (const g of r.groups ?? []) {
    const gid = uint(g.gid, "gid") as GroupId;
    if (groups.has(gid)) throw new InvalidArgumentError("gid", `group ${gid} listed twice`);
    const members = (g.members ?? []).map((m) => memberFromWire(m, "members"));
    groups.set(gid, members.length > 0 ? members.map((m) => m.address) : [...(g.servers ?? [])]);
    if (members.length > 0) ids.set(gid, members.map((m) => m.id));
  }
  return ids.size > 0 ? { kind: "join", groups, ids } : { kind: "join", groups };
}

function joinGroupsToWire(op: Extract<ControllerOp, { kind: "join" }>): shardkv.controller.Group.$Properties[] {
  return [...op.groups].map(([gid, servers]) => {
    const ids = op.ids?.get(gid);
    return ids === undefined
      ? { gid, servers: [...servers] }
      : { gid, members: servers.map((address, i) => memberToWire({ id: ids[i] ?? unknownMemberId, address, learner: false })) };
  });
}

export function replicaChangeToWire(c: ReplicaChange): shardkv.controller.ReplicaChange.$Properties {
  switch (c.kind) {
    case "addLearner": return { addLearner: { id: c.id, address: c.address } };
    case "promote": return { promote: { id: c.id } };
    case "remove": return { remove: { id: c.id } };
    case "replace": return { replace: { oldId: c.oldId, newId: c.newId, address: c.address } };
  }
}

export function replicaChangeFromWire(w: shardkv.controller.ReplicaChange.$Properties | null | undefined): ReplicaChange {
  const id = (v: number | null | undefined, field: string): NodeId => uint(v, field) as NodeId;
  if (w?.addLearner) return { kind: "addLearner", id: id(w.addLearner.id, "change.id"), address: w.addLearner.address ?? "" };
  if (w?.promote) return { kind: "promote", id: id(w.promote.id, "change.id") };
  if (w?.remove) return { kind: "remove", id: id(w.remove.id, "change.id") };
  if (w?.replace) {
    return { kind: "replace", oldId: id(w.replace.oldId, "change.old_id"), newId: id(w.replace.newId, "change.new_id"), address: w.replace.address ?? "" };
  }
  throw new InvalidArgumentError("change", "no replica change given (want add_learner, promote, remove or replace)");
}

export function intentToWire(gid: GroupId, i: ReplicaIntent): shardkv.controller.GroupIntent.$Properties {
  return { gid, change: replicaChangeToWire(i.change), force: i.force, blocked: i.blocked ?? "" };
}

export function intentFromWire(w: shardkv.controller.GroupIntent.$Properties): [GroupId, ReplicaIntent] {
  const i: ReplicaIntent = { change: replicaChangeFromWire(w.change), force: w.force === true };
  return [uint(w.gid, "intent.gid") as GroupId, w.blocked ? { ...i, blocked: w.blocked } : i];
}

export function replicaChangeOpFromWire(r: shardkv.controller.ReplicaChangeRequest.$Properties): Extract<ControllerOp, { kind: "replicaChange" }> {
  return { kind: "replicaChange", gid: uint(r.gid, "gid") as GroupId, change: replicaChangeFromWire(r.change), force: r.force === true };
}

export function replicaCancelOpFromWire(r: shardkv.controller.ReplicaCancelRequest.$Properties): Extract<ControllerOp, { kind: "replicaCancel" }> {
  return { kind: "replicaCancel", gid: uint(r.gid, "gid") as GroupId };
}

export function replicaDoneOpFromWire(r: shardkv.controller.ReplicaDoneRequest.$Properties): Extract<ControllerOp, { kind: "replicaDone" }> {
  return { kind: "replicaDone", gid: uint(r.gid, "gid") as GroupId, members: (r.members ?? []).map((m) => memberFromWire(m, "members")) };
}

export function replicaProgressOpFromWire(r: shardkv.controller.ReplicaProgressRequest.$Properties): Extract<ControllerOp, { kind: "replicaProgress" }> {
  return { kind: "replicaProgress", gid: uint(r.gid, "gid") as GroupId, blocked: r.blocked ?? "" };
}

export function leaveOpFromWire(r: shardkv.controller.LeaveRequest.$Properties): Extract<ControllerOp, { kind: "leave" }> {
  return { kind: "leave", gids: (r.gids ?? []).map((g) => uint(g, "gids") as GroupId) };
}

export function moveOpFromWire(r: shardkv.controller.MoveRequest.$Properties): Extract<ControllerOp, { kind: "move" }> {
  return { kind: "move", shard: uint(r.shard, "shard") as ShardId, gid: uint(r.gid, "gid") as GroupId };
}

export function ackJoinOpFromWire(r: shardkv.controller.AckJoinRequest.$Properties): Extract<ControllerOp, { kind: "ackJoin" }> {
  return { kind: "ackJoin", gid: uint(r.gid, "gid") as GroupId, joinNum: uint(r.joinNum, "join_num") as ConfigNum };
}

export function pendingJoinToWire(p: PendingJoin): shardkv.controller.PendingJoin.$Properties {
  return { gid: p.gid, joinNum: p.joinNum, handed: [...p.handedFrom].map(([shard, from]) => ({ shard, from })) };
}

export function pendingJoinFromWire(w: shardkv.controller.PendingJoin.$Properties): PendingJoin {
  return {
    gid: uint(w.gid, "pending.gid") as GroupId,
    joinNum: uint(w.joinNum, "pending.join_num") as ConfigNum,
    handedFrom: new Map((w.handed ?? []).map((h) => [uint(h.shard, "pending.handed.shard") as ShardId, uint(h.from, "pending.handed.from") as GroupId])),
  };
}

export function encodeCommand(cmd: ControllerCommand): Uint8Array {
  const id = { clientId: Buffer.from(cmd.clientId, "hex"), seq: cmd.seq };
  const op = cmd.op;
  const shardCount = cmd.shardCount;
  switch (op.kind) {
    case "join":
      return pb.Command.encode({ id, shardCount, join: { groups: joinGroupsToWire(op) } }).finish();
    case "leave":
      return pb.Command.encode({ id, shardCount, leave: { gids: [...op.gids] } }).finish();
    case "move":
      return pb.Command.encode({ id, shardCount, move: { shard: op.shard, gid: op.gid } }).finish();
    case "ackJoin":
      return pb.Command.encode({ id, shardCount, ackJoin: { gid: op.gid, joinNum: op.joinNum } }).finish();
    case "replicaChange":
      return pb.Command.encode({ id, shardCount, replicaChange: { gid: op.gid, change: replicaChangeToWire(op.change), force: op.force } }).finish();
    case "replicaCancel":
      return pb.Command.encode({ id, shardCount, replicaCancel: { gid: op.gid } }).finish();
    case "replicaDone":
      return pb.Command.encode({ id, shardCount, replicaDone: { gid: op.gid, members: op.members.map(memberToWire) } }).finish();
    case "replicaProgress":
      return pb.Command.encode({ id, shardCount, replicaProgress: { gid: op.gid, blocked: op.blocked } }).finish();
  }
}

export function decodeCommand(b: Uint8Array): ControllerCommand {
  const c = pb.Command.decode(b);
  const { clientId, seq } = requestIdFromWire(c.id);
  let op: ControllerOp;
  if (c.join) op = joinOpFromWire(c.join);
  else if (c.leave) op = leaveOpFromWire(c.leave);
  else if (c.move) op = moveOpFromWire(c.move);
  else if (c.ackJoin) op = ackJoinOpFromWire(c.ackJoin);
  else if (c.replicaChange) op = replicaChangeOpFromWire(c.replicaChange);
  else if (c.replicaCancel) op = replicaCancelOpFromWire(c.replicaCancel);
  else if (c.replicaDone) op = replicaDoneOpFromWire(c.replicaDone);
  else if (c.replicaProgress) op = replicaProgressOpFromWire(c.replicaProgress);
  else throw new InvalidArgumentError("command.op", "no operation");
  return { clientId, seq, op, shardCount: uint(c.shardCount, "command.shard_count") };
}

/** Encodes the log entry that establishes the cluster id (proto InitCluster). */
export function encodeClusterInit(init: ClusterInit): Uint8Array {
  return pb.Command.encode({ initCluster: { clusterId: init.clusterId } }).finish();
}

/** Decodes a controller log entry: a cluster id's InitCluster, or a command (decodeCommand). */
export function decodeLogEntry(b: Uint8Array): ControllerCommand | ClusterInit {
  const c = pb.Command.decode(b);
  if (!c.initCluster) return decodeCommand(b);
  const clusterId = c.initCluster.clusterId ?? "";
  if (!validClusterId(clusterId)) throw new InvalidArgumentError("init_cluster.cluster_id", `not a cluster id: ${JSON.stringify(clusterId)}`);
  return { kind: "init-cluster", clusterId };
}

export function resultToWire(r: CommandResult): shardkv.controller.CommandResult.$Properties {
  return r.ok ? { configNum: r.configNum, abortedNum: r.abortedNum ?? 0 } : { errorField: r.field, errorReason: r.reason };
}

export function resultFromWire(w: shardkv.controller.CommandResult.$Properties): CommandResult {
  if (w.errorField || w.errorReason) return { ok: false, field: w.errorField ?? "", reason: w.errorReason ?? "" };
  const abortedNum = uint(w.abortedNum, "result.aborted_num");
  return { ok: true, configNum: uint(w.configNum, "result.config_num") as ConfigNum, ...(abortedNum > 0 ? { abortedNum: abortedNum as ConfigNum } : {}) };
}
