/**
 * The unreliable-network scenario of `npm run bench` (`--scenario unreliable`): the same
 * workload twice on one running LocalCluster whose daemons have failpoints enabled
 * (docs/failpoints.md), first on a clean network, then with every daemon dropping requests,
 * dropping replies after executing them and delaying messages (`lossySpecDefault`). In each
 * phase a group leaves and joins again under the load:
 *
 *   load for preMs -> Leave(gid) -> every shard Serving -> load for midMs -> Join(gid)
 *   -> every shard Serving -> load for postMs -> stop
 *
 * The load: `clients` ShardKV client objects (library defaults but the deadline), each one
 * operation at a time, paced at `ratePerClient` operations per second (a closed loop that
 * starts its next operation 1/rate after the previous one started, or at once when that one
 * took longer; no catch-up burst): 40 % linearizable gets of any key of the phase, 30 % puts
 * to the client's own keys, 30 % appends of unique tokens to its own keys. A phase's
 * throughput is its operations over its whole length, so a stall in a config change shows as
 * a longer phase at the same count. Appends are checked exactly at the end
 * (deploy/local/append-history.ts), so speed bought with lost or doubled writes fails the run.
 */
import { TimeoutError } from "../common/errors";
import { parseFailpointSpec } from "../common/failpoints";
import type { GroupId } from "../common/ids";
import { delay, realClock, realRng } from "../common/real-env";
import { Histogram } from "./histogram";
import { ShardKV } from "../client/shardkv";
import { FailpointAdminClient } from "../raft/transport/failpoint-admin";
import { AppendHistory, type AppendCheck } from "../deploy/local/append-history";
import type { LocalCluster } from "../deploy/local/cluster";

/** The faults of the lossy phase: what issue reports of users saw (docs/failpoints.md). */
export const lossySpecDefault = "drop-request=0.1,drop-reply=0.1,delay=27";

export interface UnreliableOptions {
  /** Client objects, one operation in flight each. Default 10. */
  readonly clients?: number;
  /** Operations per second per client at most. Default 20. */
  readonly ratePerClient?: number;
  /** Load before the leave, after the leave settled, after the join settled (ms). Default 5000 each. */
  readonly pauseMs?: number;
  /** The group that leaves and joins again. Default: the highest gid of the cluster. */
  readonly gid?: number;
  /** Deadline of one operation, retries included. Default 15000. */
  readonly deadlineMs?: number;
  /** Failpoints of the lossy phase. Default lossySpecDefault. */
  readonly spec?: string;
  /** Deadline of each config change to settle (every shard Serving). Default 120 s. */
  readonly settleMs?: number;
}

export interface LatencyMs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** One phase's figures. */
export interface PhaseResult {
  readonly faults: string;
  readonly ops: number;
  readonly elapsedMs: number;
  readonly opsPerSec: number;
  readonly latencyMs: LatencyMs;
  /** Operations that failed with TimeoutError (their deadline passed). */
  readonly timeouts: number;
  /** Any other failure (a count, and the first few messages). */
  readonly otherErrors: number;
  readonly otherErrorSamples: readonly string[];
  /** From the Leave / Join call until every shard was Serving. */
  readonly leaveMs: number;
  readonly joinMs: number;
}

export interface UnreliableResult {
  readonly clients: number;
  readonly ratePerClient: number;
  readonly gid: number;
  readonly clean: PhaseResult;
  readonly lossy: PhaseResult;
  /** What the daemons' failpoints fired in the lossy phase. */
  readonly fired: { readonly droppedRequests: number; readonly droppedReplies: number; readonly delayed: number };
  /** The exact check of every append of both phases. */
  readonly appends: AppendCheck;
}

/** The targets: p99 of the lossy phase at most this, in ms ... */
export const lossyP99MsMax = 2000;
/** ... and its throughput at least this fraction of the clean phase's. */
export const lossyThroughputRatioMin = 1 / 3;

const otherErrorSamplesMax = 5;

/** One phase: the load, a leave and a join of `gid`, each waited until every shard serves. */
async function runPhase(
  cluster: LocalCluster, o: Required<UnreliableOptions>, faults: string, prefix: string, history: AppendHistory, say: (line: string) => void,
): Promise<PhaseResult> {
  const clients: ShardKV[] = [];
  try {
    for (let i = 0; i < o.clients; i++) clients.push(await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: o.deadlineMs }));
  } catch (e) {
    for (const kv of clients) kv.close();
    throw e;
  }
  const hist = new Histogram();
  let timeouts = 0;
  let otherErrors = 0;
  const samples: string[] = [];
  let stop = false;
  const intervalMs = 1000 / o.ratePerClient;
  const putKeys = Array.from({ length: o.clients * 3 }, (_, i) => `${prefix}p${i % o.clients}-${Math.floor(i / o.clients)}`);
  const appendKeys = Array.from({ length: o.clients * 3 }, (_, i) => `${prefix}a${i % o.clients}-${Math.floor(i / o.clients)}`);
  const allKeys = [...putKeys, ...appendKeys];
  const t0 = realClock.nowMs();
  const loops = clients.map(async (kv, c) => {
    let next = t0 + (c * intervalMs) / o.clients; // spread the clients' starts over one interval
    let n = 0;
    while (!stop) {
      const wait = next - realClock.nowMs();
      if (wait > 0) await delay(wait);
      if (stop) break;
      const start = realClock.nowMs();
      next = Math.max(next + intervalMs, start);
      const r = realRng.int(100);
      const j = realRng.int(3);
      const token = `${c}.${n++};`;
      const rec = r >= 70 ? history.issue(`${prefix}a${c}-${j}`, `${prefix}${token}`) : undefined;
      try {
        if (r < 40) await kv.get(allKeys[realRng.int(allKeys.length)]!);
        else if (rec === undefined) await kv.put(`${prefix}p${c}-${j}`, token);
        else {
          await kv.append(`${prefix}a${c}-${j}`, rec.token);
          history.ack(rec);
        }
        hist.record((realClock.nowMs() - start) * 1000);
      } catch (e) {
        if (rec) rec.outcome = "failed";
        if (e instanceof TimeoutError) timeouts++;
        else {
          otherErrors++;
          if (samples.length < otherErrorSamplesMax) samples.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
        }
      }
    }
  });
  const since = (t: number): number => realClock.nowMs() - t;
  let leaveMs = NaN;
  let joinMs = NaN;
  try {
    await delay(o.pauseMs);
    let t = realClock.nowMs();
    await cluster.controller().leave([o.gid as GroupId]);
    await cluster.waitAllServing(o.settleMs);
    leaveMs = since(t);
    say(`    ${faults}: leave ${o.gid} settled in ${(leaveMs / 1000).toFixed(1)} s (${hist.count} ops so far)`);
    await delay(o.pauseMs);
    t = realClock.nowMs();
    await cluster.controller().join(new Map([[o.gid as GroupId, cluster.groupAddrs(o.gid)]]));
    await cluster.waitAllServing(o.settleMs);
    joinMs = since(t);
    say(`    ${faults}: join ${o.gid} settled in ${(joinMs / 1000).toFixed(1)} s (${hist.count} ops so far)`);
    await delay(o.pauseMs);
  } finally {
    stop = true;
    await Promise.all(loops);
    for (const kv of clients) kv.close();
  }
  const elapsedMs = since(t0);
  const ms = (p: number): number => (hist.count === 0 ? NaN : hist.valueAt(p) / 1000);
  return {
    faults, ops: hist.count, elapsedMs, opsPerSec: hist.count / (elapsedMs / 1000),
    latencyMs: { p50: ms(50), p90: ms(90), p99: ms(99), max: hist.count === 0 ? NaN : hist.max / 1000 },
    timeouts, otherErrors, otherErrorSamples: samples, leaveMs, joinMs,
  };
}

/** Sets `spec` on every daemon of the cluster; returns what their failpoints had fired until now. */
async function setFailpoints(cluster: LocalCluster, spec: string): Promise<UnreliableResult["fired"]> {
  const parsed = parseFailpointSpec(spec);
  const fired = { droppedRequests: 0, droppedReplies: 0, delayed: 0 };
  await Promise.all(cluster.nodeNames().map(async (name) => {
    const admin = new FailpointAdminClient(cluster.node(name).addr, cluster.security);
    try {
      const before = await admin.get();
      fired.droppedRequests += before.counters.droppedRequests;
      fired.droppedReplies += before.counters.droppedReplies;
      fired.delayed += before.counters.delayed;
      await admin.set(parsed);
    } catch (e) {
      throw new Error(`failpoints of ${name}: ${e instanceof Error ? e.message : String(e)} (was the cluster started with --failpoints on?)`);
    } finally {
      admin.close();
    }
  }));
  return fired;
}

/**
 * Runs both phases on `cluster` (its daemons started with `--failpoints on`, the group `gid`
 * joined) and checks every append. Leaves the failpoints cleared.
 */
export async function runUnreliable(cluster: LocalCluster, opts: UnreliableOptions, say: (line: string) => void): Promise<UnreliableResult> {
  const o: Required<UnreliableOptions> = {
    clients: opts.clients ?? 10,
    ratePerClient: opts.ratePerClient ?? 20,
    pauseMs: opts.pauseMs ?? 5000,
    gid: opts.gid ?? Math.max(...cluster.gids()),
    deadlineMs: opts.deadlineMs ?? 15_000,
    spec: opts.spec ?? lossySpecDefault,
    settleMs: opts.settleMs ?? 120_000,
  };
  const history = new AppendHistory();
  say(`  unreliable: ${o.clients} clients at most ${o.ratePerClient} ops/s each; leave and join of group ${o.gid} in each phase`);
  await setFailpoints(cluster, "none");
  const clean = await runPhase(cluster, o, "clean", "uc-", history, say);
  say(`  unreliable clean: ${phaseLine(clean)}`);
  const before = await setFailpoints(cluster, o.spec);
  let lossy: PhaseResult;
  let after: UnreliableResult["fired"];
  try {
    lossy = await runPhase(cluster, o, o.spec, "ul-", history, say);
  } finally {
    after = await setFailpoints(cluster, "none");
  }
  say(`  unreliable lossy: ${phaseLine(lossy)}`);
  await cluster.waitAllServing(o.settleMs);
  const reader = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs: 30_000 });
  let appends: AppendCheck;
  try {
    appends = await history.verify((key) => reader.getString(key));
  } finally {
    reader.close();
  }
  return {
    clients: o.clients, ratePerClient: o.ratePerClient, gid: o.gid, clean, lossy, appends,
    fired: {
      droppedRequests: after.droppedRequests - before.droppedRequests,
      droppedReplies: after.droppedReplies - before.droppedReplies,
      delayed: after.delayed - before.delayed,
    },
  };
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 1) : "-");

/** One line of a phase's figures. */
export function phaseLine(p: PhaseResult): string {
  const l = p.latencyMs;
  const other = p.otherErrors > 0 ? `, ${p.otherErrors} other errors (${p.otherErrorSamples.join("; ")})` : "";
  return `${p.ops} ops in ${(p.elapsedMs / 1000).toFixed(1)} s = ${f1(p.opsPerSec)} ops/s; latency ms p50 ${f1(l.p50)} p90 ${f1(l.p90)} ` +
    `p99 ${f1(l.p99)} max ${f1(l.max)}; ${p.timeouts} timeouts${other}; leave settled in ${(p.leaveMs / 1000).toFixed(1)} s, ` +
    `join in ${(p.joinMs / 1000).toFixed(1)} s`;
}

/** The scenario's report: both phases, the ratios, the targets, the failpoints fired, the append check. */
export function renderUnreliable(r: UnreliableResult): string {
  const ratio = r.lossy.opsPerSec / r.clean.opsPerSec;
  const p99Met = r.lossy.latencyMs.p99 <= lossyP99MsMax && r.lossy.timeouts === 0;
  const rateMet = ratio >= lossyThroughputRatioMin;
  const lines = [
    `unreliable network: ${r.clients} clients, at most ${r.ratePerClient} ops/s each (40% get, 30% put, 30% append); group ${r.gid} leaves and joins in each phase`,
    `  clean  ${phaseLine(r.clean)}`,
    `  lossy  ${phaseLine(r.lossy)}`,
    `  lossy faults: ${r.lossy.faults}; fired ${r.fired.droppedRequests} dropped requests, ${r.fired.droppedReplies} dropped replies, ${r.fired.delayed} delayed`,
    `  ratios lossy/clean: ops/s ${ratio.toFixed(2)}, p50 ${(r.lossy.latencyMs.p50 / r.clean.latencyMs.p50).toFixed(2)}x, ` +
      `p99 ${(r.lossy.latencyMs.p99 / r.clean.latencyMs.p99).toFixed(2)}x, max ${(r.lossy.latencyMs.max / r.clean.latencyMs.max).toFixed(2)}x`,
    `  target p99 <= ${lossyP99MsMax} ms with no timeouts: ${p99Met ? "met" : "not met"}; ` +
      `target ops/s >= ${lossyThroughputRatioMin.toFixed(2)} of clean: ${rateMet ? "met" : "not met"}`,
    `  appends exact: ${r.appends.keys} keys hold their ${r.appends.acked} acknowledged appends once each, in order; ` +
      `${r.appends.unackedApplied} of ${r.appends.unacked} unacknowledged applied`,
  ];
  return lines.join("\n") + "\n";
}
