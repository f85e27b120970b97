/**
 * Real processes: the controller's join check (controller/join-check.ts) through `bin/shardctl`
 * against three `shardkv-controller` daemons and a group of three `shardkv-server` daemons
 * (deploy/local/cluster.ts). A join is refused, with one line naming what each server said
 * and no new config, when nothing listens at the group's addresses, when they are another
 * group's servers or not shard servers at all, or when only a minority answers; it is accepted
 * with a majority up (leaderless: any replica answers); `--force` skips the check and warns.
 * While the only trouble is servers that give no answer, shardctl asks again for up to
 * --wait-servers with a line per attempt (a join started before the servers is accepted once
 * they are up); a server answering as another group's is refused at once, with no wait.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realClock } from "../../common/real-env";
import type { GroupId } from "../../common/ids";
import { forceWarning } from "../../controller/shardctl-lib";
import { freePorts } from "../../deploy/local/process";
import { type CliRun, runShardctl, startShardctl } from "../lib/run-cli";
import { waitFor } from "../lib/wait";
import { LocalCluster, serverName } from "../../deploy/local/cluster";

const hint = " (start the servers first; shardctl join --force skips this check)";
/** A line shardctl join prints before it asks again (controller/shardctl-lib.ts formatServersWait). */
const waitLine = /^waiting for shard servers? .+ to answer(?: \(.+\))?; \d+ s left$/;

describe("join check: shardctl join against real controllers and shard servers", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-join-check-"));
    // Group 1 runs but is not joined: the tests join it.
    cluster = await LocalCluster.up({ dir, shards: 8, groups: 1, join: false, tickMs: 50 });
  });

  afterAll(async () => {
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`join-check test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  const onFail = () => onTestFailed(() => {
    failed = true;
    if (cluster) process.stderr.write(cluster.logTails(30) + "\n");
  });

  const ctlArgs = (): string[] => ["--controllers", cluster!.controllerAddrs().join(","), "--timeout", "20s"];
  const shardctl = (...args: string[]): Promise<CliRun> => runShardctl([...ctlArgs(), ...args]);

  const latest = async (): Promise<{ num: number; groups: Record<string, string[]> }> => {
    const r = await shardctl("--json", "query");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    return JSON.parse(r.stdout) as { num: number; groups: Record<string, string[]> };
  };

  it("nothing listening at the addresses: refused in one line, no new config (--wait-servers 0: at once; else after the wait)", async () => {
    onFail();
    const [p1, p2] = (await freePorts(2)).map((p) => `127.0.0.1:${p}`);
    const refusal = `shardctl: invalid groups: join refused: group 7 needs 2 of 2 servers answering as its replicas; 0 answered: ` +
      `${p1} connection refused; ${p2} connection refused${hint}`;
    const t0 = realClock.nowMs();
    const r = await shardctl("join", "--wait-servers", "0", `7=${p1},${p2}`);
    process.stdout.write(`join with nothing listening refused after ${Math.round(realClock.nowMs() - t0)} ms\n`);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`${refusal}\n`);
    expect(r.code).toBe(3); // refused: a failure (README, exit statuses)

    const waited = await shardctl("join", "--wait-servers", "3s", `7=${p1},${p2}`);
    const lines = waited.stderr.trimEnd().split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`^${escape(refusal)}; still so after \\d+ s of waiting \\(--wait-servers\\)$`));
    for (const l of lines.slice(0, -1)) expect(l).toMatch(waitLine);
    expect(waited.code).toBe(3);
    expect(await latest()).toMatchObject({ num: 0, groups: {} });
  });

  it("another group's servers or a controller's address: refused at once (no wait), each server named", async () => {
    onFail();
    const [a1, a2] = cluster!.groupAddrs(1);
    const ctl = cluster!.controllerAddrs()[0]!;
    const r = await shardctl("join", `7=${a1},${a2},${ctl}`);
    expect(r.stderr).toBe(
      `shardctl: invalid groups: join refused: group 7 needs 2 of 3 servers answering as its replicas; 0 answered: ` +
      `${a1} is replica 1 of group 1; ${a2} is replica 2 of group 1; ${ctl} answers, but not as a shard server${hint}\n`);
    expect(r.code).toBe(3); // refused: a failure (README, exit statuses)
    // One server answering as another group's makes the refusal final though the other one
    // may still come up: no wait line, one attempt (the default --wait-servers is 30 s).
    const [p1] = (await freePorts(1)).map((p) => `127.0.0.1:${p}`);
    const mixed = await shardctl("join", `7=${a1},${p1}`);
    expect(mixed.stderr).toBe(
      `shardctl: invalid groups: join refused: group 7 needs 2 of 2 servers answering as its replicas; 0 answered: ` +
      `${a1} is replica 1 of group 1; ${p1} connection refused${hint}\n`);
    expect(mixed.code).toBe(3);
    expect(await latest()).toMatchObject({ num: 0, groups: {} });
  });

  it("only a minority up: refused (--wait-servers 0); a join started meanwhile waits, naming the servers, and is accepted once a majority is up", async () => {
    onFail();
    const c = cluster!;
    const addrs = c.groupAddrs(1);
    await c.kill(serverName(1, 2));
    await c.kill(serverName(1, 3));
    const refused = await shardctl("join", "--wait-servers", "0", `1=${addrs.join(",")}`);
    expect(refused.stderr).toBe(
      `shardctl: invalid groups: join refused: group 1 needs 2 of 3 servers answering as its replicas; 1 answered: ` +
      `${addrs[1]} connection refused; ${addrs[2]} connection refused${hint}\n`);
    expect(refused.code).toBe(3);
    expect((await latest()).num).toBe(0);

    // Started before the servers: it asks again, a line each time, until 1-2 answers.
    const joining = startShardctl([...ctlArgs(), "join", "--wait-servers", "2m", `1=${addrs.join(",")}`]);
    await waitFor(() => joining.stderr().includes("\n"), { timeoutMs: 60_000, what: "shardctl join's first wait line" });
    expect(joining.stderr().split("\n")[0]).toMatch(new RegExp(
      `^waiting for shard servers ${escape(addrs[1]!)} \\(connection refused\\), ${escape(addrs[2]!)} \\(connection refused\\) to answer; \\d+ s left$`));
    await c.restart(serverName(1, 2));
    const r = await joining.done;
    expect(r.code).toBe(0);
    for (const l of r.stderr.trimEnd().split("\n")) expect(l).toMatch(waitLine);
    expect(r.stdout.split("\n")[0]).toBe("config 1 created");
    expect(await latest()).toMatchObject({ num: 1, groups: { 1: addrs } });
    await c.restart(serverName(1, 3));
  });

  it("--force: accepted without asking anybody, after a one-line warning on stderr", async () => {
    onFail();
    const [p1, p2] = (await freePorts(2)).map((p) => `127.0.0.1:${p}`);
    const r = await shardctl("join", "--force", `7=${p1},${p2}`);
    expect(r.stderr).toBe(`${forceWarning([7 as GroupId])}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("config 2 created");
    expect((await latest()).groups).toEqual({ 1: cluster!.groupAddrs(1), 7: [p1, p2] });
  });
});

/** `s` as a literal in a RegExp. */
function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
