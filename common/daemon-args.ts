/**
 * What the daemons (shardkv-controller, shardkv-server) share around their command lines
 * (parsed with common/cli-args.ts parseCommandLine, every flag at most once): the exit status
 * of a failure and the lifecycle of the process.
 */
import type { Registry } from "prom-client";
import type { Logger } from "./env";
import { CorruptionError, DataDirError, InvalidArgumentError } from "./errors";
import { UsageError } from "./cli-args";
import { Failpoints, type FailpointSpec } from "./failpoints";
import type { HealthChecks } from "./metrics-server";
import { realClock, realRng } from "./real-env";

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
 * one line and exitStatusOf for a DataDirError (controllers of another cluster) or a
 * CorruptionError (a stored value failed its checksum: exit 1, the replica does not serve it);
 * SIGTERM/SIGINT -> graceful stop, exit 0.
 *
 * Everything the daemon logs goes through its logger (JSON lines on stderr, see
 * common/daemon-log.ts) but for the lines runDaemon writes itself: the usage error before a
 * logger exists and the last words of a process that stops on a failure ("cannot start: ...",
 * "stopping: ...", "fatal: ..."). Those stay one plain line `<daemon>: <what>`, the last line
 * of the output, so that a supervisor, a terminal or shardkv-local shows them as they are and
 * tools that read the JSON lines pass them through (docs/operations.md, "Logs").
 */
export async function runDaemon<A>(spec: {
  readonly name: string;
  readonly usage: string;
  /** The arguments, or "help" for -h / --help; throws UsageError (or InvalidArgumentError). */
  readonly parse: (argv: readonly string[]) => A | "help";
  /** The daemon's logger (common/daemon-log.ts), made once the command line is parsed. */
  readonly logger: (args: A) => Logger | Promise<Logger>;
  /** The data directory: a failure to write it (full, read-only) is reported as a DataDirError. */
  readonly dataDir: (args: A) => string;
  readonly start: (args: A, logger: Logger, onFatal: (e: Error) => void) => Promise<Stoppable>;
}): Promise<void> {
  let parsed: A | "help";
  try {
    parsed = spec.parse(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof InvalidArgumentError)) throw e;
    process.stderr.write(`${spec.name}: ${e.message} (--help for usage)\n`);
    process.exit(2);
  }
  if (parsed === "help") {
    process.stdout.write(spec.usage + "\n");
    return;
  }
  const args = parsed;
  const logger = await spec.logger(args);
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
      () => {
        logger.flush?.();
        process.exit(0);
      },
      (e: Error) => {
        logger.flush?.();
        process.stderr.write(`${spec.name}: shutdown failed: ${e.stack ?? e.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  // Loaded only now, so a bad command line fails fast.
  const { asDataDirError } = await import("./data-dir");
  const dir = spec.dataDir(args);
  try {
    server = await spec.start(args, logger, (fatal) => {
      const e = asDataDirError(dir, fatal) as Error;
      logger.flush?.();
      if (e instanceof DataDirError || e instanceof CorruptionError) {
        process.stderr.write(`${spec.name}: stopping: ${e.message}\n`);
        process.exit(exitStatusOf(e));
      }
      process.stderr.write(`${spec.name}: fatal: ${e.stack ?? e.message}\n`);
      process.exit(1);
    });
  } catch (failure) {
    const e = asDataDirError(dir, failure);
    logger.flush?.();
    process.stderr.write(`${spec.name}: cannot start: ${(e as Error).message}\n`);
    process.exit(exitStatusOf(e));
  }
  if (pending !== undefined) shutdown(pending);
}

/** runDaemon as a process's main: anything it throws is a bug (stack on stderr, exit 1). */
export function daemonMain<A>(spec: Parameters<typeof runDaemon<A>>[0]): void {
  runDaemon(spec).catch((e: unknown) => {
    process.stderr.write(`${spec.name}: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}

/** The failpoints of a daemon started with `--failpoints` (undefined without), on real time. */
export function daemonFailpoints(spec: FailpointSpec | undefined, self: string): Failpoints | undefined {
  return spec && new Failpoints({ spec, rng: realRng, clock: realClock, self });
}

/**
 * A daemon's server with its metrics endpoint (common/metrics-server.ts) when `listen` is
 * given (--metrics-listen): the endpoint is bound first (a port in use fails the start with
 * one line naming the flag), its registry handed to `start` (undefined without the flag:
 * nothing is measured), its probes pointed at the server once started, and it is closed after
 * the server stops. A failed start closes it too.
 */
export async function withMetricsEndpoint(
  o: { readonly listen: string | undefined; readonly labels: { readonly gid: number; readonly node: number }; readonly logger: Logger },
  start: (registry: Registry | undefined) => Promise<Stoppable & HealthChecks>,
): Promise<Stoppable> {
  if (o.listen === undefined) return start(undefined);
  // Loaded only with the flag: without it prom-client is never loaded.
  const { startMetricsServer } = await import("./metrics-server");
  const endpoint = await startMetricsServer({ listen: o.listen, labels: o.labels });
  let server: Stoppable & HealthChecks;
  try {
    server = await start(endpoint.registry);
  } catch (e) {
    await endpoint.close();
    throw e;
  }
  endpoint.serve(server);
  o.logger.info(`metrics on http://${o.listen}/metrics (probes /healthz, /readyz)`);
  return {
    async stop() {
      try {
        await server.stop();
      } finally {
        await endpoint.close();
      }
    },
  };
}
