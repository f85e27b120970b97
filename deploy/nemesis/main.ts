/**
 * `npm run nemesis -- ...`: a Jepsen-style run on the test hosts (run.ts; args.ts has the
 * command line). Exit status 0 when every check passed, 1 when one failed (the lines before
 * the last name the check, the key, the minimal failing history and the replay command), 2 bad
 * command line, 3 the run could not be made. The last line printed is the path of report.md.
 *
 * The `ctl-*` commands are the nemesis's own calls that speak gRPC to the cluster, run inside
 * the control host (kinds.ts `member`, run.ts recovery).
 */
import { resolve } from "node:path";
import { realRng, wallClockMs } from "../../common/real-env";
import { LocalCluster } from "../local/cluster";
import { commandMain } from "../local/command-main";
import { type NemesisCommand, parseNemesisArgs, usageText } from "./args";
import { runNemesis } from "./run";
import { planSchedule, readSchedule } from "./schedule";

const out = (s: string): void => void process.stdout.write(`${s}\n`);

/** Replicas per group and shards of every nemesis cluster. */
const replicas = 3;
const shards = 12;

async function run(cmd: Exclude<NemesisCommand, { kind: "help" }>): Promise<void> {
  switch (cmd.kind) {
    case "ctl-recover":
      return recover(cmd.dir);
    case "ctl-replace": {
      const c = LocalCluster.load(cmd.dir, { log: out });
      try {
        const r = await c.replaceReplica(cmd.node, { onHostOf: cmd.node, timeoutMs: 240_000 });
        out(`replaced ${r.removed} by ${r.added}`);
      } finally {
        c.close();
      }
      return;
    }
    case "run":
      break;
  }
  const schedule = cmd.schedule !== undefined ? readSchedule(cmd.schedule) : planSchedule({
    seed: cmd.seed ?? realRng.int(2 ** 32), timeMs: cmd.timeMs, kinds: cmd.faults,
    topology: { controllers: 3, groups: cmd.groups, replicas, clients: cmd.clients, shards },
  });
  const stamp = new Date(wallClockMs()).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const dir = resolve(cmd.out ?? `nemesis/${stamp}-${schedule.seed}`);
  const replay = `npm run nemesis -- --schedule ${dir}/schedule.json`;
  out(`nemesis: seed ${schedule.seed}, ${schedule.timeMs / 1000} s, ${schedule.faults.length} faults (${schedule.kinds.join(", ")}); run directory ${dir}`);
  const r = await runNemesis({ schedule, out: dir, keep: cmd.keep, replay, log: out });
  for (const c of r.checks) {
    out(`check ${c.name}: ${c.status.toUpperCase()}: ${c.summary}`);
    for (const f of c.failures.slice(0, 3)) {
      out(`  key ${f.key}: ${f.reason}`);
      for (const line of f.history.slice(0, 40)) out(`    ${line}`);
    }
  }
  if (!r.passed) {
    out(`replay: ${replay}`);
    process.exitCode = 1;
  }
  out(r.reportPath);
}

/** Waits for a leader of the controllers and of every group, then for every shard Serving. */
async function recover(dir: string): Promise<void> {
  const c = LocalCluster.load(dir);
  try {
    await c.waitLeader("controllers", 120_000);
    for (const gid of c.gids()) await c.waitLeader(gid, 120_000);
    await c.waitAllServing(180_000);
    out("every group has a leader; every shard is Serving");
  } finally {
    c.close();
  }
}

void commandMain({ name: "nemesis", parse: parseNemesisArgs, usageText, run });
