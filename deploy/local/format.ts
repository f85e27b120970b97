/**
 * Human-readable output of `shardkv-local` and the demo: the node table of `status`, the
 * shard map (gid -> shard ranges), migration progress, and how to point the CLIs at a cluster.
 */
import { formatRanges, formatReplicaColumns, formatShardSummary, formatTable, replicaColumns } from "../../controller/shardctl-lib";
import { formatMigrationProgress } from "../../controller/migration-progress";
import type { ClusterStatus, NodeStatus, ServingProgress } from "./cluster";

function shardSummary(n: NodeStatus): string {
  return n.shards ? formatShardSummary(n.shards) : "";
}

/** gid -> shard ranges, one line per group. */
export function formatShardMap(map: Record<string, readonly number[]>, indent = "  "): string {
  return Object.entries(map)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([gid, ss]) => `${indent}group ${gid}: ${String(ss.length).padStart(3)} shards  ${formatRanges(ss)}`)
    .join("\n");
}

/**
 * What keeps the cluster from full health, one phrase each (none: healthy): a node that does
 * not answer (down, paused, unresponsive), the controllers or a group of the latest config
 * without a leader among the replicas that answer, no config from the controllers.
 * `shardkv-local status` exits 1 when there is any (the scheme of every command: a negative
 * answer), so a script can wait for `until shardkv-local status; do ...`.
 */
export function healthProblems(s: ClusterStatus): string[] {
  const problems = s.nodes.filter((n) => n.state !== "up").map((n) => `${n.name} is ${n.state}`);
  const leads = (ns: readonly NodeStatus[]): boolean => ns.some((n) => n.state === "up" && n.role === "leader");
  const ctls = s.nodes.filter((n) => n.kind === "controller");
  if (!leads(ctls)) problems.push("no controller leader");
  if (s.configError !== undefined || !s.config) problems.push(`no config from the controllers${s.configError ? ` (${s.configError})` : ""}`);
  for (const gid of Object.keys(s.config?.groups ?? {}).map(Number).sort((a, b) => a - b)) {
    const replicas = s.nodes.filter((n) => n.kind === "server" && n.gid === gid);
    if (replicas.length > 0 && !leads(replicas)) problems.push(`group ${gid} has no leader`);
  }
  return problems;
}

/** `shardkv-local status` for people. Ends without a newline. */
export function formatStatus(s: ClusterStatus): string {
  const rows = s.nodes.map((n) => [
    n.name, n.addr, n.metrics ?? "-", n.pid === null ? "-" : String(n.pid), n.state, n.member ?? n.role ?? "-", n.lag === undefined ? "-" : String(n.lag),
    n.term === undefined ? "-" : String(n.term),
    n.leader === undefined ? "-" : n.leader === 0 ? "none" : String(n.leader), n.configNum === undefined ? "-" : String(n.configNum),
    n.appliedIndex === undefined ? "-" : String(n.appliedIndex), ...formatReplicaColumns(n), shardSummary(n),
  ]);
  const out = [
    `cluster ${s.dir}${s.clusterId ? ` (id ${s.clusterId})` : ""}: ${s.nodes.filter((n) => n.state === "up").length}/${s.nodes.length} nodes up, ${s.shardCount} shards, NATS ${s.nats ?? "none"}`,
    formatTable(["NODE", "ADDRESS", "METRICS", "PID", "STATE", "ROLE", "LAG", "TERM", "LEADER", "CONFIG", "APPLIED", ...replicaColumns, "SHARDS"], rows),
  ];
  out.push(`controllers: ${s.nodes.filter((n) => n.kind === "controller").map((n) => n.addr).join(",")}`);
  if (s.config && s.shardMap) {
    out.push(`config ${s.config.num}:`, formatShardMap(s.shardMap));
  } else {
    out.push(`config: unavailable (${s.configError ?? "no controller leader"})`);
  }
  return out.join("\n");
}

/**
 * One line of migration progress: "config 5: 60/64 shards serving, 4 shards moving (1.2 MiB
 * left) | g1 serving 16 | g4 pulling 4 ...".
 */
export function formatProgress(p: ServingProgress): string {
  const gs = p.groups.map((g) => `g${g.gid} ${Object.entries(g.states).sort().map(([k, v]) => `${k} ${v}`).join(" ") || (g.leader ? "-" : "no leader")}`);
  return `${formatMigrationProgress(p)} | ${gs.join(" | ")}`;
}

/** The commands that drive the cluster from another terminal. */
export function howToUse(cluster: { cliEnv(): Record<string, string> }, dir: string): string {
  return [
    `  eval "$(bin/shardkv-local env --dir ${dir})"   # $SHARDKV_CONTROLLERS${Object.keys(cluster.cliEnv()).length > 1 ? " and the admin certificate ($SHARDKV_TLS_*)" : ""}`,
    `  bin/shardctl status      # controller replicas`,
    `  bin/shardctl query       # latest config: shard -> group`,
    `  bin/shardkv put greeting hello`,
    `  bin/shardkv get greeting`,
    `  bin/shardkv-local status --dir ${dir}       # every node, the shard map`,
    `  bin/shardkv-local dashboard --dir ${dir}    # live web dashboard; prints its URL`,
    `  bin/shardkv-local kill g1n1 --dir ${dir}    # also: pause, resume, restart, add-group, remove-group`,
    `  bin/shardkv-local replace g1n1 --dir ${dir} # new replica for g1n1; also: add-replica, remove-replica`,
  ].join("\n");
}

/** `export NAME='value'` lines for a POSIX shell (values single-quoted). */
export function exportLines(env: Readonly<Record<string, string>>): string {
  return Object.entries(env).map(([k, v]) => `export ${k}='${v.replace(/'/g, "'\\''")}'`).join("\n");
}
