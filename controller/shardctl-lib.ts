/**
 * The pure half of `shardctl` (controller/shardctl.ts): argument parsing and output
 * formatting, no I/O, so every rule is unit-tested (test/unit/shardctl-lib.test.ts).
 *
 * Local validation covers syntax only: numbers, "host:port" shapes, duplicates inside one
 * command line. Everything that depends on the cluster's state (a gid already present, an
 * unknown gid, a shard beyond the shard count, leaving every group) is decided by the
 * controller (controller/state-machine.ts validateOp), which refuses with no new config.
 */
import {
  UsageError, addressListOrEnv, checkCommandFlags, commandWordIndex, flag, parseAddress, parseAddressList, parseCommandLine, parseInteger, usage,
} from "../common/cli-args";
import { clientTls, clientTlsFlags, clientTlsUsage } from "../security/tls-flags";
import type { TlsFiles } from "../security/tls-files";
import type { ConfigNum, GroupId, NodeId, ShardId } from "../common/ids";
import { type Member, type ReplicaChange, type ReplicaChangeStep, type ReplicaIntent, describeReplicaChange } from "../common/replica-change";
import { type Config, controllerGid, groupServersMax, shardCounts, sortedGids } from "./config";
import { type ReplicaState, describeGroup, membersOf } from "./replica-intents";
import { formatSize } from "../common/limits";
import { plainProgressEveryMsDefault } from "../common/progress-line";

/** `--timeout` unless given: the deadline of one operation, retries included. */
export const timeoutMsDefault = 10_000;
/** `--timeout` unless given, with `--wait`: the change and the wait for it to be done. */
export const waitTimeoutMsDefault = 300_000;
/**
 * `join --wait-servers` unless given: how long a join refused only because servers gave no
 * answer (nothing listening yet, still starting) is asked again (ControllerClient.join
 * serversWaitMs); 0 = one check.
 */
export const serversWaitMsDefault = 30_000;
/** Environment variable read when `--controllers` is not given. */
export const controllersEnv = "SHARDKV_CONTROLLERS";

export const usageText = `usage: shardctl --controllers HOST:PORT[,HOST:PORT...] [--json] [--timeout DURATION]
                [--tls-ca FILE --tls-cert FILE --tls-key FILE | --insecure] COMMAND

Administers the shardkv configuration controller.

commands:
  join [--force | --wait-servers DURATION] GID=ADDR[,ADDR...] [GID=ADDR[,ADDR...] ...]
                       add one or more groups (GID >= 1, ADDR = host:port of each server);
                       refused unless a majority of each group's servers answer as its
                       replicas (--force: skip that check). While the only trouble is
                       servers that give no answer yet (connection refused, no reply: still
                       starting), asks again for up to --wait-servers (default
                       ${serversWaitMsDefault / 1000}s; 0: once; each try within --timeout), printing a line on
                       stderr per try naming them; a server answering as another group's or
                       cluster's, or not as a shard server, is refused at once
  leave GID [GID...]   remove groups; their shards move to the remaining groups
                       (leaving every group is refused: it would orphan every shard)
  move SHARD GID       assign one shard to a group
  query [NUM]          print config NUM (default, and for NUM beyond it: the latest)
  status [--group GID | --all]
                       role, term, leader, config, lag, applied index, Raft log, last
                       snapshot, data directory size and uptime of every controller replica
                       (waits up to --timeout for a leader; exit 1 if there is none);
                       --group GID: of group GID's servers instead (from the latest config;
                       with each one's shards, keys and bytes); --all: the controllers and
                       every group (exit 1 if any of them has no leader)
  watch [--from NUM]   print the latest config (or every config from NUM), then each new
                       one as it commits, until interrupted (Ctrl-C)
  certs init|issue|show
                       make the cluster's CA, issue certificates, show one (needs no
                       controller; see shardctl certs --help)
  handoff ADDR         ask the replica at ADDR, if it leads its group, to hand leadership to
                       its most caught-up voter and wait for it (needs no controller; see
                       shardctl handoff --help)
  replica add GID ID=ADDR [--force]
                       ask group GID's leader to add replica ID at ADDR as a learner
  replica promote GID ID
                       ask it to promote learner ID to voter
  replica remove GID ID [--force]
                       ask it to remove replica ID
  replica replace GID OLD-ID NEW-ID=ADDR [--force]
                       ask it to add NEW-ID as a learner, then (caught up) promote it and
                       remove OLD-ID in one joint change
  replica cancel GID   drop group GID's pending replica change
  replica list GID     group GID's members (id, role, address) and its pending change
  controller add|promote|remove|replace|cancel|list ...
                       the same for the controller group's own replicas (no GID)
  help                 print this text

Replica changes are stored intents, one per group at a time: the command returns once the
controller stored it; the group's leader carries it out and reports back (replica list
shows the pending change and why it is blocked). --force skips the group's check that the
change leaves a majority of its voters reachable.

--wait (join, leave, move, replica and controller add, promote, remove, replace): after
the change, wait until it is done: for join, leave and move, every shard of the latest config serving
at its owner (shards moved and their old copies deleted); for a replica change, the group's
leader reported it carried out. A progress line shows the shards still moving and the bytes
left, or the change's step and why it is blocked (rewritten in place on a terminal; piped, a
line at most every ${plainProgressEveryMsDefault / 1000} s). Exit 0 when done, 3 with one line when --timeout (default
with --wait: ${waitTimeoutMsDefault / 1000}s) passes first; the change itself stays made.

options:
  --controllers LIST   controller replicas, comma-separated (default: $${controllersEnv})
  --json               machine-readable output: one JSON object (per line for watch)
  --timeout DURATION   deadline of one operation, retries included: 500ms, 10s, 2m;
                       a bare number is seconds (default: ${timeoutMsDefault / 1000}s; with --wait,
                       the whole wait: ${waitTimeoutMsDefault / 1000}s)
${clientTlsUsage}
  -h, --help           print this text

exit status: 0 success; 1 no leader (status: the replicas that answered have none);
2 usage error (unknown flag, malformed argument); 3 the operation failed (unreachable, timed
out, refused by the controller; one line "shardctl: <reason>" on stderr). Every command
retries until --timeout, so controllers that are still starting are waited for (status: until
one of them is the leader and the cluster id is known).
`;

/** One command, validated for syntax. */
export type ShardctlCommand =
  /**
   * force: skip the controller's check that the groups' servers answer as their replicas;
   * serversWaitMs: how long to ask again while the check finds only servers that give no answer.
   */
  | { readonly kind: "join"; readonly groups: ReadonlyMap<GroupId, readonly string[]>; readonly force: boolean; readonly serversWaitMs: number }
  | { readonly kind: "leave"; readonly gids: readonly GroupId[] }
  | { readonly kind: "move"; readonly shard: ShardId; readonly gid: GroupId }
  /** num -1 = the latest config. */
  | { readonly kind: "query"; readonly num: number }
  /** of: the controllers (default), group `gid`'s servers, or everything. */
  | { readonly kind: "status"; readonly of?: { readonly gid: GroupId } | "all" }
  /** fromNum undefined = start at the latest config. */
  | { readonly kind: "watch"; readonly fromNum?: ConfigNum }
  /** Store a replica change of group `gid` (0: the controller group). */
  | { readonly kind: "replica"; readonly gid: GroupId; readonly change: ReplicaChange; readonly force: boolean }
  | { readonly kind: "replica-cancel"; readonly gid: GroupId }
  | { readonly kind: "replica-list"; readonly gid: GroupId };

export interface Invocation {
  readonly controllers: readonly string[];
  readonly json: boolean;
  readonly timeoutMs: number;
  /** --wait: after a join, leave or replica change, wait until it is done (controller/shardctl.ts). */
  readonly wait?: boolean;
  /** Mutual TLS files (flags or $SHARDKV_TLS_*); undefined: no TLS. */
  readonly tls?: TlsFiles;
  readonly command: ShardctlCommand;
}

/** What the command line asks for: run a command, print help, or a usage error (exit 2). */
export type ParseResult =
  | { readonly kind: "run"; readonly invocation: Invocation }
  | { readonly kind: "help" }
  | { readonly kind: "usage-error"; readonly message: string }
  /** `shardctl certs ...`: `argv` without the word "certs", for security/certs-args.ts. */
  | { readonly kind: "certs"; readonly argv: readonly string[] }
  /** `handoff`: its own flags, no controller (controller/handoff-command.ts). */
  | { readonly kind: "handoff"; readonly argv: readonly string[] };


export function parseGid(field: string, s: string): GroupId {
  return parseInteger(field, s, 1, Number.MAX_SAFE_INTEGER) as GroupId;
}

const parseNonNegative = (field: string, s: string): number => parseInteger(field, s, 0, Number.MAX_SAFE_INTEGER);

function parseJoin(args: readonly string[], force: boolean, serversWaitMs: number | undefined): ShardctlCommand {
  if (force && serversWaitMs !== undefined) throw usage("--wait-servers", "not with --force, which skips the join check (nothing is waited for)");
  if (args.length === 0) throw usage("join", "want at least one GID=ADDR[,ADDR...]");
  const groups = new Map<GroupId, string[]>();
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq < 0) throw usage("join argument", `want GID=ADDR[,ADDR...], got ${JSON.stringify(a)}`);
    const gid = parseGid("gid", a.slice(0, eq));
    if (groups.has(gid)) throw usage("gid", `group ${gid} is listed twice`);
    const list = a.slice(eq + 1);
    if (list === "") throw usage("servers", `group ${gid} has an empty server list`);
    const servers = parseAddressList(`servers of group ${gid}`, list);
    if (servers.length > groupServersMax) {
      throw usage("servers", `group ${gid} lists ${servers.length} servers, at most ${groupServersMax}`);
    }
    groups.set(gid, servers);
  }
  return { kind: "join", groups, force, serversWaitMs: serversWaitMs ?? (force ? 0 : serversWaitMsDefault) };
}

function parseLeave(args: readonly string[]): ShardctlCommand {
  if (args.length === 0) throw usage("leave", "want at least one GID");
  const gids = args.map((a) => parseGid("gid", a));
  const dup = gids.find((g, i) => gids.indexOf(g) !== i);
  if (dup !== undefined) throw usage("gid", `group ${dup} is listed twice`);
  return { kind: "leave", gids };
}

function parseMove(args: readonly string[]): ShardctlCommand {
  if (args.length !== 2) throw usage("move", `want SHARD GID, got ${args.length} argument${args.length === 1 ? "" : "s"}`);
  const shard = parseNonNegative("shard", args[0]!) as ShardId;
  return { kind: "move", shard, gid: parseGid("gid", args[1]!) };
}

function parseQuery(args: readonly string[]): ShardctlCommand {
  if (args.length > 1) throw usage("query", `want at most one config number, got ${args.length} arguments`);
  return { kind: "query", num: args.length === 0 ? -1 : parseNonNegative("config number", args[0]!) };
}

function parseStatus(args: readonly string[], group: number | undefined, all: boolean): ShardctlCommand {
  if (args.length > 0) throw usage("status", `takes no arguments (use --group GID or --all), got ${JSON.stringify(args[0])}`);
  if (group !== undefined && all) throw usage("--all", "give --group GID or --all, not both");
  if (group !== undefined) return { kind: "status", of: { gid: group as GroupId } };
  return all ? { kind: "status", of: "all" } : { kind: "status" };
}

/** A replica id on the command line (>= 1). */
function parseReplicaId(field: string, s: string): NodeId {
  return parseInteger(field, s, 1, Number.MAX_SAFE_INTEGER) as NodeId;
}

/** `ID=host:port`. */
function parseIdAddress(field: string, s: string): { id: NodeId; address: string } {
  const eq = s.indexOf("=");
  if (eq < 0) throw usage(field, `want ID=HOST:PORT, got ${JSON.stringify(s)}`);
  return { id: parseReplicaId(`${field} id`, s.slice(0, eq)), address: parseAddress(`${field} address`, s.slice(eq + 1)) };
}

const replicaSubcommands = ["add", "promote", "remove", "replace", "cancel", "list"] as const;
/** The subcommands that take --force (a change the group's leader checks strictly). */
const forceSubcommands: readonly string[] = ["add", "remove", "replace"];

/**
 * `replica SUB GID ...` and `controller SUB ...` (the controller group, gid 0: no GID
 * argument). Local checks are syntax only; the controller checks the change against the
 * group's members (controller/replica-intents.ts).
 */
function parseReplica(name: "replica" | "controller", args: readonly string[], force: boolean): ShardctlCommand {
  const [sub, ...rest] = args;
  const subs = replicaSubcommands.join(", ");
  if (sub === undefined) throw usage(name, `missing subcommand (${subs})`);
  if (!(replicaSubcommands as readonly string[]).includes(sub)) throw usage(name, `unknown subcommand ${JSON.stringify(sub)} (want ${subs})`);
  if (force && !forceSubcommands.includes(sub)) throw usage("--force", `only valid with ${name} add, remove and replace, not ${name} ${sub}`);
  const gidArgs = name === "replica" ? 1 : 0;
  const want: Record<typeof replicaSubcommands[number], readonly string[]> = {
    add: ["ID=HOST:PORT"], promote: ["ID"], remove: ["ID"], replace: ["OLD-ID", "NEW-ID=HOST:PORT"], cancel: [], list: [],
  };
  const shape = [...(name === "replica" ? ["GID"] : []), ...want[sub as keyof typeof want]];
  if (rest.length !== shape.length) {
    throw usage(`${name} ${sub}`, `want ${shape.length === 0 ? "no arguments" : shape.join(" ")}, got ${rest.length} argument${rest.length === 1 ? "" : "s"}`);
  }
  const gid = name === "replica" ? parseGid("gid", rest[0]!) : controllerGid;
  const a = rest.slice(gidArgs);
  switch (sub as typeof replicaSubcommands[number]) {
    case "add": {
      const { id, address } = parseIdAddress("replica", a[0]!);
      return { kind: "replica", gid, change: { kind: "addLearner", id, address }, force };
    }
    case "promote": return { kind: "replica", gid, change: { kind: "promote", id: parseReplicaId("replica id", a[0]!) }, force };
    case "remove": return { kind: "replica", gid, change: { kind: "remove", id: parseReplicaId("replica id", a[0]!) }, force };
    case "replace": {
      const oldId = parseReplicaId("old replica id", a[0]!);
      const { id: newId, address } = parseIdAddress("new replica", a[1]!);
      if (newId === oldId) throw usage("new replica id", `${newId} is the replica being replaced; give the new replica another id`);
      return { kind: "replica", gid, change: { kind: "replace", oldId, newId, address }, force };
    }
    case "cancel": return { kind: "replica-cancel", gid };
    case "list": return { kind: "replica-list", gid };
  }
}

const commandNames = ["join", "leave", "move", "query", "status", "watch", "replica", "controller", "help"] as const;

const flags = {
  controllers: flag.addressList(),
  json: flag.bool(),
  timeout: flag.duration(),
  from: flag.of((f, s) => parseNonNegative(f, s) as ConfigNum),
  force: flag.bool(),
  group: flag.of((f, s) => parseGid(f, s)),
  all: flag.bool(),
  wait: flag.bool(),
  "wait-servers": flag.duration({ zero: true }),
  ...clientTlsFlags,
};

/** The commands --wait applies to: changes that take effect after the command returns. */
const waitCommands = ["join", "leave", "move", "replica", "controller"] as const;

/**
 * Parses the command line (argv without node and the script) and the environment (only
 * SHARDKV_CONTROLLERS and SHARDKV_TLS_* are read), by the rules of every shardkv command (common/cli-args.ts):
 * options before or after the command, `--name=value` or `--name value`, `--` ends the
 * options, a later repeat of an option wins, `-1` is an argument (which then fails as a
 * number, naming the argument). Pure.
 */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParseResult {
  try {
    return parse(argv, env);
  } catch (e) {
    if (e instanceof UsageError) return { kind: "usage-error", message: e.message };
    throw e;
  }
}

function parse(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  // `certs` has flags of its own and talks to no controller: its arguments go to its parser.
  const word = commandWordIndex(argv, flags);
  if (word !== undefined && argv[word] === "certs") return { kind: "certs", argv: argv.filter((_, i) => i !== word) };
  if (word !== undefined && argv[word] === "handoff") return { kind: "handoff", argv: argv.filter((_, i) => i !== word) };
  const cl = parseCommandLine(argv, flags);
  if (cl.help) return { kind: "help" };
  const v = cl.values;
  const [name, ...args] = cl.positionals;
  if (name === undefined) throw new UsageError("missing command (join, leave, move, query, status, watch, replica, controller, certs, handoff; see shardctl --help)");
  if (!(commandNames as readonly string[]).includes(name)) throw new UsageError(`unknown command ${JSON.stringify(name)} (see shardctl --help)`);
  if (name === "help") return { kind: "help" };
  checkCommandFlags(v, name, { from: ["watch"], force: ["join", "replica", "controller"], group: ["status"], all: ["status"], wait: waitCommands, "wait-servers": ["join"] });

  let command: ShardctlCommand;
  switch (name as Exclude<typeof commandNames[number], "help">) {
    case "join": command = parseJoin(args, v.force === true, v["wait-servers"]); break;
    case "leave": command = parseLeave(args); break;
    case "move": command = parseMove(args); break;
    case "query": command = parseQuery(args); break;
    case "status": command = parseStatus(args, v.group, v.all === true); break;
    case "watch":
      if (args.length > 0) throw usage("watch", `takes no arguments (use --from NUM), got ${JSON.stringify(args[0])}`);
      command = v.from === undefined ? { kind: "watch" } : { kind: "watch", fromNum: v.from };
      break;
    case "replica": case "controller": command = parseReplica(name as "replica" | "controller", args, v.force === true); break;
  }

  const wait = v.wait === true;
  if (wait && (command.kind === "replica-cancel" || command.kind === "replica-list")) {
    throw usage("--wait", `only valid with ${name} add, promote, remove and replace, not ${name} ${command.kind === "replica-cancel" ? "cancel" : "list"}`);
  }
  const controllers = addressListOrEnv(v.controllers, "--controllers", controllersEnv, env);
  const tls = clientTls(v, env);
  const timeoutMs = v.timeout ?? (wait ? waitTimeoutMsDefault : timeoutMsDefault);
  return { kind: "run", invocation: { controllers, json: v.json === true, timeoutMs, ...(wait ? { wait } : {}), ...(tls ? { tls } : {}), command } };
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * The line `shardctl join` prints (on stderr) before it asks again while servers give no
 * answer: "waiting for shard server 127.0.0.1:9201 to answer (connection refused); 27 s left"
 * (several: "shard servers A (connection refused), B (...) to answer").
 */
export function formatServersWait(unanswered: readonly { address: string; reason: string }[], leftMs: number): string {
  const left = `${Math.ceil(leftMs / 1000)} s left`;
  if (unanswered.length === 1) return `waiting for shard server ${unanswered[0]!.address} to answer (${unanswered[0]!.reason}); ${left}`;
  return `waiting for shard servers ${unanswered.map((u) => `${u.address} (${u.reason})`).join(", ")} to answer; ${left}`;
}

/**
 * The line `shardctl join --force` prints (on stderr) before it asks: what skipping the join
 * check risks.
 */
export function forceWarning(gids: readonly GroupId[]): string {
  const list = gids.length === 1 ? `group ${gids[0]} is` : `groups ${gids.join(", ")} are`;
  return `shardctl: warning: --force: ${list} joined without checking ${gids.length === 1 ? "its" : "their"} servers; ` +
    `if they never come up, the shards assigned to ${gids.length === 1 ? "it" : "them"} stay unavailable`;
}

/** Sorted shard numbers as ranges: [0,1,2,3,7,9,10] -> "0-3,7,9-10"; [] -> "-". */
export function formatRanges(shards: readonly number[]): string {
  if (shards.length === 0) return "-";
  const sorted = [...shards].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0]!;
  let prev = start;
  for (const s of sorted.slice(1).concat([NaN])) {
    if (s === prev + 1) { prev = s; continue; }
    parts.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = prev = s;
  }
  return parts.join(",");
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [header, ...rows].map(line).join("\n");
}

/** The JSON form of a config: {num, shards, groups: {gid: [addrs]}} (gids ascending). */
export function configToJson(c: Config): { num: number; shards: number[]; groups: Record<string, string[]> } {
  const groups: Record<string, string[]> = {};
  for (const g of sortedGids(c.groups)) groups[String(g)] = [...c.groups.get(g)!];
  return { num: c.num, shards: [...c.shards], groups };
}

/**
 * A config for people: a title line, one row per group (gid ascending) with its servers,
 * shard count and shards as ranges, then the unassigned shards. Ends without a newline.
 */
export function formatConfig(c: Config): string {
  const counts = shardCounts(c);
  const owned = new Map<GroupId, number[]>();
  const unassigned: number[] = [];
  c.shards.forEach((g, s) => {
    if (g === 0) unassigned.push(s);
    else (owned.get(g) ?? owned.set(g, []).get(g)!).push(s);
  });
  const gids = sortedGids(c.groups);
  const lines = [`config ${c.num}: ${c.shards.length} shards, ${gids.length} group${gids.length === 1 ? "" : "s"}`];
  if (gids.length > 0) {
    lines.push(formatTable(["GID", "SERVERS", "COUNT", "SHARDS"],
      gids.map((g) => [String(g), c.groups.get(g)!.join(","), String(counts.get(g) ?? 0), formatRanges(owned.get(g) ?? [])])));
  }
  // A shard owned by a gid missing from `groups` would be a controller bug; show it, not hide it.
  const strays = [...owned.keys()].filter((g) => !c.groups.has(g)).sort((a, b) => a - b);
  for (const g of strays) lines.push(`owned by unknown group ${g}: ${owned.get(g)!.length} (${formatRanges(owned.get(g)!)})`);
  lines.push(`unassigned: ${unassigned.length === 0 ? "none" : `${unassigned.length} (${formatRanges(unassigned)})`}`);
  return lines.join("\n");
}

/**
 * What every replica's Status tells of its Raft log and process, controllers and shard
 * servers alike (raft/replica-status.ts; docs/operations.md, "Status fields"). Optional: a
 * daemon of an earlier version sends none.
 */
export interface ReplicaStatusDetail {
  /** The highest commit index it heard from a leader, and how many of those it has not applied. */
  readonly leaderCommitIndex?: number;
  readonly lag?: number;
  readonly firstIndex?: number;
  readonly lastIndex?: number;
  readonly logEntries?: number;
  readonly logBytes?: number;
  readonly snapshotIndex?: number;
  /** 0: not known (none taken or installed since the daemon started). */
  readonly snapshotBytes?: number;
  readonly dataDirBytes?: number;
  readonly uptimeMs?: number;
  readonly version?: string;
}

/** The shared Status fields of a reply (either daemon's), as plain numbers. */
export function replicaStatusDetail(s: { readonly [K in keyof Required<ReplicaStatusDetail>]: K extends "version" ? string : number }): ReplicaStatusDetail {
  return {
    leaderCommitIndex: Number(s.leaderCommitIndex), lag: Number(s.lag), firstIndex: Number(s.firstIndex), lastIndex: Number(s.lastIndex),
    logEntries: Number(s.logEntries), logBytes: Number(s.logBytes), snapshotIndex: Number(s.snapshotIndex), snapshotBytes: Number(s.snapshotBytes),
    dataDirBytes: Number(s.dataDirBytes), uptimeMs: Number(s.uptimeMs), version: s.version,
  };
}

/** What any replica's Status says of its place in its group (controllers and shard servers alike). */
export interface ReplicaRaftStatus extends ReplicaStatusDetail {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  readonly leader: number;
  readonly leaderAddress: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** On the leader's word (when it answered): its match index and how far behind the leader's last index it is. */
  readonly matchIndex?: number;
  readonly behindLeader?: number;
}

/** What `status` learned about one replica: its reply, or why it did not answer. */
export interface ReplicaStatus {
  readonly address: string;
  readonly status?: ReplicaRaftStatus & {
    readonly latestConfigNum: number;
    readonly shardCount: number;
    /** The cluster id the replica has applied ("" while unknown, or from an earlier version). */
    readonly clusterId?: string;
  };
  readonly error?: string;
}

/**
 * LAG: how far behind the leader's log the replica is on the leader's word, else (the leader
 * did not answer) its own count of committed entries not applied yet; "-" when neither is known.
 */
function lagOf(s: ReplicaRaftStatus): string {
  const lag = s.behindLeader ?? s.lag;
  return lag === undefined ? "-" : String(lag);
}

/** The columns formatReplicaColumns fills (after each table's own). */
export const replicaColumns = ["LOG", "SNAPSHOT", "DATA", "UPTIME"] as const;

/**
 * A replica's log ("812 (1.2 MiB)": entries and their bytes), last snapshot ("1500 (3.1 MiB)",
 * or its index alone when its size is not known), data directory size and uptime, "-" for
 * what it did not report.
 */
export function formatReplicaColumns(s: ReplicaStatusDetail | undefined): string[] {
  if (s?.logEntries === undefined) return replicaColumns.map(() => "-");
  const snap = !s.snapshotIndex ? "none" : s.snapshotBytes ? `${s.snapshotIndex} (${formatSize(s.snapshotBytes)})` : String(s.snapshotIndex);
  return [
    `${s.logEntries} (${formatSize(s.logBytes ?? 0)})`, snap, formatSize(s.dataDirBytes ?? 0),
    s.uptimeMs === undefined ? "-" : formatUptime(s.uptimeMs),
  ];
}

/** "45s", "12m05s", "3h04m", "2d03h". */
export function formatUptime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${two(sec % 60)}s`;
  if (sec < 86_400) return `${Math.floor(sec / 3600)}h${two(Math.floor(sec / 60) % 60)}m`;
  return `${Math.floor(sec / 86_400)}d${two(Math.floor(sec / 3600) % 24)}h`;
}

/** The JSON form of `status`: one object per replica, in the order given. */
export function statusToJson(rs: readonly ReplicaStatus[]): object[] {
  return rs.map((r) => (r.status
    ? { address: r.address, up: true, ...r.status }
    : { address: r.address, up: false, error: r.error ?? "no answer" }));
}

/** The addresses of the replicas that say they are the leader. */
export function statusLeaders(rs: readonly ReplicaStatus[]): string[] {
  return rs.filter((r) => r.status?.role.toLowerCase() === "leader").map((r) => r.address);
}

/**
 * `status` for people: one row per replica, then a summary line. LAG is how far behind the
 * leader's log the replica is on the leader's word, else its own count of committed entries
 * not applied yet. Ends without a newline.
 */
export function formatStatus(rs: readonly ReplicaStatus[]): string {
  const rows = rs.map((r) => {
    const s = r.status;
    if (!s) return [r.address, "down", "-", "-", "-", "-", "-", "-", "-", ...formatReplicaColumns(undefined), r.error ?? "no answer"];
    const leader = s.leader === 0 ? "none" : s.leaderAddress ? `${s.leader} (${s.leaderAddress})` : String(s.leader);
    return [
      r.address, "up", String(s.id), s.role, String(s.term), leader, String(s.appliedIndex), String(s.latestConfigNum),
      lagOf(s), ...formatReplicaColumns(s), "",
    ];
  });
  const table = formatTable(["ADDRESS", "STATE", "ID", "ROLE", "TERM", "LEADER", "APPLIED", "CONFIG", "LAG", ...replicaColumns, "ERROR"], rows);
  const up = rs.filter((r) => r.status);
  const leaders = statusLeaders(rs);
  const clusters = [...new Set(up.map((r) => r.status!.clusterId).filter((c) => c))];
  const cluster = clusters.length === 0 ? "" : `, cluster ${clusters.join(" and ")}`;
  const summary = `${up.length}/${rs.length} up, ${leaders.length === 0 ? "no leader" : `leader ${leaders.join(", ")}`}${cluster}`;
  return `${table}\n${summary}`;
}


/** A shard as a server's Status reports it (state names as in controller/migration-progress.ts). */
export interface ServerShard {
  readonly shard: number;
  readonly state: string;
  readonly configNum: number;
  readonly keys: number;
  readonly bytes: number;
  readonly dedupClients: number;
}

/** What `status --group` learned about one shard server: its reply, or why it did not answer. */
export interface ServerStatus {
  readonly address: string;
  readonly status?: ReplicaRaftStatus & {
    /** The config the replica has applied. */
    readonly configNum: number;
    readonly shards: readonly ServerShard[];
  };
  readonly error?: string;
}

/** One group's servers as `status --group` / `--all` saw them. */
export interface GroupStatus {
  readonly gid: GroupId;
  /** The config the servers were taken from (the latest). */
  readonly configNum: number;
  readonly servers: readonly ServerStatus[];
}

/** "serving 8, gc 1; 120 keys, 1.2 MiB" (states other than notOwned, with their shard counts). */
export function formatShardSummary(shards: readonly Pick<ServerShard, "state" | "keys" | "bytes">[]): string {
  const by = new Map<string, number>();
  let keys = 0;
  let bytes = 0;
  for (const x of shards) {
    keys += x.keys;
    bytes += x.bytes;
    if (x.state !== "notOwned") by.set(x.state, (by.get(x.state) ?? 0) + 1);
  }
  const parts = [...by].map(([st, n]) => `${st} ${n}`);
  return `${parts.join(", ") || "no shards"}; ${keys} keys, ${formatSize(bytes)}`;
}

/** Whether some server of the group says it is the leader. */
export const groupLed = (g: GroupStatus): boolean => g.servers.some((r) => r.status?.role.toLowerCase() === "leader");

/** The JSON form of one group: {gid, config, servers: [{address, up, ...status} | {address, up: false, error}]}. */
export function groupStatusToJson(g: GroupStatus): object {
  return {
    gid: g.gid,
    config: g.configNum,
    servers: g.servers.map((r) => (r.status ? { address: r.address, up: true, ...r.status } : { address: r.address, up: false, error: r.error ?? "no answer" })),
  };
}

/**
 * One group for people: a title with how many servers answered and the leader, then one row
 * per server (LAG as in formatStatus). Ends without a newline.
 */
export function formatGroupStatus(g: GroupStatus): string {
  const rows = g.servers.map((r) => {
    const s = r.status;
    if (!s) return [r.address, "down", "-", "-", "-", "-", "-", "-", "-", ...formatReplicaColumns(undefined), "-", r.error ?? "no answer"];
    const leader = s.leader === 0 ? "none" : String(s.leader);
    return [
      r.address, "up", String(s.id), s.role, String(s.term), leader, String(s.appliedIndex), String(s.configNum),
      lagOf(s), ...formatReplicaColumns(s), formatShardSummary(s.shards), "",
    ];
  });
  const up = g.servers.filter((r) => r.status).length;
  const leaders = g.servers.filter((r) => r.status?.role.toLowerCase() === "leader").map((r) => r.address);
  return [
    `${describeGroup(g.gid)} (config ${g.configNum}): ${up}/${g.servers.length} up, ${leaders.length === 0 ? "no leader" : `leader ${leaders.join(", ")}`}`,
    formatTable(["ADDRESS", "STATE", "ID", "ROLE", "TERM", "LEADER", "APPLIED", "CONFIG", "LAG", ...replicaColumns, "SHARDS", "ERROR"], rows),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Replica changes


/** The line printed once an intent is stored. */
export function formatIntentStored(gid: GroupId, change: ReplicaChange, force: boolean): string {
  return `${describeGroup(gid)}: stored: ${describeReplicaChange(change)}${force ? " (--force)" : ""}; ` +
    `its leader carries it out (${gid === controllerGid ? "shardctl controller list" : `shardctl replica list ${gid}`} shows it)`;
}

/** What `replica list` shows of one group: its members in the latest config and its pending change. */
export interface ReplicaListing {
  readonly gid: GroupId;
  readonly configNum: ConfigNum;
  readonly members: readonly Member[];
  readonly intent?: ReplicaIntent;
  /**
   * Where the intent stands in the group's live Raft configuration; undefined while no
   * source of it is wired (see liveReplicaStep in controller/shardctl.ts).
   */
  readonly step?: ReplicaChangeStep;
}

/** The listing of group `gid` from the latest config and the pending intents; undefined if the config has no such group. */
export function replicaListing(c: Config, replicas: ReplicaState, gid: GroupId, step?: ReplicaChangeStep): ReplicaListing | undefined {
  if (gid !== controllerGid && !c.groups.has(gid)) return undefined;
  const intent = replicas.intents.get(gid);
  return { gid, configNum: c.num, members: membersOf(c, replicas, gid), ...(intent ? { intent } : {}), ...(step ? { step } : {}) };
}

/** The JSON form of a listing: {gid, config, members: [{id, address, role}], intent: {change, force, blocked, step} | null}. */
export function replicaListingToJson(l: ReplicaListing): object {
  return {
    gid: l.gid,
    config: l.configNum,
    members: l.members.map((m) => ({ id: m.id, address: m.address, role: m.learner ? "learner" : "voter" })),
    intent: l.intent
      ? { change: { ...l.intent.change }, description: describeReplicaChange(l.intent.change), force: l.intent.force, blocked: l.intent.blocked ?? "", ...(l.step ? { step: l.step } : {}) }
      : null,
  };
}

/** A listing for people: a title, one row per member, the pending change. Ends without a newline. */
export function formatReplicaListing(l: ReplicaListing): string {
  const n = l.members.length;
  const lines = [`${describeGroup(l.gid)} in config ${l.configNum}: ${n === 0 ? "no members recorded" : `${n} replica${n === 1 ? "" : "s"}`}`];
  if (n > 0) {
    lines.push(formatTable(["ID", "ROLE", "ADDRESS"],
      l.members.map((m) => [m.id === 0 ? "?" : String(m.id), m.learner ? "learner" : "voter", m.address])));
  }
  if (l.members.some((m) => m.id === 0)) lines.push("?: id not known to the controller (joined with --force, or before ids were recorded)");
  if (!l.intent) {
    lines.push("pending change: none");
  } else {
    lines.push(`pending change: ${describeReplicaChange(l.intent.change)}${l.intent.force ? " (--force)" : ""}`);
    if (l.step) lines.push(`step: ${l.step}`);
    lines.push(`blocked: ${l.intent.blocked ? l.intent.blocked : "no"}`);
  }
  return lines.join("\n");
}
