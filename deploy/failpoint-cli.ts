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
import { type Security, securityOf } from "../security/credentials";
import { clientTls, clientTlsFlags, clientTlsUsage } from "../security/tls-flags";
import type { TlsFiles } from "../security/tls-files";

export const usage = `usage: shardkv-failpoint [--tls-ca FILE --tls-cert FILE --tls-key FILE | --insecure] ADDRESS[,ADDRESS...] (SPEC | clear | show)
  SPEC    comma-separated: drop-request=RATE, drop-reply=RATE, drop-raft=RATE (0..1),
          delay=MS (0..27), cut=host:port+host:port...; replaces the daemon's whole spec
          (docs/failpoints.md)
  clear   every failpoint off (the same as the spec "none")
  show    print the spec in force and how often each failpoint fired since the daemon started
${clientTlsUsage}`;

type Parsed = { addresses: string[]; spec: FailpointSpec | undefined; tls: TlsFiles | undefined };

/** Parses the command line; throws UsageError. `spec` undefined = show. */
export function parseFailpointCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Parsed | "help" {
  const cl = parseCommandLine(argv, clientTlsFlags);
  if (cl.help) return "help";
  if (cl.positionals.length !== 2) throw new UsageError(`want 2 arguments (ADDRESS[,ADDRESS...] and SPEC, clear or show), got ${cl.positionals.length}`);
  const addresses = parseAddressList("ADDRESS", cl.positionals[0]!);
  const what = cl.positionals[1]!;
  const tls = clientTls(cl.values, env);
  if (what === "show") return { addresses, spec: undefined, tls };
  try {
    return { addresses, spec: parseFailpointSpec(what), tls };
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new UsageError(e.message);
    throw e;
  }
}

async function main(): Promise<number> {
  let parsed: Parsed | "help";
  try {
    parsed = parseFailpointCliArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`shardkv-failpoint: ${e.message}\n${usage}\n`);
    return exitUsage;
  }
  if (parsed === "help") {
    process.stdout.write(usage + "\n");
    return 0;
  }
  const { addresses, spec, tls } = parsed;
  let security: Security;
  try {
    security = securityOf(tls, { reloadIntervalMs: 0 });
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    process.stderr.write(`shardkv-failpoint: ${e.message}\n`);
    return exitUsage;
  }
  let status = 0;
  await Promise.all(addresses.map(async (address) => {
    const client = new FailpointAdminClient(address, security);
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
