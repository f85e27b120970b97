/**
 * Real hosts, real faults (deploy/hosts/): 3 controllers and one group of 3 servers, each on
 * its own network namespace with its own address on a bridge in the run's hub namespace,
 * plus a client host; data written with `bin/shardkv` run on the client host.
 *
 * In order, on one run: writes from the client host succeed; the group's leader isolated by
 * nftables rules (the client host cannot open a TCP connection to it while it can to the
 * others) -> a new leader among the majority, and writes keep succeeding; heal -> the old
 * leader rejoins as a follower in the new term; the first controller and a follower cut off
 * -> writes succeed and each CLI exits with its answer; every acknowledged write reads back;
 * delay, jitter, loss and duplication on the new leader's link -> writes still succeed (the
 * counters show packets delayed and dropped); `down` -> no namespace
 * of the run, no new link or nftables table in the root namespace, no process mentioning the
 * run's directory, no lazyfs mount of the run. Needs root (CI runs as root); fails with one line otherwise.
 * afterAll brings the run down even when a step failed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realClock } from "../../common/real-env";
import type { NodeStatus } from "../../deploy/local/cluster";
import { lazyMounts } from "../../deploy/hosts/disk";
import { applyNetem, clearNetem, droppedSources, netemDelayed, netemDrops, netemOf } from "../../deploy/hosts/faults";
import {
  ctlRun, execIn, heal, hostsDown, hostsTools, hostsUp, leaderOf, loadHosts, partition,
} from "../../deploy/hosts/harness";
import { type HostsFile, hostOf, readHostsFile } from "../../deploy/hosts/hosts-file";
import { ensureTools, listNamespaces, requireRoot } from "../../deploy/hosts/net";
import { pidsMentioning } from "../lib/run-command";
import { waitFor } from "../lib/wait";

const dir = mkdtempSync(join(tmpdir(), "shardkv-hosts-"));
let h: HostsFile | undefined;
let passed = false;
const t0 = realClock.nowMs();
const phase = (what: string): void => console.log(`[hosts] ${Math.round(realClock.nowMs() - t0)} ms: ${what}`);

/** Names of the root namespace's links and its nftables tables (what the harness must never touch). */
const rootLinks = (): string[] => spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout.split("\n")
  .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "").filter((n) => n !== "").sort();
const rootTables = (): string => spawnSync("nft", ["list", "tables"], { encoding: "utf8" }).stdout;
let linksBefore: string[] = [];
let tablesBefore = "";

/** `bin/shardkv ARGS` on the client host (the cluster's CLI environment, mutual TLS). */
const shardkv = (...args: string[]) => execIn(dir, "cl1", ["bin/shardkv", "--timeout", "30s", ...args], { timeoutMs: 45_000 });

async function put(key: string, value: string): Promise<void> {
  const r = await shardkv("put", key, value);
  expect(r.code, `put ${key} from cl1: ${r.stderr}`).toBe(0);
}

/** Whether a TCP connection from host `from` to `to`'s daemon port opens within 2 s. */
async function connects(from: string, to: string): Promise<boolean> {
  const ip = hostOf(h!, to).ip;
  const r = await execIn(dir, from, ["timeout", "2", "bash", "-c", `exec 3<>/dev/tcp/${ip}/${h!.port}`], { timeoutMs: 10_000 });
  return r.code === 0;
}

/** The daemons' status as the control host sees it. */
async function nodes(): Promise<NodeStatus[]> {
  const r = await ctlRun(dir, ["ctl-status"], { timeoutMs: 30_000 });
  return r.code === 0 ? JSON.parse(r.stdout.trim().split("\n").at(-1)!) as NodeStatus[] : [];
}

describe("test hosts in network namespaces", () => {
  beforeAll(async () => {
    requireRoot();
    ensureTools(hostsTools);
    linksBefore = rootLinks();
    tablesBefore = rootTables();
    h = await hostsUp({ dir, controllers: 3, groups: 1, replicas: 3, clients: 1, shards: 4, tickMs: 50, timeoutMs: 60_000 });
    phase(`run ${h.run} up`);
  }, 90_000);

  afterAll(async () => {
    if (readHostsFile(dir)) await hostsDown(dir, 0);
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`[hosts] kept ${dir} (logs/ has every daemon's log)`);
  }, 60_000);

  it("survives an isolated leader and a lossy link, and leaves nothing behind", async () => {
    const acked = new Map<string, string>();
    const write = async (key: string): Promise<void> => {
      await put(key, `v-${key}`);
      acked.set(key, `v-${key}`);
    };
    for (let i = 0; i < 4; i++) await write(`before-${i}`);
    phase("4 writes from cl1");

    const old = await leaderOf(dir, 1);
    const cuts = await partition(dir, { kind: "isolate", hosts: [old] });
    expect(cuts.length).toBe(2 * (h!.hosts.length - 1));
    expect(droppedSources(h!, old).length).toBe(h!.hosts.length - 1);
    const majority = ["g1n1", "g1n2", "g1n3"].filter((n) => n !== old);
    expect(await connects("cl1", old), `cl1 still reaches the isolated ${old}`).toBe(false);
    expect(await connects("cl1", majority[0]!)).toBe(true);
    phase(`isolated the leader ${old}`);

    const next = await leaderOf(dir, 1, 30_000);
    expect(majority).toContain(next);
    for (let i = 0; i < 4; i++) await write(`isolated-${i}`);
    phase(`new leader ${next}; 4 writes from cl1`);

    const healed = await heal(dir);
    expect(healed).toEqual({ resumed: [], restarted: [] });
    expect(droppedSources(h!, old)).toEqual([]);
    let seen = "no status yet";
    await waitFor(async () => {
      const ns = await nodes();
      const o = ns.find((n) => n.name === old);
      const l = ns.find((n) => n.name === next);
      seen = JSON.stringify({ old: o && [o.state, o.role, o.term, o.leader], next: l && [l.state, l.role, l.term] });
      return o?.state === "up" && o.role === "follower" && l?.role === "leader" && o.term === l.term && o.leader === l.id;
    }, { timeoutMs: 30_000, what: `${old} back as a follower of ${next}`, intervalMs: 250 }).catch((e: Error) => {
      throw new Error(`${e.message}; last seen [state, role, term, leader]: ${seen}`);
    });
    phase(`healed; ${old} follows ${next}`);

    // A minority of each group silently cut off (packets dropped, no refusal): the first
    // controller and the lowest follower, the replicas a client tries first. Writes succeed,
    // and each command ends with its answer: a TCP connect still pending to a cut-off host
    // must not keep the CLI alive (grpc-js does not abort it when the channel closes).
    const follower = ["g1n1", "g1n2", "g1n3"].find((n) => n !== next)!;
    await partition(dir, { kind: "isolate", hosts: ["c1", follower] });
    expect(await connects("cl1", follower)).toBe(false);
    for (let i = 0; i < 2; i++) await write(`minority-cut-${i}`);
    expect(await heal(dir)).toEqual({ resumed: [], restarted: [] });
    phase(`c1 and ${follower} cut off: 2 writes, each CLI exited with its answer`);

    await applyNetem(loadHosts(dir), next, { delayMs: 40, jitterMs: 20, lossPct: 10, duplicatePct: 5 });
    expect(netemOf(h!, next)).toMatch(/delay 40ms.*20ms.*loss 10%.*duplicate 5%/);
    for (let i = 0; i < 4; i++) await write(`netem-${i}`);
    expect(netemDelayed(h!, next), `no packet of ${next} was delayed`).toBeGreaterThan(0);
    expect(netemDrops(h!, next), `no packet of ${next} was dropped`).toBeGreaterThan(0);
    await clearNetem(h!, next);
    expect(netemOf(h!, next)).toBe("");
    phase("4 writes with delay 40±20 ms, 10% loss and 5% duplication on the leader's link");

    for (const [key, value] of acked) {
      const r = await shardkv("get", key);
      expect(r.code, `get ${key}: ${r.stderr}`).toBe(0);
      expect(r.stdout, key).toBe(`${value}\n`);
    }
    phase(`${acked.size} acknowledged writes read back`);

    const run = h!;
    const down = await hostsDown(dir, 2000);
    expect(down.stopped.length).toBe(6);
    expect(down.namespaces.length).toBe(run.hosts.length + 1);
    expect(listNamespaces().filter((n) => n.startsWith(run.prefix))).toEqual([]);
    expect(rootLinks()).toEqual(linksBefore);
    expect(rootTables()).toBe(tablesBefore);
    expect(pidsMentioning(dir)).toEqual([]);
    expect(down.mounts).toEqual([]);
    expect(lazyMounts().filter((m) => m.run === run.run || m.mountpoint.startsWith(dir))).toEqual([]);
    phase("down: no namespace, link, table, mount or process left");
    passed = true;
  }, 100_000);
});
