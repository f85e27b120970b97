/**
 * End-to-end scenarios 1, 7 and 8 of docs/testing.md ("The end-to-end scenarios") over real processes started by the launcher
 * (deploy/local/cluster.ts): 3 controllers, groups of 3 `shardkv-server`s, 12 shards; once
 * with NATS config pushes and once with NATS absent (polling only).
 *
 * 1. Static shards: with groups 1 and 2 serving and every server of group 2 killed, exactly
 *    the keys of group 2's shards are unavailable (their operations do not complete within
 *    their deadline) while every other key reads and writes; after the restart every key is
 *    back with its value.
 * 7. Unaffected shards: group 2 dead again, group 3 joins and gains shards from groups 1 and
 *    2; the reconfiguration waits on dead group 2, and the shards that stay with group 1 keep
 *    serving (latency before and during is printed; the scenario fails only if operations stop
 *    completing).
 * 8. Partial migration: during that wait, the shards group 3 received from group 1 serve at
 *    group 3 while the ones from group 2 are still Pulling; after group 2's restart everything
 *    settles, every value is intact, and no replica holds keys of a shard it does not own.
 *
 * Without NATS, scenario 2 of e2e-reconfig (join then leave under load) runs last on the same
 * cluster, so that e2e-reconfig, which runs it with NATS, needs no cluster without NATS of its own.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { TimeoutError } from "../../common/errors";
import type { GroupId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { ShardKV } from "../../client/shardkv";
import type { Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import { shardStateName } from "../../deploy/local/cluster";
import { type E2e, e2eSuite, joinThenLeave } from "../lib/e2e";
import { waitFor } from "../lib/wait";

const shards = 12;
const g = (n: number) => n as GroupId;

describe.each([{ nats: true }, { nats: false }])("e2e availability (NATS $nats)", ({ nats }) => {
  const suite = e2eSuite(`availability-${nats ? "nats" : "nonats"}`, { nats, groups: 3, shards });
  let e: E2e;
  let kv: ShardKV | undefined;
  const values = new Map<string, string>();
  const onFail = () => suite.onFail();

  beforeAll(async () => {
    e = suite.e;
    // Scenario 1 starts from two groups: group 3 leaves (it rejoins in scenario 7).
    await e.cluster.controller().leave([g(3)]);
    await e.waitSettled("after group 3 left");
    e.mark("group 3 left; groups 1 and 2 serve");
    kv = await ShardKV.connect({ controllers: e.controllers, deadlineMs: 20000, nats: e.nats });
    suite.closeAfter(kv);
  }, 120_000);

  /** Runs `op` with a short deadline: true if it completed, false if it timed out. */
  async function completes(op: (k: ShardKV) => Promise<unknown>, deadlineMs = 1500): Promise<boolean> {
    let short: ShardKV | undefined;
    try {
      // The deadline covers the connect (one config query) too.
      short = await ShardKV.connect({ controllers: e.controllers, deadlineMs, attemptMs: 500 });
      await op(short);
      return true;
    } catch (err) {
      if (err instanceof TimeoutError) return false;
      throw err;
    } finally {
      short?.close();
    }
  }

  it("1. static shards: a dead group makes exactly its keys unavailable; after its restart every key is back", async () => {
    onFail();
    const c = e.cluster;
    const cfg = await c.controller().query();
    for (let i = 0; i < 48; i++) {
      const k = `static-${i}`;
      await kv!.put(k, `v${i}`);
      values.set(k, `v${i}`);
    }
    const ownerOf = (k: string) => cfg.shards[shardOf(k, shards)]!;
    expect(new Set([...values.keys()].map(ownerOf))).toEqual(new Set([1, 2]));

    await Promise.all(e.servers(2).map((n) => c.kill(n)));
    e.mark("killed -9 every server of group 2");
    // A key of group 1 gets a generous deadline, one of dead group 2 a short one (it can never complete).
    const results = await Promise.all([...values].map(async ([k, v]) => ({
      k, owner: ownerOf(k),
      ok: await completes(async (short) => {
        expect(await short.getString(k)).toBe(v);
        await short.put(k, `${v}+`);
      }, ownerOf(k) === 1 ? 15000 : 1500),
    })));
    for (const r of results) {
      expect({ key: r.k, owner: r.owner, completed: r.ok }).toEqual({ key: r.k, owner: r.owner, completed: r.owner === 1 });
      if (r.ok) values.set(r.k, `${values.get(r.k)}+`);
    }
    e.mark(`with group 2 dead: ${results.filter((r) => r.ok).length} keys of group 1 worked, ${results.filter((r) => !r.ok).length} of group 2 did not complete`);

    await Promise.all(e.servers(2).map((n) => c.restart(n)));
    e.mark("group 2 restarted");
    for (const [k, v] of values) expect(await kv!.getString(k)).toBe(v);
    for (const k of values.keys()) await kv!.append(k, "!");
    for (const [k, v] of values) values.set(k, `${v}!`);
    for (const [k, v] of values) expect(await kv!.getString(k)).toBe(v);
    e.mark("every key back and writable");
  }, 120_000);

  it("7 + 8. while a move waits on a dead group, uninvolved shards and arrived shards serve", async () => {
    onFail();
    const c = e.cluster;
    const before: Config = await c.controller().query();
    // Latency of shards that stay with group 1 before the reconfiguration.
    const probeKeys = (pred: (s: number) => boolean) => [...values.keys()].filter((k) => pred(shardOf(k, shards)));
    const timeOps = async (keys: readonly string[], rounds: number): Promise<number[]> => {
      const ms: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const k of keys) {
          const t = realClock.nowMs();
          await kv!.getString(k);
          ms.push(realClock.nowMs() - t);
        }
      }
      return ms.sort((a, b) => a - b);
    };

    const g1Keys = probeKeys((s) => before.shards[s] === 1);
    const baseline = await timeOps(g1Keys, 3);
    e.mark(`group 1's shards before: p50 ${baseline[Math.floor(baseline.length / 2)]!.toFixed(1)} ms, max ${baseline.at(-1)!.toFixed(1)} ms over ${baseline.length} reads`);
    await Promise.all(e.servers(2).map((n) => c.kill(n)));
    e.mark("killed -9 every server of group 2 again");
    // Group 3 rejoins: it gains shards from group 1 (alive) and group 2 (dead).
    const num = await c.controller().join(new Map([[g(3), c.groupAddrs(3)]]));
    const after = await c.controller().query(num);
    const fromG1 = after.shards.map((o, s) => (o === 3 && before.shards[s] === 1 ? s : -1)).filter((s) => s >= 0);
    const fromG2 = after.shards.map((o, s) => (o === 3 && before.shards[s] === 2 ? s : -1)).filter((s) => s >= 0);
    const stayG1 = after.shards.map((o, s) => (o === 1 && before.shards[s] === 1 ? s : -1)).filter((s) => s >= 0);
    e.mark(`join 3 (config ${num}): from group 1 ${fromG1.join(",")}; from dead group 2 ${fromG2.join(",")}; staying with group 1 ${stayG1.join(",")}`);
    expect(fromG1.length).toBeGreaterThan(0);
    expect(fromG2.length).toBeGreaterThan(0);
    expect(stayG1.length).toBeGreaterThan(0);

    // 8: group 3's leader serves what came from group 1 and still pulls what group 2 holds.
    const g3 = c.groupAddrs(3);
    await waitFor(async () => {
      for (const a of g3) {
        const s = await c.serverStatus(a, 1000).catch(() => undefined);
        if (!s || s.role !== "leader" || Number(s.configNum) < num) continue;
        const st = (sh: number) => shardStateName(s.shards[sh]!.state);
        return fromG1.every((sh) => st(sh) === "serving" || st(sh) === "gc") && fromG2.every((sh) => st(sh) === "pulling");
      }
      return false;
    }, { timeoutMs: 30000, what: `group 3 serving shards ${fromG1.join(",")} (from group 1) while pulling ${fromG2.join(",")} (from dead group 2)`, intervalMs: 50 });
    e.mark("group 3 serves the shards from group 1 and pulls the ones from dead group 2");

    const arrived = probeKeys((s) => fromG1.includes(s));
    const waiting = probeKeys((s) => fromG2.includes(s));
    const staying = probeKeys((s) => stayG1.includes(s));
    expect(arrived.length).toBeGreaterThan(0);
    expect(waiting.length).toBeGreaterThan(0);
    expect(staying.length).toBeGreaterThan(0);
    for (const k of arrived) {
      expect(await completes(async (short) => {
        expect(await short.getString(k)).toBe(values.get(k));
        await short.append(k, "#");
      }, 15000), `arrived key ${k} serves at group 3`).toBe(true);
      values.set(k, `${values.get(k)}#`);
    }
    const waited = await Promise.all(waiting.map(async (k) => ({ k, completed: await completes((short) => short.getString(k)) })));
    expect(waited).toEqual(waiting.map((k) => ({ k, completed: false })));

    // 7: shards that stay with group 1 keep serving during the wait.
    const during = await timeOps(staying, 5);
    expect(during.length).toBe(staying.length * 5);
    for (const k of staying) {
      await kv!.append(k, "%");
      values.set(k, `${values.get(k)}%`);
    }
    e.mark(`uninvolved shards during the wait: p50 ${during[Math.floor(during.length / 2)]!.toFixed(1)} ms, max ${during.at(-1)!.toFixed(1)} ms over ${during.length} reads`);

    await Promise.all(e.servers(2).map((n) => c.restart(n)));
    e.mark("group 2 restarted");
    await e.waitSettled("after group 2's restart", 60000);
    e.mark("settled");
    for (const [k, v] of values) expect(await kv!.getString(k)).toBe(v);
    expect(await e.foreignKeys()).toEqual([]);
    const latency = await timeOps(staying, 5);
    e.mark(`uninvolved shards after: p50 ${latency[Math.floor(latency.length / 2)]!.toFixed(1)} ms, max ${latency.at(-1)!.toFixed(1)} ms; every value intact; no foreign keys`);
  }, 150_000);

  // With NATS, e2e-reconfig runs it on its own cluster.
  if (!nats) {
    it("2. join then leave under load, without NATS: every key holds exactly its acknowledged appends", async () => {
      onFail();
      await joinThenLeave(suite);
    }, 180_000);
  }
});
