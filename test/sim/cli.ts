/**
 * `npm run sim -- --seeds N [--seed S] [--trace]` (also `SEED=S npm run sim`): runs seeded
 * simulations. With --seed or SEED, exactly that seed; with --seeds N, N consecutive seeds from a
 * random base (printed, so the batch can be rerun). Prints `FAIL seed=<s>: <reason>` and
 * `reproduce with SEED=<s> npm run sim` per failure and ends with `sim: <N> passed, <M> failed`;
 * exits 1 if any failed. --trace prints the trace of each run to stdout. The mode: --raft (the
 * default) one Raft group (run.ts), --controller the controller group (controller-run.ts),
 * --cluster (alias --shards) the whole cluster (shard-run.ts: controller group, shard groups,
 * migration drivers, the real client library); each is a world on the one runner (event-loop.ts).
 * BUGGIFY (buggify.ts) is on unless --no-buggify; the totals of its fault points over the
 * seeds (runs enabled, runs fired, firings, the points that never fired) end the output, and
 * -v prints each seed's enabled points with their firings. --scenario NAME (whole-cluster runs)
 * makes every run take that course (shard-run.ts's ShardScenario); a replay names it too.
 */
import { UsageError, exitUsage, flag, parseCommandLine, parseInteger } from "../../common/cli-args";
import { realClock, realRng } from "../../common/real-env";
import { BuggifyTotals, describeBuggifyStats } from "./buggify";
import { runControllerSeed } from "./controller-run";
import { type SimResult, type SimRunOptions, simFlags } from "./event-loop";
import { type ShardScenario, runShardSeed, shardScenarios } from "./shard-run";
import { runSeed } from "./run";
import { type SimMode, failureReport, replayCommand } from "./seeds";

/** Each mode's run of one seed. */
const modes: Record<SimMode, (seed: number, opts: SimRunOptions) => Promise<SimResult<{ readonly events: number }, unknown>>> = {
  raft: runSeed,
  controller: runControllerSeed,
  // (The scenario was checked against shardScenarios when parsed.)
  cluster: (seed, opts) => runShardSeed(seed, { ...opts, scenario: shardScenarios.find((x) => x === opts.scenario) }),
};

interface Args {
  seeds: number;
  seed: number | undefined;
  trace: boolean;
  verbose: boolean;
  safetyMs: number | undefined;
  mode: SimMode;
  buggify: boolean;
  scenario: ShardScenario | undefined;
}

const usageText = `usage: npm run sim -- [--seeds N] [--seed S] [--trace] [--verbose] [--safety-ms MS] [--raft | --controller | --cluster] [--no-buggify]
  SEED=S npm run sim   replays one seed
  --raft               runs Raft group seeds (test/sim/run.ts; the default)
  --controller         runs controller seeds (test/sim/controller-run.ts)
  --cluster            runs whole-cluster seeds: controller + shard groups + real clients (test/sim/shard-run.ts)
  --shards             the same as --cluster
  --no-buggify         runs without the BUGGIFY fault points (test/sim/buggify.ts)
  --scenario NAME      (with --cluster) makes each run take a course: ${shardScenarios.join(", ")} (test/sim/shard-run.ts)
`;

const seedMax = 2 ** 32 - 1;

const flags = {
  seeds: flag.int(0, Number.MAX_SAFE_INTEGER),
  seed: flag.int(0, seedMax),
  trace: flag.bool(),
  verbose: flag.bool("v"),
  "safety-ms": flag.int(0, Number.MAX_SAFE_INTEGER),
  raft: flag.bool(),
  controller: flag.bool(),
  cluster: flag.bool(),
  shards: flag.bool(),
  "no-buggify": flag.bool(),
  scenario: flag.of((f, text): ShardScenario => {
    const found = shardScenarios.find((x) => x === text);
    if (found === undefined) throw new UsageError(`${f}: no scenario "${text}"; the scenarios are ${shardScenarios.join(", ")}`);
    return found;
  }),
};

/** Parses the command line and $SEED; undefined for --help. Throws UsageError. */
function parseSimArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Args | undefined {
  const cl = parseCommandLine(argv, flags, { positionals: 0 });
  if (cl.help) return undefined;
  const v = cl.values;
  // --shards is another name of --cluster.
  const given = (["raft", "controller", v.cluster === true ? "cluster" : "shards"] as const).filter((m) => v[m] === true);
  if (given.length > 1) throw new UsageError(`--${given[0]} and --${given[1]} are different runs; give one of them`);
  const fromEnv = env["SEED"];
  const seed = v.seed ?? (fromEnv !== undefined && fromEnv !== "" ? parseInteger("$SEED", fromEnv, 0, seedMax) : undefined);
  const mode = v.controller === true ? "controller" : v.cluster === true || v.shards === true ? "cluster" : "raft";
  if (v.scenario !== undefined && mode !== "cluster") throw new UsageError("--scenario is for whole-cluster runs; add --cluster");
  return {
    seeds: v.seeds ?? 1, seed, trace: v.trace === true, verbose: v.verbose === true, safetyMs: v["safety-ms"],
    mode, buggify: v["no-buggify"] !== true, scenario: v.scenario,
  };
}

async function main(): Promise<void> {
  let parsed: Args | undefined;
  try {
    parsed = parseSimArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`sim: ${e.message} (--help for usage)\n`);
    process.exit(exitUsage);
  }
  if (parsed === undefined) {
    process.stdout.write(usageText);
    return;
  }
  const args = parsed;
  let seeds: number[];
  // A replay must use the same options as the run that failed.
  const opts: SimRunOptions = {
    safetyMs: args.safetyMs,
    trace: args.trace ? (line) => process.stdout.write(`${line}\n`) : undefined,
    buggify: args.buggify,
    scenario: args.scenario,
  };
  const flags = simFlags(opts);
  if (args.seed !== undefined) {
    seeds = [args.seed >>> 0];
  } else {
    const base = realRng.int(2 ** 32 - args.seeds);
    const kind = args.mode === "raft" ? "" : `${args.mode} `;
    process.stdout.write(`sim: ${args.seeds} ${kind}seeds from ${base} (rerun one with ${replayCommand(0, args.mode, flags).replace("SEED=0", "SEED=<s>")})\n`);
    seeds = Array.from({ length: args.seeds }, (_, i) => base + i);
  }
  let passed = 0;
  let failed = 0;
  const started = realClock.nowMs();
  let events = 0;
  const totals = new BuggifyTotals();
  for (const seed of seeds) {
    const t0 = realClock.nowMs();
    const r = await modes[args.mode](seed, opts);
    events += r.stats.events;
    totals.add(r.buggify);
    const verbose = args.verbose || seeds.length === 1;
    if (verbose) {
      process.stdout.write(`seed=${seed} ${r.ok ? "ok" : "FAIL"} ${(realClock.nowMs() - t0).toFixed(0)}ms trace=${r.traceHash.slice(0, 16)} ${JSON.stringify(r.stats)}\n`);
      process.stdout.write(`  ${describeBuggifyStats(r.buggify)}\n`);
    }
    if (r.ok) passed++;
    else {
      failed++;
      const report = failureReport(r, args.mode, flags);
      // The failure line and the replay command; the details (often long) only when verbose.
      process.stdout.write(verbose ? report : `${report.split("\n").slice(0, 2).join("\n")}\n`);
    }
  }
  if (args.buggify && seeds.length > 1) process.stdout.write(`${totals.describe()}\n`);
  const secs = (realClock.nowMs() - started) / 1000;
  process.stderr.write(`sim: ${secs.toFixed(1)}s, ${events} events, ${(events / secs).toFixed(0)} events/s\n`);
  process.stdout.write(`sim: ${passed} passed, ${failed} failed\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`sim: ${(e as Error).stack ?? e}\n`);
  process.exit(2);
});
