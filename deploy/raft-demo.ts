/**
 * `npm start` (until the sharded cluster exists): a 3-process Raft demo on loopback. Starts
 * three replicas (RocksDB + gRPC), commits a few proposals, kill -9s the leader, shows the
 * survivors elect a new leader and keep committing, restarts the killed replica and shows it
 * catch up with every committed entry. Data and logs go to ./.shardkv/raft-demo (wiped first).
 */
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { RaftDemoCluster } from "./raft-demo/cluster";
import { realClock } from "../common/real-env";

const dir = resolve(process.env.SHARDKV_DEMO_DIR ?? ".shardkv/raft-demo");
const say = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  say(`shardkv raft demo: 3 replicas as separate processes, data in ${dir}`);
  const c = await RaftDemoCluster.start({ dir });
  const stopAll = () => void c.stop().then(() => process.exit(130));
  process.on("SIGINT", stopAll);
  process.on("SIGTERM", stopAll);
  try {
    for (const r of c.replicas.values()) say(`  replica ${r.id} at ${r.address}  (log: ${r.logFile})`);
    const leader = await c.waitForLeader();
    say(`leader elected: replica ${leader}`);
    for (let i = 1; i <= 5; i++) {
      const { index } = await c.propose(`before-kill-${i}`);
      say(`  committed "before-kill-${i}" at index ${index}`);
    }
    say(`kill -9 the leader (replica ${leader})`);
    await c.kill(leader);
    const t0 = realClock.nowMs();
    const next = await c.waitForLeader();
    say(`new leader: replica ${next} (elected ${Math.round(realClock.nowMs() - t0)} ms after the kill)`);
    for (let i = 1; i <= 5; i++) {
      const { index } = await c.propose(`after-kill-${i}`);
      say(`  committed "after-kill-${i}" at index ${index} with replica ${leader} down`);
    }
    say(`restart replica ${leader} from its data directory`);
    await c.restart(leader);
    const want = (await c.values(next)).map(([, v]) => v);
    const deadline = realClock.nowMs() + 20000;
    for (;;) {
      const got = (await c.values(leader)).map(([, v]) => v);
      if (got.length >= want.length) break;
      if (realClock.nowMs() > deadline) throw new Error(`replica ${leader} did not catch up`);
      await new Promise((r) => realClock.after(50, () => r(undefined)));
    }
    for (const id of c.replicas.keys()) {
      const vs = (await c.values(id)).map(([, v]) => v);
      say(`  replica ${id} applied ${vs.length} commands: ${vs.join(" ")}`);
    }
    say("every replica holds the same committed commands. Stopping.");
  } finally {
    await c.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
