/**
 * The daemons' logger (shardkv-server, shardkv-controller): pino writing one JSON object a
 * line on stderr, synchronously (a line is out before the process exits), e.g.
 *
 *   {"level":"warn","time":"2026-12-06T05:00:00.000Z","gid":1,"node":2,"term":7,"msg":"..."}
 *
 * `gid` is the replica's group (0: the controller group), `node` its id, `term` the Raft
 * node's current term (bound once the node is open: lines before it have none), then any
 * fields of the call, then `msg`. When stderr is a terminal the lines are human-readable
 * instead (pino-pretty's formatter, run synchronously). Repeated lines are rate-limited
 * (common/log-limit.ts); debug lines are not. docs/operations.md, "Logs".
 */
import * as grpc from "@grpc/grpc-js";
import { inspect } from "node:util";
import { pino, type DestinationStream, type Logger as Pino } from "pino";
import type { Clock, LogFields, Logger } from "./env";
import { type LimitedLevel, RepeatLimiter } from "./log-limit";
import type { LogLevel } from "./log-level";
import { replicaNameOf } from "./log-line";
import { realClock } from "./real-env";

export interface DaemonLoggerOptions {
  /** The replica's group; 0 for a controller. */
  readonly gid: number;
  /** The replica's id in its group. */
  readonly node: number;
  readonly level: LogLevel;
  /** Human-readable lines in place of JSON. Default: whether stderr is a terminal. */
  readonly pretty?: boolean;
  /** Colours in the human-readable form. Default: `pretty`, unless $NO_COLOR is set. */
  readonly colors?: boolean;
  /** Where the lines go (tests). Default: stderr (fd 2), written synchronously. */
  readonly destination?: { write(line: string): unknown };
  /** The clock of the rate limit (tests drive one by hand). Default: real time. */
  readonly clock?: Clock;
  /** The rate limit's window (common/log-limit.ts). Default one second. */
  readonly repeatWindowMs?: number;
}

/** The daemons' Logger: the Logger seam plus errors, the bound term and a flush before exit. */
export interface DaemonLogger extends Logger {
  error(msg: string, fields?: LogFields): void;
  bindTerm(term: () => number): void;
  /** Writes the pending summaries of rate-limited lines (before the process exits). */
  flush(): void;
}

/** A logger for the replica `node` of group `gid` (see the header); pino-pretty is loaded only for the terminal form. */
export async function daemonLogger(o: DaemonLoggerOptions): Promise<DaemonLogger> {
  const pretty = o.pretty ?? process.stderr.isTTY === true;
  const out: DestinationStream = o.destination ?? pino.destination({ dest: 2, sync: true });
  const dest = pretty ? await prettyDestination(out, o.colors ?? (process.env["NO_COLOR"] === undefined)) : out;
  let term: (() => number) | undefined;
  const p: Pino = pino(
    {
      level: o.level,
      base: { gid: o.gid, node: o.node },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers: `jq 'select(.level == "warn")'`. The terminal form reads numbers.
      formatters: pretty ? {} : { level: (label) => ({ level: label }) },
      mixin: () => (term === undefined ? {} : { term: term() }),
    },
    dest,
  );
  const limiter = new RepeatLimiter({
    clock: o.clock ?? realClock,
    windowMs: o.repeatWindowMs,
    write: (level: LimitedLevel, msg, fields) => p[level](fields ?? {}, msg),
  });
  const limited = (level: LimitedLevel) => (msg: string, fields?: LogFields): void => {
    if (p.isLevelEnabled(level)) limiter.log(level, msg, fields);
  };
  return {
    error: limited("error"),
    warn: limited("warn"),
    info: limited("info"),
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    get debugEnabled() {
      return p.isLevelEnabled("debug");
    },
    bindTerm(t) {
      term = t;
    },
    flush: () => limiter.flush(),
  };
}

/**
 * The logger of a daemon process (the mains): daemonLogger, through which also go the lines
 * the libraries would print on stderr themselves: gRPC's (grpc-js logs errors to the console)
 * and Node's process warnings.
 */
export async function processLogger(o: DaemonLoggerOptions): Promise<DaemonLogger> {
  const logger = await daemonLogger(o);
  const text = (args: unknown[]): string => args.map((a) => (typeof a === "string" ? a : inspect(a, { breakLength: Infinity }))).join(" ");
  grpc.setLogger({
    error: (...args: unknown[]) => logger.warn(`gRPC: ${text(args)}`),
    info: (...args: unknown[]) => logger.info(`gRPC: ${text(args)}`),
    debug: (...args: unknown[]) => logger.debug(`gRPC: ${text(args)}`),
  });
  // Node's own printer of warnings is a listener like this one: replaced, not doubled.
  process.removeAllListeners("warning");
  process.on("warning", (w) => logger.warn(`Node: ${w.name}: ${w.message}`));
  return logger;
}

/** `out` behind pino-pretty's formatter: `[12:00:00.123] WARN: g1n2 t7: msg {"peer":"..."}`, one line each (local time). */
async function prettyDestination(out: DestinationStream, colorize: boolean): Promise<DestinationStream> {
  const { prettyFactory } = await import("pino-pretty");
  const format = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "gid,node,term",
    messageFormat: (log, messageKey) =>
      `${replicaNameOf(log["gid"], log["node"])}${log["term"] === undefined ? "" : ` t${String(log["term"])}`}: ${String(log[messageKey])}`,
  });
  return { write: (line: string) => out.write(format(line)) };
}
