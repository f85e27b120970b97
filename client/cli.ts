/**
 * `shardkv`: the data CLI (docs/design.md#7-what-runs-where). Run as `bin/shardkv ...`; `shardkv --help` prints the
 * usage. Parsing and formatting live in client/cli-lib.ts; this file does the I/O: reads stdin
 * for a "-" value, runs the operation through the client library, prints, and sets the exit
 * status (the scheme of every shardkv command: 0 success; 1 a negative answer: absent key, not
 * swapped; 2 usage error; 3 failure: unreachable, timed out, refused). A failure prints one
 * line on stderr: `shardkv: <reason>`. `shardkv bench ...` is the load generator (bench/shardkv-bench.ts).
 *
 * Start-up time: the client library (@grpc/grpc-js, protobufjs, the generated proto code) is
 * imported with `import()` where an operation runs, so `--help`, usage errors and argument
 * parsing run only the parser (in the command's bundle, scripts/build.mjs, a dynamically
 * imported module is initialised only when the import runs; nats is loaded from node_modules
 * only for --nats), and the bundle's compiled code is cached (scripts/code-cache.cjs).
 */
import { ShardKVError } from "../common/errors";
import { exitFailure, exitUsage, oneLine, runCommandMain } from "../common/cli-args";
import { type Invocation, type Outcome, type ValueArg, benchArgv, formatOutcome, parseArgs, usageText } from "./cli-lib";

process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function valueOf(v: ValueArg): Promise<Uint8Array | string> {
  return v.kind === "stdin" ? readStdin() : v.text;
}

async function run(inv: Invocation): Promise<Outcome> {
  const cmd = inv.command;
  // Read stdin before connecting: a value is ready before any request is sent.
  const value = cmd.kind === "put" || cmd.kind === "append" || cmd.kind === "cas" ? await valueOf(cmd.value) : undefined;
  const expected = cmd.kind === "cas" && cmd.expected ? await valueOf(cmd.expected) : undefined;
  const { ShardKV } = await import("./shardkv");
  const kv = await ShardKV.connect({
    controllers: inv.controllers,
    deadlineMs: inv.timeoutMs,
    ...(inv.nats !== undefined ? { nats: inv.nats } : {}),
    ...(inv.tls !== undefined ? { tls: inv.tls } : {}),
  });
  try {
    switch (cmd.kind) {
      case "get": return { kind: "get", value: await kv.get(cmd.key) };
      case "put": await kv.put(cmd.key, value!); return { kind: "put" };
      case "append": await kv.append(cmd.key, value!); return { kind: "append" };
      case "delete": return { kind: "delete", existed: await kv.delete(cmd.key) };
      case "cas": {
        const r = await kv.cas(cmd.key, expected ?? null, value!);
        return { kind: "cas", swapped: r.swapped, current: r.current };
      }
    }
  } finally {
    kv.close();
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof ShardKVError) return e.message;
  return `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
}

const fail = (reason: string, code: number): void => {
  process.stderr.write(`shardkv: ${oneLine(reason)}\n`);
  process.exitCode = code;
};

async function main(argv: readonly string[]): Promise<void> {
  const bench = benchArgv(argv);
  if (bench) {
    const { benchMain } = await import("../bench/shardkv-bench");
    process.exitCode = await benchMain(bench);
    return;
  }
  const parsed = parseArgs(argv, process.env);
  switch (parsed.kind) {
    case "help": process.stdout.write(usageText); return;
    case "usage-error": return fail(parsed.message, exitUsage);
    case "run":
      try {
        const out = formatOutcome(parsed.invocation.json, await run(parsed.invocation));
        process.stdout.write(out.stdout);
        process.exitCode = out.exitCode;
      } catch (e) {
        fail(reasonOf(e), exitFailure);
      }
  }
}

// Not a top-level await: the command is bundled as CommonJS (scripts/build.mjs, for V8's code
// cache), which has none. It exits once main's work is done and written (runCommandMain).
runCommandMain(() => main(process.argv.slice(2)));
