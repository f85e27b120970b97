/**
 * Where shard migrations stand, from the latest config and the Status of each group's leader:
 * how many shards serve at their owner, how many are still being pulled and how many bytes
 * are left to pull, how many wait for their previous owner's delete (gc), and whether every
 * move is over. Pure: `shardkv-local add-group` / `remove-group` (deploy/local/cluster.ts
 * servingProgress) and `shardctl join|leave --wait` (controller/shardctl.ts) both poll the
 * leaders and hand what they saw here.
 *
 * Bytes left: for each shard not yet at its new owner, the bytes its previous owner holds (a
 * leader of another group that reports it in handoff, or still serving it before it applied
 * the config) minus the bytes the new owner has inserted so far (while
 * it pulls); a shard whose previous owner did not answer counts as unknown (`bytesLeftKnown`
 * false), as does one with no previous owner (assigned for the first time: nothing to move).
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
  /** Shards whose data has not all reached their owner yet (not serving there, not in gc). */
  readonly moving: number;
  /** Bytes the moving shards still have to receive (see the module comment). */
  readonly bytesLeft: number;
  /** false: for some moving shard neither a previous owner nor the puller told, so bytesLeft counts less. */
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
 * not led. A shard not yet at its owner's leader (no leader, not at the config yet, still
 * pulling) is moving; its bytes left are what its previous owner holds (a leader of another
 * group reporting it in handoff, still serving, or held) minus what the owner has inserted.
 */
export function migrationProgress(
  config: { readonly num: number; readonly shards: readonly number[]; readonly gids: readonly number[] },
  groups: readonly GroupView[],
  others: readonly GroupView[] = [],
): MigrationProgress {
  const why: string[] = [];
  // What each shard's previous holders hold: a group other than its owner that has it (in
  // handoff, or still serving it before it applied the config, or held).
  const heldBytes = new Map<number, number>();
  for (const g of [...groups, ...others]) {
    for (const s of g.leader?.shards ?? []) {
      if (config.shards[s.shard] === g.gid || !["handoff", "serving", "held"].includes(s.state)) continue;
      heldBytes.set(s.shard, Math.max(heldBytes.get(s.shard) ?? 0, s.bytes));
    }
  }
  const byGid = new Map(groups.map((g) => [g.gid, g]));
  const out = [...config.gids].sort((a, b) => a - b).map((gid) => {
    const states: Record<string, number> = {};
    const l = byGid.get(gid)?.leader;
    if (!l) {
      why.push(`group ${gid} has no leader`);
      return { gid, states };
    }
    for (const s of l.shards) if (s.state !== "notOwned") states[s.state] = (states[s.state] ?? 0) + 1;
    const moving = Object.entries(states).filter(([n]) => n !== "serving");
    if (moving.length > 0) why.push(`group ${gid} has shards ${moving.map(([n, k]) => `${n} ${k}`).join(", ")}`);
    if (l.configNum !== config.num) why.push(`group ${gid} is at config ${l.configNum}, not ${config.num}`);
    return { gid, leader: l.name, configNum: l.configNum, states };
  });
  // Each shard of the config, where its owner's leader has it.
  const at = new Map(groups.map((g) => [g.gid, g.leader && { configNum: g.leader.configNum, shards: new Map(g.leader.shards.map((s) => [s.shard, s])) }]));
  let serving = 0;
  let moving = 0;
  let gc = 0;
  let bytesLeft = 0;
  let bytesLeftKnown = true;
  config.shards.forEach((owner, shard) => {
    if (owner === 0) return;
    const o = at.get(owner);
    const s = o?.shards.get(shard);
    if (s?.state === "serving" && o!.configNum === config.num) serving++;
    else if (s?.state === "gc") gc++;
    // The owner holds it already and serves it once it reaches the config: nothing to move.
    else if (s?.state === "serving" || s?.state === "held") return;
    else {
      moving++;
      const from = heldBytes.get(shard);
      if (from === undefined) bytesLeftKnown = false;
      else bytesLeft += Math.max(0, from - (s?.state === "pulling" ? s.bytes : 0));
    }
  });
  const unassigned = config.shards.filter((g) => g === 0).length;
  if (unassigned > 0) why.push(`${unassigned} shards unassigned in config ${config.num}`);
  if (serving < config.shards.length) why.push(`${serving}/${config.shards.length} shards serving`);
  return {
    configNum: config.num, shardCount: config.shards.length, groups: out, serving, moving, bytesLeft, bytesLeftKnown, gc,
    done: why.length === 0, why,
  };
}

/**
 * The moving part of a progress line: "2 shards moving (1.5 MiB left), 1 awaiting gc", or
 * "no shards moving". "left" is a lower bound ("at least") when a previous owner did not answer.
 */
export function formatMoving(p: Pick<MigrationProgress, "moving" | "bytesLeft" | "bytesLeftKnown" | "gc">): string {
  const left = `${p.bytesLeftKnown ? "" : "at least "}${formatSize(p.bytesLeft)} left`;
  const moving = p.moving === 0 ? "no shards moving" : `${p.moving} shard${p.moving === 1 ? "" : "s"} moving (${left})`;
  return p.gc === 0 ? moving : `${moving}, ${p.gc} awaiting gc`;
}

/** One progress line: "config 5: 60/64 shards serving, 2 shards moving (1.5 MiB left)". */
export function formatMigrationProgress(p: MigrationProgress): string {
  return `config ${p.configNum}: ${p.serving}/${p.shardCount} shards serving, ${formatMoving(p)}`;
}
