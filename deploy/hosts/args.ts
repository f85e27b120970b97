/**
 * The command line of `npm run hosts -- ...` (deploy/hosts/main.ts), parsed strictly by the
 * rules of every shardkv command (common/cli-args.ts): unknown flags, flags of another command,
 * missing values and stray arguments are refused with a UsageError (one line; exit status 2).
 */
import { UsageError, checkCommandFlags, flag, parseCommandLine, parseInteger, usage } from "../../common/cli-args";
import { shardCountMax } from "../../controller/config";
import { type PartitionKind, partitionKinds } from "./partition";
import type { NetemSpec } from "./faults";

export const defaultDir = "./.shardkv-hosts";

export const usageText = `usage: npm run hosts -- COMMAND [--dir DIR] [flags]

Test hosts on this machine: every daemon and client of a shardkv cluster on its own network
namespace with its own address (10.77.0.0/16) on a bridge that lives in a namespace of its
own, so nothing the hosts send leaves them; faults applied from outside the processes. Needs
root; installs nftables with apt-get when missing. DIR holds hosts.json (hosts, addresses,
namespaces) and the cluster's files as shardkv-local keeps them (cluster.json, data/, logs/,
certs/). Hosts: c1.. (controllers), g<gid>n<id> (servers), cl1.. (clients), ctl (the
harness's own calls).

commands:
  up [--controllers 3] [--groups 1] [--replicas 3] [--clients 1] [--shards 12] [--tick-ms N]
     [--faketime] [--disk-faults all|servers|NODE,...]
                       create the hosts, start the daemons on them (mutual TLS), join the
                       groups, wait until every shard is Serving; --faketime: every daemon
                       under libfaketime, so that skew can move its wall clock;
                       --disk-faults: those daemons' data directories on lazyfs (FUSE:
                       writes stay in memory until fsync), so that lose-unsynced works
  down [--grace 2s]    stop the daemons, kill every process left in the hosts, delete every
                       namespace, veth and bridge of the run (and with them its rules),
                       unmount its lazyfs mounts
  down --run ID | --all-runs
                       the same for a run by id (a crashed run's leftovers), or every run
                       (with namespaces or lazyfs mounts on this machine)
  runs                 the runs that have namespaces on this machine
  status [--json]      hosts (namespace, address, processes, partition, netem) and daemons
  exec HOST -- CMD...  run CMD on HOST with the cluster's CLI environment, e.g.
                       npm run hosts -- exec cl1 -- bin/shardkv put k v
  leader GROUP         print the leader of GROUP (controllers or a gid), asked from ctl
  partition isolate HOST...            cut those hosts from every other host
  partition halves|bridge|ring [HOST...] [--group GROUP]
                       halves: two halves; bridge: two majorities sharing one host; ring:
                       each host sees a different majority (5 hosts or more). Of the
                       daemon hosts of GROUP, else of HOST..., else of every daemon host
  partition one-way FROM[,FROM...] TO[,TO...]   drop packets from FROM to TO only
  partition leader GROUP               isolate the current leader of GROUP
                       A partition replaces the previous one; clients and ctl are cut
                       only when named.
  netem HOST [--to HOST,...] [--delay 100ms] [--jitter 20ms] [--loss 10] [--duplicate 5]
        [--reorder 25] | --clear
                       tc netem on HOST's link: the packets it sends (--to: only those to
                       these hosts) delayed, lost, duplicated, reordered (percentages)
  kill NODE            kill -9 a daemon          restart NODE   start it again
  stop NODE            SIGSTOP a daemon          cont NODE      SIGCONT it
  skew NODE OFFSET     jump NODE's wall clock to real time + OFFSET (+30s, -5m, +1h, 0;
                       whole seconds; a run started with --faketime), within a few seconds
  lose-unsynced NODE   kill -9 NODE, drop every write it had not fsynced, restart it on
                       what it had synced (a run started with --disk-faults); prints what
                       was dropped
  heal                 remove every partition and netem, clocks back to real time,
                       SIGCONT every stopped daemon, restart every killed one

flags of every command:
  --dir DIR            the run's directory (default ${defaultDir})
  --help               this text

exit status: 0 success, 2 bad command line, 3 the operation failed.`;

/** A group of daemons: "controllers" or a gid. */
export type GroupArg = "controllers" | number;

export type PartitionSpec =
  | { readonly kind: "isolate"; readonly hosts: readonly string[] }
  | { readonly kind: "halves" | "bridge" | "ring"; readonly hosts?: readonly string[]; readonly group?: GroupArg }
  | { readonly kind: "one-way"; readonly from: readonly string[]; readonly to: readonly string[] }
  | { readonly kind: "leader"; readonly group: GroupArg };

export type HostsCommand =
  | { readonly kind: "help" }
  | {
    readonly kind: "up"; readonly dir: string; readonly controllers: number; readonly groups: number; readonly replicas: number;
    readonly clients: number; readonly shards: number; readonly tickMs?: number; readonly timeoutMs?: number; readonly faketime: boolean;
    readonly diskFaults?: "all" | "servers" | readonly string[];
  }
  | { readonly kind: "down"; readonly dir: string; readonly graceMs: number; readonly run?: string; readonly allRuns: boolean }
  | { readonly kind: "runs" | "heal"; readonly dir: string }
  | { readonly kind: "status"; readonly dir: string; readonly json: boolean }
  | { readonly kind: "exec"; readonly dir: string; readonly host: string; readonly cmd: readonly string[] }
  | { readonly kind: "leader"; readonly dir: string; readonly group: GroupArg; readonly timeoutMs: number }
  | { readonly kind: "partition"; readonly dir: string; readonly spec: PartitionSpec }
  | { readonly kind: "netem"; readonly dir: string; readonly host: string; readonly to?: readonly string[]; readonly spec?: NetemSpec }
  | { readonly kind: "kill" | "stop" | "cont" | "restart" | "lose-unsynced"; readonly dir: string; readonly node: string }
  | { readonly kind: "skew"; readonly dir: string; readonly node: string; readonly offsetMs: number }
  // Run by the harness inside the control host (harness.ts, ctlRun), not by people.
  | {
    readonly kind: "ctl-up"; readonly dir: string; readonly controllers: number; readonly groups: number; readonly replicas: number;
    readonly shards: number; readonly tickMs?: number; readonly timeoutMs?: number;
  }
  | { readonly kind: "ctl-leader"; readonly dir: string; readonly group: GroupArg; readonly timeoutMs: number }
  | { readonly kind: "ctl-restart"; readonly dir: string; readonly node: string }
  | { readonly kind: "ctl-status"; readonly dir: string };

export const commandNames = [
  "up", "down", "runs", "status", "exec", "leader", "partition", "netem", "kill", "stop", "cont", "restart", "skew", "lose-unsynced", "heal", "help",
  "ctl-up", "ctl-leader", "ctl-restart", "ctl-status",
] as const;

/** A percentage in [0, 100] ("10", "0.5"). */
function parsePercent(field: string, s: string): number {
  const n = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!(n >= 0 && n <= 100)) throw usage(field, `want a percentage in [0, 100] like 10 or 0.5, got ${JSON.stringify(s)}`);
  return n;
}

/** A comma-separated list of host names. */
function parseHostList(field: string, s: string): string[] {
  const xs = s.split(",");
  if (xs.some((x) => !/^[a-z][a-z0-9]{0,11}$/.test(x))) throw usage(field, `want host names like c1,g1n2,cl1 separated by commas, got ${JSON.stringify(s)}`);
  return xs;
}

/** A clock offset: "+30s", "-5m", "+1h", "90" (seconds), "0"; at most a year either way. */
export function parseOffset(field: string, s: string): number {
  const m = /^([+-]?)(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(s);
  const ms = m ? (m[1] === "-" ? -1 : 1) * Number(m[2]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[3] ?? "s") as "s"] : NaN;
  if (!(Math.abs(ms) <= 365 * 86_400_000)) throw usage(field, `want an offset like +30s, -5m, +1h or 0 (at most a year), got ${JSON.stringify(s)}`);
  return ms;
}

function parseGroup(field: string, s: string): GroupArg {
  return s === "controllers" ? "controllers" : parseInteger(field, s, 1, 240);
}

const flags = {
  dir: flag.nonEmpty(),
  controllers: flag.int(1, 15),
  groups: flag.int(1, 20),
  replicas: flag.int(1, 15),
  clients: flag.int(0, 20),
  shards: flag.int(1, shardCountMax),
  "tick-ms": flag.int(1, 60_000),
  timeout: flag.duration({ maxMs: 3_600_000 }),
  grace: flag.duration({ zero: true, maxMs: 600_000 }),
  json: flag.bool(),
  run: flag.of((f, s) => {
    if (!/^[0-9a-f]{8}$/.test(s)) throw usage(f, `want a run id of 8 hex digits (see \`runs\`), got ${JSON.stringify(s)}`);
    return s;
  }),
  "all-runs": flag.bool(),
  group: flag.of(parseGroup),
  to: flag.of(parseHostList),
  delay: flag.duration({ maxMs: 60_000 }),
  jitter: flag.duration({ maxMs: 60_000 }),
  loss: flag.of(parsePercent),
  duplicate: flag.of(parsePercent),
  reorder: flag.of(parsePercent),
  clear: flag.bool(),
  faketime: flag.bool(),
  "disk-faults": flag.of((f, s): "all" | "servers" | string[] => (s === "all" || s === "servers" ? s : parseHostList(f, s))),
};

const commandsOf: Record<Exclude<keyof typeof flags, "dir">, readonly string[]> = {
  controllers: ["up", "ctl-up"], groups: ["up", "ctl-up"], replicas: ["up", "ctl-up"], shards: ["up", "ctl-up"], "tick-ms": ["up", "ctl-up"],
  clients: ["up"], timeout: ["up", "ctl-up", "leader", "ctl-leader"], grace: ["down"], json: ["status"], run: ["down"], "all-runs": ["down"],
  group: ["partition"], to: ["netem"], delay: ["netem"], jitter: ["netem"], loss: ["netem"], duplicate: ["netem"], reorder: ["netem"],
  clear: ["netem"], faketime: ["up"], "disk-faults": ["up"],
};

/** Parses argv (without `node script`). Throws UsageError. */
export function parseHostsArgs(argv: readonly string[]): HostsCommand {
  // exec: everything after the first "--" is the command to run, flags included.
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const cl = parseCommandLine(own, flags, { repeats: "refuse" });
  if (cl.help) return { kind: "help" };
  const [command, ...pos] = cl.positionals;
  const v = cl.values;
  if (command === undefined) throw new UsageError(`missing command (${commandNames.filter((c) => !c.startsWith("ctl-")).join(", ")})`);
  if (!(commandNames as readonly string[]).includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)} (commands: ${commandNames.filter((c) => !c.startsWith("ctl-")).join(", ")})`);
  if (command === "help") return { kind: "help" };
  checkCommandFlags(v, command, commandsOf);
  if (dash >= 0 && command !== "exec") throw new UsageError(`${command} takes no "--" (only exec does)`);
  const dir = v.dir ?? defaultDir;
  const takes = (n: number, what: string): void => {
    if (pos.length !== n) throw new UsageError(n === 0 ? `${command} takes no arguments, got ${JSON.stringify(pos[0])}` : `${command} takes ${what}, got ${pos.length} arguments`);
  };
  const sizes = { controllers: v.controllers ?? 3, groups: v.groups ?? 1, replicas: v.replicas ?? 3, shards: v.shards ?? 12, tickMs: v["tick-ms"], timeoutMs: v.timeout };
  switch (command) {
    case "up":
      takes(0, "");
      return { kind: "up", dir, ...sizes, clients: v.clients ?? 1, faketime: v.faketime === true, diskFaults: v["disk-faults"] };
    case "ctl-up":
      takes(0, "");
      return { kind: "ctl-up", dir, ...sizes };
    case "down":
      takes(0, "");
      if (v.run !== undefined && v["all-runs"]) throw new UsageError("down takes --run or --all-runs, not both");
      return { kind: "down", dir, graceMs: v.grace ?? 2000, run: v.run, allRuns: v["all-runs"] === true };
    case "runs": case "heal":
      takes(0, "");
      return { kind: command, dir };
    case "status":
      takes(0, "");
      return { kind: "status", dir, json: v.json === true };
    case "ctl-status":
      takes(0, "");
      return { kind: "ctl-status", dir };
    case "exec": {
      takes(1, "one host (then -- and the command)");
      const cmd = dash < 0 ? [] : argv.slice(dash + 1);
      if (cmd.length === 0) throw new UsageError("exec needs a command after --: exec HOST -- CMD [ARGS...]");
      return { kind: "exec", dir, host: pos[0]!, cmd };
    }
    case "leader": case "ctl-leader":
      takes(1, "one group (controllers or a gid)");
      return { kind: command, dir, group: parseGroup("GROUP", pos[0]!), timeoutMs: v.timeout ?? 20_000 };
    case "kill": case "stop": case "cont": case "restart": case "ctl-restart": case "lose-unsynced":
      takes(1, "one node name (c1, g1n2, ...)");
      return { kind: command, dir, node: pos[0]! };
    case "partition":
      return { kind: "partition", dir, spec: partitionSpec(pos, v.group) };
    case "skew":
      takes(2, "a node and an offset (skew g1n2 +30s)");
      return { kind: "skew", dir, node: pos[0]!, offsetMs: parseOffset("OFFSET", pos[1]!) };
    case "netem": {
      takes(1, "one host");
      const given = [v.delay, v.jitter, v.loss, v.duplicate, v.reorder].some((x) => x !== undefined);
      if (v.clear && (given || v.to)) throw new UsageError("netem --clear takes no other flag");
      if (!v.clear && !given) throw new UsageError("netem needs --delay, --loss, --duplicate or --reorder (or --clear)");
      if (v.clear) return { kind: "netem", dir, host: pos[0]! };
      return {
        kind: "netem", dir, host: pos[0]!, to: v.to,
        spec: { delayMs: v.delay, jitterMs: v.jitter, lossPct: v.loss, duplicatePct: v.duplicate, reorderPct: v.reorder },
      };
    }
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`);
}

function partitionSpec(pos: readonly string[], group: GroupArg | undefined): PartitionSpec {
  const [kind, ...rest] = pos;
  if (kind === undefined || !(partitionKinds as readonly string[]).includes(kind) && kind !== "leader") {
    throw new UsageError(`partition needs a kind (${[...partitionKinds, "leader"].join(", ")}), got ${JSON.stringify(kind ?? "")}`);
  }
  const k = kind as PartitionKind | "leader";
  if (group !== undefined && !(k === "halves" || k === "bridge" || k === "ring")) throw new UsageError(`--group is for halves, bridge and ring, not ${k}`);
  switch (k) {
    case "isolate":
      if (rest.length === 0) throw new UsageError("partition isolate needs the hosts to isolate");
      return { kind: "isolate", hosts: rest.flatMap((r) => parseHostList("HOST", r)) };
    case "halves": case "bridge": case "ring":
      if (group !== undefined && rest.length > 0) throw new UsageError(`partition ${k} takes --group or hosts, not both`);
      return { kind: k, ...(rest.length > 0 ? { hosts: rest.flatMap((r) => parseHostList("HOST", r)) } : {}), ...(group !== undefined ? { group } : {}) };
    case "one-way":
      if (rest.length !== 2) throw new UsageError("partition one-way takes FROM[,FROM...] TO[,TO...]");
      return { kind: "one-way", from: parseHostList("FROM", rest[0]!), to: parseHostList("TO", rest[1]!) };
    case "leader":
      if (rest.length !== 1) throw new UsageError("partition leader takes one group (controllers or a gid)");
      return { kind: "leader", group: parseGroup("GROUP", rest[0]!) };
  }
}
