/**
 * The wire form of the config model (shardkv.controller.Config in proto/controller.proto),
 * validated on decode. Part of the config model, so the client library may use it too.
 */
import { shardkv } from "../proto/gen/controller.js";
import { InvalidArgumentError } from "../common/errors";
import type { ConfigNum, GroupId } from "../common/ids";
import type { Config } from "./config";

const pb = shardkv.controller;

function uint(v: number | null | undefined, field: string): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(field, `must be a non-negative integer, got ${n}`);
  return n;
}

export function configToWire(c: Config): shardkv.controller.Config.$Properties {
  return {
    num: c.num,
    shards: [...c.shards],
    groups: [...c.groups].map(([gid, servers]) => ({ gid, servers: [...servers] })),
    abortedJoins: (c.abortedJoins ?? []).map((a) => ({ gid: a.gid, joinNum: a.joinNum, abortNum: a.abortNum })),
  };
}

export function configFromWire(w: shardkv.controller.Config.$Properties): Config {
  const groups = new Map<GroupId, string[]>();
  for (const g of w.groups ?? []) groups.set(uint(g.gid, "config.groups.gid") as GroupId, [...(g.servers ?? [])]);
  const aborted = (w.abortedJoins ?? []).map((a) => ({
    gid: uint(a.gid, "config.aborted_joins.gid") as GroupId,
    joinNum: uint(a.joinNum, "config.aborted_joins.join_num") as ConfigNum,
    abortNum: uint(a.abortNum, "config.aborted_joins.abort_num") as ConfigNum,
  }));
  return {
    num: uint(w.num, "config.num") as ConfigNum,
    shards: (w.shards ?? []).map((s) => uint(s, "config.shards") as GroupId),
    groups,
    ...(aborted.length > 0 ? { abortedJoins: aborted } : {}),
  };
}

export function encodeConfig(c: Config): Uint8Array {
  return pb.Config.encode(configToWire(c)).finish();
}

export function decodeConfig(b: Uint8Array): Config {
  return configFromWire(pb.Config.decode(b));
}
