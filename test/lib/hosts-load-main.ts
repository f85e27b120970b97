/**
 * The append workload of test/lib/append-load.ts plus a reader, run as a process on a test
 * host (test/lib/hosts-load.ts starts it there with `ip netns exec`; the cluster is reachable
 * only from inside the hosts). Environment: $SHARDKV_CONTROLLERS and $SHARDKV_TLS_* (the
 * harness's clusterEnv), $LOAD_PREFIX (key prefix). It prints `progress {json}` every 250 ms;
 * the line `stop` on stdin stops it, and it prints `result {json}`: the append check
 * (every acknowledged append once, in order; AppendHistory.verify) and the reads' check
 * (every read holds each append acknowledged before it began: AppendHistory.checkRead), or
 * `violation MESSAGE` and exits 1.
 */
import { createInterface } from "node:readline";
import { ShardKV } from "../../client/shardkv";
import { delay } from "../../common/real-env";
import { clientTlsFiles } from "../../security/tls-files";
import { AppendLoad } from "./append-load";

const say = (s: string): void => void process.stdout.write(`${s}\n`);
const controllers = (process.env.SHARDKV_CONTROLLERS ?? "").split(",").filter((x) => x !== "");
const tls = clientTlsFiles({}, process.env);
const load = await AppendLoad.start({ controllers, tls, clients: 2, keysPerClient: 3, deadlineMs: 10_000, prefix: process.env.LOAD_PREFIX ?? "h" });
const reader = await ShardKV.connect({ controllers, tls, deadlineMs: 10_000 });
let stopping = false;
let reads = 0;
let readErrors = 0;
const violations: string[] = [];

const readLoop = (async () => {
  while (!stopping) {
    for (const key of load.history.keys()) {
      const before = load.history.ackedTokens(key);
      let value: string | undefined;
      try {
        value = await reader.getString(key);
      } catch {
        readErrors++;
        continue;
      }
      try {
        load.history.checkRead(key, value, before);
        reads++;
      } catch (e) {
        violations.push((e as Error).message);
      }
    }
    await delay(5);
  }
})();

const progress = (): string => JSON.stringify({ acked: load.acked, timedOut: load.timedOut, otherErrors: load.otherErrors.length, reads, readErrors, violations: violations.length });
const ticker = (async () => {
  while (!stopping) {
    say(`progress ${progress()}`);
    await delay(250);
  }
})();

createInterface({ input: process.stdin }).on("line", (l) => {
  if (l.trim() !== "stop" || stopping) return;
  stopping = true;
  void (async () => {
    try {
      await load.stop();
      await readLoop;
      await ticker;
      const check = await load.verify();
      if (violations.length > 0) throw new Error(violations[0]);
      say(`result ${JSON.stringify({ ...check, otherErrors: check.otherErrors.slice(0, 5), timedOut: load.timedOut, reads, readErrors })}`);
      process.exitCode = 0;
    } catch (e) {
      say(`violation ${(e as Error).message}`);
      process.exitCode = 1;
    } finally {
      load.close();
      reader.close();
      process.stdin.destroy();
    }
  })();
});
