/**
 * End-to-end scenarios 3 and 10 of docs/testing.md ("The end-to-end scenarios") over real processes started by the launcher
 * (deploy/local/cluster.ts): 3 controllers, 3 groups of 3 `shardkv-server`s, 12 shards, NATS
 * config pushes, an append load throughout (test/lib/append-load.ts, exact check at the end).
 *
 * 3. Missed changes: one server of each group is down (kill -9) across several
 *    reconfigurations (leave, join, move), then restarted: each catches up to the latest
 *    config with exactly its group leader's shard states and key counts, and the data is intact.
 * 10. Controller leader killed (-9) during a burst of joins and leaves from two admin clients:
 *    every acknowledged change created exactly one config, in a consistent chain (each config
 *    is its predecessor plus one change, and reflects it); the three controllers end at the same
 *    latest config (the killed one too, after its restart); every group follows to it.
 */
import { describe, expect, it } from "vitest";
import type { GroupId } from "../../common/ids";
import { ControllerClient } from "../../controller/client";
import type { Config } from "../../controller/config";
import { e2eSuite } from "../lib/e2e";
import { waitFor } from "../lib/wait";

const shards = 12;
const g = (n: number) => n as GroupId;

describe("e2e recovery (NATS)", () => {
  const suite = e2eSuite("recovery", { nats: true, groups: 3, shards });
  const onFail = () => suite.onFail();

  it("3. missed changes: a server of each group down across several reconfigurations catches up", async () => {
    onFail();
    const e = suite.e;
    const c = e.cluster;
    const down = ["g1n1", "g2n2", "g3n3"];
    await Promise.all(down.map((n) => c.kill(n)));
    const before = (await c.controller().query()).num;
    e.mark(`killed -9 ${down.join(", ")} at config ${before}`);
    const l = await suite.startAppends("s3-");
    await l.waitAcks(60, "with one server of each group down");
    const steps: [string, () => Promise<number>][] = [
      ["leave 3", () => c.controller().leave([g(3)])],
      ["join 3", () => c.controller().join(new Map([[g(3), c.groupAddrs(3)]]))],
      ["move shard 0 to group 2", () => c.controller().move(0, g(2))],
      ["leave 1", () => c.controller().leave([g(1)])],
      ["join 1", () => c.controller().join(new Map([[g(1), c.groupAddrs(1)]]))],
      ["move shard 1 to group 3", () => c.controller().move(1, g(3))],
    ];
    for (const [what, change] of steps) {
      const num = await change();
      await l.waitAcks(30, `during ${what}`);
      await e.waitSettled(`after ${what}`);
      e.mark(`${what} (config ${num}) settled without ${down.join(", ")}`);
    }
    await l.stop();
    const latest = await c.controller().query();
    expect(latest.num).toBe(before + steps.length);

    await Promise.all(down.map((n) => c.restart(n)));
    e.mark(`restarted ${down.join(", ")}`);
    // Each restarted replica reaches the latest config with its leader's shard states and key counts.
    const view = async (addr: string) => {
      const s = await c.serverStatus(addr, 2000);
      return { config: Number(s.configNum), applied: Number(s.appliedIndex), shards: s.shards.map((x) => `${x.shard}:${x.state}:${Number(x.keys)}:${Number(x.bytes)}`).join(" ") };
    };
    for (const name of down) {
      const gid = Number(name[1]);
      let why = "";
      await waitFor(async () => {
        const views = await Promise.all(c.groupAddrs(gid).map((a) => view(a).catch(() => undefined)));
        const mine = await view(c.node(name).addr).catch(() => undefined);
        const others = views.filter((v) => v !== undefined && v.applied >= (mine?.applied ?? 0));
        why = JSON.stringify({ mine, views });
        return mine !== undefined && mine.config === latest.num && others.length === 3 && others.every((v) => v!.shards === mine.shards);
      }, { timeoutMs: 30000, what: `${name} to catch up to config ${latest.num} and its group's shards`, intervalMs: 100 }).catch((err: Error) => {
        throw new Error(`${err.message}: ${why}`);
      });
    }
    e.mark(`${down.join(", ")} caught up to config ${latest.num}, shard for shard`);
    await suite.finishAppends(l, "missed changes");
  }, 240_000);

  it("10. controller leader killed during a burst of joins and leaves: configs stay consistent, groups follow", async () => {
    onFail();
    const e = suite.e;
    const c = e.cluster;
    const l = await suite.startAppends("s10-");
    await l.waitAcks(60, "before the burst");
    const first = (await c.controller().query()).num;
    // Two admin clients, each toggling its own group (gid 1 always stays, so no Leave of every group).
    const admins = [2, 3].map((gid) => ({ gid, client: new ControllerClient({ ...c.controllerOptions(), deadlineMs: 30_000 }) }));
    const acked: { gid: number; op: "join" | "leave"; num: number }[] = [];
    const cfg0 = await c.controller().query();
    const leader = (await c.status()).nodes.find((n) => n.kind === "controller" && n.role === "leader");
    expect(leader).toBeDefined();
    // The controller leader is killed right after the burst's third acknowledged change.
    let killed: Promise<void> | undefined;
    let ackedAtKill = 0;
    const burst = admins.map(async ({ gid, client }) => {
      let present = cfg0.groups.has(g(gid));
      for (let i = 0; i < 8; i++) {
        const op = present ? "leave" : "join";
        const num = op === "leave" ? await client.leave([g(gid)]) : await client.join(new Map([[g(gid), c.groupAddrs(gid)]]));
        acked.push({ gid, op, num });
        present = !present;
        if (acked.length >= 3 && !killed) {
          ackedAtKill = acked.length;
          killed = c.kill(leader!.name);
        }
      }
    });
    await Promise.all(burst);
    await killed;
    for (const a of admins) a.client.close();
    e.mark(`killed -9 controller leader ${leader!.name} after ${ackedAtKill} changes; burst done: ${acked.length} changes acknowledged`);
    expect(acked.length - ackedAtKill).toBeGreaterThanOrEqual(8);
    await c.restart(leader!.name);
    e.mark(`restarted ${leader!.name}`);

    // Every acknowledged change created exactly one config, and the chain is consistent.
    const last = (await c.controller().query()).num;
    expect(last).toBe(first + 16);
    expect(new Set(acked.map((a) => a.num)).size).toBe(16);
    const configs: Config[] = [];
    for (let n = first; n <= last; n++) configs.push(await c.controller().query(n));
    for (const a of acked) {
      const cfg = configs[a.num - first]!;
      const prev = configs[a.num - first - 1]!;
      expect({ num: a.num, op: a.op, gid: a.gid, present: cfg.groups.has(g(a.gid)), before: prev.groups.has(g(a.gid)) })
        .toEqual({ num: a.num, op: a.op, gid: a.gid, present: a.op === "join", before: a.op !== "join" });
      // Nothing else changed in the group set.
      const others = (x: Config) => [...x.groups.keys()].filter((k) => k !== a.gid).sort().join(",");
      expect(others(cfg)).toBe(others(prev));
    }
    // The three controllers (the restarted one too) reach the same latest config.
    await waitFor(async () => {
      const st = (await c.status()).nodes.filter((n) => n.kind === "controller");
      return st.length === 3 && st.every((n) => n.state === "up" && n.configNum === last);
    }, { timeoutMs: 30000, what: `every controller at config ${last}`, intervalMs: 100 });
    e.mark(`every controller at config ${last}`);
    await suite.finishAppends(l, "controller leader killed during a burst");
  }, 240_000);
});
