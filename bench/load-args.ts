/**
 * Command-line parsing of the load generators: `shardkv bench` (bench/shardkv-bench.ts) and the etcd
 * load generator (bench/etcd-load.ts) take the same flags, so the two measure the same
 * load shape. Pure: no I/O; every malformed flag is a UsageError naming the flag
 * (test/unit/bench-args.test.ts).
 */
import { UsageError, addressListOrEnv, flag, parseCommandLine, usage } from "../common/cli-args";
import { clientTls, clientTlsFlags, clientTlsUsage } from "../security/tls-flags";
import type { TlsFiles } from "../security/tls-files";

/** What each worker does per operation. mixed: a get with probability readPercent %, else a put. */
export type Workload =
  | { readonly kind: "put" | "get" | "append" }
  | { readonly kind: "mixed"; readonly readPercent: number };

/** When the measured phase ends: after a duration, or after a number of operations. */
export type StopAfter = { readonly kind: "duration"; readonly ms: number } | { readonly kind: "ops"; readonly ops: number };

export interface BenchOptions {
  /** Controller addresses (shardkv) or client endpoints (etcd), "host:port". */
  readonly addresses: readonly string[];
  readonly workload: Workload;
  /** Size of the key space; keys are `${keyPrefix}${i}` for i in [0, keys). */
  readonly keys: number;
  readonly valueBytes: number;
  /** Workers, each with one operation in flight. */
  readonly concurrency: number;
  readonly stop: StopAfter;
  /** Load before the measured phase (not counted). */
  readonly warmupMs: number;
  readonly json: boolean;
  /** Also report ops/s and p99 per timelineWindowMs window. */
  readonly timeline: boolean;
  /** Deadline of one operation, the client's retries included. */
  readonly timeoutMs: number;
  readonly keyPrefix: string;
  /** Seed of the key and operation choice (same seed, same sequence per worker). */
  readonly seed: number;
  /** Print "bench: measure-start" / "bench: measure-end" on stderr (for scripts sampling server CPU). */
  readonly phaseMarks: boolean;
  /** NATS URL for config pushes (shardkv only). */
  readonly nats?: string;
  /** Keys of this shard are never used (shardkv only: a scenario measures the other shards). */
  readonly excludeShard?: number;
  /** Mutual TLS files (shardkv only: --tls-* or $SHARDKV_TLS_*); undefined: no TLS. */
  readonly tls?: TlsFiles;
}

export const workloadDefault: Workload = { kind: "put" };
export const keysDefault = 10_000;
export const keysMax = 10_000_000;
export const valueBytesDefault = 128;
export const concurrencyDefault = 64;
export const concurrencyMax = 10_000;
export const durationMsDefault = 20_000;
/** Warmup when --duration is used (or neither); with --ops the default is no warmup. */
export const warmupMsDefault = 2_000;
export const opsMax = 1_000_000_000;
export const timeoutMsDefault = 10_000;
export const keyPrefixDefault = "bench:";
export const seedDefault = 1;
/** Width of one --timeline window. */
export const timelineWindowMs = 100;

/** How the two tools differ: the flag naming the servers, its environment variable, limits. */
export interface BenchArgsSpec {
  /** For messages and usage, e.g. "shardkv bench". */
  readonly tool: string;
  /** "--controllers" or "--endpoints". */
  readonly addressFlag: string;
  /** Environment variable read when the address flag is absent. */
  readonly addressEnv: string;
  /** Largest --value-bytes the store accepts. */
  readonly valueBytesMax: number;
  /** Whether the shardkv-only flags (--nats, --exclude-shard) are accepted. */
  readonly shardkvFlags: boolean;
}

export type BenchParse =
  | { readonly kind: "run"; readonly options: BenchOptions }
  | { readonly kind: "help" }
  | { readonly kind: "usage-error"; readonly message: string };

export function benchUsage(spec: BenchArgsSpec): string {
  return `usage: ${spec.tool} ${spec.addressFlag} HOST:PORT[,HOST:PORT...] [--workload put|get|append|mixed:READ%]
       [--keys N] [--value-bytes N] [--concurrency N] [--duration D | --ops N] [--warmup D]
       [--json] [--timeline] [--timeout D] [--key-prefix S] [--seed N] [--phase-marks]${spec.shardkvFlags ? "\n       [--nats URL] [--exclude-shard N] [--tls-ca F --tls-cert F --tls-key F | --insecure]" : ""}

Runs a closed-loop load: --concurrency workers, each with one operation in flight, over a key
space of --keys keys chosen uniformly at random. Read workloads (get, mixed) first write every
key once. Ends with ops/s, latency percentiles (p50, p90, p99, p99.9, max) in ms, errors by
type and the client's CPU time per operation.

options:
  ${spec.addressFlag.padEnd(18)} servers, comma-separated (default: $${spec.addressEnv})
  --workload W       put (default), get (linearizable), append, or mixed:R (R % gets, the
                     rest puts; R an integer 0..100)
  --keys N           size of the key space (default ${keysDefault})
  --value-bytes N    bytes per put/append value (default ${valueBytesDefault}, at most ${spec.valueBytesMax})
  --concurrency N    workers, each with one operation in flight (default ${concurrencyDefault})
  --duration D       length of the measured phase: 500ms, 20s, 2m (default ${durationMsDefault / 1000}s)
  --ops N            measure exactly N operations instead of a duration
  --warmup D         load before measuring, not counted (default ${warmupMsDefault / 1000}s with
                     --duration, 0 with --ops; 0 for none)
  --json             print exactly one JSON line with the results
  --timeline         also print ops/s and p99 per ${timelineWindowMs} ms window
  --timeout D        deadline of one operation, retries included (default ${timeoutMsDefault / 1000}s)
  --key-prefix S     prefix of the keys (default "${keyPrefixDefault}")
  --seed N           seed of the key and operation choice (default ${seedDefault})
  --phase-marks      print "bench: measure-start" and "bench: measure-end" on stderr when the
                     measured phase starts and ends (for scripts that sample server CPU)
${spec.shardkvFlags ? `  --nats URL         NATS server for config pushes (optional)\n  --exclude-shard N  never use keys of shard N (to measure the other shards while N moves)\n${clientTlsUsage}\n` : ""}  -h, --help         print this text

A live progress line (elapsed, ops/s, errors) is shown only when stdout is a terminal.
exit status: 0 the run completed (errors, if any, are in the report); 2 usage error;
3 setup failed (no connection, preload failed).
`;
}

export function parseWorkload(s: string): Workload {
  if (s === "put" || s === "get" || s === "append") return { kind: s };
  const m = /^mixed:(\d{1,3})%?$/.exec(s);
  if (m && Number(m[1]) <= 100) return { kind: "mixed", readPercent: Number(m[1]) };
  if (s.startsWith("mixed")) throw usage("--workload", `want mixed:R with R the read percentage, an integer 0..100, got ${JSON.stringify(s)}`);
  throw usage("--workload", `want put, get, append or mixed:R, got ${JSON.stringify(s)}`);
}

/** "put", "get", "append", "mixed:95". */
export function workloadName(w: Workload): string {
  return w.kind === "mixed" ? `mixed:${w.readPercent}` : w.kind;
}

/** Whether the workload reads (and so preloads the key space). */
export const workloadReads = (w: Workload): boolean => w.kind === "get" || (w.kind === "mixed" && w.readPercent > 0);

/** The flags of `spec.tool`, with their checks (the address flag aside: its name varies). */
function benchFlags(spec: BenchArgsSpec) {
  const flags = {
    workload: flag.of((_f, s) => parseWorkload(s)),
    keys: flag.int(1, keysMax),
    "value-bytes": flag.int(0, spec.valueBytesMax),
    concurrency: flag.int(1, concurrencyMax),
    duration: flag.duration(),
    ops: flag.int(1, opsMax),
    warmup: flag.duration({ zero: true }),
    json: flag.bool(),
    timeline: flag.bool(),
    timeout: flag.duration(),
    "key-prefix": flag.string(),
    seed: flag.int(0, 2 ** 32 - 1),
    "phase-marks": flag.bool(),
    nats: flag.natsUrl(),
    "exclude-shard": flag.int(0, 1_000_000),
    ...clientTlsFlags,
  };
  const { nats, "exclude-shard": excludeShard, "tls-ca": tlsCa, "tls-cert": tlsCert, "tls-key": tlsKey, insecure, ...common } = flags;
  const shardkvOnly = spec.shardkvFlags ? { nats, "exclude-shard": excludeShard, "tls-ca": tlsCa, "tls-cert": tlsCert, "tls-key": tlsKey, insecure } : {};
  // Typed as if the shardkv-only flags were always there: their values are optional anyway.
  return { ...common, ...shardkvOnly, [spec.addressFlag.slice(2)]: flag.addressList() } as typeof flags;
}

/** Parses the flags of `spec.tool` (argv without the tool and subcommand names). */
export function parseBenchArgs(
  spec: BenchArgsSpec,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): BenchParse {
  try {
    const cl = parseCommandLine(argv, benchFlags(spec), { positionals: 0 });
    if (cl.help) return { kind: "help" };
    const v = cl.values;
    if (v.duration !== undefined && v.ops !== undefined) throw usage("--ops", "give either --duration or --ops, not both");
    const given = (v as Readonly<Record<string, unknown>>)[spec.addressFlag.slice(2)] as string[] | undefined;
    const addresses = addressListOrEnv(given, spec.addressFlag, spec.addressEnv, env);
    const tls = spec.shardkvFlags ? clientTls(v, env) : undefined;
    const stop: StopAfter = v.ops !== undefined ? { kind: "ops", ops: v.ops } : { kind: "duration", ms: v.duration ?? durationMsDefault };
    return {
      kind: "run",
      options: {
        addresses,
        workload: v.workload ?? workloadDefault,
        keys: v.keys ?? keysDefault,
        valueBytes: v["value-bytes"] ?? valueBytesDefault,
        concurrency: v.concurrency ?? concurrencyDefault,
        stop,
        warmupMs: v.warmup ?? (stop.kind === "ops" ? 0 : warmupMsDefault),
        json: v.json === true,
        timeline: v.timeline === true,
        timeoutMs: v.timeout ?? timeoutMsDefault,
        keyPrefix: v["key-prefix"] ?? keyPrefixDefault,
        seed: v.seed ?? seedDefault,
        phaseMarks: v["phase-marks"] === true,
        ...(v.nats !== undefined ? { nats: v.nats } : {}),
        ...(v["exclude-shard"] !== undefined ? { excludeShard: v["exclude-shard"] } : {}),
        ...(tls !== undefined ? { tls } : {}),
      },
    };
  } catch (e) {
    if (e instanceof UsageError) return { kind: "usage-error", message: e.message };
    throw e;
  }
}
