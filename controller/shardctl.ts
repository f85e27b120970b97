/**
 * `shardctl`: the admin CLI of the configuration controller (DESIGN.md §7). Run as
 * `bin/shardctl ...` (or `node --import tsx controller/shardctl.ts ...`); `shardctl --help`
 * prints the usage. Parsing and formatting live in controller/shardctl-lib.ts; this file does
 * the I/O: talks to the controllers through ControllerClient (leader hints, retries with the
 * same (clientId, seq)), prints, and sets the exit status.
 *
 * Exit status: 0 success; 1 the operation failed (the controller refused it, it timed out, no
 * replica answered); 2 usage error. A failure prints exactly one line on stderr:
 * `shardctl: <reason>`.
 */
import { InvalidArgumentError, ShardKVError } from "../common/errors";
import type { ConfigNum } from "../common/ids";
import { ControllerClient } from "./client";
import type { Config } from "./config";
import {
  type Invocation, type ReplicaStatus, configToJson, forceWarning, formatConfig, formatStatus, parseArgs, statusToJson, tidyErrorMessage,
  usageText,
} from "./shardctl-lib";

/** An operation failed (exit 1); the message is the one line printed. */
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

async function status(inv: Invocation, client: ControllerClient): Promise<void> {
  const perReplicaMs = Math.min(inv.timeoutMs, 2000);
  const rs: ReplicaStatus[] = await Promise.all(inv.controllers.map(async (address): Promise<ReplicaStatus> => {
    try {
      const s = await client.status(address, perReplicaMs);
      return {
        address,
        status: {
          id: s.id, role: s.role, term: s.term, leader: s.leader, leaderAddress: s.leaderAddress,
          commitIndex: s.commitIndex, appliedIndex: s.appliedIndex, latestConfigNum: s.latestConfigNum, shardCount: s.shardCount,
        },
      };
    } catch (e) {
      return { address, error: tidyErrorMessage(e instanceof Error ? e.message : String(e)) };
    }
  }));
  out(inv.json ? JSON.stringify(statusToJson(rs)) : formatStatus(rs));
  if (!rs.some((r) => r.status)) throw new OperationFailed(`no controller replica answered (${inv.controllers.join(", ")})`);
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
  const aborted = new Promise<undefined>((r) => abort.signal.addEventListener("abort", () => r(undefined), { once: true }));
  try {
    const from = fromNum ?? (await Promise.race([client.query(), aborted]))?.num;
    if (from === undefined) return; // interrupted while looking up the latest config
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

async function run(inv: Invocation): Promise<void> {
  const client = new ControllerClient({
    controllers: inv.controllers,
    deadlineMs: inv.timeoutMs,
    attemptMs: Math.min(inv.timeoutMs, 2000),
  });
  try {
    const cmd = inv.command;
    switch (cmd.kind) {
      case "join": case "leave": case "move": return await change(inv, client);
      case "query": return printConfig(inv, await client.query(cmd.num));
      case "status": return await status(inv, client);
      case "watch": return await watch(inv, client, cmd.fromNum);
    }
  } finally {
    client.close();
  }
}

/** The one line printed for a failure. */
function reasonOf(e: unknown): string {
  if (e instanceof InvalidArgumentError) return e.message; // "invalid gid: group 3 is already in config 4"
  if (e instanceof ShardKVError || e instanceof OperationFailed) return e.message;
  return `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
}

const fail = (reason: string, code: number): void => {
  process.stderr.write(`shardctl: ${tidyErrorMessage(reason)}\n`);
  process.exitCode = code;
};

async function main(argv: readonly string[]): Promise<void> {
  const parsed = parseArgs(argv, process.env);
  switch (parsed.kind) {
    case "help": process.stdout.write(usageText); return;
    case "usage-error": return fail(parsed.message, 2);
    case "run":
      try {
        await run(parsed.invocation);
      } catch (e) {
        fail(reasonOf(e), 1);
      }
  }
}

await main(process.argv.slice(2));
