/**
 * `shardctl handoff ADDR`: asks the daemon at ADDR (a controller or a shard server replica)
 * to hand its group's leadership to its most caught-up voter, if it leads, and waits until it
 * follows the new leader (proto/raft.proto RaftLeadership.TransferLeader;
 * raft/transport/leadership-service.ts). Talks to no controller. What a Kubernetes preStop
 * hook runs with the pod's own node certificate (deploy/k8s/), and what an operator runs
 * before taking a machine down by hand.
 *
 * Exit status (common/cli-args.ts): 0 handed off, or nothing to do (ADDR does not lead);
 * 2 usage; 3 failed (unreachable, refused, no other voter in reach, no new leader in time),
 * one line on stderr.
 */
import { exitFailure, exitOk, exitUsage, flag, oneLine, parseAddress, parseCommandLine, UsageError } from "../common/cli-args";
import { ShardKVError } from "../common/errors";
import { clientTls, clientTlsFlags, clientTlsUsage } from "../security/tls-flags";
import type { TlsFiles } from "../security/tls-files";

export const handoffUsageText = `usage: shardctl handoff [--timeout DURATION] [--json] [--tls-ca FILE --tls-cert FILE --tls-key FILE | --insecure] ADDR

Asks the controller or shard server replica at ADDR (host:port), if it leads its group, to hand
leadership to its most caught-up voter, and waits until that voter leads. Nothing to do when
ADDR does not lead. A daemon does the same by itself when it stops gracefully (SIGTERM); run
this before a planned stop to have the group change leader first (a Kubernetes preStop hook).

options:
  --timeout DURATION   how long the replica waits for the new leader: 500ms, 10s (default 2s,
                       at most 60s)
  --json               the outcome as one JSON object
${clientTlsUsage}
  -h, --help           print this text

exit status: 0 handed off, or ADDR does not lead; 2 usage error; 3 failed (unreachable,
refused, no other voter in reach, no new leader within --timeout; one line on stderr).
`;

const flags = {
  timeout: flag.duration({ maxMs: 60_000 }),
  json: flag.bool(),
  ...clientTlsFlags,
};

export interface HandoffInvocation {
  readonly address: string;
  readonly timeoutMs: number;
  readonly json: boolean;
  readonly tls?: TlsFiles;
}

/** Parses `shardctl handoff`'s arguments (the command word removed). Pure; throws UsageError. */
export function parseHandoffArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): HandoffInvocation | "help" {
  const cl = parseCommandLine(argv, flags, { positionals: 1 });
  if (cl.help) return "help";
  const v = cl.values;
  const addr = cl.positionals[0];
  if (addr === undefined) throw new UsageError("handoff: missing ADDR, the host:port of the replica to hand leadership off");
  const tls = clientTls(v, env);
  return { address: parseAddress("ADDR", addr), timeoutMs: v.timeout ?? 2000, json: v.json === true, ...(tls ? { tls } : {}) };
}

/** The outcome as one line, and whether it counts as success. */
export function describeTransfer(address: string, r: { outcome: string; id: number; leader: number; term: number; reason: string }): { line: string; ok: boolean } {
  switch (r.outcome) {
    case "transferred": return { ok: true, line: `replica ${r.id} at ${address} handed leadership to replica ${r.leader} (term ${r.term})` };
    case "stepped_down": return { ok: true, line: `replica ${r.id} at ${address} stepped down for term ${r.term}; the group is electing its new leader` };
    case "not_leader": return { ok: true, line: `replica ${r.id} at ${address} does not lead (leader ${r.leader || "unknown"}, term ${r.term}); nothing to hand off` };
    case "no_voter": return { ok: false, line: `replica ${r.id} at ${address} still leads term ${r.term}: ${r.reason}` };
    default: return { ok: false, line: `replica ${r.id} at ${address}: leadership hand-off failed in term ${r.term}: ${r.reason}` };
  }
}

/** Runs `shardctl handoff`; returns the exit status. */
export async function handoffMain(argv: readonly string[], io: { out(s: string): void; err(s: string): void }): Promise<number> {
  let inv: HandoffInvocation | "help";
  try {
    inv = parseHandoffArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`shardctl: ${oneLine(e.message)}`);
    return exitUsage;
  }
  if (inv === "help") {
    io.out(handoffUsageText.trimEnd());
    return exitOk;
  }
  const { securityOf } = await import("../security/credentials");
  const { transferLeader } = await import("../raft/transport/leadership-service");
  let security: ReturnType<typeof securityOf> | undefined;
  try {
    security = securityOf(inv.tls);
    const reply = await transferLeader(inv.address, inv.timeoutMs, security);
    const r = { outcome: reply.outcome, id: Number(reply.id), leader: Number(reply.leader), term: Number(reply.term), reason: reply.reason };
    const { line, ok } = describeTransfer(inv.address, r);
    if (inv.json) io.out(JSON.stringify(r));
    else if (ok) io.out(line);
    if (!ok) io.err(`shardctl: ${oneLine(line)}`);
    return ok ? exitOk : exitFailure;
  } catch (e) {
    const reason = e instanceof ShardKVError ? e.message : `unexpected error: ${(e as Error).message}`;
    io.err(`shardctl: ${oneLine(`handoff ${inv.address}: ${reason}`)}`);
    return exitFailure;
  } finally {
    // The TLS files are watched (re-read every second) until closed: the process would not exit.
    security?.close();
  }
}
