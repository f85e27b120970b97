/**
 * The wire form of the config model (shardkv.controller.Config in proto/controller.proto),
 * validated on decode. Part of the config model, so the client library may use it too.
 */
import { shardkv } from "../proto/gen/controller.js";
import { InvalidArgumentError } from "../common/errors";
import type { ConfigNum, GroupId, NodeId } from "../common/ids";
import type { Member } from "../common/replica-change";
import { type Config, groupMembers, makeConfig, unknownMemberId } from "./config";

const pb = shardkv.controller;

function uint(v: number | null | undefined, field: string): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(field, `must be a non-negative integer, got ${n}`);
  return n;
}

export function memberToWire(m: Member): shardkv.controller.Member.$Properties {
  return { id: m.id, address: m.address, learner: m.learner };
}

export function memberFromWire(w: shardkv.controller.Member.$Properties, field: string): Member {
  return { id: uint(w.id, `${field}.id`) as NodeId, address: w.address ?? "", learner: w.learner === true };
}

/**
 * The wire form of a config: each group's members, and its `servers` derived from them (what
 * an earlier version reads).
 */
export function configToWire(c: Config): shardkv.controller.Config.$Properties {
  return {
    num: c.num,
    shards: [...c.shards],
    groups: [...c.groups].map(([gid, servers]) => ({ gid, servers: [...servers], members: groupMembers(c, gid).map(memberToWire) })),
    abortedJoins: (c.abortedJoins ?? []).map((a) => ({ gid: a.gid, joinNum: a.joinNum, abortNum: a.abortNum })),
  };
}

/**
 * A config from the wire. A group without members (a config of an earlier version) has each
 * of its servers as a voter of unknown id.
 */
export function configFromWire(w: shardkv.controller.Config.$Properties): Config {
  const members = new Map<GroupId, Member[]>();
  for (const g of w.groups ?? []) {
    const ms = (g.members ?? []).map((m) => memberFromWire(m, "config.groups.members"));
    members.set(uint(g.gid, "config.groups.gid") as GroupId,
      ms.length > 0 ? ms : (g.servers ?? []).map((address) => ({ id: unknownMemberId, address, learner: false })));
  }
  const aborted = (w.abortedJoins ?? []).map((a) => ({
    gid: uint(a.gid, "config.aborted_joins.gid") as GroupId,
    joinNum: uint(a.joinNum, "config.aborted_joins.join_num") as ConfigNum,
    abortNum: uint(a.abortNum, "config.aborted_joins.abort_num") as ConfigNum,
  }));
  return makeConfig({
    num: uint(w.num, "config.num") as ConfigNum,
    shards: (w.shards ?? []).map((s) => uint(s, "config.shards") as GroupId),
    members,
    abortedJoins: aborted,
  });
}

export function encodeConfig(c: Config): Uint8Array {
  return pb.Config.encode(configToWire(c)).finish();
}

export function decodeConfig(b: Uint8Array): Config {
  return configFromWire(pb.Config.decode(b));
}
