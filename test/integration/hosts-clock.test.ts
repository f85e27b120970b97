/**
 * Clock skew on the test hosts (deploy/hosts/clock.ts): a run started with `faketime: true`
 * (every daemon under libfaketime, each reading its own offset file). A follower's wall clock
 * set an hour ahead and the follower restarted: the lines it logs carry the skewed time, the
 * service keeps taking writes from the client host, heal puts every clock back, and `down` leaves no namespace and none of
 * libfaketime's /dev/shm files of the run. Needs root, like hosts.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wallClockMs } from "../../common/real-env";
import { clockOffsetMs, skewClock } from "../../deploy/hosts/clock";
import { execIn, heal, hostsDown, hostsUp, leaderOf, restartNode } from "../../deploy/hosts/harness";
import { type HostsFile, readHostsFile } from "../../deploy/hosts/hosts-file";
import { ensureTools, listNamespaces, requireRoot } from "../../deploy/hosts/net";
import { waitFor } from "../lib/wait";

const dir = mkdtempSync(join(tmpdir(), "shardkv-hosts-clock-"));
let h: HostsFile | undefined;
let passed = false;
const hourMs = 3_600_000;

/** The times (ms since the epoch) of the lines of `node`'s log. */
const logTimes = (node: string): number[] => readFileSync(join(dir, "logs", `${node}.log`), "utf8").split("\n")
  .flatMap((l) => {
    const m = /"time":"([^"]+)"/.exec(l);
    return m ? [Date.parse(m[1]!)] : [];
  });

describe("clock skew on the test hosts", () => {
  beforeAll(async () => {
    requireRoot();
    ensureTools(["faketime"]);
    h = await hostsUp({ dir, controllers: 3, groups: 1, replicas: 3, clients: 1, shards: 4, tickMs: 50, timeoutMs: 60_000, faketime: true });
  }, 90_000);

  afterAll(async () => {
    if (readHostsFile(dir)) await hostsDown(dir, 0);
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`[hosts-clock] kept ${dir}`);
  }, 60_000);

  it("runs one daemon an hour ahead, and heal puts its clock back", async () => {
    const leader = await leaderOf(dir, 1);
    const follower = ["g1n1", "g1n2", "g1n3"].find((n) => n !== leader)!;
    skewClock(dir, h!, follower, hourMs);
    expect(clockOffsetMs(dir, follower)).toBe(hourMs);
    // Restarted on its skewed clock (a jump while it runs takes libfaketime's cache period,
    // a few seconds, which no condition here could wait for), it logs its start at its own time.
    await restartNode(dir, follower);
    await waitFor(() => logTimes(follower).some((t) => t > wallClockMs() + hourMs / 2), {
      timeoutMs: 20_000, what: `a line of ${follower}'s log an hour ahead`, intervalMs: 200,
    });
    const put = await execIn(dir, "cl1", ["bin/shardkv", "--timeout", "30s", "put", "skewed", "yes"], { timeoutMs: 45_000 });
    expect(put.code, put.stderr).toBe(0);

    expect(await heal(dir)).toEqual({ resumed: [], restarted: [] });
    expect(clockOffsetMs(dir, follower)).toBe(0);
    const get = await execIn(dir, "cl1", ["bin/shardkv", "--timeout", "30s", "get", "skewed"], { timeoutMs: 45_000 });
    expect(get.stdout).toBe("yes\n");

    const run = h!;
    await hostsDown(dir, 2000);
    expect(listNamespaces().filter((n) => n.startsWith(run.prefix))).toEqual([]);
    const shm = readdirSync("/dev/shm").filter((f) => /^(faketime_shm_|sem\.faketime_sem_)\d+$/.test(f));
    const live = shm.filter((f) => {
      try {
        return readFileSync(`/proc/${f.split("_").at(-1)}/stat`, "utf8").length > 0;
      } catch {
        return false;
      }
    });
    expect(shm, "libfaketime files of processes that are gone").toEqual(live);
    passed = true;
  }, 100_000);
});
