/**
 * The one command-line parser of every shardkv command and daemon (shardkv, shardctl,
 * shardkv bench, shardkv-local, shardkv-failpoint, shardkv-server, shardkv-controller, the
 * bench and simulator scripts): `node:util` parseArgs underneath, with the rules and one-line
 * messages every command shares, the typed values they take (integers, durations, addresses,
 * NATS URLs, peer lists) and the exit statuses.
 *
 * The rules: `--flag value` and `--flag=value`; a flag may come before or after the
 * positional arguments; `--` ends the flags; an argument like `-1` is a positional argument
 * (a negative number), never a flag; `-h` / `--help` anywhere before `--` asks for help (and
 * wins over every error). Every mistake is a UsageError with one line naming the flag and
 * what was sent; the command prints it and exits with status 2.
 */
import { parseArgs } from "node:util";
import { validateAddress, validateAddressList } from "./address";
import { InvalidArgumentError } from "./errors";
import type { NodeId } from "./ids";

/**
 * Exit statuses, one scheme for every command (shardkv, shardctl, shardkv bench,
 * shardkv-local, shardkv-failpoint): 0 success; 1 a negative answer (get: absent; cas: not swapped; status: no
 * leader); 2 usage error (unknown flag, malformed argument); 3 failure (unreachable, timed out,
 * refused by the cluster), with one line on stderr saying why.
 */
export const exitOk = 0;
/** The answer is "no": an absent key, a CAS not swapped, a controller group without a leader. */
export const exitNegative = 1;
/** A malformed command line. */
export const exitUsage = 2;
/** The operation failed: unreachable, timed out, refused. */
export const exitFailure = 3;

/** A message as one line for stderr: whitespace runs (newlines included) become one space. */
export function oneLine(message: string): string {
  return message.replace(/\s+/g, " ").trim();
}

/** A malformed command line; the tool prints the message and exits with status 2. */
export class UsageError extends Error {}

/** `invalid <field>: <reason>`, the shape of every usage error about a value. */
export const usage = (field: string, reason: string): UsageError => new UsageError(`invalid ${field}: ${reason}`);

// ---------------------------------------------------------------------------------------------
// Typed values. `field` names the flag ("--timeout"), variable ("$SHARDKV_CONTROLLERS") or
// argument ("gid") in the message.

/** The longest --timeout accepted (24 h). */
export const timeoutMsMax = 86_400_000;

/** 1500 -> "1.5s", 600000 -> "10m", 86400000 -> "24h". */
function formatDurationMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * "10s", "500ms", "2m", "1.5s"; a bare number is seconds. Milliseconds, an integer in
 * [1, maxMs] (default timeoutMsMax), or [0, maxMs] with `zero` (0 = none).
 */
export function parseDuration(field: string, s: string, opts: { readonly zero?: boolean; readonly maxMs?: number } = {}): number {
  const maxMs = opts.maxMs ?? timeoutMsMax;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  const scale = m ? ({ ms: 1, s: 1000, m: 60_000 } as const)[(m[2] ?? "s") as "ms" | "s" | "m"] : NaN;
  const ms = m ? Math.round(Number(m[1]) * scale) : NaN;
  if (!(ms >= (opts.zero ? 0 : 1) && ms <= maxMs)) {
    const range = opts.zero ? `0 for none, at most ${formatDurationMs(maxMs)}` : `at least 1ms, at most ${formatDurationMs(maxMs)}`;
    throw usage(field, `want a duration like 500ms, 10s or 2m (${range}), got ${JSON.stringify(s)}`);
  }
  return ms;
}

/** A decimal integer (digits only: no sign, exponent or fraction) in [min, max]. */
export function parseInteger(field: string, s: string, min: number, max: number): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!(Number.isSafeInteger(n) && n >= min && n <= max)) {
    const want = max === Number.MAX_SAFE_INTEGER && min <= 1 ? `a ${min === 1 ? "positive" : "non-negative"} integer` : `an integer in [${min}, ${max}]`;
    throw usage(field, `want ${want}, got ${JSON.stringify(s)}`);
  }
  return n;
}

/** Runs a library validator that throws InvalidArgumentError, as a usage error. */
function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new UsageError(e.message);
    throw e;
  }
}

/** One server address, "host:port" (common/address.ts validateAddress). */
export function parseAddress(field: string, s: string): string {
  asUsage(() => validateAddress(field, s));
  return s;
}

/** A comma-separated address list: none empty, each "host:port", no duplicates. */
export function parseAddressList(field: string, s: string): string[] {
  if (s === "") throw usage(field, "empty address list");
  const addrs = s.split(",");
  if (addrs.includes("")) throw usage(field, `empty address in ${JSON.stringify(s)}`);
  asUsage(() => validateAddressList(field, addrs));
  return addrs;
}

/**
 * The one NATS URL check of every command that takes `--nats` (or $SHARDKV_NATS):
 * `nats://host[:port]` or `tls://host[:port]` (port 1..65535, default 4222), nothing else
 * (no credentials, path or query: the NATS client would ignore them).
 */
export function parseNatsUrl(field: string, s: string): string {
  let u: URL | undefined;
  try {
    u = new URL(s);
  } catch {
    u = undefined;
  }
  const ok = u !== undefined && (u.protocol === "nats:" || u.protocol === "tls:") && u.hostname !== "" && u.port !== "0" &&
    u.username === "" && u.password === "" && (u.pathname === "" || u.pathname === "/") && u.search === "" && u.hash === "";
  if (!ok) throw usage(field, `want a URL like nats://host:4222 (nats:// or tls://, a host, optionally a port), got ${JSON.stringify(s)}`);
  return s;
}

/**
 * The address list given with the flag `field`, else the one in the environment variable
 * `envVar` (checked the same way, named as $VAR); neither is a usage error.
 */
export function addressListOrEnv(given: string[] | undefined, field: string, envVar: string, env: Readonly<Record<string, string | undefined>>): string[] {
  if (given) return given;
  const fromEnv = env[envVar];
  if (fromEnv === undefined || fromEnv === "") throw usage(field, `missing (or set $${envVar})`);
  return parseAddressList(`$${envVar}`, fromEnv);
}

/** A value that must not be empty (a directory, a file). */
export function parseNonEmpty(field: string, s: string): string {
  if (s === "") throw usage(field, "must not be empty");
  return s;
}

/** `id=host:port,...`: every replica of a Raft group, ids unique, including `self`. */
export function parsePeers(field: string, s: string, self: NodeId): Map<NodeId, string> {
  const peers = new Map<NodeId, string>();
  for (const p of s.split(",")) {
    const m = /^(\d+)=(.+)$/.exec(p);
    if (!m) throw usage(field, `want id=host:port, got ${JSON.stringify(p)}`);
    const id = parseInteger(field, m[1]!, 1, Number.MAX_SAFE_INTEGER) as NodeId;
    parseAddress(field, m[2]!);
    if (peers.has(id)) throw usage(field, `id ${id} listed twice`);
    peers.set(id, m[2]!);
  }
  if (!peers.has(self)) throw usage(field, `must include this replica's --id ${self}`);
  return peers;
}

// ---------------------------------------------------------------------------------------------
// Flags

/** One flag of a command: whether it takes a value, and how the value is checked. */
export interface Flag<T> {
  readonly takesValue: boolean;
  /** A one-letter alias (`-v`). */
  readonly short?: string;
  /** Converts the text given; throws UsageError naming `field` (the flag as written). */
  parse(field: string, text: string): T;
}

/** The flag kinds the commands use; each value checked by the parsers above. */
export const flag = {
  /** A switch: no value; its value is true when given. */
  bool: (short?: string): Flag<true> => ({ takesValue: false, ...(short ? { short } : {}), parse: () => true }),
  /** Any text, the empty one included. */
  string: (): Flag<string> => ({ takesValue: true, parse: (_f, s) => s }),
  /** A non-empty text (a directory, a file). */
  nonEmpty: (): Flag<string> => ({ takesValue: true, parse: parseNonEmpty }),
  int: (min: number, max: number): Flag<number> => ({ takesValue: true, parse: (f, s) => parseInteger(f, s, min, max) }),
  duration: (opts: { readonly zero?: boolean; readonly maxMs?: number } = {}): Flag<number> => ({ takesValue: true, parse: (f, s) => parseDuration(f, s, opts) }),
  address: (): Flag<string> => ({ takesValue: true, parse: parseAddress }),
  addressList: (): Flag<string[]> => ({ takesValue: true, parse: parseAddressList }),
  natsUrl: (): Flag<string> => ({ takesValue: true, parse: parseNatsUrl }),
  /** A value checked by `parse`. */
  of: <T>(parse: (field: string, text: string) => T): Flag<T> => ({ takesValue: true, parse }),
};

export type FlagSpecs = Readonly<Record<string, Flag<unknown>>>;

/** The parsed flags, by name (without the leading --); a flag not given is absent. */
export type FlagValues<S extends FlagSpecs> = { [K in keyof S]?: S[K] extends Flag<infer T> ? T : never };

export type CommandLine<S extends FlagSpecs> =
  | { readonly help: true }
  | { readonly help: false; readonly values: FlagValues<S>; readonly positionals: readonly string[] };

/**
 * `argv` split by parseArgs into flags (with their values), positionals and `--`, reading
 * `flags` (and -h / --help) for which take a value. Not strict: parseArgs' own errors are not
 * in the users' terms (and it would take "-1" for a flag); parseCommandLine checks the tokens.
 */
function tokensOf(argv: readonly string[], flags: FlagSpecs) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, f] of Object.entries(flags)) options[name] = { type: f.takesValue ? "string" : "boolean", ...(f.short ? { short: f.short } : {}) };
  return parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true }).tokens;
}

/**
 * Parses `argv` (without node and the script) against `flags` (long names without "--").
 * `positionals`: how many positional arguments are allowed (default: any; 0 refuses a stray
 * one). `repeats`: "last" (default) lets a later repeat of a flag win; "refuse" makes it a
 * usage error (the daemons: a flag given twice is a mistake, not an override). Values are
 * checked in the order given. Throws UsageError.
 */
export function parseCommandLine<S extends FlagSpecs>(
  argv: readonly string[],
  flags: S,
  opts: { readonly positionals?: number; readonly repeats?: "last" | "refuse" } = {},
): CommandLine<S> {
  const tokens = tokensOf(argv, flags);
  const isNumber = (t: (typeof tokens)[number]): boolean => t.kind === "option" && /^-\d/.test(argv[t.index]!);
  if (tokens.some((t) => t.kind === "option" && t.name === "help" && (argv[t.index] === "-h" || argv[t.index]!.startsWith("--")))) return { help: true };

  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let last = -1;
  for (const t of tokens) {
    if (t.kind === "option-terminator") continue;
    if (t.kind === "positional" || isNumber(t)) {
      // A short-flag group like "-1.5" is one token per letter, all with the argument's index.
      if (t.index !== last) positionals.push(argv[t.index]!);
      last = t.index;
      continue;
    }
    const raw = argv[t.index]!;
    const f = Object.hasOwn(flags, t.name) ? flags[t.name] : undefined;
    const asWritten = raw.startsWith("--") ? t.rawName : raw.split("=")[0]!;
    if (!f || (!raw.startsWith("--") && raw !== `-${f.short}`)) throw new UsageError(`unknown flag ${JSON.stringify(asWritten)}`);
    const field = `--${t.name}`;
    if (opts.repeats === "refuse" && Object.hasOwn(values, t.name)) throw usage(field, "given twice");
    if (!f.takesValue) {
      if (t.value !== undefined) throw usage(field, `takes no value, got ${JSON.stringify(raw)}`);
      values[t.name] = true;
      continue;
    }
    // parseArgs takes the next argument as the value whatever it is; a flag there means the
    // value was forgotten ("--timeout --json"); "=--x" gives such a value on purpose.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith("--") && t.value.length > 2)) throw usage(field, "missing value");
    values[t.name] = f.parse(field, t.value);
  }
  if (opts.positionals !== undefined && positionals.length > opts.positionals) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[opts.positionals])}`);
  }
  return { help: false, values: values as FlagValues<S>, positionals };
}

/**
 * The index in `argv` of the first positional argument before `--` (the command word of a
 * CLI with subcommands), reading `flags` for which flags take a value; undefined if none.
 * Checks nothing: for dispatching to a subcommand that has flags of its own.
 */
export function commandWordIndex(argv: readonly string[], flags: FlagSpecs): number | undefined {
  for (const t of tokensOf(argv, flags)) {
    if (t.kind === "option-terminator") return undefined;
    if (t.kind === "positional") return t.index;
  }
  return undefined;
}

/** The value of a flag the command cannot do without. */
export function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw usage(`--${name}`, "missing (required)");
  return value;
}

/**
 * Refuses a flag given with a command that does not take it: `commandsOf` lists, per flag
 * name, the commands taking it ("invalid --from: only valid with watch, not query").
 */
export function checkCommandFlags(values: Readonly<Record<string, unknown>>, command: string, commandsOf: Readonly<Record<string, readonly string[]>>): void {
  for (const [name, commands] of Object.entries(commandsOf)) {
    if (values[name] === undefined || commands.includes(command)) continue;
    const list = commands.length === 1 ? commands[0] : `${commands.slice(0, -1).join(", ")} and ${commands.at(-1)}`;
    throw usage(`--${name}`, `only valid with ${list}, not ${command}`);
  }
}

/**
 * Ends the process with `code` once everything written to stdout and stderr so far is handed
 * to the OS. process.exit alone drops what a pipe has not taken yet: piped to a reader, a
 * command printing more than the pipe holds was cut at 65,536 bytes (`shardkv-local status
 * --json | jq`). A stream's writes complete in order, so the callback of an empty write runs
 * once every earlier write completed (or failed: a closed pipe still ends the process). The
 * process runs on until then: the caller returns and does nothing more.
 */
export function exitWhenWritten(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

/** process.exitCode as a number (0 when unset). */
export function exitCodeNow(): number {
  return typeof process.exitCode === "number" ? process.exitCode : 0;
}

/**
 * Runs a command's `main` and ends the process once it settled and its output is written, with
 * process.exitCode. A command must not outlive its answer: grpc-js does not abort a TCP connect
 * still in progress when its channel closes, so one attempt to a host that silently drops
 * packets (a replica or controller cut off by a partition) would keep the process alive until
 * the kernel gives up on the connect, minutes later (test/integration/hosts.test.ts).
 */
export function runCommandMain(main: () => Promise<void>): void {
  void main().finally(() => exitWhenWritten(exitCodeNow()));
}
