/**
 * The command line of `shardkv-local` (deploy/local/main.ts), parsed strictly and purely:
 * `--flag value` or `--flag=value`, every flag at most once, unknown flags, missing values and
 * stray arguments refused with a UsageError (one line; the CLI exits with status 2).
 */
import { UsageError } from "../../common/cli-args";
import { shardCountMax } from "../../controller/config";

export const defaultDir = "./.shardkv";

export const usageText = `usage: shardkv-local COMMAND [--dir DIR] [flags]

Runs a whole shardkv cluster on this machine (every daemon a process with its own data
directory and log file) and drives it. Layout: DIR/cluster.json, DIR/data/<node>,
DIR/logs/<node>.log. Node names: c1, c2, ... (controllers), g<gid>n<id> (servers).

commands:
  up [--controllers 3] [--groups 3] [--replicas 3] [--shards 64] [--base-port P]
     [--nats URL] [--tick-ms N] [--foreground]
                       start a cluster, join groups 1..N, wait until every shard is
                       Serving, write DIR/cluster.json. Without --foreground the daemons
                       keep running after the command exits; with it, Ctrl-C stops them.
                       Refuses a DIR with a running cluster; replaces a stopped one.
  status [--json]      every node (up/down/paused, role, term, leader, config) and the
                       shard map of the latest config
  down [--grace 5s]    SIGTERM every node, SIGKILL after the grace period
  kill NODE            SIGKILL (kill -9) one node
  pause NODE           SIGSTOP one node (it hangs)
  resume NODE          SIGCONT a paused node
  restart NODE         stop the node if it runs, start it again on its data directory
  add-group [--replicas 3] [--base-port P]
                       start a new group, join it, wait until its shards are Serving
  remove-group GID     leave, wait until its shards have moved and been deleted, stop it

flags of every command:
  --dir DIR            cluster directory (default ${defaultDir})
  --help               this text

exit status: 0 success, 2 bad command line, 3 the operation failed.`;

export type LocalCommand =
  | { readonly kind: "help" }
  | {
    readonly kind: "up"; readonly dir: string; readonly controllers: number; readonly groups: number; readonly replicas: number;
    readonly shards: number; readonly basePort?: number; readonly nats: string | null; readonly tickMs?: number; readonly foreground: boolean;
  }
  | { readonly kind: "status"; readonly dir: string; readonly json: boolean }
  | { readonly kind: "down"; readonly dir: string; readonly graceMs: number }
  | { readonly kind: "kill" | "pause" | "resume" | "restart"; readonly dir: string; readonly node: string }
  | { readonly kind: "add-group"; readonly dir: string; readonly replicas: number; readonly basePort?: number }
  | { readonly kind: "remove-group"; readonly dir: string; readonly gid: number };

export const commandNames = ["up", "status", "down", "kill", "pause", "resume", "restart", "add-group", "remove-group", "help"] as const;

/** Flags each command takes; `true` = boolean (no value). */
const commandFlags: Record<string, Record<string, boolean>> = {
  up: { controllers: false, groups: false, replicas: false, shards: false, "base-port": false, nats: false, "tick-ms": false, foreground: true },
  status: { json: true },
  down: { grace: false },
  kill: {}, pause: {}, resume: {}, restart: {},
  "add-group": { replicas: false, "base-port": false },
  "remove-group": {},
};

function intIn(flag: string, v: string, min: number, max: number): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`invalid ${flag}: want an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

/** "5s", "500ms", "1m", or a bare number of seconds -> ms (0 allowed: SIGKILL at once). */
function graceMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new UsageError(`invalid --grace: want a duration like 500ms, 5s or 1m, got ${JSON.stringify(v)}`);
  const ms = Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[(m[2] ?? "s") as "ms" | "s" | "m"]);
  if (ms > 600_000) throw new UsageError(`invalid --grace: at most 10m, got ${JSON.stringify(v)}`);
  return ms;
}

function natsUrl(v: string): string {
  let ok = false;
  try {
    const u = new URL(v);
    ok = u.protocol === "nats:" && u.hostname !== "" && u.port !== "";
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`invalid --nats: want nats://host:port, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses argv (without `node script`). Throws UsageError. */
export function parseLocalArgs(argv: readonly string[]): LocalCommand {
  if (argv.includes("--help") || argv.includes("-h")) return { kind: "help" };
  const positional: string[] = [];
  const flags = new Map<string, string>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) {
      if (command === undefined) {
        command = a;
        if (!(commandNames as readonly string[]).includes(a)) throw new UsageError(`unknown command ${JSON.stringify(a)} (commands: ${commandNames.join(", ")})`);
      } else positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const known = name === "dir" ? false : command === undefined ? undefined : commandFlags[command]?.[name];
    if (known === undefined) {
      throw new UsageError(command === undefined ? `${a.slice(0, eq >= 0 ? eq : undefined)} before the command (commands: ${commandNames.join(", ")})` : `unknown flag ${a.slice(0, eq >= 0 ? eq : undefined)} for ${command}`);
    }
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    if (known) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, "");
      continue;
    }
    let v: string | undefined;
    if (eq >= 0) v = a.slice(eq + 1);
    else {
      v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`--${name} needs a value`);
    }
    if (v === "") throw new UsageError(`--${name} needs a value`);
    flags.set(name, v);
  }
  if (command === undefined) throw new UsageError(`missing command (${commandNames.join(", ")}; see shardkv-local --help)`);
  if (command === "help") return { kind: "help" };
  const dir = flags.get("dir") ?? defaultDir;
  const int = (f: string, def: number, min: number, max: number): number => (flags.has(f) ? intIn(`--${f}`, flags.get(f)!, min, max) : def);
  const basePort = flags.has("base-port") ? intIn("--base-port", flags.get("base-port")!, 1024, 65535) : undefined;
  const takes = (n: number, what: string): void => {
    if (positional.length !== n) {
      throw new UsageError(n === 0 ? `${command} takes no arguments, got ${JSON.stringify(positional[0])}` : positional.length === 0 ? `${command} needs ${what}` : `${command} takes one ${what}, got ${positional.length} arguments`);
    }
  };
  switch (command) {
    case "up": {
      takes(0, "");
      const out = {
        kind: "up" as const, dir, controllers: int("controllers", 3, 1, 15), groups: int("groups", 3, 1, 100), replicas: int("replicas", 3, 1, 15),
        shards: int("shards", 64, 1, shardCountMax), nats: flags.has("nats") ? natsUrl(flags.get("nats")!) : null,
        foreground: flags.has("foreground"), basePort, tickMs: flags.has("tick-ms") ? intIn("--tick-ms", flags.get("tick-ms")!, 1, 60_000) : undefined,
      };
      const nodes = out.controllers + out.groups * out.replicas;
      if (basePort !== undefined && basePort + nodes - 1 > 65535) throw new UsageError(`invalid --base-port: ${nodes} nodes need ports ${basePort}-${basePort + nodes - 1}, beyond 65535`);
      return out;
    }
    case "status":
      takes(0, "");
      return { kind: "status", dir, json: flags.has("json") };
    case "down":
      takes(0, "");
      return { kind: "down", dir, graceMs: flags.has("grace") ? graceMs(flags.get("grace")!) : 5000 };
    case "kill": case "pause": case "resume": case "restart":
      takes(1, "a node name (c1, g1n2, ...)");
      return { kind: command, dir, node: positional[0]! };
    case "add-group":
      takes(0, "");
      return { kind: "add-group", dir, replicas: int("replicas", 3, 1, 15), basePort };
    case "remove-group":
      takes(1, "gid");
      return { kind: "remove-group", dir, gid: intIn("gid", positional[0]!, 1, Number.MAX_SAFE_INTEGER) };
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`);
}
