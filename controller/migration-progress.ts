/**
 * Where shard migrations stand, from the latest config and the Status of each group's leader:
 * how many shards serve at their owner, how many are still being pulled and how many bytes
 * are left to pull, how many wait for their previous owner's delete (gc), and whether every
 * move is over. Pure: `shardkv-local add-group` / `remove-group` (deploy/local/cluster.ts
 * servingProgress) and `shardctl join|leave --wait` (controller/shardctl.ts) both poll the
 * leaders and hand what they saw here.
 *
 * Bytes left: for each shard being pulled, the bytes its previous owner holds (the leader
 * that reports it in handoff) minus the bytes the new owner has inserted so far; a shard whose
 * previous owner did not answer counts as unknown (`bytesLeftKnown` false).
 */
import { formatSize } from "../common/limits";

/** A shard as a group's leader reports it in Status (state names as shardkv-local prints them). */
export interface ShardView {
  readonly shard: number;
  /** serving, pulling, handoff, gc, held, notOwned. */
  readonly state: string;
  readonly keys: number;
  readonly bytes: number;
}

/** What the leader of one group answered (undefined leader: none of its replicas did). */
export interface GroupView {
  readonly gid: number;
  readonly leader?: {
    /** How to name it in lines ("g1n2", "127.0.0.1:7005"). */
    readonly name: string;
    readonly configNum: number;
    readonly shards: readonly ShardView[];
  };
}

export interface MigrationProgress {
  readonly configNum: number;
  readonly shardCount: number;
  /** Per gid of the config: its leader and its shard counts by state (notOwned left out). */
  readonly groups: readonly { gid: number; leader?: string; configNum?: number; states: Record<string, number> }[];
  /** Shards Serving at their owner in the latest config (which is at that config). */
  readonly serving: number;
  /** Shards some group is still pulling. */
  readonly pulling: number;
  /** Bytes the pulling shards still have to receive (see the module comment). */
  readonly bytesLeft: number;
  /** false: some pulling shard's previous owner did not answer, so bytesLeft counts less. */
  readonly bytesLeftKnown: boolean;
  /** Shards that arrived and wait for their previous owner to delete its copy. */
  readonly gc: number;
  readonly done: boolean;
  /** What keeps it from done, one phrase each (empty when done). */
  readonly why: readonly string[];
}

/**
 * The progress as of `config` (its number and shard -> gid array) from the leaders of its
 * groups (`groups`, one per gid of the config) and of any other group that may still hold
 * shards (`others`: a group that just left). A config group missing from `groups` counts as
 * not led.
 */
export function migrationProgress(
  config: { readonly num: number; readonly shards: readonly number[]; readonly gids: readonly number[] },
  groups: readonly GroupView[],
  others: readonly GroupView[] = [],
): MigrationProgress {
  const why: string[] = [];
  const handoffBytes = new Map<number, number>();
  for (const g of [...groups, ...others]) for (const s of g.leader?.shards ?? []) if (s.state === "handoff") handoffBytes.set(s.shard, s.bytes);
  let serving = 0;
  let pulling = 0;
  let gc = 0;
  let bytesLeft = 0;
  let bytesLeftKnown = true;
  const byGid = new Map(groups.map((g) => [g.gid, g]));
  const out = [...config.gids].sort((a, b) => a - b).map((gid) => {
    const states: Record<string, number> = {};
    const l = byGid.get(gid)?.leader;
    if (!l) {
      why.push(`group ${gid} has no leader`);
      return { gid, states };
    }
    const byShard = new Map<number, ShardView>();
    for (const s of l.shards) {
      byShard.set(s.shard, s);
      if (s.state === "notOwned") continue;
      states[s.state] = (states[s.state] ?? 0) + 1;
      if (s.state === "pulling") {
        pulling++;
        const from = handoffBytes.get(s.shard);
        if (from === undefined) bytesLeftKnown = false;
        else bytesLeft += Math.max(0, from - s.bytes);
      }
      if (s.state === "gc") gc++;
    }
    const moving = Object.entries(states).filter(([n]) => n !== "serving");
    if (moving.length > 0) why.push(`group ${gid} has shards ${moving.map(([n, k]) => `${n} ${k}`).join(", ")}`);
    if (l.configNum !== config.num) why.push(`group ${gid} is at config ${l.configNum}, not ${config.num}`);
    config.shards.forEach((owner, shard) => {
      if (owner === gid && l.configNum === config.num && byShard.get(shard)?.state === "serving") serving++;
    });
    return { gid, leader: l.name, configNum: l.configNum, states };
  });
  const unassigned = config.shards.filter((g) => g === 0).length;
  if (unassigned > 0) why.push(`${unassigned} shards unassigned in config ${config.num}`);
  if (serving < config.shards.length) why.push(`${serving}/${config.shards.length} shards serving`);
  return {
    configNum: config.num, shardCount: config.shards.length, groups: out, serving, pulling, bytesLeft, bytesLeftKnown, gc,
    done: why.length === 0, why,
  };
}

/**
 * The moving part of a progress line: "2 shards moving (1.5 MiB left), 1 awaiting gc", or
 * "no shards moving". "left" is a lower bound ("at least") when a previous owner did not answer.
 */
export function formatMoving(p: Pick<MigrationProgress, "pulling" | "bytesLeft" | "bytesLeftKnown" | "gc">): string {
  const left = `${p.bytesLeftKnown ? "" : "at least "}${formatSize(p.bytesLeft)} left`;
  const moving = p.pulling === 0 ? "no shards moving" : `${p.pulling} shard${p.pulling === 1 ? "" : "s"} moving (${left})`;
  return p.gc === 0 ? moving : `${moving}, ${p.gc} awaiting gc`;
}

/** One progress line: "config 5: 60/64 shards serving, 2 shards moving (1.5 MiB left)". */
export function formatMigrationProgress(p: MigrationProgress): string {
  return `config ${p.configNum}: ${p.serving}/${p.shardCount} shards serving, ${formatMoving(p)}`;
}
