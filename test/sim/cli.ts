/**
 * `npm run sim -- --seeds N [--seed S] [--trace]` (also `SEED=S npm run sim`): runs seeded
 * simulations. With --seed or SEED, exactly that seed; with --seeds N, N consecutive seeds from a
 * random base (printed, so the batch can be rerun). Prints `FAIL seed=<s>: <reason>` and
 * `reproduce with SEED=<s> npm run sim` per failure and ends with `sim: <N> passed, <M> failed`;
 * exits 1 if any failed. --trace prints the trace of each run to stdout. --controller runs the
 * controller simulation (controller-run.ts) instead of the Raft KV one; --shards the whole cluster
 * (shard-run.ts: controller group, shard groups, migration drivers, clients).
 */
import { realClock, realRng } from "../../common/real-env";
import { runControllerSeed } from "./controller-run";
import { runShardSeed } from "./shard-run";
import { runSeed, type RunOptions } from "./run";

interface Args {
  seeds: number;
  seed: number | undefined;
  trace: boolean;
  verbose: boolean;
  safetyMs: number | undefined;
  controller: boolean;
  shards: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { seeds: 1, seed: undefined, trace: false, verbose: false, safetyMs: undefined, controller: false, shards: false };
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--seeds") args.seeds = num(a, argv[++i]);
    else if (a === "--seed") args.seed = num(a, argv[++i]);
    else if (a === "--trace") args.trace = true;
    else if (a === "--verbose" || a === "-v") args.verbose = true;
    else if (a === "--safety-ms") args.safetyMs = num(a, argv[++i]);
    else if (a === "--controller") args.controller = true;
    else if (a === "--shards") args.shards = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: npm run sim -- [--seeds N] [--seed S] [--trace] [--verbose] [--safety-ms MS] [--controller] [--shards]\n  SEED=S npm run sim   replays one seed\n  --controller         runs controller seeds (test/sim/controller-run.ts)\n  --shards             runs whole-cluster seeds: controller + shard groups + clients (test/sim/shard-run.ts)\n");
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  const env = process.env["SEED"];
  if (args.seed === undefined && env !== undefined && env !== "") args.seed = num("SEED", env);
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let seeds: number[];
  if (args.seed !== undefined) {
    seeds = [args.seed >>> 0];
  } else {
    const base = realRng.int(2 ** 32 - args.seeds);
    const kind = args.controller ? "controller" : args.shards ? "shards" : "";
    process.stdout.write(`sim: ${args.seeds} ${kind ? `${kind} ` : ""}seeds from ${base} (rerun one with SEED=<s> npm run sim${kind ? ` -- --${kind}` : ""})\n`);
    seeds = Array.from({ length: args.seeds }, (_, i) => base + i);
  }
  let passed = 0;
  let failed = 0;
  const started = realClock.nowMs();
  let events = 0;
  // A replay must use the same options as the run that failed.
  const flags = `${args.safetyMs !== undefined ? ` --safety-ms ${args.safetyMs}` : ""}${args.controller ? " --controller" : ""}${args.shards ? " --shards" : ""}`;
  const replay = (seed: number) => `reproduce with SEED=${seed} npm run sim${flags ? ` --${flags}` : ""}`;
  for (const seed of seeds) {
    const opts: RunOptions = {
      safetyMs: args.safetyMs,
      trace: args.trace ? (line) => process.stdout.write(`${line}\n`) : undefined,
    };
    const t0 = realClock.nowMs();
    const r = args.controller
      ? await runControllerSeed(seed, { safetyMs: opts.safetyMs, trace: opts.trace })
      : args.shards ? await runShardSeed(seed, { safetyMs: opts.safetyMs, trace: opts.trace }) : await runSeed(seed, opts);
    events += r.stats.events;
    if (args.verbose || seeds.length === 1) {
      process.stdout.write(`seed=${seed} ${r.ok ? "ok" : "FAIL"} ${(realClock.nowMs() - t0).toFixed(0)}ms trace=${r.traceHash.slice(0, 16)} ${JSON.stringify(r.stats)}\n`);
    }
    if (r.ok) passed++;
    else {
      failed++;
      const [reason, ...details] = (r.failure ?? "").split("\n");
      process.stdout.write(`FAIL seed=${seed}: ${reason}\n`);
      process.stdout.write(`${replay(seed)}\n`);
      if ((args.verbose || seeds.length === 1) && details.length > 0) process.stdout.write(`${details.join("\n")}\n`);
    }
  }
  const secs = (realClock.nowMs() - started) / 1000;
  process.stderr.write(`sim: ${secs.toFixed(1)}s, ${events} events, ${(events / secs).toFixed(0)} events/s\n`);
  process.stdout.write(`sim: ${passed} passed, ${failed} failed\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`sim: ${(e as Error).stack ?? e}\n`);
  process.exit(2);
});
