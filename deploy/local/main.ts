/**
 * `shardkv-local`: starts a whole cluster on this machine and drives it (deploy/local/
 * args.ts has the command line, deploy/local/cluster.ts the launcher). Run as
 * `bin/shardkv-local ...`. Errors print one line on stderr; exit status (common/cli-args.ts,
 * the scheme of every shardkv command) 0 success, 1 `status` found the cluster unhealthy (a
 * node not up, the controllers or a group without a leader), 2 bad command line, 3 the
 * operation failed.
 */
import { resolve } from "node:path";
import { exitNegative, exitWhenWritten } from "../../common/cli-args";
import { realClock } from "../../common/real-env";
import { parseLocalArgs, usageText, type LocalCommand } from "./args";
import { LocalCluster, sinceMs } from "./cluster";
import { exportLines, formatProgress, formatShardMap, formatStatus, healthProblems, howToUse } from "./format";
import { controllerGid } from "../../controller/config";
import type { GroupId } from "../../common/ids";
import { parseNodeName } from "./layout";
import { formatReplicaProgress, pendingChangeHint } from "./replica-ops";
import { holdUntilStopped, stopOnSignals } from "./foreground";
import { commandMain } from "./command-main";
import { describeGrace, logTail } from "./process";
import { localAdminTls, localClusterSource, startDashboard } from "../dashboard/dashboard";
import { securityOf } from "../../security/credentials";
import { ProgressLine } from "../../common/progress-line";

const out = (s: string): void => void process.stdout.write(`${s}\n`);

async function run(cmd: Exclude<LocalCommand, { kind: "help" }>): Promise<void> {
  const t0 = realClock.nowMs();
  switch (cmd.kind) {
    case "up": {
      const dir = resolve(cmd.dir);
      if (cmd.foreground) stopOnSignals(dir, out);
      out(`starting ${cmd.controllers} controllers and ${cmd.groups} groups of ${cmd.replicas} (${cmd.shards} shards) in ${dir}`);
      const c = await LocalCluster.up({
        dir, controllers: cmd.controllers, groups: cmd.groups, replicas: cmd.replicas, shards: cmd.shards,
        basePort: cmd.basePort, nats: cmd.nats, tickMs: cmd.tickMs, detach: !cmd.foreground, log: (l) => out(`  ${l}`), tls: cmd.tls,
      });
      const s = await c.status();
      out(`cluster up in ${sinceMs(t0)} ms; ${dir}/cluster.json`);
      if (s.shardMap) out(formatShardMap(s.shardMap));
      out(`drive it:\n${howToUse(c, cmd.dir)}`);
      c.close();
      if (!cmd.foreground) {
        out(`stop it with: bin/shardkv-local down --dir ${cmd.dir}`);
        return;
      }
      out("running in the foreground; Ctrl-C stops every node");
      await holdUntilStopped(dir, out);
      return;
    }
    case "status": {
      const c = LocalCluster.load(cmd.dir);
      const s = await c.status();
      c.close();
      const problems = healthProblems(s);
      out(cmd.json ? JSON.stringify({ ...s, healthy: problems.length === 0, problems }, null, 2) : formatStatus(s));
      if (problems.length > 0) {
        process.stderr.write(`shardkv-local status: unhealthy: ${problems.join("; ")}\n`);
        process.exitCode = exitNegative;
      }
      return;
    }
    case "env": {
      const c = LocalCluster.load(cmd.dir);
      out(exportLines(c.cliEnv()));
      c.close();
      return;
    }
    case "down": {
      const r = await LocalCluster.load(cmd.dir).down(cmd.graceMs);
      out(`stopped ${r.stopped.length} nodes${r.stopped.length ? ` (${r.stopped.join(" ")})` : ""}`);
      if (r.killed.length > 0) out(`SIGKILLed (not stopped within ${describeGrace(cmd.graceMs)} of SIGTERM): ${r.killed.join(" ")}`);
      return;
    }
    case "logs": {
      const c = LocalCluster.load(cmd.dir);
      try {
        out(logTail(c.node(cmd.node).log, cmd.lines, cmd.json ? "raw" : "readable"));
      } finally {
        c.close();
      }
      return;
    }
    case "dashboard": {
      const source = localClusterSource(cmd.dir);
      const security = securityOf(localAdminTls(cmd.dir));
      const d = await startDashboard({ source, security, listen: cmd.listen });
      out(`dashboard: ${d.url}\n(cluster ${resolve(cmd.dir)}; Ctrl-C stops it)`);
      await new Promise<void>((done) => {
        for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => done());
      });
      await d.stop();
      security.close();
      return;
    }
    case "kill": case "pause": case "resume": case "restart": {
      const c = LocalCluster.load(cmd.dir, { log: (l) => out(`  ${l}`) });
      try {
        if (cmd.kind === "restart") {
          const pid = await c.restart(cmd.node);
          out(`restarted ${cmd.node} (pid ${pid})`);
        } else {
          await c[cmd.kind](cmd.node);
          out(`${{ kill: "killed", pause: "paused", resume: "resumed" }[cmd.kind]} ${cmd.node}`);
        }
      } finally {
        c.close();
      }
      return;
    }
    case "add-group": {
      const progress = new ProgressLine(process.stdout, realClock, { indent: "  " });
      const c = LocalCluster.load(cmd.dir, { log: (l) => progress.say(`  ${l}`) });
      let gid: number;
      try {
        gid = await c.addGroup({ replicas: cmd.replicas, basePort: cmd.basePort, onProgress: (p) => progress.update(formatProgress(p)) });
      } finally {
        progress.done();
        c.close();
      }
      out(`group ${gid} added in ${sinceMs(t0)} ms: ${c.groupAddrs(gid).join(",")}`);
      return;
    }
    case "remove-group": {
      const progress = new ProgressLine(process.stdout, realClock, { indent: "  " });
      const c = LocalCluster.load(cmd.dir, { log: (l) => progress.say(`  ${l}`) });
      let r: Awaited<ReturnType<LocalCluster["removeGroup"]>>;
      try {
        r = await c.removeGroup(cmd.gid, { onProgress: (p) => progress.update(formatProgress(p)) });
      } finally {
        progress.done();
        c.close();
      }
      out(`  drained (last Status before the stop): ${r.drained.map((d) => `${d.name} config ${d.configNum}, ${d.ownedShards} shards, ${d.keys} keys`).join("; ")}`);
      out(`group ${cmd.gid} removed in ${sinceMs(t0)} ms`);
      return;
    }
    case "replace": case "add-replica": case "remove-replica":
      await replicaCommand(cmd, t0);
      return;
  }
}

/** Exit status of a replica change interrupted by Ctrl-C (128 + SIGINT). */
const exitInterrupted = 130;

/**
 * `replace`, `add-replica`, `remove-replica`: progress lines while the stored change is
 * waited for; Ctrl-C leaves it stored and says how to see and cancel it.
 */
async function replicaCommand(cmd: Extract<LocalCommand, { kind: "replace" | "add-replica" | "remove-replica" }>, t0: number): Promise<void> {
  const c = LocalCluster.load(cmd.dir, { log: (l) => out(`  ${l}`) });
  const p = cmd.kind === "add-replica" ? undefined : parseNodeName(cmd.node);
  const gid: GroupId = cmd.kind === "add-replica"
    ? (cmd.of === "controllers" ? controllerGid : (cmd.of as GroupId))
    : (p?.kind === "server" ? (p.gid as GroupId) : controllerGid);
  const controllers = c.controllerAddrs();
  const onInterrupt = (): void => {
    process.stderr.write(`shardkv-local ${cmd.kind}: interrupted; if the change was stored (a line "stored in the controller" above), ${pendingChangeHint(gid, controllers)}\n`);
    exitWhenWritten(exitInterrupted);
  };
  process.once("SIGINT", onInterrupt);
  const opts = {
    timeoutMs: cmd.timeoutMs, force: cmd.force, basePort: cmd.kind === "remove-replica" ? undefined : cmd.basePort,
    onProgress: (x: Parameters<typeof formatReplicaProgress>[0]) => out(`  ${formatReplicaProgress(x)}`),
  };
  try {
    if (cmd.kind === "replace") {
      const r = await c.replaceReplica(cmd.node, opts);
      out(`replaced ${r.removed} by ${r.added} in ${sinceMs(t0)} ms; ${c.dir}/cluster.json updated`);
    } else if (cmd.kind === "add-replica") {
      const r = await c.addReplica(cmd.of, { ...opts, member: cmd.learner ? "learner" : "voter" });
      out(`added ${r.name} (${r.addr}) as a ${cmd.learner ? "learner" : "voter"} in ${sinceMs(t0)} ms; ${c.dir}/cluster.json updated`);
    } else {
      await c.removeReplica(cmd.node, { ...opts, graceMs: cmd.graceMs });
      out(`removed ${cmd.node} in ${sinceMs(t0)} ms; ${c.dir}/cluster.json updated`);
    }
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    c.close();
  }
}

void commandMain({ name: "shardkv-local", parse: parseLocalArgs, usageText, run });
