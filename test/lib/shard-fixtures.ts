/** Test helpers for the shard state machine's tests: configs and keys of a shard. */
import type { ConfigNum, GroupId } from "../../common/ids";
import type { Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";

/** Config `num` giving shard i to group `shards[i]` (0: nobody); each group at 127.0.0.1:9000+gid. */
export function shardConfig(num: number, shards: number[]): Config {
  const gids = [...new Set(shards.filter((x) => x !== 0))];
  return { num: num as ConfigNum, shards: shards.map((x) => x as GroupId), groups: new Map(gids.map((x) => [x as GroupId, [`127.0.0.1:${9000 + x}`]])) };
}

/** The first `count` keys ("k<n>") of shard `s` of `shardCount`. */
export function keysOfShard(s: number, count: number, shardCount: number): string[] {
  const out: string[] = [];
  for (let n = 0; out.length < count; n++) if (shardOf(`k${n}`, shardCount) === s) out.push(`k${n}`);
  return out;
}
