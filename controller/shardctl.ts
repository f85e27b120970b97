/**
 * `shardctl`: the admin CLI of the configuration controller (docs/design.md#7-what-runs-where). Run as
 * `bin/shardctl ...` (or `node --import tsx controller/shardctl.ts ...`); `shardctl --help`
 * prints the usage. Parsing and formatting live in controller/shardctl-lib.ts; this file does
 * the I/O: talks to the controllers through ControllerClient (leader hints, retries with the
 * same (clientId, seq)), prints, and sets the exit status.
 *
 * Exit status (common/cli-args.ts, the same scheme as shardkv): 0 success; 1 no leader
 * (status); 2 usage error; 3 the operation failed (the controller refused it, it timed out, no
 * replica answered). A failure prints exactly one line on stderr: `shardctl: <reason>`.
 *
 * Start-up time: ControllerClient (@grpc/grpc-js, protobufjs, the generated proto code) is
 * imported with `import()` when a command runs, so `--help` and usage errors run only the
 * parser (as in client/cli.ts); `shardctl certs` (security/certs-command.ts, with the X.509
 * code) likewise, only for that command.
 */
import { exitFailure, exitNegative, exitOk, exitUsage, oneLine } from "../common/cli-args";
import { AbortError, ShardKVError } from "../common/errors";
import type { ConfigNum, GroupId } from "../common/ids";
import type { ReplicaChangeStep } from "../common/replica-change";
import { delay, realClock } from "../common/real-env";
import { ServerFailures, controllerNaming, shortReason } from "../common/server-failures";
import type { ControllerClient } from "./client";
import type { Security } from "../security/credentials";
import { type ReplicaState, describeGroup, membersOf } from "./replica-intents";
import { type Config, controllerGid } from "./config";
import {
  type Invocation, type ReplicaStatus, configToJson, forceWarning, formatConfig, formatIntentStored, formatReplicaListing, formatStatus,
  parseArgs, replicaListing, replicaListingToJson, statusLeaders, statusToJson, usageText,
} from "./shardctl-lib";

/** An operation failed (exit 3); the message is the one line printed. */
class OperationFailed extends Error {}

// A closed pipe (`shardctl watch | head -1`) ends the program quietly, like any Unix tool.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

const out = (s: string): void => {
  process.stdout.write(s.endsWith("\n") ? s : s + "\n");
};

function printConfig(inv: Invocation, c: Config): void {
  out(inv.json ? JSON.stringify(configToJson(c)) : formatConfig(c));
}

async function change(inv: Invocation, client: ControllerClient): Promise<void> {
  const cmd = inv.command;
  let num: ConfigNum;
  switch (cmd.kind) {
    case "join":
      if (cmd.force) process.stderr.write(`${forceWarning([...cmd.groups.keys()])}\n`);
      num = await client.join(cmd.groups, { force: cmd.force });
      break;
    case "leave": num = await client.leave(cmd.gids); break;
    case "move": num = await client.move(cmd.shard, cmd.gid); break;
    default: throw new Error(`not a change: ${cmd.kind}`);
  }
  if (!inv.json) out(`config ${num} created`);
  let created: Config;
  try {
    created = await client.query(num);
  } catch (e) {
    // The change is done; only reading it back failed. Say so, or a script might retry it.
    throw new OperationFailed(`config ${num} created, but reading it back failed: ${reasonOf(e)}`);
  }
  printConfig(inv, created);
}

/**
 * Where group `gid`'s pending replica change stands in the group's live Raft configuration
 * (common/replica-change.ts ReplicaChangeStep, derived as the group's leader derives it), for
 * `replica list`: the configuration as the group's leader reports it over RaftMembers (its
 * members as the config records them; for the controller group, the controllers given too).
 * Undefined with no pending change, or when no replica answers (the listing then shows no
 * step rather than a guessed one).
 */
async function liveReplicaStep(inv: Invocation, security: Security, config: Config, replicas: ReplicaState, gid: GroupId): Promise<ReplicaChangeStep | undefined> {
  const intent = replicas.intents.get(gid);
  if (intent === undefined) return undefined;
  const recorded = membersOf(config, replicas, gid).map((m) => m.address);
  const addresses = gid === controllerGid ? [...new Set([...inv.controllers, ...recorded])] : recorded;
  // Loaded with the command (gRPC), as the client is: --help never loads them.
  const { confStateFromMembers, leaderMembers } = await import("../raft/transport/members-service");
  const { replicaChangeStep } = await import("../raft/replica-change");
  const reply = await leaderMembers(addresses, liveStepProbeMs, security);
  return reply === undefined ? undefined : replicaChangeStep(confStateFromMembers(reply), intent.change);
}

/** How long `replica list` waits for the group's replicas to describe their configuration. */
const liveStepProbeMs = 1500;

/** `replica ...` / `controller ...`: stores or cancels an intent, or lists a group's members and intent. */
async function replica(inv: Invocation, client: ControllerClient, security: Security): Promise<void> {
  const cmd = inv.command;
  switch (cmd.kind) {
    case "replica": {
      const num = await client.replicaChange(cmd.gid, cmd.change, { force: cmd.force });
      out(inv.json
        ? JSON.stringify({ gid: cmd.gid, config: num, stored: true })
        : formatIntentStored(cmd.gid, cmd.change, cmd.force));
      return;
    }
    case "replica-cancel": {
      const num = await client.replicaCancel(cmd.gid);
      out(inv.json ? JSON.stringify({ gid: cmd.gid, config: num, cancelled: true }) : `${describeGroup(cmd.gid)}: pending replica change cancelled`);
      return;
    }
    case "replica-list": {
      const { config, replicas } = await client.queryCluster(-1);
      const listing = replicaListing(config, replicas, cmd.gid, await liveReplicaStep(inv, security, config, replicas, cmd.gid));
      if (listing === undefined) throw new OperationFailed(`invalid gid: group ${cmd.gid} is not in config ${config.num}`);
      out(inv.json ? JSON.stringify(replicaListingToJson(listing)) : formatReplicaListing(listing));
      return;
    }
    default: throw new Error(`not a replica command: ${cmd.kind}`);
  }
}

/** One round of Status calls, every replica at once; `failures` gets each one that failed. */
function statusRound(inv: Invocation, client: ControllerClient, timeoutMs: number, failures: ServerFailures): Promise<ReplicaStatus[]> {
  return Promise.all(inv.controllers.map(async (address): Promise<ReplicaStatus> => {
    try {
      const s = await client.status(address, timeoutMs);
      return {
        address,
        status: {
          id: s.id, role: s.role, term: s.term, leader: s.leader, leaderAddress: s.leaderAddress,
          commitIndex: s.commitIndex, appliedIndex: s.appliedIndex, latestConfigNum: s.latestConfigNum, shardCount: s.shardCount,
          clusterId: s.clusterId,
        },
      };
    } catch (e) {
      if (!(e instanceof ShardKVError)) throw e;
      failures.record(address, e);
      return { address, error: oneLine(shortReason(e)) };
    }
  }));
}

/**
 * How long `status` waits, once a leader answers, for the cluster id (a new cluster's first
 * leader commits one within a round trip; controllers of an earlier version never send one).
 */
const clusterIdWaitMs = 2000;

/**
 * Asks every replica for its status, round after round until one says it is the leader (and
 * the cluster id is known, or clusterIdWaitMs passed since) or the deadline passes
 * (controllers that are still starting are waited for), and prints the last round. Returns
 * the exit status: 0 a leader; 1 replicas answered but none is the leader. No replica
 * answering at all is a failure (exit 3, one line on stderr).
 */
async function status(inv: Invocation, client: ControllerClient): Promise<number> {
  const end = realClock.nowMs() + inv.timeoutMs;
  let leaderSince: number | undefined;
  for (let round = 0; ; round++) {
    const failures = new ServerFailures(controllerNaming, inv.controllers);
    const perReplicaMs = Math.max(1, Math.min(end - realClock.nowMs(), 2000));
    const rs = await statusRound(inv, client, perReplicaMs, failures);
    const pauseMs = Math.min(500, 50 * 2 ** Math.min(round, 4));
    const led = statusLeaders(rs).length > 0;
    if (led) leaderSince ??= realClock.nowMs();
    const settled = led && (rs.some((r) => r.status?.clusterId) || realClock.nowMs() - leaderSince! >= clusterIdWaitMs);
    if (settled || realClock.nowMs() + pauseMs >= end) {
      out(inv.json ? JSON.stringify(statusToJson(rs)) : formatStatus(rs));
      if (rs.some((r) => r.status)) return statusLeaders(rs).length > 0 ? exitOk : exitNegative;
      throw new OperationFailed(failures.reason() ?? "no controller replica answered");
    }
    await delay(pauseMs);
  }
}

/**
 * Prints the latest config (or every one from --from), then each new one, until SIGINT or
 * SIGTERM, which end it normally (exit 0): interrupting is how a watch is meant to stop.
 */
async function watch(inv: Invocation, client: ControllerClient, fromNum: ConfigNum | undefined): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    let from = fromNum;
    try {
      from ??= (await client.query(-1, { signal: abort.signal })).num;
    } catch (e) {
      if (e instanceof AbortError) return; // interrupted while looking up the latest config
      throw e;
    }
    let first = true;
    for await (const c of client.watch(from, abort.signal)) {
      if (!inv.json && !first) out("");
      first = false;
      printConfig(inv, c);
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** Runs the command; resolves with its exit status unless it failed (thrown). */
async function run(inv: Invocation): Promise<number> {
  const { ControllerClient } = await import("./client");
  const { securityOf } = await import("../security/credentials");
  const security = securityOf(inv.tls);
  const client = new ControllerClient({
    controllers: inv.controllers,
    security,
    deadlineMs: inv.timeoutMs,
    attemptMs: Math.min(inv.timeoutMs, 2000),
  });
  try {
    const cmd = inv.command;
    switch (cmd.kind) {
      case "join": case "leave": case "move": await change(inv, client); break;
      case "query": printConfig(inv, await client.query(cmd.num)); break;
      case "status": return await status(inv, client);
      case "watch": await watch(inv, client, cmd.fromNum); break;
      case "replica": case "replica-cancel": case "replica-list": await replica(inv, client, security); break;
    }
    return exitOk;
  } finally {
    client.close();
    security.close();
  }
}

/**
 * The one line printed for a failure: a typed error's message is already in the user's terms
 * ("invalid gid: group 3 is already in config 4", "query timed out after 10 s: cannot reach
 * controller 127.0.0.1:1: connection refused").
 */
function reasonOf(e: unknown): string {
  if (e instanceof ShardKVError || e instanceof OperationFailed) return e.message;
  return `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
}

const fail = (reason: string, code: number): void => {
  process.stderr.write(`shardctl: ${oneLine(reason)}\n`);
  process.exitCode = code;
};

async function main(argv: readonly string[]): Promise<void> {
  const parsed = parseArgs(argv, process.env);
  switch (parsed.kind) {
    case "help": process.stdout.write(usageText); return;
    case "usage-error": return fail(parsed.message, exitUsage);
    case "certs": {
      const { certsMain } = await import("../security/certs-command");
      process.exitCode = await certsMain(parsed.argv, { out, err: (s) => process.stderr.write(`${s}\n`) });
      return;
    }
    case "handoff": {
      const { handoffMain } = await import("./handoff-command");
      process.exitCode = await handoffMain(parsed.argv, { out, err: (s) => process.stderr.write(`${s}\n`) });
      return;
    }
    case "run":
      try {
        process.exitCode = await run(parsed.invocation);
      } catch (e) {
        fail(reasonOf(e), exitFailure);
      }
  }
}

// Not a top-level await: the command is bundled as CommonJS (scripts/build.mjs, for V8's code
// cache), which has none. The process waits for main's work all the same.
void main(process.argv.slice(2));
