/**
 * `shardkv-failpoint`: switches the failpoints of running daemons through their Admin service
 * (docs/failpoints.md). Test-only: the daemons must have been started with `--failpoints`
 * (or SHARDKV_FAILPOINTS=1).
 *
 *   shardkv-failpoint 127.0.0.1:9101 show
 *   shardkv-failpoint 127.0.0.1:9101 drop-request=0.1,drop-reply=0.1,delay=27
 *   shardkv-failpoint 127.0.0.1:9101 cut=127.0.0.1:9102+127.0.0.1:9103
 *   shardkv-failpoint 127.0.0.1:9101,127.0.0.1:9102 clear
 *
 * Prints `<address> <spec now in force>` per daemon. A spec replaces the whole previous one.
 * Exit status: 0 done; 2 a bad command line or spec; 1 a daemon unreachable or without
 * failpoints (the others are still switched).
 */
import { exitFailure, exitUsage, parseAddressList, parseCommandLine, UsageError } from "../common/cli-args";
import { InvalidArgumentError } from "../common/errors";
import { type FailpointSpec, parseFailpointSpec } from "../common/failpoints";
import { FailpointAdminClient } from "../raft/transport/failpoint-admin";

export const usage = `usage: shardkv-failpoint ADDRESS[,ADDRESS...] (SPEC | clear | show)
  SPEC    comma-separated: drop-request=RATE, drop-reply=RATE, drop-raft=RATE (0..1),
          delay=MS (0..27), cut=host:port+host:port...; replaces the daemon's whole spec
          (docs/failpoints.md)
  clear   every failpoint off (the same as the spec "none")
  show    print the spec in force and how often each failpoint fired since the daemon started`;

type Parsed = { addresses: string[]; spec: FailpointSpec | undefined };

/** Parses the command line; throws UsageError. `spec` undefined = show. */
export function parseFailpointCliArgs(argv: readonly string[]): Parsed | "help" {
  const cl = parseCommandLine(argv, {});
  if (cl.help) return "help";
  if (cl.positionals.length !== 2) throw new UsageError(`want 2 arguments (ADDRESS[,ADDRESS...] and SPEC, clear or show), got ${cl.positionals.length}`);
  const addresses = parseAddressList("ADDRESS", cl.positionals[0]!);
  const what = cl.positionals[1]!;
  if (what === "show") return { addresses, spec: undefined };
  try {
    return { addresses, spec: parseFailpointSpec(what) };
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new UsageError(e.message);
    throw e;
  }
}

async function main(): Promise<number> {
  let parsed: Parsed | "help";
  try {
    parsed = parseFailpointCliArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`shardkv-failpoint: ${e.message}\n${usage}\n`);
    return exitUsage;
  }
  if (parsed === "help") {
    process.stdout.write(usage + "\n");
    return 0;
  }
  const { addresses, spec } = parsed;
  let status = 0;
  await Promise.all(addresses.map(async (address) => {
    const client = new FailpointAdminClient(address);
    try {
      const state = spec === undefined ? await client.get() : await client.set(spec);
      const c = state.counters;
      const fired = spec === undefined
        ? ` (fired: ${c.droppedRequests} requests dropped, ${c.droppedReplies} replies dropped, ${c.droppedRaft} raft messages dropped, ${c.delayed} delayed, ${c.cut} cut)`
        : "";
      process.stdout.write(`${address} ${state.text}${fired}\n`);
    } catch (e) {
      process.stderr.write(`shardkv-failpoint: ${address}: ${(e as Error).message}\n`);
      status = exitFailure;
    } finally {
      client.close();
    }
  }));
  return status;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`shardkv-failpoint: ${(e as Error).stack ?? e}\n`);
    process.exit(exitFailure);
  },
);
