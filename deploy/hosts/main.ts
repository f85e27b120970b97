/**
 * `npm run hosts -- COMMAND`: the test hosts harness (deploy/hosts/harness.ts) and its faults
 * (deploy/hosts/faults.ts) as commands; deploy/hosts/args.ts has the command line. The
 * `ctl-*` commands are the harness's own calls, run inside the control host. Errors print
 * one line on stderr; exit status 0 success, 2 bad command line, 3 the operation failed.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { exitFailure } from "../../common/cli-args";
import { realClock } from "../../common/real-env";
import { LocalCluster, type NodeStatus, sinceMs } from "../local/cluster";
import { commandMain } from "../local/command-main";
import { type HostsCommand, parseHostsArgs, usageText } from "./args";
import { applyNetem, clearNetem, droppedSources, netemOf } from "./faults";
import { clockOffsetMs, skewClock } from "./clock";
import {
  ctlRun, execSpec, heal, hostPlacement, hostsDown, hostsUp, leaderOf, loadHosts, loseUnsyncedWrites, partition, removeRun, restartNode,
} from "./harness";
import { lazyMountRuns } from "./disk";
import { type HostsFile, prefixOf, readHostsFile } from "./hosts-file";
import { listRuns, pidsIn } from "./net";

const out = (s: string): void => void process.stdout.write(`${s}\n`);

/** `up` .. `heal`: the commands people run (from the root namespace). */
async function run(cmd: Exclude<HostsCommand, { kind: "help" }>): Promise<void> {
  const t0 = realClock.nowMs();
  switch (cmd.kind) {
    case "up": {
      const h = await hostsUp({ ...cmd, log: (l) => out(`  ${l}`) });
      out(`run ${h.run} up in ${sinceMs(t0)} ms: ${h.hosts.map((x) => `${x.name} ${x.ip}`).join(", ")}`);
      out(`hosts file: ${resolve(cmd.dir)}/hosts.json; try: npm run hosts -- exec cl1 --dir ${cmd.dir} -- bin/shardkv put k v`);
      out(`stop it with: npm run hosts -- down --dir ${cmd.dir}`);
      return;
    }
    case "down": {
      if (cmd.run !== undefined || cmd.allRuns) {
        const runs = cmd.allRuns ? [...new Set([...listRuns(), ...lazyMountRuns()])].sort() : [cmd.run!];
        for (const r of runs) {
          const x = await removeRun(prefixOf(r));
          out(`run ${r}: killed ${x.killed.length} processes, deleted ${x.namespaces.length} namespaces, unmounted ${x.mounts.length} lazyfs`);
        }
        if (runs.length === 0) out("no runs");
        return;
      }
      const r = await hostsDown(cmd.dir, cmd.graceMs);
      out(`run ${r.run}: stopped ${r.stopped.length} daemons${r.stopped.length ? ` (${r.stopped.join(" ")})` : ""}, killed ${r.killed.length} other processes, deleted ${r.namespaces.length} namespaces${r.mounts.length ? `, unmounted ${r.mounts.length} lazyfs` : ""}`);
      return;
    }
    case "runs": {
      const mine = readHostsFile(resolve(cmd.dir))?.run;
      for (const r of listRuns()) out(`${r}${r === mine ? `  (${resolve(cmd.dir)})` : ""}`);
      return;
    }
    case "status":
      await status(cmd.dir, cmd.json);
      return;
    case "exec": {
      const { file, args, env, cwd } = execSpec(cmd.dir, cmd.host, cmd.cmd);
      const r = spawnSync(file, args, { env, cwd, stdio: "inherit" });
      if (r.error) throw new Error(`cannot run ${cmd.cmd[0]} on ${cmd.host}: ${r.error.message}`);
      process.exitCode = r.status ?? exitFailure;
      return;
    }
    case "leader":
      out(await leaderOf(cmd.dir, cmd.group, cmd.timeoutMs));
      return;
    case "partition": {
      const cuts = await partition(cmd.dir, cmd.spec);
      out(`partition ${cmd.spec.kind}: ${cuts.length} cuts`);
      for (const c of cuts) out(`  ${c}`);
      return;
    }
    case "netem": {
      const h = loadHosts(cmd.dir);
      if (cmd.spec) await applyNetem(h, cmd.host, cmd.spec, cmd.to);
      else await clearNetem(h, cmd.host);
      out(`${cmd.host}: ${netemOf(h, cmd.host) || "no netem"}${cmd.to ? ` (to ${cmd.to.join(" ")})` : ""}`);
      return;
    }
    case "kill": case "stop": case "cont": {
      loadHosts(cmd.dir);
      const c = LocalCluster.load(cmd.dir);
      await { kill: () => c.kill(cmd.node), stop: () => c.pause(cmd.node), cont: () => c.resume(cmd.node) }[cmd.kind]();
      out(`${{ kill: "killed (SIGKILL)", stop: "stopped (SIGSTOP)", cont: "continued (SIGCONT)" }[cmd.kind]} ${cmd.node}`);
      return;
    }
    case "skew":
      skewClock(cmd.dir, loadHosts(cmd.dir), cmd.node, cmd.offsetMs);
      out(`${cmd.node}: wall clock at real time ${clockOffsetMs(cmd.dir, cmd.node) >= 0 ? "+" : "-"}${Math.abs(clockOffsetMs(cmd.dir, cmd.node)) / 1000}s (within a few seconds; at once for a restart)`);
      return;
    case "lose-unsynced": {
      const r = await loseUnsyncedWrites(cmd.dir, cmd.node);
      out(`${cmd.node}: ${r.killed ? "killed (SIGKILL), " : ""}dropped ${r.bytes} unsynced bytes (${r.pages} pages) of ${r.files.length} files, restarted`);
      for (const f of r.files) out(`  ${f.path}: ${f.bytes} bytes, ${f.size} -> ${f.durableSize} bytes long`);
      return;
    }
    case "restart":
      await restartNode(cmd.dir, cmd.node);
      out(`restarted ${cmd.node}`);
      return;
    case "heal": {
      const r = await heal(cmd.dir);
      out(`healed: no partition, no netem; continued: ${r.resumed.join(" ") || "none"}; restarted: ${r.restarted.join(" ") || "none"}`);
      return;
    }
    default:
      await runCtl(cmd);
  }
}

/** The `ctl-*` commands: LocalCluster calls that need the hosts' network (run inside ctl). */
async function runCtl(cmd: Extract<HostsCommand, { kind: `ctl-${string}` }>): Promise<void> {
  const h = loadHosts(cmd.dir);
  switch (cmd.kind) {
    case "ctl-up": {
      const c = await LocalCluster.up({
        dir: cmd.dir, controllers: cmd.controllers, groups: cmd.groups, replicas: cmd.replicas, shards: cmd.shards, tickMs: cmd.tickMs,
        timeoutMs: cmd.timeoutMs, tls: true, detach: true, log: out, ...hostPlacement(cmd.dir, h),
      });
      c.close();
      return;
    }
    case "ctl-leader": {
      const c = LocalCluster.load(cmd.dir);
      try {
        const id = await c.waitLeader(cmd.group, cmd.timeoutMs);
        out(cmd.group === "controllers" ? `c${id}` : `g${cmd.group}n${id}`);
      } finally {
        c.close();
      }
      return;
    }
    case "ctl-restart": {
      const c = LocalCluster.load(cmd.dir, { log: out });
      try {
        await c.restart(cmd.node);
      } finally {
        c.close();
      }
      return;
    }
    case "ctl-status": {
      const c = LocalCluster.load(cmd.dir);
      try {
        out(JSON.stringify((await c.status()).nodes));
      } finally {
        c.close();
      }
    }
  }
}

/** One row per host: namespace, address, processes inside, partition (who it drops), netem, and its daemon's state. */
async function status(dir: string, json: boolean): Promise<void> {
  const h: HostsFile = loadHosts(dir);
  const r = await ctlRun(dir, ["ctl-status"], { timeoutMs: 30_000 });
  let nodes: NodeStatus[] = [];
  let clusterError = "";
  try {
    nodes = r.code === 0 ? (JSON.parse(r.stdout.trim().split("\n").at(-1)!) as NodeStatus[]) : [];
    if (r.code !== 0) clusterError = r.stderr.trim().split("\n").at(-1) ?? `exit ${r.code}`;
  } catch {
    clusterError = "ctl-status printed no status";
  }
  const byIp = new Map(h.hosts.map((x) => [x.ip, x.name]));
  const rows = h.hosts.map((x) => {
    const n = nodes.find((y) => y.name === x.name);
    return {
      host: x.name, role: x.role, ns: x.ns, ip: x.ip, processes: pidsIn(x.ns).length,
      drops: droppedSources(h, x.name).map((ip) => byIp.get(ip) ?? ip), netem: netemOf(h, x.name),
      ...(h.faketime && n ? { clockOffsetMs: clockOffsetMs(dir, x.name) } : {}),
      ...(n ? { pid: n.pid, state: n.state, raft: n.role ?? "", term: n.term, leader: n.leader } : {}),
    };
  });
  if (json) {
    out(JSON.stringify({ run: h.run, hub: h.hub, subnet: h.subnet, hosts: rows, ...(clusterError ? { clusterError } : {}) }, null, 2));
    return;
  }
  out(`run ${h.run}: hub ${h.hub} (bridge ${h.bridge}), ${h.subnet}, daemons on port ${h.port}`);
  const table = [["HOST", "ADDRESS", "NAMESPACE", "PROCS", "STATE", "RAFT", "TERM", "CLOCK", "DROPS FROM", "NETEM"]];
  for (const x of rows) {
    const clock = x.clockOffsetMs === undefined ? "" : `${x.clockOffsetMs >= 0 ? "+" : "-"}${Math.abs(x.clockOffsetMs) / 1000}s`;
    table.push([x.host, x.ip, x.ns, String(x.processes), x.state ?? "", x.raft ?? "", x.term === undefined ? "" : String(x.term), clock, x.drops.join(",") || "-", x.netem || "-"]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) out(row.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
  if (clusterError) process.stderr.write(`hosts status: the cluster did not answer from ctl: ${clusterError}\n`);
}

void commandMain({ name: "hosts", parse: parseHostsArgs, usageText, run });
