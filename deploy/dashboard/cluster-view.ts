/**
 * The dashboard's picture of a cluster (what /api/snapshot and each server-sent event carry,
 * docs/operations.md "Dashboard"), and the pure function that draws it from one poll: the
 * controller's latest config, the Status reply of every replica that answered, and each
 * group's chart history.
 */

/** A shard's state as the dashboard shows it (see shardStates). */
export type ShardView = "serving" | "pulling" | "handoff" | "gc" | "unassigned" | "unknown";

/** What one group's replica reports of one shard (a Status reply's ShardStatus). */
export interface ShardReport {
  readonly shard: number;
  /** Shard state name as deploy/local/cluster.ts shardStateName gives it. */
  readonly state: string;
  readonly configNum: number;
  readonly keys: number;
  readonly bytes: number;
}

/** One replica as polled. */
export interface ReplicaReport {
  readonly addr: string;
  /** Absent when it did not answer. */
  readonly status?: {
    readonly id: number;
    readonly role: string;
    readonly term: number;
    readonly leader: number;
    readonly configNum: number;
    readonly commitIndex: number;
    readonly appliedIndex: number;
    readonly shards: readonly ShardReport[];
    /** The group's members as this replica knows them; the leader's carry each one's lag. */
    readonly members: readonly { readonly id: number; readonly role: string; readonly hasProgress: boolean; readonly lag: number }[];
  };
  /** Why it did not answer (one line). */
  readonly error?: string;
  /** Its metrics endpoint, if any. */
  readonly metrics?: string;
  /** Why its metrics could not be read (one line). */
  readonly metricsError?: string;
}

/** One chart point. */
export interface HistoryPoint {
  /** Wall-clock milliseconds. */
  readonly t: number;
  readonly opsPerSec: number;
  readonly p99Ms: number | null;
}

/** What the page shows of one Raft replica, a shard server's or a controller's. */
interface RaftReplicaView {
  readonly addr: string;
  readonly id?: number;
  readonly role?: string;
  readonly term?: number;
  /** Servers: the config applied; controllers: the latest config. */
  readonly configNum?: number;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  /** Why it did not answer (one line). */
  readonly error?: string;
}

export interface ReplicaView extends RaftReplicaView {
  /** Entries behind the leader's log (the leader's view), or behind its commit index. */
  readonly lag?: number;
  readonly metrics?: string;
  readonly metricsError?: string;
}

export interface GroupView {
  readonly gid: number;
  /** Whether the latest config lists it (false: it left and is still draining). */
  readonly inConfig: boolean;
  /** The leader's id, if a replica says it leads. */
  readonly leader?: number;
  /** Shards the latest config gives it. */
  readonly owned: number;
  /** Keys and bytes of the shards its leader (else its best-informed replica) holds. */
  readonly keys: number;
  readonly bytes: number;
  readonly replicas: readonly ReplicaView[];
  /** Whether any of its replicas has a metrics endpoint. */
  readonly hasMetrics: boolean;
  /** ops/s and p99 over the last minutes (oldest first). */
  readonly history: readonly HistoryPoint[];
  /** Migration bytes its replicas inserted (metrics; absent without). */
  readonly migratedInBytes?: number;
  /** Migration bytes received, not yet inserted (metrics; absent without). */
  readonly inFlightBytes?: number;
}

export interface ShardCell {
  readonly shard: number;
  /** Owner in the latest config (0: none). */
  readonly gid: number;
  readonly state: ShardView;
  /** The group handing it over, while it moves. */
  readonly from?: number;
  readonly keys?: number;
  readonly bytes?: number;
}

export interface MigrationView {
  readonly shard: number;
  readonly from?: number;
  readonly to: number;
  readonly state: ShardView;
  /** Keys and bytes at the receiver so far. */
  readonly keys: number;
  readonly bytes: number;
  /** Bytes at the sender (the whole shard), when it still holds it. */
  readonly sourceBytes?: number;
}

export type ControllerView = RaftReplicaView;

/** Everything the page shows, as of one poll. */
export interface DashboardSnapshot {
  /** Wall-clock milliseconds of the poll. */
  readonly at: number;
  /** How often the dashboard polls, milliseconds. */
  readonly intervalMs: number;
  /** How much history the charts hold, milliseconds. */
  readonly historyMs: number;
  readonly clusterId?: string;
  /** Why the controllers gave no config (one line). */
  readonly configError?: string;
  readonly configNum?: number;
  readonly shardCount: number;
  readonly shards: readonly ShardCell[];
  readonly groups: readonly GroupView[];
  readonly migrations: readonly MigrationView[];
  readonly controllers: readonly ControllerView[];
}

/** The replica whose report speaks for its group: the leader of the highest term, else the one at the newest config. */
export function spokesman(replicas: readonly ReplicaReport[]): ReplicaReport["status"] | undefined {
  let best: ReplicaReport["status"] | undefined;
  for (const r of replicas) {
    const s = r.status;
    if (!s) continue;
    const better = !best
      || (s.role === "leader" && (best.role !== "leader" || s.term > best.term))
      || (best.role !== "leader" && s.role !== "leader" && (s.configNum > best.configNum || (s.configNum === best.configNum && s.appliedIndex > best.appliedIndex)));
    if (better) best = s;
  }
  return best;
}

/**
 * Each shard's cell: its owner in the config `owners` (shard -> gid, 0 none) and its state
 * from what each group's spokesman reports (`reports`: gid -> its shards):
 * the owner Pulling -> pulling; the owner in Gc (serving, the old owner not yet told to
 * delete) -> gc; the owner Serving -> serving; another group holding it in Handoff (the owner
 * has not started pulling) -> handoff; otherwise unknown (the owner did not answer or has
 * not applied the config). `from`: the group reporting it in Handoff.
 */
export function shardCells(owners: readonly number[], reports: ReadonlyMap<number, readonly ShardReport[]>): ShardCell[] {
  const byGroup = new Map<number, Map<number, ShardReport>>();
  const handoffBy = new Map<number, { gid: number; report: ShardReport }>();
  for (const [gid, shards] of reports) {
    byGroup.set(gid, new Map(shards.map((s) => [s.shard, s])));
    for (const s of shards) if (s.state === "handoff") handoffBy.set(s.shard, { gid, report: s });
  }
  return owners.map((gid, shard): ShardCell => {
    const own = byGroup.get(gid)?.get(shard);
    const handoff = handoffBy.get(shard);
    const from = handoff && handoff.gid !== gid ? { from: handoff.gid } : {};
    const size = own && own.state !== "notOwned" ? { keys: own.keys, bytes: own.bytes } : {};
    if (gid === 0) return { shard, gid, state: "unassigned" };
    if (own?.state === "pulling") return { shard, gid, state: "pulling", ...from, ...size };
    if (own?.state === "gc") return { shard, gid, state: "gc", ...from, ...size };
    // Serving at the owner wins over a Handoff reported by the sender: the two groups are
    // polled at slightly different moments, and the owner serves only once it has the data.
    if (own?.state === "serving") return { shard, gid, state: "serving", ...size };
    if (handoff && handoff.gid !== gid) return { shard, gid, state: "handoff", ...from, keys: handoff.report.keys, bytes: handoff.report.bytes };
    return { shard, gid, state: "unknown" };
  });
}

/** The shards on the move (pulling, handoff, gc), with what the receiver holds so far and the sender's size. */
export function migrations(cells: readonly ShardCell[], reports: ReadonlyMap<number, readonly ShardReport[]>): MigrationView[] {
  const out: MigrationView[] = [];
  for (const c of cells) {
    if (c.state !== "pulling" && c.state !== "handoff" && c.state !== "gc") continue;
    const at = reports.get(c.gid)?.find((s) => s.shard === c.shard);
    const src = c.from === undefined ? undefined : reports.get(c.from)?.find((s) => s.shard === c.shard);
    out.push({
      shard: c.shard, to: c.gid, state: c.state, ...(c.from !== undefined ? { from: c.from } : {}),
      keys: at && at.state !== "notOwned" ? at.keys : 0, bytes: at && at.state !== "notOwned" ? at.bytes : 0,
      ...(src ? { sourceBytes: src.bytes } : {}),
    });
  }
  return out;
}

/** The replicas of a group as shown: each with its lag behind the leader. */
export function replicaViews(replicas: readonly ReplicaReport[]): ReplicaView[] {
  const lead = spokesman(replicas);
  const leader = lead?.role === "leader" ? lead : undefined;
  return replicas.map((r): ReplicaView => {
    const base = { addr: r.addr, ...(r.metrics ? { metrics: r.metrics } : {}), ...(r.metricsError ? { metricsError: r.metricsError } : {}) };
    const s = r.status;
    if (!s) return { ...base, error: r.error ?? "no answer" };
    const m = leader?.members.find((x) => x.id === s.id && x.hasProgress);
    const lag = s === leader ? 0 : m ? m.lag : leader ? Math.max(0, leader.commitIndex - s.appliedIndex) : undefined;
    return {
      ...base, id: s.id, role: s.role, term: s.term, configNum: s.configNum, commitIndex: s.commitIndex, appliedIndex: s.appliedIndex,
      ...(lag !== undefined ? { lag } : {}),
    };
  });
}
