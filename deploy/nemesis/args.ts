/**
 * The command line of `npm run nemesis -- ...` (deploy/nemesis/main.ts), parsed strictly by
 * the rules of every shardkv command (common/cli-args.ts): unknown flags, missing values and
 * stray arguments are refused with a UsageError (one line; exit status 2).
 */
import { UsageError, checkCommandFlags, flag, parseCommandLine, usage } from "../../common/cli-args";
import { faultKinds } from "./kinds";

export const usageText = `usage: npm run nemesis -- [--time 300] [--faults all|KIND,KIND...] [--seed N]
                          [--clients 3] [--groups 2] [--out DIR] [--keep]
       npm run nemesis -- --schedule DIR/schedule.json [--out DIR] [--keep]

A Jepsen-style run against a real cluster on test hosts (npm run hosts; needs root): 3
controllers and GROUPS groups of 3 servers, each daemon and each client on its own network
namespace. A worker on every client host runs registers (get, put, cas) and append-lists
through the client library while faults hit the cluster on a seeded schedule (windows of
faults, quiet gaps); then everything is healed, the cluster recovers and every key is read
back. Checks: linearizability of every register key, every acknowledged append present once
and in order, every key readable after the heal. Writes DIR/report.md (schedule, availability
and latency per fault window, checks) and DIR/latency.png; the last line printed is the path
of report.md.

flags:
  --time S             seconds of workload and faults (default 300)
  --faults LIST        comma-separated fault kinds, or all (default all):
${faultKinds.map((k) => `                         ${k.name.padEnd(10)} ${k.what}`).join("\n")}
  --seed N             the schedule's seed (default: a random one, printed and in the report)
  --schedule FILE      replay a run's schedule.json exactly (its time, faults, seed, cluster)
  --clients N          client hosts, a worker on each (default 3)
  --groups N           shard groups of 3 (default 2: shard moves need two)
  --out DIR            the run's directory (default ./nemesis/<date>-<seed>)
  --keep               leave the hosts running at the end (npm run hosts -- down --dir DIR/cluster)
  --help               this text

exit status: 0 every check passed, 1 a check failed (the lines before the last say which, with
the replay command), 2 bad command line, 3 the run could not be made (hosts, cluster).`;

export type NemesisCommand =
  | { readonly kind: "help" }
  | {
    readonly kind: "run"; readonly timeMs: number; readonly faults: readonly string[]; readonly seed?: number; readonly schedule?: string;
    readonly clients: number; readonly groups: number; readonly out?: string; readonly keep: boolean;
  }
  // Run by the nemesis inside the control host (they speak gRPC to the cluster), not by people.
  | { readonly kind: "ctl-recover"; readonly dir: string }
  | { readonly kind: "ctl-replace"; readonly dir: string; readonly node: string };

/** A comma list of fault kinds, or all. */
function parseFaults(field: string, s: string): string[] {
  const names = faultKinds.map((k) => k.name);
  if (s === "all") return names;
  const xs = s.split(",");
  const bad = xs.find((x) => !names.includes(x));
  if (bad !== undefined) throw usage(field, `unknown fault kind ${JSON.stringify(bad)} (kinds: ${names.join(", ")}, or all)`);
  return [...new Set(xs)];
}

const flags = {
  time: flag.int(10, 86_400),
  faults: flag.of(parseFaults),
  seed: flag.int(0, 2 ** 32 - 1),
  schedule: flag.nonEmpty(),
  clients: flag.int(1, 10),
  groups: flag.int(2, 6),
  out: flag.nonEmpty(),
  keep: flag.bool(),
  dir: flag.nonEmpty(),
};

const run = ["run"];
const commandsOf: Record<Exclude<keyof typeof flags, never>, readonly string[]> = {
  time: run, faults: run, seed: run, schedule: run, clients: run, groups: run, out: run, keep: run, dir: ["ctl-recover", "ctl-replace"],
};

/** Parses argv (without `node script`). Throws UsageError. */
export function parseNemesisArgs(argv: readonly string[]): NemesisCommand {
  const cl = parseCommandLine(argv, flags, { repeats: "refuse" });
  if (cl.help) return { kind: "help" };
  const v = cl.values;
  const [command, ...pos] = cl.positionals;
  if (command === "ctl-recover" || command === "ctl-replace") {
    checkCommandFlags(v, command, commandsOf);
    if (v.dir === undefined) throw new UsageError(`${command} needs --dir`);
    if (command === "ctl-recover") {
      if (pos.length) throw new UsageError(`ctl-recover takes no arguments, got ${JSON.stringify(pos[0])}`);
      return { kind: command, dir: v.dir };
    }
    if (pos.length !== 1) throw new UsageError(`ctl-replace takes one node name, got ${pos.length} arguments`);
    return { kind: command, dir: v.dir, node: pos[0]! };
  }
  if (command !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(command)} (flags only; --help for usage)`);
  checkCommandFlags(v, "run", commandsOf);
  if (v.schedule !== undefined) {
    const given = (["time", "faults", "seed", "clients", "groups"] as const).filter((k) => v[k] !== undefined);
    if (given.length) throw new UsageError(`--schedule replays its file's ${given.map((k) => `--${k}`).join(", ")}; give either the schedule or them`);
  }
  return {
    kind: "run", timeMs: (v.time ?? 300) * 1000, faults: v.faults ?? faultKinds.map((k) => k.name), seed: v.seed, schedule: v.schedule,
    clients: v.clients ?? 3, groups: v.groups ?? 2, out: v.out, keep: v.keep === true,
  };
}
