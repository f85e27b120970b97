/**
 * The pure half of the `shardkv` data CLI (client/cli.ts): argument parsing and output
 * formatting, no I/O, so every rule is unit-tested (test/unit/client-cli-lib.test.ts).
 */
import {
  UsageError, addressListOrEnv, checkCommandFlags, commandWordIndex, flag, parseCommandLine, parseNatsUrl, usage,
} from "../common/cli-args";
import { clientTls, clientTlsFlags, clientTlsUsage } from "../security/tls-flags";
import type { TlsFiles } from "../security/tls-files";

/** `--timeout` unless given: the deadline of one operation, retries included. */
export const timeoutMsDefault = 10_000;
/** Environment variable read when `--controllers` is not given. */
export const controllersEnv = "SHARDKV_CONTROLLERS";
/** Environment variable read when `--nats` is not given (optional). */
export const natsEnv = "SHARDKV_NATS";

export const usageText = `usage: shardkv --controllers HOST:PORT[,HOST:PORT...] [--json] [--timeout DURATION] [--nats URL]
               [--tls-ca FILE --tls-cert FILE --tls-key FILE | --insecure] COMMAND

Reads and writes keys of a shardkv cluster (the client library: routing by shard, leader
hints, retries with the same request id, so a write is applied at most once).

commands:
  get KEY                    print the value of KEY followed by a newline; an absent key
                             prints NOTHING and exits with status 1
  put KEY VALUE|-            set KEY to VALUE ("-": read the value from stdin)
  append KEY VALUE|-         append VALUE to KEY's value (an absent key counts as empty)
  delete KEY                 delete KEY; prints "deleted" or "absent" (both exit 0)
  cas KEY EXPECTED|--absent NEW|-
                             set KEY to NEW only if its value is EXPECTED (--absent: only if
                             KEY is absent); prints "swapped", or "not swapped" and the
                             current value; exits 1 when not swapped
  bench [OPTIONS]            load generator: ops/s, latency percentiles, errors, client CPU
                             per op (\`shardkv bench --help\` for its options)
  help                       print this text

Keys and values are taken as UTF-8 text; stdin ("-") is taken byte for byte (at most one
"-" per command; a trailing newline is kept). Limits: key <= 4 KiB, value <= 1 MiB.

options:
  --controllers LIST   controller replicas, comma-separated (default: $${controllersEnv})
  --json               print one JSON object: get {"found","value"} (value as UTF-8 text, or
                       base64 with "encoding":"base64" when it is not valid UTF-8),
                       put/append {"ok":true}, delete {"existed"}, cas {"swapped","found","value"}
  --timeout DURATION   deadline of one operation, retries included: 500ms, 10s, 2m; a bare
                       number is seconds (default: ${timeoutMsDefault / 1000}s)
  --nats URL           NATS server for config pushes (optional; default: $${natsEnv})
${clientTlsUsage}
  -h, --help           print this text

exit status: 0 success; 1 absent key (get) or not swapped (cas); 2 usage error; 3 the
operation failed (unreachable, timed out, refused; one line "shardkv: <reason>" on stderr).
Before giving up, every command retries until --timeout, so a cluster still starting is waited for.
`;

/** The options of `shardkv` (the bench has its own: client/bench-args.ts). */
const globalFlags = {
  controllers: flag.addressList(),
  json: flag.bool(),
  timeout: flag.duration(),
  nats: flag.natsUrl(),
  absent: flag.bool(),
  ...clientTlsFlags,
};

/**
 * When the command word is "bench": argv without it (global options before it are passed on
 * to the bench parser: "shardkv --controllers X bench --ops 10"); otherwise undefined.
 */
export function benchArgv(argv: readonly string[]): string[] | undefined {
  const i = commandWordIndex(argv, globalFlags);
  return i !== undefined && argv[i] === "bench" ? [...argv.slice(0, i), ...argv.slice(i + 1)] : undefined;
}

/** A value given on the command line, or "-" for stdin. */
export type ValueArg = { readonly kind: "text"; readonly text: string } | { readonly kind: "stdin" };

export type KvCommand =
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "put" | "append"; readonly key: string; readonly value: ValueArg }
  | { readonly kind: "delete"; readonly key: string }
  /** expected undefined = --absent. */
  | { readonly kind: "cas"; readonly key: string; readonly expected: ValueArg | undefined; readonly value: ValueArg };

export interface Invocation {
  readonly controllers: readonly string[];
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly nats?: string;
  /** Mutual TLS files (flags or $SHARDKV_TLS_*); undefined: no TLS. */
  readonly tls?: TlsFiles;
  readonly command: KvCommand;
}

export type ParseResult =
  | { readonly kind: "run"; readonly invocation: Invocation }
  | { readonly kind: "help" }
  | { readonly kind: "usage-error"; readonly message: string };



const valueArg = (s: string): ValueArg => (s === "-" ? { kind: "stdin" } : { kind: "text", text: s });

const commandArity: Record<KvCommand["kind"], string> = {
  get: "KEY",
  put: "KEY VALUE|-",
  append: "KEY VALUE|-",
  delete: "KEY",
  cas: "KEY EXPECTED|--absent NEW|-",
};

function parseCommand(name: string, args: readonly string[], absent: boolean): KvCommand {
  if (!(name in commandArity)) throw usage("command", `unknown command ${JSON.stringify(name)} (want get, put, append, delete, cas or help)`);
  const kind = name as KvCommand["kind"];
  checkCommandFlags({ absent: absent || undefined }, kind, { absent: ["cas"] });
  const want = kind === "get" || kind === "delete" ? 1 : kind === "cas" ? (absent ? 2 : 3) : 2;
  if (args.length !== want) {
    throw usage(kind, `want ${kind} ${commandArity[kind]}, got ${args.length} argument${args.length === 1 ? "" : "s"}`);
  }
  const key = args[0]!;
  switch (kind) {
    case "get":
    case "delete":
      return { kind, key };
    case "put":
    case "append":
      return { kind, key, value: valueArg(args[1]!) };
    case "cas": {
      const expected = absent ? undefined : valueArg(args[1]!);
      const value = valueArg(args[absent ? 1 : 2]!);
      if (expected?.kind === "stdin" && value.kind === "stdin") throw usage("cas", `at most one argument may be "-" (stdin)`);
      return { kind, key, expected, value };
    }
  }
}

/**
 * Parses the command line (argv without node and the script). Options may come before or
 * after the command; `--` ends options (so a key or value may start with "--").
 */
export function parseArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParseResult {
  try {
    const cl = parseCommandLine(argv, globalFlags);
    if (cl.help || cl.positionals[0] === "help") return { kind: "help" };
    const { values: v, positionals } = cl;
    if (positionals.length === 0) throw usage("command", "missing (want get, put, append, delete, cas or help)");
    const command = parseCommand(positionals[0]!, positionals.slice(1), v.absent === true);
    const controllers = addressListOrEnv(v.controllers, "--controllers", controllersEnv, env);
    const nats = v.nats ?? (env[natsEnv] ? parseNatsUrl(`$${natsEnv}`, env[natsEnv]!) : undefined);
    const tls = clientTls(v, env);
    return {
      kind: "run",
      invocation: { controllers, json: v.json === true, timeoutMs: v.timeout ?? timeoutMsDefault, ...(nats !== undefined ? { nats } : {}), ...(tls ? { tls } : {}), command },
    };
  } catch (e) {
    if (e instanceof UsageError) return { kind: "usage-error", message: e.message };
    throw e;
  }
}

/** What a command produced, for formatting. */
export type Outcome =
  | { readonly kind: "get"; readonly value: Uint8Array | undefined }
  | { readonly kind: "put" | "append" }
  | { readonly kind: "delete"; readonly existed: boolean }
  | { readonly kind: "cas"; readonly swapped: boolean; readonly current: Uint8Array | undefined };

export interface Output {
  /** Written to stdout as is (bytes for a raw get value). */
  readonly stdout: Uint8Array | string;
  readonly exitCode: 0 | 1;
}

const fatalDecoder = new TextDecoder("utf-8", { fatal: true });

/** A value as JSON fields: UTF-8 text when valid, else base64 with encoding "base64". */
export function valueToJson(v: Uint8Array): { value: string; encoding?: "base64" } {
  try {
    return { value: fatalDecoder.decode(v) };
  } catch {
    return { value: Buffer.from(v).toString("base64"), encoding: "base64" };
  }
}

function concat(a: Uint8Array, tail: string): Uint8Array {
  const t = new TextEncoder().encode(tail);
  const out = new Uint8Array(a.length + t.length);
  out.set(a, 0);
  out.set(t, a.length);
  return out;
}

export function formatOutcome(json: boolean, o: Outcome): Output {
  switch (o.kind) {
    case "get":
      if (json) {
        const j = o.value === undefined ? { found: false } : { found: true, ...valueToJson(o.value) };
        return { stdout: JSON.stringify(j) + "\n", exitCode: o.value === undefined ? 1 : 0 };
      }
      return o.value === undefined ? { stdout: "", exitCode: 1 } : { stdout: concat(o.value, "\n"), exitCode: 0 };
    case "put":
    case "append":
      return { stdout: json ? JSON.stringify({ ok: true }) + "\n" : "", exitCode: 0 };
    case "delete":
      return { stdout: json ? JSON.stringify({ existed: o.existed }) + "\n" : o.existed ? "deleted\n" : "absent\n", exitCode: 0 };
    case "cas": {
      const exitCode = o.swapped ? 0 : 1;
      if (json) {
        const cur = o.current === undefined ? { found: false } : { found: true, ...valueToJson(o.current) };
        return { stdout: JSON.stringify({ swapped: o.swapped, ...cur }) + "\n", exitCode };
      }
      if (o.swapped) return { stdout: "swapped\n", exitCode };
      if (o.current === undefined) return { stdout: "not swapped (key is absent)\n", exitCode };
      return { stdout: concat(joinBytes("not swapped; current value: ", o.current), "\n"), exitCode };
    }
  }
}

function joinBytes(prefix: string, v: Uint8Array): Uint8Array {
  const p = new TextEncoder().encode(prefix);
  const out = new Uint8Array(p.length + v.length);
  out.set(p, 0);
  out.set(v, p.length);
  return out;
}

