/**
 * `npm start`: the default local cluster (3 controllers, 3 groups of 3 replicas, 64 shards,
 * no NATS, mutual TLS with certificates in DIR/certs/) in the foreground in ./.shardkv (SHARDKV_DEMO_DIR overrides), then a short visible
 * demo: writes keys with the client library, prints the shard map, adds a fourth group and
 * shows the shards moving, reads every key back unchanged, prints how to drive the cluster
 * with shardctl and shardkv, and keeps running until Ctrl-C, which stops every daemon. The live
 * web dashboard (deploy/dashboard/) runs in this process from the start, on 127.0.0.1:7780
 * (any free port when that one is taken); its URL is printed once the cluster is up.
 * A stopped cluster left in the directory is replaced; a running one is refused.
 */
import { relative, resolve } from "node:path";
import { exitWhenWritten } from "../../common/cli-args";
import { realClock } from "../../common/real-env";
import { ShardKV } from "../../client/shardkv";
import { shardOf } from "../../controller/shard-of";
import { LocalCluster, shardMapOf, sinceMs } from "./cluster";
import { formatProgress, formatShardMap, howToUse } from "./format";
import { holdUntilStopped, type SignalStop, stopOnSignals } from "./foreground";
import { localAdminTls, localClusterSource, startDashboard } from "../dashboard/dashboard";
import { listenDefault } from "../dashboard/listen";
import { securityOf } from "../../security/credentials";

const dir = resolve(process.env.SHARDKV_DEMO_DIR ?? ".shardkv");
const shown = relative(process.cwd(), dir) || ".";
const say = (s: string): void => void process.stdout.write(`${s}\n`);
const keyCount = 24;
let signalStop: SignalStop | undefined;

async function main(): Promise<void> {
  const live = LocalCluster.running(dir);
  if (live.length > 0) {
    process.stderr.write(`a cluster is already running in ${shown}/ (${live.join(", ")}); drive it with bin/shardkv-local, or stop it with: bin/shardkv-local down --dir ${shown}\n`);
    exitWhenWritten(1);
    return;
  }
  signalStop = stopOnSignals(dir, say);
  say(`shardkv local cluster: 3 controllers, 3 groups x 3 replicas, 64 shards, in ${shown}/ (logs in ${shown}/logs/)`);
  let t0 = realClock.nowMs();
  const c = await LocalCluster.up({ dir, controllers: 3, groups: 3, replicas: 3, shards: 64, tls: true, log: (l) => say(`  ${l}`) });
  say(`cluster up: every shard Serving after ${sinceMs(t0)} ms (layout: ${shown}/cluster.json)`);
  say(`dashboard: ${await dashboardUrl()}  (open it to watch the shards move below)\n`);

  const kv = await ShardKV.connect({ ...c.clientOptions(), deadlineMs: 30_000 });
  try {
    let cfg = await c.controller().query();
    say(`shard map of config ${cfg.num} (group -> shards):`);
    say(formatShardMap(Object.fromEntries(shardMapOf(cfg))));

    const written = new Map<string, string>();
    t0 = realClock.nowMs();
    await Promise.all(Array.from({ length: keyCount }, async (_, i) => {
      const key = `demo:user:${String(i).padStart(2, "0")}`;
      const value = `value-${i}-${Math.round(realClock.nowMs()) % 10000}`;
      await kv.put(key, value);
      written.set(key, value);
    }));
    const owner = (k: string): number => cfg.shards[shardOf(new TextEncoder().encode(k), cfg.shards.length)]!;
    say(`\nwrote ${keyCount} keys in ${sinceMs(t0)} ms with the client library, e.g.:`);
    for (const k of [...written.keys()].sort().slice(0, 4)) {
      say(`  ${k} = ${written.get(k)}  (shard ${shardOf(new TextEncoder().encode(k), cfg.shards.length)}, group ${owner(k)})`);
    }
    const before = new Map([...written.keys()].map((k) => [k, owner(k)]));

    say(`\nscale out: starting group 4 and joining it; shards move while the cluster serves`);
    t0 = realClock.nowMs();
    let last = "";
    const gid = await c.addGroup({
      replicas: 3,
      onProgress: (p) => {
        const line = formatProgress(p);
        if (line !== last) say(`  [${String(sinceMs(t0)).padStart(5)} ms] ${(last = line)}`);
      },
    });
    cfg = await c.controller().query();
    const moved = [...written.keys()].filter((k) => owner(k) !== before.get(k)).length;
    say(`group ${gid} serving after ${sinceMs(t0)} ms; shard map of config ${cfg.num}:`);
    say(formatShardMap(Object.fromEntries(shardMapOf(cfg))));
    say(`${moved} of the ${keyCount} demo keys now live in another group`);

    t0 = realClock.nowMs();
    const bad: string[] = [];
    await Promise.all([...written].map(async ([k, v]) => {
      const got = await kv.getString(k);
      if (got !== v) bad.push(`${k}: wrote ${JSON.stringify(v)}, read ${JSON.stringify(got)}`);
    }));
    if (bad.length > 0) throw new Error(`keys changed across the move:\n  ${bad.join("\n  ")}`);
    say(`read all ${keyCount} keys back unchanged in ${sinceMs(t0)} ms\n`);
  } finally {
    kv.close();
  }

  say(`the cluster keeps running. From another terminal:`);
  say(howToUse(c, shown));
  say(`\nCtrl-C stops every node (or: bin/shardkv-local down --dir ${shown}).`);
  c.close();
  await holdUntilStopped(dir, say);
}

/**
 * Starts the dashboard of the demo's cluster in this process (it stops when the demo exits) on
 * listenDefault, or any free port when that one is taken; its URL, or why it did not start
 * (the demo goes on without it).
 */
async function dashboardUrl(): Promise<string> {
  const source = localClusterSource(dir);
  const security = securityOf(localAdminTls(dir));
  try {
    return (await startDashboard({ source, security, listen: listenDefault })).url;
  } catch {
    try {
      return (await startDashboard({ source, security, listen: "127.0.0.1:0" })).url;
    } catch (e) {
      return `not started (${(e as Error).message.split("\n")[0]}); try bin/shardkv-local dashboard --dir ${shown}`;
    }
  }
}

main().catch(async (e) => {
  // Stopped by a signal mid-demo: the demo fails as its nodes go away; the signal handler
  // reports the stop and exits.
  if (signalStop?.stopping) return;
  process.stderr.write(`demo failed: ${(e as Error).stack ?? e}\nlogs: ${shown}/logs/\n`);
  // Stop whatever was started (the exit hook of the launcher would SIGKILL it; this is gentler).
  await LocalCluster.load(dir).down(2000).catch(() => undefined);
  exitWhenWritten(1);
});
