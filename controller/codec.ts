/**
 * Conversion between the controller's domain types and proto/controller.proto, with
 * validation at the edge (the cores never see raw wire objects).
 */
import { shardkv } from "../proto/gen/controller.js";
import { InvalidArgumentError } from "../common/errors";
import type { ConfigNum, GroupId, ShardId } from "../common/ids";
export { configFromWire, configToWire, decodeConfig, encodeConfig } from "./config-wire";
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

export function joinOpFromWire(r: shardkv.controller.JoinRequest.$Properties): Extract<ControllerOp, { kind: "join" }> {
  const groups = new Map<GroupId, string[]>();
  for (const g of r.groups ?? []) {
    const gid = uint(g.gid, "gid") as GroupId;
    if (groups.has(gid)) throw new InvalidArgumentError("gid", `group ${gid} listed twice`);
    groups.set(gid, [...(g.servers ?? [])]);
  }
  return { kind: "join", groups };
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
      return pb.Command.encode({ id, shardCount, join: { groups: [...op.groups].map(([gid, servers]) => ({ gid, servers: [...servers] })) } }).finish();
    case "leave":
      return pb.Command.encode({ id, shardCount, leave: { gids: [...op.gids] } }).finish();
    case "move":
      return pb.Command.encode({ id, shardCount, move: { shard: op.shard, gid: op.gid } }).finish();
    case "ackJoin":
      return pb.Command.encode({ id, shardCount, ackJoin: { gid: op.gid, joinNum: op.joinNum } }).finish();
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
