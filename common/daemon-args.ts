/**
 * Strict command-line parsing shared by the daemons (shardkv-controller, shardkv-server):
 * `--flag value` or `--flag=value`, every flag at most once, unknown flags and stray
 * arguments refused. Errors are InvalidArgumentError naming the flag; the daemons print them
 * on one line and exit with status 2.
 */
import { validateAddress } from "./address";
import type { Logger } from "./env";
import { DataDirError, InvalidArgumentError } from "./errors";
import type { NodeId } from "./ids";

/** Parses `argv` into flag -> value for the given flag names (without the leading --). */
export function parseFlags<F extends string>(argv: readonly string[], flags: readonly F[]): ReadonlyMap<F, string> {
  const got = new Map<F, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new InvalidArgumentError("arguments", `unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf("=");
    const name = (eq >= 0 ? a.slice(2, eq) : a.slice(2)) as F;
    if (!flags.includes(name)) throw new InvalidArgumentError(a.slice(0, eq >= 0 ? eq : undefined), "unknown flag");
    if (got.has(name)) throw new InvalidArgumentError(`--${name}`, "given twice");
    let v: string | undefined;
    if (eq >= 0) v = a.slice(eq + 1);
    else {
      v = argv[i + 1];
      if (v === undefined || v.startsWith("--")) throw new InvalidArgumentError(`--${name}`, "needs a value");
      i++;
    }
    got.set(name, v);
  }
  return got;
}

/** The value of a required flag. */
export function requiredFlag<F extends string>(got: ReadonlyMap<F, string>, f: F): string {
  const v = got.get(f);
  if (v === undefined) throw new InvalidArgumentError(`--${f}`, "is required");
  return v;
}

/** A decimal integer in [1, max]. */
export function positiveIntFlag(flag: string, v: string, max: number): number {
  return intFlag(flag, v, 1, max);
}

/** A decimal integer in [min, max]. */
export function intFlag(flag: string, v: string, min: number, max: number): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`--${flag}`, `want an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

/** `id=host:port,...`, ids unique, and including `self`. */
export function parsePeersFlag(v: string, self: NodeId): Map<NodeId, string> {
  const peers = new Map<NodeId, string>();
  for (const p of v.split(",")) {
    const m = /^(\d+)=(.+)$/.exec(p);
    if (!m) throw new InvalidArgumentError("--peers", `want id=host:port, got ${JSON.stringify(p)}`);
    const pid = positiveIntFlag("peers", m[1]!, Number.MAX_SAFE_INTEGER) as NodeId;
    validateAddress("--peers", m[2]!);
    if (peers.has(pid)) throw new InvalidArgumentError("--peers", `id ${pid} listed twice`);
    peers.set(pid, m[2]!);
  }
  if (!peers.has(self)) throw new InvalidArgumentError("--peers", `must include this replica's --id ${self}`);
  return peers;
}

/** What runDaemon needs of a started server. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * The exit status for an error that stops a daemon: 2 when the command line is at fault (an
 * InvalidArgumentError; a DataDirError of misuse: a directory of another replica, group,
 * kind or cluster, or a file), 1 otherwise (unwritable or full disk, storage failure, bug).
 */
export function exitStatusOf(e: unknown): 1 | 2 {
  return e instanceof InvalidArgumentError || (e instanceof DataDirError && e.misuse) ? 2 : 1;
}

/**
 * The lifecycle shared by the daemons: `--help`; a bad command line -> one line, exit 2;
 * a failure to start -> one line, exit status by exitStatusOf (2: a flag or the data
 * directory does not fit, e.g. a directory of another replica); a fatal error while running
 * -> exit 1 to restart from disk (a storage failure or broken invariant, with its stack), or
 * one line and exitStatusOf for a DataDirError (controllers of another cluster);
 * SIGTERM/SIGINT -> graceful stop, exit 0.
 */
export async function runDaemon<A>(spec: {
  readonly name: string;
  readonly usage: string;
  readonly parse: (argv: readonly string[]) => A;
  readonly logger: (args: A) => Logger;
  readonly start: (args: A, logger: Logger, onFatal: (e: Error) => void) => Promise<Stoppable>;
}): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(spec.usage + "\n");
    return;
  }
  let args: A;
  try {
    args = spec.parse(argv);
  } catch (e) {
    process.stderr.write(`${spec.name}: ${(e as Error).message} (--help for usage)\n`);
    process.exit(2);
  }
  const logger = spec.logger(args);
  // The signal handlers are installed before the start, so a SIGTERM that arrives while the
  // server starts (RocksDB opening, say) ends in a graceful stop as soon as it is up, not in
  // the default action (death by signal with RocksDB open). A second signal while starting
  // exits at once (a start can wait for the controllers).
  let server: Stoppable | undefined;
  let stopping = false;
  let pending: string | undefined;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    if (!server) {
      if (pending !== undefined) process.exit(1);
      pending = signal;
      logger.info(`${signal} while starting: stopping as soon as started (again to exit now)`);
      return;
    }
    stopping = true;
    logger.info(`${signal}: shutting down`);
    server.stop().then(
      () => process.exit(0),
      (e: Error) => {
        process.stderr.write(`${spec.name}: shutdown failed: ${e.stack ?? e.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  try {
    server = await spec.start(args, logger, (e) => {
      if (e instanceof DataDirError) {
        process.stderr.write(`${spec.name}: stopping: ${e.message}\n`);
        process.exit(exitStatusOf(e));
      }
      process.stderr.write(`${spec.name}: fatal: ${e.stack ?? e.message}\n`);
      process.exit(1);
    });
  } catch (e) {
    process.stderr.write(`${spec.name}: cannot start: ${(e as Error).message}\n`);
    process.exit(exitStatusOf(e));
  }
  if (pending !== undefined) shutdown(pending);
}
