/**
 * Live wall-clock jumps on the test hosts (deploy/hosts/clock.ts, libfaketime reading each
 * daemon's offset file while it runs; no restart), under a load of appends and reads from
 * the client host (test/lib/hosts-load.ts).
 *
 * First a measurement: how long a running Node process under the same libfaketime settings
 * (a probe with its own offset file) takes to see its wall clock jump +1h, -1h and back,
 * printed. The probe is also the condition each step below waits for after rewriting a
 * daemon's offset file: the daemons re-read theirs on the same period (FAKETIME_CACHE_DURATION).
 *
 * Then, on a group of 3 under the load, with no restart:
 *  1. jumps that a retry does not straddle: a follower an hour back, the leader an hour
 *     ahead, both back to real time (a jump back for the leader, forward for the follower),
 *     the leader an hour back and forward again. After each the group must keep acknowledging
 *     appends; at the end every acknowledged append is present exactly once and in order and
 *     no read missed an append acknowledged before it began.
 *  2. a retry across a jump: the leader's replies to the client host cut (one-way), its clock
 *     jumped an hour ahead, the cut healed: the clients' retries of appends it applied before
 *     the jump reach it after. Each must be found in the duplicate table and not applied
 *     again: the table expires by log time (shard-server/log-clock.ts), which runs on the
 *     replicas' monotonic clocks from the log's own last timestamp, so a leader's wall clock
 *     jumping past --dedup-ttl expires nothing. (With wall-clock timestamps this step found a
 *     token applied twice on every run.)
 * Needs root, like hosts-clock.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realClock, wallClockMs } from "../../common/real-env";
import { clockFileOf, faketimeEnv, libfaketimePath, skewClock } from "../../deploy/hosts/clock";
import { healNetwork } from "../../deploy/hosts/faults";
import { hostsDown, hostsUp, leaderOf, partition } from "../../deploy/hosts/harness";
import { type HostsFile, readHostsFile } from "../../deploy/hosts/hosts-file";
import { ensureTools, requireRoot } from "../../deploy/hosts/net";
import { type HostsLoad, startHostsLoad } from "../lib/hosts-load";
import { waitFor } from "../lib/wait";

const dir = mkdtempSync(join(tmpdir(), "shardkv-hosts-jump-"));
let h: HostsFile | undefined;
let load: HostsLoad | undefined;
let probe: ChildProcess | undefined;
let probeNowMs = 0;
let passed = false;
const hourMs = 3_600_000;
const t0 = realClock.nowMs();
const phase = (what: string): void => console.log(`[hosts-clock-jump] ${Math.round(realClock.nowMs() - t0)} ms: ${what}`);

/** Starts the probe: node printing Date.now() every 50 ms under libfaketime on `<dir>/clocks/probe`. */
function startProbe(): void {
  const lib = libfaketimePath()!;
  probe = spawn("env", [...faketimeEnv(dir, "probe", lib), process.execPath, "-e", "setInterval(() => console.log(Date.now()), 50)"], { stdio: ["ignore", "pipe", "ignore"] });
  let partial = "";
  probe.stdout!.setEncoding("utf8").on("data", (s: string) => {
    const lines = (partial + s).split("\n");
    partial = lines.pop()!;
    if (lines.length > 0) probeNowMs = Number(lines.at(-1));
  });
}

/**
 * Sets the probe's offset and waits until its clock shows it (within 10 minutes of real time
 * plus the offset); returns how long that took (ms).
 */
async function probeJump(offsetMs: number): Promise<number> {
  const start = realClock.nowMs();
  writeFileSync(clockFileOf(dir, "probe"), `${offsetMs < 0 ? "-" : "+"}${Math.abs(offsetMs) / 1000}\n`);
  await waitFor(() => Math.abs(probeNowMs - wallClockMs() - offsetMs) < 600_000, {
    timeoutMs: 60_000, what: `the probe's clock at ${offsetMs / 1000} s`, intervalMs: 20,
  });
  return Math.round(realClock.nowMs() - start);
}

/** Jumps daemon `node`'s clock to real time + `offsetMs`; resolves once the probe has made the same jump. */
async function jump(node: string, offsetMs: number): Promise<void> {
  skewClock(dir, h!, node, offsetMs);
  const ms = await probeJump(offsetMs);
  phase(`${node} at ${offsetMs >= 0 ? "+" : ""}${offsetMs / 1000} s (probe followed in ${ms} ms)`);
}

/** The times of the lines of `node`'s log, minus real time at the moment: how many lines it logged more than 30 minutes off. */
const skewedLines = (node: string): number => readFileSync(join(dir, "logs", `${node}.log`), "utf8").split("\n").filter((l) => {
  const m = /"time":"([^"]+)"/.exec(l);
  return m !== null && Math.abs(Date.parse(m[1]!) - wallClockMs()) > hourMs / 2;
}).length;

describe("live wall-clock jumps under load", () => {
  beforeAll(async () => {
    requireRoot();
    ensureTools(["faketime"]);
    h = await hostsUp({ dir, controllers: 3, groups: 1, replicas: 3, clients: 1, shards: 4, tickMs: 50, timeoutMs: 90_000, faketime: true });
    startProbe();
  }, 150_000);

  afterAll(async () => {
    probe?.kill("SIGKILL");
    load?.kill();
    if (readHostsFile(dir)) await hostsDown(dir, 0);
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`[hosts-clock-jump] kept ${dir}`);
  }, 60_000);

  it("loses no write and serves no stale read across jumps of the leader's and a follower's clock", async () => {
    await waitFor(() => probeNowMs > 0, { timeoutMs: 30_000, what: "the probe's first line", intervalMs: 20 });
    const delays: number[] = [];
    for (let i = 0; i < 2; i++) for (const off of [hourMs, -hourMs, 0]) delays.push(await probeJump(off));
    phase(`libfaketime moved a running process's clock in ${delays.join(", ")} ms (+1h, -1h, 0, twice)`);

    load = await startHostsLoad(dir, "cl1", "j");
    await load.waitAcks(20, "before the jumps");
    const leader = await leaderOf(dir, 1);
    const follower = ["g1n1", "g1n2", "g1n3"].find((n) => n !== leader)!;
    const steps: [string, number][] = [
      [follower, -hourMs], [leader, hourMs], [leader, 0], [follower, 0], [leader, -hourMs], [leader, 0],
    ];
    for (const [node, offsetMs] of steps) {
      await jump(node, offsetMs);
      await load.waitAcks(20, `after ${node}'s jump to ${offsetMs / 1000} s`, 120_000);
      phase(`load ${JSON.stringify(load.progress())}`);
    }
    const result = await load.stop();
    load = undefined;
    phase(`checks passed: ${JSON.stringify(result)}; log lines over 30 min off real time: ${["g1n1", "g1n2", "g1n3"].map((n) => `${n} ${skewedLines(n)}`).join(", ")}`);
    expect(result.acked).toBeGreaterThan(100);
    expect(result.reads).toBeGreaterThan(0);
  }, 600_000);

  it("applies a retry once when it straddles the leader's clock jumping an hour ahead", async () => {
    load = await startHostsLoad(dir, "cl1", "r");
    await load.waitAcks(20, "before the jump");
    const leader = await leaderOf(dir, 1);
    // Requests reach the leader and are applied; its replies are lost; the clients retry.
    const timedOut = load.progress().timedOut;
    await partition(dir, { kind: "one-way", from: [leader], to: ["cl1"] });
    await jump(leader, hourMs);
    // Kept cut until appends have run out their deadline (10 s of retries) after the jump, so
    // that retries reach the leader after its own clock has moved, whenever it re-read it.
    await waitFor(() => load!.progress().timedOut >= timedOut + 2, { timeoutMs: 120_000, what: "appends timed out behind the cut", intervalMs: 50 });
    await healNetwork(h!);
    await load.waitAcks(20, "after the jump", 120_000);
    await jump(leader, 0);
    await load.waitAcks(20, "after the leader's clock came back", 120_000);
    const result = await load.stop();
    load = undefined;
    phase(`after a retry across the leader's jump: ${JSON.stringify(result)}`);
    // stop() throws on a token applied twice or a stale read: the retries across the jump were not executed again.
    expect(result.timedOut).toBeGreaterThanOrEqual(timedOut + 2);
    expect(result.acked).toBeGreaterThan(40);
    passed = true;
  }, 600_000);
});
