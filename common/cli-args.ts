/**
 * Argument parsing shared by the command-line tools (shardctl, shardkv, the daemons): usage
 * errors (exit status 2), durations and address lists; the exit statuses of every command.
 */
import { validateAddressList } from "./address";
import { InvalidArgumentError } from "./errors";

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

export const usage = (field: string, reason: string): UsageError => new UsageError(`invalid ${field}: ${reason}`);

/** The longest --timeout accepted (24 h). */
export const timeoutMsMax = 86_400_000;

/** "10s", "500ms", "2m", "1.5s"; a bare number is seconds. Milliseconds, integer, > 0. */
export function parseDuration(field: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  const scale = m ? ({ ms: 1, s: 1000, m: 60_000 } as const)[(m[2] ?? "s") as "ms" | "s" | "m"] : NaN;
  const ms = m ? Math.round(Number(m[1]) * scale) : NaN;
  if (!(ms >= 1 && ms <= timeoutMsMax)) {
    throw usage(field, `want a duration like 500ms, 10s or 2m (at least 1ms, at most ${timeoutMsMax / 3_600_000}h), got ${JSON.stringify(s)}`);
  }
  return ms;
}

/** A comma-separated address list: none empty, each "host:port", no duplicates. */
export function parseAddressList(field: string, s: string): string[] {
  if (s === "") throw usage(field, "empty address list");
  const addrs = s.split(",");
  if (addrs.includes("")) throw usage(field, `empty address in ${JSON.stringify(s)}`);
  try {
    validateAddressList(field, addrs);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new UsageError(e.message);
    throw e;
  }
  return addrs;
}

/**
 * Reads a command line's arguments in order, for the CLIs' option parsers. `option(a)` splits
 * the current argument "--flag" or "--flag=value": `value()` is the inline value, else the
 * next argument (which must not be another --flag, else "missing value"); `noValue()` refuses
 * an inline value for a flag that takes none.
 */
export class ArgReader {
  private i = -1;

  constructor(private readonly argv: readonly string[]) {}

  /** The next argument, undefined after the last. */
  next(): string | undefined {
    return this.argv[++this.i];
  }

  /** Every argument after the current one (they are consumed). */
  rest(): string[] {
    const r = this.argv.slice(this.i + 1);
    this.i = this.argv.length;
    return r;
  }

  option(a: string): { readonly flag: string; value(): string; noValue(): void } {
    const eq = a.indexOf("=");
    const split = a.startsWith("--") && eq > 0;
    const flag = split ? a.slice(0, eq) : a;
    const inline = split ? a.slice(eq + 1) : undefined;
    return {
      flag,
      value: () => {
        if (inline !== undefined) return inline;
        const v = this.next();
        if (v === undefined || (v.startsWith("--") && v.length > 2)) throw usage(flag, "missing value");
        return v;
      },
      noValue: () => {
        if (inline !== undefined) throw usage(flag, "takes no value");
      },
    };
  }
}
