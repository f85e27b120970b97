/**
 * Running a local cluster in the foreground (`npm start`, `shardkv-local up --foreground`):
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP stops every daemon (SIGTERM, SIGKILL after the grace
 * period; a second Ctrl-C kills at once) and exits; a `shardkv-local down` from another
 * terminal ends the foreground process too. The exit hook of deploy/local/cluster.ts kills
 * whatever is left if this process dies some other way.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { exitWhenWritten } from "../../common/cli-args";
import { delay } from "../../common/real-env";
import { LocalCluster } from "./cluster";
import { allNodes, clusterFileName, readClusterFile } from "./layout";
import { describeGrace, procState } from "./process";

/** What stopOnSignals() installed: whether a stop signal has arrived (the process then exits once every node is stopped). */
export interface SignalStop {
  readonly stopping: boolean;
}

/**
 * Installs the stop signals for the cluster in `dir` (it may not be started yet: whatever
 * cluster.json lists then is stopped). Call before starting, so a Ctrl-C during startup
 * also stops everything. Work still running when a signal arrives fails as its nodes go away:
 * check `stopping` before reporting such a failure.
 */
export function stopOnSignals(dir: string, say: (s: string) => void, graceMs?: number): SignalStop {
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) {
      say(`${sig} again: killing every node now`);
      void stopAll(dir, 0, say).finally(() => exitWhenWritten(130));
      return;
    }
    stopping = true;
    say(`\n${sig}: stopping every node (SIGTERM, SIGKILL after ${describeGrace(graceMs)})...`);
    stopAll(dir, graceMs, say).then(
      (n) => {
        say(`stopped ${n} processes; no shardkv process of ${dir} is left`);
        exitWhenWritten(0);
      },
      (e: Error) => {
        say(`stop failed: ${e.message}`);
        exitWhenWritten(1);
      },
    );
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => stop(sig));
  return { get stopping() { return stopping; } };
}

/** Stops every node listed in `dir`'s cluster.json; resolves with how many were running. */
async function stopAll(dir: string, graceMs: number | undefined, say: (s: string) => void): Promise<number> {
  const l = readClusterFile(dir);
  if (!l) return 0;
  const r = await LocalCluster.load(dir).down(graceMs);
  if (r.killed.length > 0) say(`SIGKILLed (not stopped within ${describeGrace(graceMs)} of SIGTERM): ${r.killed.join(" ")}`);
  const left = allNodes(l).filter((x) => procState(x.node.pid, x.node.dataDir) !== "gone");
  if (left.length > 0) throw new Error(`still running: ${left.map((x) => `${x.name} pid ${x.node.pid}`).join(", ")}`);
  return r.stopped.length;
}

/**
 * Waits until the cluster was stopped from elsewhere (every node down), then exits 0 once its
 * output is written (the promise never settles).
 */
export async function holdUntilStopped(dir: string, say: (s: string) => void): Promise<never> {
  for (;;) {
    await delay(1000);
    const l = existsSync(join(dir, clusterFileName)) ? readClusterFile(dir) : undefined;
    if (!l || allNodes(l).every((x) => procState(x.node.pid, x.node.dataDir) === "gone")) {
      say("every node is down (stopped from elsewhere); exiting");
      exitWhenWritten(0);
      return new Promise<never>(() => undefined);
    }
  }
}
