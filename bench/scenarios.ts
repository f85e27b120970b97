/**
 * The scenario benchmarks of `npm run bench` (bench/run.ts), each on a running
 * LocalCluster with `shardkv bench --timeline` as the load:
 *   failover    kill -9 of group 1's leader under a put load: how long writes stall;
 *   shard move  a large shard moved between groups under load: how long it takes, and the
 *               p99 of the other shards (the load excludes the moving shard) before and during;
 *   restart     a server holding 1 GiB killed and started again: how long until it serves
 *               (restartHolding: any size, for the restart-size table, bench/scaling.ts);
 *   idle elections  an idle healthy cluster watched for elections.
 */
import type { GroupId } from "../common/ids";
import { realClock, delay } from "../common/real-env";
import { ShardKV } from "../client/shardkv";
import { shardOf } from "../controller/shard-of";
import { type LocalCluster, shardStateName } from "../deploy/local/cluster";
import { runCell, shardkvBin } from "./cell";
import {
  type BenchJson, type FailoverResult, type RestartResult, type ShardMoveResult, type WindowJson, failoverResumeMs, meanRate, windowP99s,
} from "./report";
import type { RunOptions } from "./run-args";
import type { IdleElectionsResult } from "./scaling-report";

const pidsOf = (cluster: LocalCluster): number[] =>
  cluster.nodeNames().map((n) => cluster.node(n).pid).filter((p): p is number => p !== null);

/**
 * Leader failover: a put load at concurrency 16 with --timeline; `killAfterMs` into its
 * measured phase group 1's leader is killed with SIGKILL; the timeline shows how long writes
 * stalled (report.ts failoverResumeMs).
 */
export async function runFailover(cluster: LocalCluster, o: RunOptions): Promise<FailoverResult | { error: string }> {
  const concurrency = 16;
  const durationMs = o.quick ? 6_000 : 15_000;
  const killAfterMs = o.quick ? 2_000 : 5_000;
  const pids = pidsOf(cluster);
  let measureStart = 0;
  let killed: string | undefined;
  let killAtMs = 0;
  let killError: string | undefined;
  let killing: Promise<void> = Promise.resolve();
  let cancelTimer = (): void => undefined;
  const args = [
    "bench", "--controllers", cluster.controllerAddrs().join(","), "--workload", "put", "--concurrency", String(concurrency),
    "--keys", String(o.keys), "--duration", `${durationMs}ms`, "--warmup", "1s", "--timeline", "--key-prefix", "failover-",
  ];
  const outcome = await runCell(shardkvBin, args, pids, durationMs + 120_000, () => {
    measureStart = realClock.nowMs();
    cancelTimer = realClock.after(killAfterMs, () => {
      killing = (async () => {
        try {
          const st = await cluster.status();
          const leader = st.nodes.find((n) => n.kind === "server" && n.gid === 1 && n.state === "up" && n.role === "leader");
          if (!leader) throw new Error("group 1 has no leader to kill");
          killAtMs = realClock.nowMs() - measureStart;
          await cluster.kill(leader.name);
          killed = leader.name;
        } catch (e) {
          killError = e instanceof Error ? e.message : String(e);
        }
      })();
    });
  });
  cancelTimer(); // the load ended: no kill after it
  await killing;
  if (!outcome.ok) return { error: outcome.error };
  if (killError !== undefined || killed === undefined) return { error: killError ?? "the load ended before the kill" };
  const r = outcome.result as BenchJson & { timeline?: WindowJson[] };
  const windows = r.timeline ?? [];
  const resumeMs = failoverResumeMs(windows, killAtMs);
  const beforeWindows = windows.filter((w) => w.tMs + 100 <= killAtMs && w.p99Ms !== null);
  return {
    killed,
    killAtMs,
    resumeMs,
    opsPerSecBefore: meanRate(windows, 0, killAtMs),
    opsPerSecAfter: meanRate(windows, killAtMs + Math.max(resumeMs, 0) + 1000, durationMs),
    p99MsBefore: beforeWindows.length > 0 ? Math.max(...beforeWindows.map((w) => w.p99Ms!)) : null,
    maxMs: r.latencyMs.max,
    errors: r.errors.total,
    concurrency,
  };
}

/** Bytes of one value of the moved shard (the shape of test/perf/measure-shard-move.ts). */
export const moveValueBytes = 256 * 1024;

/** `n` keys that hash to `shard` (prefix "move-"). */
export function keysOfShard(shard: number, shardCount: number, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const k = `move-${i}`;
    if (shardOf(k, shardCount) === shard) out.push(k);
  }
  return out;
}

/**
 * The migration flags of the shard servers of the cluster the shard move runs on (bench
 * --move-rate, --move-pacing, --move-window: by default the daemons' defaults).
 */
export function moveServerArgs(o: Pick<RunOptions, "moveRateMiB" | "movePacing" | "moveWindowMiB">): string[] {
  return ["--migration-rate", String(o.moveRateMiB), "--migration-pacing", o.movePacing, "--migration-window", String(o.moveWindowMiB)];
}

/**
 * Shard move under load (3 groups): fills one shard of group 1 with `mib` MiB, starts a mixed
 * 50/50 load at concurrency 16 that excludes that shard, moves the shard to group 2 a few
 * seconds into the measured phase, and waits until group 2's leader serves it with every key.
 */
export async function runShardMove(cluster: LocalCluster, o: RunOptions, say: (line: string) => void): Promise<ShardMoveResult | { error: string }> {
  const mib = o.quick ? 10 : 100;
  const concurrency = 16;
  const workload = "mixed:50";
  const durationMs = o.quick ? 20_000 : 60_000;
  const moveAfterMs = o.quick ? 3_000 : 10_000;
  const from = 1;
  const to = 2;
  const cfg = await cluster.controller().query();
  const shardCount = cfg.shards.length;
  const shard = cfg.shards.findIndex((g) => g === from);
  if (shard < 0) return { error: `group ${from} owns no shard` };
  const n = Math.ceil((mib * 1024 * 1024) / moveValueBytes);
  const keys = keysOfShard(shard, shardCount, n);

  // Fill the shard (4 writes in flight; each value 256 KiB).
  const kv = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 120_000 });
  const t0 = realClock.nowMs();
  try {
    const value = new Uint8Array(moveValueBytes).fill(120);
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < keys.length) await kv.put(keys[next++]!, value);
    }));
  } catch (e) {
    return { error: `filling shard ${shard}: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    kv.close();
  }
  const fillMs = realClock.nowMs() - t0;
  say(`  shardkv 3g shard move: shard ${shard} filled with ${mib} MiB in ${(fillMs / 1000).toFixed(1)} s`);

  let measureStart = 0;
  let moveAtMs = 0;
  let moveMs: number | undefined;
  let moveError: string | undefined;
  let moving: Promise<void> = Promise.resolve();
  let cancelTimer = (): void => undefined;
  const movedDeadlineMs = 300_000;
  const args = [
    "bench", "--controllers", cluster.controllerAddrs().join(","), "--workload", workload, "--concurrency", String(concurrency),
    "--keys", String(o.keys), "--duration", `${durationMs}ms`, "--warmup", "1s", "--timeline", "--exclude-shard", String(shard),
    "--key-prefix", "moveload-",
  ];
  const outcome = await runCell(shardkvBin, args, pidsOf(cluster), durationMs + movedDeadlineMs, () => {
    measureStart = realClock.nowMs();
    cancelTimer = realClock.after(moveAfterMs, () => {
      moving = (async () => {
        try {
          const t = realClock.nowMs();
          moveAtMs = t - measureStart;
          await cluster.controller().move(shard, to as GroupId);
          await waitServing(cluster, to, shard, keys.length, movedDeadlineMs);
          moveMs = realClock.nowMs() - t;
        } catch (e) {
          moveError = e instanceof Error ? e.message : String(e);
        }
      })();
    });
  });
  cancelTimer();
  await moving;
  if (!outcome.ok) return { error: outcome.error };
  if (moveError !== undefined) return { error: `moving shard ${shard}: ${moveError}` };
  if (moveMs === undefined) return { error: "the load ended before the move started" };
  const r = outcome.result as BenchJson & { timeline?: WindowJson[] };
  const windows = r.timeline ?? [];
  return {
    rateMiB: o.moveRateMiB, pacing: o.movePacing, shard, from, to, mib, keys: keys.length, fillMs, moveMs, moveAtMs, concurrency, workload,
    before: windowP99s(windows, 0, moveAtMs),
    during: windowP99s(windows, moveAtMs, moveAtMs + moveMs),
    errors: r.errors.total,
  };
}

/** Waits until group `gid`'s leader reports `shard` Serving with `keys` keys. */
async function waitServing(cluster: LocalCluster, gid: number, shard: number, keys: number, timeoutMs: number): Promise<void> {
  const end = realClock.nowMs() + timeoutMs;
  let last = "no answer";
  while (realClock.nowMs() < end) {
    for (const addr of cluster.groupAddrs(gid)) {
      try {
        const s = await cluster.serverStatus(addr, 1000);
        if (s.role !== "leader") continue;
        const e = s.shards.find((x) => Number(x.shard) === shard);
        last = e ? `state ${e.state}, ${Number(e.keys)} keys` : "shard not reported";
        if (e && shardStateName(e.state) === "serving" && Number(e.keys) >= keys) return;
      } catch {
        // down or slow: the next poll
      }
    }
    await delay(200);
  }
  throw new Error(`group ${gid} did not serve shard ${shard} with ${keys} keys within ${timeoutMs} ms (last: ${last})`);
}

/** How a data set is written before a restart: its size, each value's bytes, writes in flight. */
export interface FillSpec {
  readonly mib: number;
  readonly valueBytes: number;
  /** Puts in flight, over all the clients. */
  readonly concurrency: number;
  /** Client objects (each its own connections) sharing the puts in flight; default 1. */
  readonly clients?: number;
}

/**
 * The fill of a restart at `mib` MiB: 256 KiB values 8 in flight up to 1 GiB (the restart
 * scenario's shape), 1 MiB values (the largest a value may be) 16 in flight above it, so that
 * 4 GiB loads as fast as this machine's synced writes allow.
 */
export function fillFor(mib: number): FillSpec {
  return mib > 1024 ? { mib, valueBytes: 1024 * 1024, concurrency: 16 } : { mib, valueBytes: moveValueBytes, concurrency: 8 };
}

/**
 * Restart of a server holding a large data set (1 group): writes `mib` MiB (256 KiB values,
 * 8 in flight), kills a follower of group 1 with SIGKILL, starts it again and measures until it
 * answers Status and until it reports every shard Serving with as many keys as the leader
 * (applied state lives in RocksDB: nothing is replayed from the beginning).
 */
export async function runRestart(cluster: LocalCluster, o: RunOptions, say: (line: string) => void): Promise<RestartResult | { error: string }> {
  return restartHolding(cluster, fillFor(o.quick ? 50 : 1024), say);
}

/** The restart of a follower of group 1 after `fill` was written (runRestart's measure, any size). */
export async function restartHolding(cluster: LocalCluster, fill: FillSpec, say: (line: string) => void): Promise<RestartResult | { error: string }> {
  const { mib } = fill;
  const n = Math.ceil((mib * 1024 * 1024) / fill.valueBytes);
  const kvs: ShardKV[] = [];
  const t0 = realClock.nowMs();
  try {
    for (let i = 0; i < (fill.clients ?? 1); i++) kvs.push(await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 120_000 }));
    const value = new Uint8Array(fill.valueBytes).fill(121);
    let next = 0;
    await Promise.all(Array.from({ length: fill.concurrency }, async (_, w) => {
      const kv = kvs[w % kvs.length]!;
      while (next < n) await kv.put(`big-${next++}`, value);
    }));
  } catch (e) {
    return { error: `writing ${mib} MiB: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    for (const kv of kvs) kv.close();
  }
  const fillMs = realClock.nowMs() - t0;
  say(`  shardkv 1g restart: ${mib} MiB written in ${(fillMs / 1000).toFixed(1)} s`);
  // Status scans every shard's keys: with gigabytes stored on a loaded machine a replica may
  // miss the status probe's 1 s deadline; ask again for a minute.
  let servers: Awaited<ReturnType<LocalCluster["status"]>>["nodes"] = [];
  const pick = (role: string) => servers.find((x) => x.role === role);
  try {
    await until(async () => {
      servers = (await cluster.status()).nodes.filter((x) => x.kind === "server" && x.gid === 1 && x.state === "up");
      return pick("follower") !== undefined && pick("leader") !== undefined;
    }, 60_000, "a leader and a follower of group 1 to answer Status");
  } catch {
    return { error: `group 1 has no leader and follower to use (${servers.map((x) => `${x.name} ${x.role}`).join(", ")})` };
  }
  const follower = pick("follower")!;
  const leader = pick("leader")!;
  const totalKeys = (s: { shards?: readonly { keys: number }[] }): number => (s.shards ?? []).reduce((a, x) => a + x.keys, 0);
  // Wait until the follower has applied everything (no load runs now).
  const leaderKeys = await keysOf(cluster, leader.addr);
  await until(async () => (await keysOf(cluster, follower.addr)) >= leaderKeys, 120_000 + mib * 60, `${follower.name} to catch up before the restart`);
  await cluster.kill(follower.name);
  const t1 = realClock.nowMs();
  try {
    await cluster.restart(follower.name, { timeoutMs: 120_000 });
  } catch (e) {
    return { error: `restarting ${follower.name}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const answerMs = realClock.nowMs() - t1;
  try {
    await until(async () => {
      const s = await cluster.serverStatus(follower.addr, 5000);
      const shards = s.shards.map((x) => ({ state: shardStateName(x.state), keys: Number(x.keys) }));
      return shards.length > 0 && shards.every((x) => x.state === "serving") && totalKeys({ shards }) >= leaderKeys;
    }, 120_000, `${follower.name} to serve every shard with ${leaderKeys} keys`);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  const servingMs = realClock.nowMs() - t1;
  return { node: follower.name, mib, values: n, fillMs, keys: leaderKeys, answerMs, servingMs };
}

/**
 * Elections on an idle healthy cluster: every Raft group's term (the highest any replica
 * reports) and every replica's `shardkv_raft_leader_changes_seen_total` read at the start and
 * after `durationMs` with no load; a term increment is an election (a PreVote that fails bumps
 * no term). Progress is said every minute.
 */
export async function runIdleElections(cluster: LocalCluster, groups: number, durationMs: number, say: (line: string) => void): Promise<IdleElectionsResult | { error: string }> {
  const before = await groupTerms(cluster);
  const changesBefore = await leaderChangesSeen(cluster);
  const t0 = realClock.nowMs();
  for (;;) {
    const left = t0 + durationMs - realClock.nowMs();
    if (left <= 0) break;
    await delay(Math.min(left, 60_000));
    if (realClock.nowMs() < t0 + durationMs) {
      const now = await groupTerms(cluster);
      const elections = [...now].reduce((a, [g, t]) => a + t - (before.get(g) ?? t), 0);
      say(`  idle elections: ${((realClock.nowMs() - t0) / 60_000).toFixed(0)} min, ${elections} election(s) so far`);
    }
  }
  const after = await groupTerms(cluster);
  const changesAfter = await leaderChangesSeen(cluster);
  const byGroup = [...after].map(([name, termAfter]) => ({
    name, termBefore: before.get(name) ?? termAfter, termAfter, leaderChanges: (changesAfter.get(name) ?? 0) - (changesBefore.get(name) ?? 0),
  }));
  if (byGroup.length !== before.size) return { error: `groups answering Status changed: ${[...before.keys()].join(", ")} before, ${[...after.keys()].join(", ")} after` };
  return {
    groups, durationMs: realClock.nowMs() - t0, byGroup,
    elections: byGroup.reduce((a, g) => a + g.termAfter - g.termBefore, 0),
    leaderChangesSeen: byGroup.reduce((a, g) => a + g.leaderChanges, 0),
  };
}

const groupName = (gid: number | undefined): string => (gid === undefined ? "controllers" : `group ${gid}`);

/** The highest term any replica of each Raft group reports (Status). */
async function groupTerms(cluster: LocalCluster): Promise<Map<string, number>> {
  const st = await cluster.status();
  const out = new Map<string, number>();
  for (const n of st.nodes) {
    if (n.term === undefined) continue;
    const g = groupName(n.gid);
    out.set(g, Math.max(out.get(g) ?? 0, n.term));
  }
  return out;
}

/** `shardkv_raft_leader_changes_seen_total` summed over each group's replicas (0 for a replica without metrics). */
async function leaderChangesSeen(cluster: LocalCluster): Promise<Map<string, number>> {
  const st = await cluster.status();
  const out = new Map<string, number>();
  for (const n of st.nodes) {
    const g = groupName(n.gid);
    let v = 0;
    if (n.metrics !== undefined) {
      const body = await (await fetch(`http://${n.metrics}/metrics`)).text();
      const line = body.split("\n").find((l) => l.startsWith("shardkv_raft_leader_changes_seen_total"));
      v = line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    out.set(g, (out.get(g) ?? 0) + v);
  }
  return out;
}

/**
 * Keys a server reports over all its shards (0 when it does not answer). Status counts each
 * shard's keys by scanning them: with gigabytes stored on a loaded machine it takes seconds.
 */
async function keysOf(cluster: LocalCluster, addr: string): Promise<number> {
  try {
    const s = await cluster.serverStatus(addr, 5000);
    return s.shards.reduce((a, x) => a + Number(x.keys), 0);
  } catch {
    return 0;
  }
}

/** Polls `cond` every 100 ms until it holds; throws after `timeoutMs` naming `what`. */
async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = realClock.nowMs() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not answering yet
    }
    if (realClock.nowMs() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}
