/**
 * The command line of `shardkv-local` (deploy/local/main.ts), parsed strictly and purely by
 * the rules of every shardkv command (common/cli-args.ts), every flag at most once: unknown
 * flags, flags of another command, missing values and stray arguments are refused with a
 * UsageError (one line; the CLI exits with status 2).
 */
import { UsageError, checkCommandFlags, flag, parseCommandLine, parseInteger, usage } from "../../common/cli-args";
import { shardCountMax } from "../../controller/config";
import { listenDefault, parseListen } from "../dashboard/listen";

export const defaultDir = "./.shardkv";

export const usageText = `usage: shardkv-local COMMAND [--dir DIR] [flags]

Runs a whole shardkv cluster on this machine (every daemon a process with its own data
directory and log file) and drives it. Layout: DIR/cluster.json, DIR/data/<node>,
DIR/logs/<node>.log, DIR/certs/ (the cluster CA, node, admin and client certificates).
Node names: c1, c2, ... (controllers), g<gid>n<id> (servers).

commands:
  up [--controllers 3] [--groups 3] [--replicas 3] [--shards 64] [--base-port P]
     [--nats URL] [--tick-ms N] [--foreground] [--insecure]
                       start a cluster, join groups 1..N, wait until every shard is
                       Serving, write DIR/cluster.json. Without --foreground the daemons
                       keep running after the command exits; with it, Ctrl-C stops them.
                       Refuses a DIR with a running cluster; replaces a stopped one.
                       Every connection uses mutual TLS with a new CA and certificates
                       in DIR/certs/; --insecure: no TLS (anyone who reaches a port can
                       read and change everything). Every node also serves /metrics,
                       /healthz and /readyz over HTTP on a port of its own (status shows it)
  env                  print the export lines a shell needs to use the cluster:
                       eval "$(bin/shardkv-local env --dir DIR)"; bin/shardkv get k
  status [--json]      every node (up/down/paused, role, lag, term, leader, config, applied
                       index, Raft log, snapshot, data directory size, uptime, shards with
                       keys and bytes) and the shard map of the latest config
  down [--grace 5s]    SIGTERM every node, SIGKILL after the grace period (default 5s;
                       60s for a daemon started with --cpu-prof, --heap-prof or --prof
                       in SHARDKV_NODE_FLAGS, so that its profile is written)
  logs NODE [--lines 50] [--json]
                       the last lines of NODE's log (DIR/logs/NODE.log), readable: time,
                       level, node, term, message; --json: the daemon's JSON lines as they are
  dashboard [--listen ${listenDefault}]
                       serve the live web dashboard of the cluster (shard map, replicas,
                       migrations, ops/s and p99 per group) until Ctrl-C; prints its URL.
                       Port 0: any free port
  kill NODE            SIGKILL (kill -9) one node
  pause NODE           SIGSTOP one node (it hangs)
  resume NODE          SIGCONT a paused node
  restart NODE         stop the node if it runs, start it again on its data directory
  add-group [--replicas 3] [--base-port P]
                       start a new group, join it, wait until its shards are Serving
                       (a progress line: shards serving, moving, bytes left)
  remove-group GID     leave, wait until its shards have moved and been deleted, stop it
                       (the same progress line)
  replace NODE [--timeout 5m] [--force] [--base-port P]
                       start a fresh replica (new id, new port, empty data directory) for
                       NODE's group (a server or a controller), store the replacement in the
                       controller, wait until the group's leader carried it out, stop NODE
                       if it still runs and drop it from cluster.json (its data directory
                       stays)
  add-replica GID|controllers [--learner] [--timeout 5m] [--force] [--base-port P]
                       start a new replica of group GID (or of the controllers) and wait
                       until it is a voter (--learner: a learner)
  remove-replica NODE [--timeout 5m] [--force] [--grace 5s]
                       remove NODE from its group, wait until done, stop it, drop it from
                       cluster.json (its data directory stays)
                       --timeout: how long to wait for the group's leader to carry out a
                       stored change; after it, or Ctrl-C, the change stays stored and the
                       leader goes on with it (shardctl replica list/cancel); the same
                       replace again waits for it

flags of every command:
  --dir DIR            cluster directory (default ${defaultDir})
  --help               this text

exit status: 0 success, 1 status found the cluster unhealthy, 2 bad command line, 3 the
operation failed, 130 interrupted (Ctrl-C) while a replica change was waited for.`;

export type LocalCommand =
  | { readonly kind: "help" }
  | {
    readonly kind: "up"; readonly dir: string; readonly controllers: number; readonly groups: number; readonly replicas: number;
    readonly shards: number; readonly basePort?: number; readonly nats: string | null; readonly tickMs?: number; readonly foreground: boolean;
    readonly tls: boolean;
  }
  | { readonly kind: "status"; readonly dir: string; readonly json: boolean }
  | { readonly kind: "env"; readonly dir: string }
  | { readonly kind: "down"; readonly dir: string; readonly graceMs?: number }
  | { readonly kind: "logs"; readonly dir: string; readonly node: string; readonly lines: number; readonly json: boolean }
  | { readonly kind: "dashboard"; readonly dir: string; readonly listen: string }
  | { readonly kind: "kill" | "pause" | "resume" | "restart"; readonly dir: string; readonly node: string }
  | { readonly kind: "add-group"; readonly dir: string; readonly replicas: number; readonly basePort?: number }
  | { readonly kind: "remove-group"; readonly dir: string; readonly gid: number }
  | { readonly kind: "replace"; readonly dir: string; readonly node: string; readonly timeoutMs: number; readonly force: boolean; readonly basePort?: number }
  | { readonly kind: "remove-replica"; readonly dir: string; readonly node: string; readonly timeoutMs: number; readonly force: boolean; readonly graceMs?: number }
  | {
    readonly kind: "add-replica"; readonly dir: string; readonly of: "controllers" | number; readonly learner: boolean;
    readonly timeoutMs: number; readonly force: boolean; readonly basePort?: number;
  };

/** Default --timeout of replace, add-replica and remove-replica. */
export const replicaTimeoutMsDefault = 300_000;

export const commandNames = [
  "up", "status", "env", "down", "logs", "kill", "pause", "resume", "restart", "add-group", "remove-group", "replace", "add-replica", "remove-replica", "dashboard", "help",
] as const;

const flags = {
  dir: flag.nonEmpty(),
  controllers: flag.int(1, 15),
  groups: flag.int(1, 100),
  replicas: flag.int(1, 15),
  shards: flag.int(1, shardCountMax),
  "base-port": flag.int(1024, 65535),
  nats: flag.natsUrl(),
  "tick-ms": flag.int(1, 60_000),
  foreground: flag.bool(),
  insecure: flag.bool(),
  json: flag.bool(),
  grace: flag.duration({ zero: true, maxMs: 600_000 }),
  timeout: flag.duration({ maxMs: 86_400_000 }),
  force: flag.bool(),
  learner: flag.bool(),
  lines: flag.int(1, 1_000_000),
  listen: flag.of(parseListen),
};

/** The commands taking each flag (--dir: every command). */
const commandsOf: Record<Exclude<keyof typeof flags, "dir">, readonly string[]> = {
  controllers: ["up"], groups: ["up"], shards: ["up"], nats: ["up"], "tick-ms": ["up"], foreground: ["up"], insecure: ["up"],
  replicas: ["up", "add-group"], "base-port": ["up", "add-group", "replace", "add-replica"],
  json: ["status", "logs"],
  lines: ["logs"],
  grace: ["down", "remove-replica"],
  timeout: ["replace", "add-replica", "remove-replica"], force: ["replace", "add-replica", "remove-replica"],
  learner: ["add-replica"],
  listen: ["dashboard"],
};

/** Parses argv (without `node script`). Throws UsageError. */
export function parseLocalArgs(argv: readonly string[]): LocalCommand {
  const cl = parseCommandLine(argv, flags, { repeats: "refuse" });
  if (cl.help) return { kind: "help" };
  const [command, ...positional] = cl.positionals;
  const v = cl.values;
  if (command === undefined) throw new UsageError(`missing command (${commandNames.join(", ")}; see shardkv-local --help)`);
  if (!(commandNames as readonly string[]).includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)} (commands: ${commandNames.join(", ")})`);
  if (command === "help") return { kind: "help" };
  checkCommandFlags(v, command, commandsOf);
  const dir = v.dir ?? defaultDir;
  const basePort = v["base-port"];
  const takes = (n: number, what: string): void => {
    if (positional.length !== n) {
      throw new UsageError(n === 0 ? `${command} takes no arguments, got ${JSON.stringify(positional[0])}` : positional.length === 0 ? `${command} needs ${what}` : `${command} takes one ${what}, got ${positional.length} arguments`);
    }
  };
  switch (command) {
    case "up": {
      takes(0, "");
      const out = {
        kind: "up" as const, dir, controllers: v.controllers ?? 3, groups: v.groups ?? 3, replicas: v.replicas ?? 3,
        shards: v.shards ?? 64, nats: v.nats ?? null, foreground: v.foreground === true, basePort, tickMs: v["tick-ms"],
        tls: v.insecure !== true,
      };
      const nodes = out.controllers + out.groups * out.replicas;
      if (basePort !== undefined && basePort + nodes - 1 > 65535) throw usage("--base-port", `${nodes} nodes need ports ${basePort}-${basePort + nodes - 1}, beyond 65535`);
      return out;
    }
    case "status":
      takes(0, "");
      return { kind: "status", dir, json: v.json === true };
    case "env":
      takes(0, "");
      return { kind: "env", dir };
    case "down":
      takes(0, "");
      return { kind: "down", dir, ...(v.grace !== undefined ? { graceMs: v.grace } : {}) };
    case "logs":
      takes(1, "a node name (c1, g1n2, ...)");
      return { kind: "logs", dir, node: positional[0]!, lines: v.lines ?? 50, json: v.json === true };
    case "dashboard":
      takes(0, "");
      return { kind: "dashboard", dir, listen: v.listen ?? listenDefault };
    case "kill": case "pause": case "resume": case "restart":
      takes(1, "a node name (c1, g1n2, ...)");
      return { kind: command, dir, node: positional[0]! };
    case "add-group":
      takes(0, "");
      return { kind: "add-group", dir, replicas: v.replicas ?? 3, basePort };
    case "remove-group":
      takes(1, "gid");
      return { kind: "remove-group", dir, gid: parseInteger("gid", positional[0]!, 1, Number.MAX_SAFE_INTEGER) };
    case "replace":
      takes(1, "a node name (c1, g1n2, ...)");
      return { kind: "replace", dir, node: positional[0]!, timeoutMs: v.timeout ?? replicaTimeoutMsDefault, force: v.force === true, basePort };
    case "remove-replica":
      takes(1, "a node name (c1, g1n2, ...)");
      return { kind: "remove-replica", dir, node: positional[0]!, timeoutMs: v.timeout ?? replicaTimeoutMsDefault, force: v.force === true, ...(v.grace !== undefined ? { graceMs: v.grace } : {}) };
    case "add-replica": {
      takes(1, "gid (or \"controllers\")");
      const of = positional[0] === "controllers" ? "controllers" as const : parseInteger("gid", positional[0]!, 1, Number.MAX_SAFE_INTEGER);
      return { kind: "add-replica", dir, of, learner: v.learner === true, timeoutMs: v.timeout ?? replicaTimeoutMsDefault, force: v.force === true, basePort };
    }
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`);
}
