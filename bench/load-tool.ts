/**
 * The I/O shell shared by the load generators (`shardkv bench`, bench/shardkv-bench.ts, and the etcd
 * load generator, bench/etcd-load.ts): parse the flags, connect, run the load
 * (bench/load.ts), show the live progress line on a terminal only, print the report.
 */
import { exitFailure } from "../common/cli-args";
import { realClock } from "../common/real-env";
import { type BenchArgsSpec, type BenchOptions, benchUsage, parseBenchArgs } from "./load-args";
import { type BenchTarget, runLoad } from "./load";
import { formatJson, formatProgress, formatText, formatTimeline } from "./load-report";

/** How a tool connects to its store: a target and how to close it. */
export type Connect = (o: BenchOptions) => Promise<{ readonly target: BenchTarget; close(): void }>;

/** Where a tool prints: real stdout/stderr in the tools, buffers in tests. */
export interface BenchIo {
  readonly stdout: { write(s: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(s: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

const processIo = (): BenchIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

const cpuUsageUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * Parses `argv` with `spec`, connects, runs the load and prints the report. Returns the exit
 * status (common/cli-args.ts): 0 the run completed; 2 usage error; 3 setup failed (one line
 * on stderr).
 */
export async function runBenchTool(spec: BenchArgsSpec, connect: Connect, argv: readonly string[], io: BenchIo = processIo()): Promise<number> {
  const parsed = parseBenchArgs(spec, argv, io.env);
  if (parsed.kind === "help") {
    io.stdout.write(benchUsage(spec));
    return 0;
  }
  if (parsed.kind === "usage-error") {
    io.stderr.write(`${spec.tool}: ${parsed.message} (see ${spec.tool} --help)\n`);
    return 2;
  }
  const o = parsed.options;
  const tty = io.stdout.isTTY === true;
  let shown = false;
  const clearLine = (): void => {
    if (shown) io.stdout.write("\r\x1b[K");
    shown = false;
  };
  let conn: Awaited<ReturnType<Connect>> | undefined;
  try {
    conn = await connect(o);
    const result = await runLoad(conn.target, o, {
      clock: realClock,
      cpuUsageUs,
      ...(tty
        ? {
          onProgress: (p) => {
            io.stdout.write(`\r\x1b[K${formatProgress(p)}`);
            shown = true;
          },
        }
        : {}),
      ...(o.phaseMarks ? { onPhase: (ph) => void io.stderr.write(`bench: ${ph}\n`) } : {}),
    });
    clearLine();
    if (o.json) io.stdout.write(formatJson(result));
    else io.stdout.write((result.timeline ? formatTimeline(result.timeline) : "") + formatText(result));
    return 0;
  } catch (e) {
    clearLine();
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr.write(`${spec.tool}: ${msg.replace(/\s+/g, " ").trim()}\n`);
    return exitFailure;
  } finally {
    conn?.close();
  }
}
