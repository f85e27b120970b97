/**
 * End-to-end scenarios 2, 4, 6 and 9 of docs/testing.md ("The end-to-end scenarios") over real processes started by the launcher
 * (deploy/local/cluster.ts): 3 controllers, 3 groups of 3 `shardkv-server`s, 12 shards, NATS
 * config pushes (scenario 2 runs again with NATS absent, on e2e-availability's cluster without
 * NATS: one cluster start less). Every scenario runs an append load
 * (test/lib/append-load.ts: clients of the real client library append unique tokens to their
 * own keys, many in flight) and ends with the exact check: every key holds exactly its
 * acknowledged appends, once each, in order (an unacknowledged one at most once).
 *
 * 2. Join then leave under load.
 * 4. A change every 250-500 ms (joins and leaves of random groups): 24 changes (about 10 s),
 *    120 with `npm run test:long`; two changes in every 8 kill (-9) every server of the group
 *    they concern (one gaining shards, one giving them away), restarted a moment later.
 * 6. Garbage collection: a group leaves, every one of its servers is killed -9 at once and
 *    restarted during the move; once settled it holds zero keys of every shard (Status
 *    counts), as does every replica for every shard it does not own.
 * 9. Scale out and in with the launcher's addGroup / removeGroup under load.
 */
import { describe, expect, it } from "vitest";
import type { GroupId } from "../../common/ids";
import { delay } from "../../common/real-env";
import { e2eLong, e2eSuite, joinThenLeave } from "../lib/e2e";

const shards = 12;
const g = (n: number) => n as GroupId;

describe("e2e reconfiguration under load (NATS)", () => {
  const h = e2eSuite("reconfig-nats", { nats: true, groups: 3, shards });

  it("2. join then leave under load: every key holds exactly its acknowledged appends", async () => {
    h.onFail();
    await joinThenLeave(h);
  }, 180_000);

  it("4. a change every few hundred ms, with whole groups killed -9 in the middle of moves", async () => {
    h.onFail();
    const e = h.e;
    const c = e.cluster;
    const l = await h.startAppends("s4-");
    await l.waitAcks(60, "before the changes");
    // A seeded sequence: the same changes each run (the timing varies, as on real hardware).
    let seed = 4;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const restarts = new Map<number, Promise<void>>();
    const killGroup = async (gid: number, why: string) => {
      // Every server of a group involved in the change, mid-move; restarted a moment later
      // (a group killed again waits for its previous restart first).
      await restarts.get(gid);
      await Promise.all(e.servers(gid).map((n) => c.kill(n)));
      e.mark(`killed -9 every server of group ${gid} (${why})`);
      const downMs = 800 + rand(800); // drawn now: the sequence of draws does not depend on timing
      const restart = (async () => {
        await delay(downMs);
        await Promise.all(e.servers(gid).map((n) => c.restart(n)));
        e.mark(`restarted group ${gid}`);
      })();
      restart.catch(() => {}); // awaited below (a failure fails the test there)
      restarts.set(gid, restart);
    };
    let kills = 0;
    const changes = e2eLong ? 120 : 24;
    for (let i = 0; i < changes; i++) {
      const cfg = await c.controller().query();
      const inCfg = [1, 2, 3].filter((x) => cfg.groups.has(g(x)));
      const out = [1, 2, 3].filter((x) => !cfg.groups.has(g(x)));
      // Two changes in every 8 kill the group they concern: the 4th (so far always a join: the
      // group gaining shards) and the 7th (a leave: the group giving them away).
      const kill = i % 8 === 3 || i % 8 === 6;
      if (out.length > 0 && (inCfg.length === 1 || rand(2) === 0)) {
        const gid = out[rand(out.length)]!;
        // The controller checks a join (a majority of the group's servers must answer): a
        // group killed by an earlier change joins again once its restart is done.
        await restarts.get(gid);
        const num = await c.controller().join(new Map([[g(gid), c.groupAddrs(gid)]]));
        e.mark(`change ${i}: join ${gid} (config ${num})`);
        if (kill) await killGroup(gid, "it is pulling shards");
      } else {
        const gid = inCfg[rand(inCfg.length)]!;
        const num = await c.controller().leave([g(gid)]);
        e.mark(`change ${i}: leave ${gid} (config ${num})`);
        if (kill) await killGroup(gid, "it is giving its shards away");
      }
      if (kill) kills++;
      await delay(250 + rand(250));
    }
    expect(kills).toBe(changes / 4);
    await Promise.all(restarts.values());
    await l.waitAcks(60, "after the changes", 60_000);
    await h.finishAppends(l, "changes every few hundred ms");
  }, e2eLong ? 900_000 : 240_000);

  it("6. garbage collection: a group restarted -9 in the middle of giving its shards away ends holding none", async () => {
    h.onFail();
    const e = h.e;
    const c = e.cluster;
    const cfg = await c.controller().query();
    for (const x of [1, 2, 3]) if (!cfg.groups.has(g(x))) await c.controller().join(new Map([[g(x), c.groupAddrs(x)]]));
    await e.waitSettled("with all three groups");
    const l = await h.startAppends("s6-");
    await l.waitAcks(100, "before the leave");
    const held = (await Promise.all(c.groupAddrs(2).map((a) => c.serverStatus(a)))).map((s) => s.shards.reduce((n, sh) => n + Number(sh.keys), 0));
    expect(Math.min(...held)).toBeGreaterThan(0);
    await c.controller().leave([g(2)]);
    await Promise.all(e.servers(2).map((n) => c.kill(n)));
    e.mark(`leave 2 (its replicas held ${held.join("/")} keys); killed -9 all of group 2 at once`);
    await l.waitAcks(20, "while group 2 is down");
    await Promise.all(e.servers(2).map((n) => c.restart(n)));
    e.mark("group 2 restarted");
    await h.finishAppends(l, "gc after a restarted old owner");
    const after = await Promise.all(c.groupAddrs(2).map((a) => c.serverStatus(a)));
    for (const s of after) {
      expect(s.shards.filter((sh) => Number(sh.keys) > 0 || Number(sh.bytes) > 0)).toEqual([]);
    }
    e.mark("group 2 holds zero keys and bytes of every shard on every replica");
  }, 180_000);

  it("9. scale out and in with addGroup / removeGroup under load: nothing lost", async () => {
    h.onFail();
    const e = h.e;
    const c = e.cluster;
    const l = await h.startAppends("s9-");
    await l.waitAcks(60, "before scaling");
    const gid = await c.addGroup({ replicas: 3, timeoutMs: 90_000 });
    const cfg = await c.controller().query();
    e.mark(`added group ${gid} (config ${cfg.num}, it owns ${cfg.shards.filter((x) => x === gid).length} shards)`);
    expect(cfg.shards.filter((x) => x === gid).length).toBeGreaterThan(0);
    await l.waitAcks(60, `with group ${gid}`);
    const removed = await c.removeGroup(gid, { timeoutMs: 90_000 });
    e.mark(`removed group ${gid}: ${JSON.stringify(removed.drained)}`);
    for (const d of removed.drained) expect({ ...d, configNum: 0 }).toEqual({ name: d.name, configNum: 0, ownedShards: 0, keys: 0 });
    expect(c.gids()).not.toContain(gid);
    await l.waitAcks(60, `after removing group ${gid}`);
    await h.finishAppends(l, "scale out and in");
  }, 240_000);
});
