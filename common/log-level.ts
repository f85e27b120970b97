/**
 * The daemons' `--log-level` flag (shardkv-server, shardkv-controller): which lines of the
 * structured log (common/daemon-log.ts) are written. Kept apart from the logger so that
 * parsing a command line does not load pino.
 */
import { usage } from "./cli-args";

/** From the fewest lines to the most; each level writes its own lines and those before it. */
export const logLevels = ["error", "warn", "info", "debug"] as const;

export type LogLevel = (typeof logLevels)[number];

/** The level of a daemon started without `--log-level`. */
export const logLevelDefault: LogLevel = "info";

/** `text` as a LogLevel; a UsageError naming `field` and what was sent otherwise. */
export function parseLogLevel(field: string, text: string): LogLevel {
  const level = logLevels.find((l) => l === text);
  if (level === undefined) throw usage(field, `want one of ${logLevels.join(", ")}, got ${JSON.stringify(text)}`);
  return level;
}

/** The `--log-level` line of both daemons' usage. */
export const logLevelUsage = `  --log-level L       log lines written: error, warn, info (default) or debug; stderr gets
                      JSON lines (human-readable ones when stderr is a terminal)`;
