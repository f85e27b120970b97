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
import { exitFailure, exitNegative, exitOk, exitUsage, oneLine, runCommandMain } from "../common/cli-args";
import { AbortError, ServersUnansweredError, ShardKVError } from "../common/errors";
import type { ConfigNum, GroupId } from "../common/ids";
import { type ReplicaChange, type ReplicaChangeStep, changeOutcome, describeReplicaChange, formatReplicaProgress } from "../common/replica-change";
import { delay, realClock } from "../common/real-env";
import { ProgressLine } from "../common/progress-line";
import { type GroupView, formatMigrationProgress, migrationProgress } from "./migration-progress";
import { ServerFailures, controllerNaming, shortReason } from "../common/server-failures";
import type { ControllerClient } from "./client";
import type { Security } from "../security/credentials";
import { type ReplicaState, describeGroup, membersOf } from "./replica-intents";
import { type Config, controllerGid, sortedGids } from "./config";
import {
  type GroupStatus, type Invocation, type ReplicaStatus, type ServerStatus, configToJson, forceWarning, formatConfig, formatGroupStatus,
  formatIntentStored, formatReplicaListing, formatStatus, groupLed, groupStatusToJson, parseArgs, replicaListing, replicaListingToJson,
  formatServersWait, replicaStatusDetail, statusLeaders, statusToJson, usageText,
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

async function change(inv: Invocation, client: ControllerClient, security: Security, end: number): Promise<void> {
  const cmd = inv.command;
  let num: ConfigNum;
  switch (cmd.kind) {
    case "join":
      if (cmd.force) process.stderr.write(`${forceWarning([...cmd.groups.keys()])}\n`);
      num = await join(client, cmd);
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
  if (inv.wait) await waitShardsMoved(client, security, num, end);
}

/**
 * `join`: asks the controller, and again while the refusal is only servers that give no
 * answer (ServersUnansweredError), for up to --wait-servers, printing a line on stderr before
 * each new attempt. At the end of the wait: the controller's last refusal and how long it took.
 */
async function join(client: ControllerClient, cmd: Extract<Invocation["command"], { kind: "join" }>): Promise<ConfigNum> {
  const start = realClock.nowMs();
  try {
    return await client.join(cmd.groups, {
      force: cmd.force,
      serversWaitMs: cmd.serversWaitMs,
      onServersWait: (unanswered, leftMs) => process.stderr.write(`${formatServersWait(unanswered, leftMs)}\n`),
    });
  } catch (e) {
    if (cmd.serversWaitMs > 0 && e instanceof ServersUnansweredError) {
      const s = Math.round((realClock.nowMs() - start) / 1000);
      throw new OperationFailed(`${e.message}; still so after ${s} s of waiting (--wait-servers)`);
    }
    throw e;
  }
}

/** How often a --wait polls. */
const waitPollMs = 250;

/** Stubs to shard servers, kept across the polls of one command (closed when it ends, in run). */
const serverStubs = new Map<string, { close(): void }>();

/** The Status of each server at `addresses`, at once, each within `timeoutMs` (no reply: the reason). */
async function serverStatuses(security: Security, addresses: readonly string[], timeoutMs: number): Promise<{ address: string; reply?: StatusReply; error?: string }[]> {
  const { shardKVStub, shardServerStatus } = await import("../shard-server/grpc-service");
  return Promise.all(addresses.map(async (address) => {
    let stub = serverStubs.get(address) as ReturnType<typeof shardKVStub> | undefined;
    if (!stub) serverStubs.set(address, (stub = shardKVStub(address, security)));
    try {
      return { address, reply: await shardServerStatus(stub, address, timeoutMs) };
    } catch (e) {
      if (!(e instanceof ShardKVError)) throw e;
      return { address, error: oneLine(shortReason(e)) };
    }
  }));
}

type StatusReply = Awaited<ReturnType<typeof import("../shard-server/grpc-service").shardServerStatus>>;

/** The leader among replies (the highest term), if any. */
function leaderReply(rs: readonly { reply?: StatusReply }[]): StatusReply | undefined {
  let best: StatusReply | undefined;
  for (const { reply: r } of rs) if (r?.role === "leader" && (!best || Number(r.term) > Number(best.term))) best = r;
  return best;
}

/** What the leader of each of `groups` (gid -> server addresses) answered, for migrationProgress. */
async function groupViews(security: Security, groups: ReadonlyMap<GroupId, readonly string[]>): Promise<GroupView[]> {
  const { shardViewsOf } = await import("../shard-server/grpc-service");
  return Promise.all([...groups].map(async ([gid, addrs]) => {
    const rs = await serverStatuses(security, addrs, 1000);
    const l = leaderReply(rs);
    const name = l ? rs.find((r) => r.reply === l)!.address : "";
    return { gid, ...(l ? { leader: { name, configNum: Number(l.configNum), shards: shardViewsOf(l) } } : {}) };
  }));
}

/**
 * `join|leave --wait`: polls the latest config and each group's leader until every shard
 * serves at its owner (controller/migration-progress.ts), showing a progress line on stderr
 * (shards moving, bytes left). The groups of config `num - 1` that are gone from the latest
 * are asked too: they hand the shards off. At `end`: one line, exit 3.
 */
async function waitShardsMoved(client: ControllerClient, security: Security, num: ConfigNum, end: number): Promise<void> {
  const progress = new ProgressLine(process.stderr, realClock);
  const before = num > 0 ? await client.query(num - 1).catch(() => undefined) : undefined;
  let why = "no answer yet";
  try {
    for (;;) {
      try {
        const cfg = await client.query(-1);
        const others = new Map([...(before?.groups ?? [])].filter(([g]) => !cfg.groups.has(g)));
        const p = migrationProgress({ num: cfg.num, shards: cfg.shards, gids: sortedGids(cfg.groups) }, await groupViews(security, cfg.groups), await groupViews(security, others));
        progress.update(formatMigrationProgress(p));
        if (p.done) return;
        why = p.why.join("; ");
      } catch (e) {
        if (!(e instanceof ShardKVError)) throw e;
        why = reasonOf(e);
      }
      if (realClock.nowMs() + waitPollMs >= end) {
        throw new OperationFailed(`timed out waiting for the shards of config ${num} to move (${why}); the change is made: shardctl status --all shows where they stand`);
      }
      await delay(waitPollMs);
    }
  } finally {
    progress.done();
  }
}

/**
 * `replica|controller add|promote|remove|replace --wait`: polls the controller until the
 * group's leader reported `change` carried out (common/replica-change.ts changeOutcome),
 * showing its step in the group's live configuration and why it is blocked. Exit 3 at `end`
 * (the intent stays stored) or when someone cancelled it.
 */
async function waitReplicaChange(inv: Invocation, client: ControllerClient, security: Security, gid: GroupId, change: ReplicaChange, end: number): Promise<void> {
  const progress = new ProgressLine(process.stderr, realClock);
  let why = "no answer yet";
  try {
    for (;;) {
      try {
        const { config, replicas } = await client.queryCluster(-1);
        const intent = replicas.intents.get(gid);
        const outcome = changeOutcome(change, intent, membersOf(config, replicas, gid));
        if (outcome === "done") return;
        if (outcome === "dropped") {
          throw new OperationFailed(`the change was cancelled (${describeReplicaChange(change)}): ${describeGroup(gid)}'s stored intent is gone and its members are not what it asked`);
        }
        const step = await liveReplicaStep(inv, security, config, replicas, gid);
        const group = describeGroup(gid);
        progress.update(formatReplicaProgress({ group, change, ...(step ? { step } : {}), blocked: intent?.blocked ?? "" }));
        why = `${step ? `step ${step}` : `no leader of ${group} answers`}${intent?.blocked ? `, blocked: ${intent.blocked}` : ""}`;
      } catch (e) {
        if (!(e instanceof ShardKVError)) throw e;
        why = reasonOf(e);
      }
      if (realClock.nowMs() + waitPollMs >= end) {
        const [list, cancel] = gid === controllerGid ? ["controller list", "controller cancel"] : [`replica list ${gid}`, `replica cancel ${gid}`];
        throw new OperationFailed(`timed out waiting for ${describeGroup(gid)} to ${describeReplicaChange(change)} (${why}); the change stays stored: shardctl ${list} shows it, shardctl ${cancel} drops it`);
      }
      await delay(waitPollMs);
    }
  } finally {
    progress.done();
  }
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
async function replica(inv: Invocation, client: ControllerClient, security: Security, end: number): Promise<void> {
  const cmd = inv.command;
  switch (cmd.kind) {
    case "replica": {
      const num = await client.replicaChange(cmd.gid, cmd.change, { force: cmd.force });
      if (inv.wait) {
        if (!inv.json) out(formatIntentStored(cmd.gid, cmd.change, cmd.force));
        await waitReplicaChange(inv, client, security, cmd.gid, cmd.change, end);
        out(inv.json
          ? JSON.stringify({ gid: cmd.gid, config: num, stored: true, done: true })
          : `${describeGroup(cmd.gid)}: done: ${describeReplicaChange(cmd.change)}`);
        return;
      }
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
          clusterId: s.clusterId, ...replicaStatusDetail(s),
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
 * (controllers that are still starting are waited for), and returns the last round. No
 * replica answering at all is a failure (exit 3, one line on stderr).
 */
async function controllerStatuses(inv: Invocation, client: ControllerClient): Promise<ReplicaStatus[]> {
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
      if (rs.some((r) => r.status)) return rs;
      throw new OperationFailed(failures.reason() ?? "no controller replica answered");
    }
    await delay(pauseMs);
  }
}

/**
 * The servers of `gids` (or every group) in the latest config, each asked for its Status,
 * round after round until every group has a leader or the deadline passes. Each server's lag
 * behind the leader comes from the leader's member list when the leader answered.
 */
async function groupStatuses(inv: Invocation, client: ControllerClient, security: Security, of: { gid: GroupId } | "all"): Promise<GroupStatus[]> {
  const end = realClock.nowMs() + inv.timeoutMs;
  const { shardStateName } = await import("../shard-server/grpc-service");
  for (let round = 0; ; round++) {
    const cfg = await client.query(-1);
    if (of !== "all" && !cfg.groups.has(of.gid)) throw new OperationFailed(`invalid gid: group ${of.gid} is not in config ${cfg.num}`);
    const gids = of === "all" ? sortedGids(cfg.groups) : [of.gid];
    const perServerMs = Math.max(1, Math.min(end - realClock.nowMs(), 2000));
    const groups = await Promise.all(gids.map(async (gid): Promise<GroupStatus> => {
      const rs = await serverStatuses(security, cfg.groups.get(gid)!, perServerMs);
      const members = leaderReply(rs)?.members ?? [];
      const servers = rs.map(({ address, reply: r, error }): ServerStatus => {
        if (!r) return { address, error: error ?? "no answer" };
        const m = members.find((x) => Number(x.id) === Number(r.id) && x.hasProgress);
        return {
          address,
          status: {
            id: Number(r.id), role: r.role, term: Number(r.term), leader: Number(r.leader), leaderAddress: r.leaderAddress,
            configNum: Number(r.configNum), commitIndex: Number(r.commitIndex), appliedIndex: Number(r.appliedIndex), ...replicaStatusDetail(r),
            shards: r.shards.map((x) => ({
              shard: Number(x.shard), state: shardStateName(x.state), configNum: Number(x.configNum), keys: Number(x.keys), bytes: Number(x.bytes),
              dedupClients: Number(x.dedupClients),
            })),
            ...(m ? { matchIndex: Number(m.matchIndex), behindLeader: Number(m.lag) } : {}),
          },
        };
      });
      return { gid, configNum: cfg.num, servers };
    }));
    const pauseMs = Math.min(500, 50 * 2 ** Math.min(round, 4));
    if (groups.every(groupLed) || realClock.nowMs() + pauseMs >= end) return groups;
    await delay(pauseMs);
  }
}

/**
 * Each controller's match index and lag behind the leader's log on the leader's word (its
 * RaftMembers reply), when the leader answers within a second; the rows as they were otherwise.
 */
async function withBehindLeader(rs: ReplicaStatus[], security: Security): Promise<ReplicaStatus[]> {
  const leader = rs.find((r) => r.status?.role === "leader");
  if (!leader) return rs;
  const { raftMembers } = await import("../raft/transport/members-service");
  const members = await raftMembers(leader.address, 1000, security).then((r) => r.members ?? [], () => []);
  return rs.map((r) => {
    const m = members.find((x) => Number(x.id) === r.status?.id && x.hasProgress);
    return m && r.status ? { ...r, status: { ...r.status, matchIndex: Number(m.matchIndex), behindLeader: Number(m.lag) } } : r;
  });
}

/**
 * `status`: the controllers (default), group GID's servers (--group) or both and every group
 * (--all), printed; returns the exit status: 0 when each has a leader, 1 when one has none.
 */
async function status(inv: Invocation, client: ControllerClient, security: Security): Promise<number> {
  const cmd = inv.command;
  if (cmd.kind !== "status") throw new Error(`not status: ${cmd.kind}`);
  if (cmd.of === undefined) {
    const rs = await withBehindLeader(await controllerStatuses(inv, client), security);
    out(inv.json ? JSON.stringify(statusToJson(rs)) : formatStatus(rs));
    return statusLeaders(rs).length > 0 ? exitOk : exitNegative;
  }
  if (cmd.of !== "all") {
    const [g] = await groupStatuses(inv, client, security, cmd.of);
    if (!g!.servers.some((r) => r.status)) throw new OperationFailed(`no server of ${describeGroup(g!.gid)} answered: ${g!.servers.map((r) => `${r.address}: ${r.error}`).join("; ")}`);
    out(inv.json ? JSON.stringify(groupStatusToJson(g!)) : formatGroupStatus(g!));
    return groupLed(g!) ? exitOk : exitNegative;
  }
  const rs = await withBehindLeader(await controllerStatuses(inv, client), security);
  const groups = await groupStatuses(inv, client, security, "all");
  out(inv.json
    ? JSON.stringify({ controllers: statusToJson(rs), groups: groups.map(groupStatusToJson) })
    : [formatStatus(rs), ...groups.map(formatGroupStatus)].join("\n\n"));
  return statusLeaders(rs).length > 0 && groups.every(groupLed) ? exitOk : exitNegative;
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
  // --wait: the change and the wait share the deadline.
  const end = realClock.nowMs() + inv.timeoutMs;
  const client = new ControllerClient({
    controllers: inv.controllers,
    security,
    deadlineMs: inv.timeoutMs,
    attemptMs: Math.min(inv.timeoutMs, 2000),
  });
  try {
    const cmd = inv.command;
    switch (cmd.kind) {
      case "join": case "leave": case "move": await change(inv, client, security, end); break;
      case "query": printConfig(inv, await client.query(cmd.num)); break;
      case "status": return await status(inv, client, security);
      case "watch": await watch(inv, client, cmd.fromNum); break;
      case "replica": case "replica-cancel": case "replica-list": await replica(inv, client, security, end); break;
    }
    return exitOk;
  } finally {
    for (const stub of serverStubs.values()) stub.close();
    serverStubs.clear();
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
// cache), which has none. It exits once main's work is done and written (runCommandMain).
runCommandMain(() => main(process.argv.slice(2)));
