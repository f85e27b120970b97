/**
 * The dashboard's poll loop: about once per `intervalMs` it asks the controllers for the
 * latest config (Query: shard -> gid, the groups and their servers), every controller and
 * every shard server for its Status, and every node with a metrics endpoint for /metrics
 * (plain HTTP); then draws a DashboardSnapshot (deploy/dashboard/cluster-view.ts) and hands
 * it to its subscribers. It keeps `historyMs` of ops/s and p99 per group in memory (nothing on
 * disk). One poll at a time: the next starts `intervalMs` after the previous one started, or
 * at once when a poll took longer.
 *
 * A group that left the config is still polled while any of its servers answers (it drains:
 * its shards in Handoff until the new owners have them), then forgotten.
 */
import * as grpc from "@grpc/grpc-js";
import type { Clock } from "../../common/env";
import { fromServiceError } from "../../common/grpc-errors";
import { realClock, wallClockMs } from "../../common/real-env";
import { ControllerClient } from "../../controller/client";
import type { Config } from "../../controller/config";
import type { Security } from "../../security/credentials";
import { shardKVStub, type ShardKVStub } from "../../shard-server/grpc-service";
import { shardStateName } from "../local/cluster";
import {
  type ControllerView, type DashboardSnapshot, type GroupView, type HistoryPoint, type ReplicaReport, type ShardReport,
  migrations, replicaViews, shardCells, spokesman,
} from "./cluster-view";
import {
  type NodeDelta, type Scrape, gidOfScrape, groupRate, migrationInFlightBytesName, migrationMovedBytesName, nodeDelta, sumOf,
} from "./group-rates";
import { parseExposition } from "./prometheus-text";

/** A metrics endpoint to scrape. */
export interface MetricsTarget {
  /** host:port of its /metrics. */
  readonly metrics: string;
  /** The node's gRPC address, when known (shardkv-local's cluster.json): its replica shows the link. */
  readonly addr?: string;
  /** Its group, when known; else the scrape's `gid` label says. */
  readonly gid?: number;
}

/** Where the cluster is; asked at every poll (shardkv-local re-reads cluster.json). */
export interface ClusterSource {
  controllers(): readonly string[];
  metricsTargets(): readonly MetricsTarget[];
}

export interface PollerOptions {
  readonly source: ClusterSource;
  /** The admin identity's credentials (or plaintext for an insecure cluster). */
  readonly security: Security;
  /** Time between polls. Default 1000 ms. */
  readonly intervalMs?: number;
  /** How much chart history to keep. Default 5 minutes. */
  readonly historyMs?: number;
  /** Deadline of each RPC and scrape. Default 1000 ms. */
  readonly callTimeoutMs?: number;
  readonly clock?: Clock;
}

export const intervalMsDefault = 1000;
export const historyMsDefault = 300_000;

/** What one scrape of a metrics endpoint gave: the scrape and the one before it, or why there is none. */
interface ScrapeResult {
  readonly target: MetricsTarget;
  readonly scrape?: Scrape;
  readonly prev?: Scrape;
  /** The target's group (given, else the scrape's gid label). */
  readonly gid?: number;
  readonly error?: string;
}

/** One line for an error (the first line of its message). */
const oneLineOf = (e: unknown): string => String((e as Error)?.message ?? e).split("\n")[0]!;

export class DashboardPoller {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly historyMs: number;
  private readonly callMs: number;
  private controller: ControllerClient | undefined;
  private readonly stubs = new Map<string, ShardKVStub>();
  private readonly scrapes = new Map<string, Scrape>();
  private readonly history = new Map<number, HistoryPoint[]>();
  /** Groups seen in a config, with their servers: polled until they leave and stop answering. */
  private readonly known = new Map<number, readonly string[]>();
  private config: Config | undefined;
  private snapshot: DashboardSnapshot | undefined;
  private readonly listeners = new Set<(s: DashboardSnapshot) => void>();
  private cancelTimer: (() => void) | undefined;
  private stopped = true;

  constructor(private readonly opts: PollerOptions) {
    this.clock = opts.clock ?? realClock;
    this.intervalMs = opts.intervalMs ?? intervalMsDefault;
    this.historyMs = opts.historyMs ?? historyMsDefault;
    this.callMs = opts.callTimeoutMs ?? 1000;
  }

  /** The latest snapshot (undefined before the first poll ended). */
  latest(): DashboardSnapshot | undefined {
    return this.snapshot;
  }

  /** Calls `fn` with every new snapshot; returns the unsubscribe function. */
  subscribe(fn: (s: DashboardSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Starts polling (the first poll at once); resolves when the first snapshot is there. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.pollOnce();
    this.schedule(this.intervalMs);
  }

  /** The next poll in `delayMs`; each starts `intervalMs` after the previous one started (at once when that one took longer). */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.cancelTimer = this.clock.after(delayMs, () => {
      const started = this.clock.nowMs();
      void this.pollOnce().catch(() => undefined).finally(() => this.schedule(Math.max(0, this.intervalMs - (this.clock.nowMs() - started))));
    });
  }

  /** Stops polling and closes every connection. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.controller?.close();
    this.controller = undefined;
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
  }

  /**
   * One poll: asks everyone, draws the snapshot, tells the subscribers. An unreachable node or
   * controller is part of the snapshot, not an error; throws only when the source names no
   * usable controller address.
   */
  async pollOnce(): Promise<DashboardSnapshot> {
    const ctl = this.controllerClient();
    const targets = this.opts.source.metricsTargets();
    const [query, controllers, scraped] = await Promise.all([
      ctl.queryCluster(-1, { deadlineMs: Math.max(this.callMs, 2000) }).then((q) => ({ q }), (e: unknown) => ({ error: oneLineOf(e) })),
      Promise.all(ctl.addresses.map((a) => this.controllerView(ctl, a))),
      Promise.all(targets.map((t) => this.scrape(t))),
    ]);
    const clusterId = "q" in query ? query.q.clusterId : undefined;
    if ("q" in query) this.config = query.q.config;
    const cfg = this.config;
    const inConfig = new Set<number>(cfg ? cfg.groups.keys() : []);
    if (cfg) for (const [gid, servers] of cfg.groups) this.known.set(gid, servers);
    const groups = await Promise.all([...this.known].sort((a, b) => a[0] - b[0]).map(async ([gid, servers]) => ({
      gid, replicas: await Promise.all(servers.map((a) => this.replicaReport(a))),
    })));
    // A group no longer in the config whose servers all stopped answering is gone.
    for (const g of groups) if (!inConfig.has(g.gid) && g.replicas.every((r) => !r.status)) this.known.delete(g.gid);
    const now = wallClockMs();
    const byGid = this.metricsByGroup(scraped, now);
    const reports = new Map<number, readonly ShardReport[]>();
    for (const g of groups) reports.set(g.gid, spokesman(g.replicas)?.shards ?? []);
    const owners = cfg ? [...cfg.shards] : [];
    const cells = shardCells(owners, reports);
    const groupViews = groups.filter((g) => inConfig.has(g.gid) || this.known.has(g.gid)).map((g): GroupView => {
      const m = byGid.get(g.gid);
      const withMetrics = g.replicas.map((r) => ({ ...r, ...this.metricsOf(r.addr, scraped) }));
      const lead = spokesman(g.replicas);
      const held = (lead?.shards ?? []).filter((s) => s.state !== "notOwned");
      return {
        gid: g.gid, inConfig: inConfig.has(g.gid), ...(lead?.role === "leader" ? { leader: lead.id } : {}),
        owned: owners.filter((o) => o === g.gid).length,
        keys: held.reduce((n, s) => n + s.keys, 0), bytes: held.reduce((n, s) => n + s.bytes, 0),
        replicas: replicaViews(withMetrics),
        hasMetrics: (m?.targets ?? 0) > 0,
        history: this.history.get(g.gid) ?? [],
        ...(m?.movedIn !== undefined ? { migratedInBytes: m.movedIn } : {}),
        ...(m?.inFlight !== undefined ? { inFlightBytes: m.inFlight } : {}),
      };
    });
    const snapshot: DashboardSnapshot = {
      at: now, intervalMs: this.intervalMs, historyMs: this.historyMs,
      ...(clusterId ? { clusterId } : {}),
      ...("error" in query ? { configError: query.error } : {}),
      ...(cfg ? { configNum: cfg.num } : {}),
      shardCount: owners.length, shards: cells, groups: groupViews, migrations: migrations(cells, reports), controllers,
    };
    this.snapshot = snapshot;
    for (const fn of this.listeners) fn(snapshot);
    return snapshot;
  }

  /** The controller client for the source's current controllers (rebuilt when they change). */
  private controllerClient(): ControllerClient {
    const addrs = [...this.opts.source.controllers()];
    if (this.controller && this.controller.addresses.join(",") === addrs.join(",")) return this.controller;
    this.controller?.close();
    this.controller = new ControllerClient({ controllers: addrs, security: this.opts.security, deadlineMs: 2000, attemptMs: this.callMs });
    return this.controller;
  }

  private async controllerView(ctl: ControllerClient, addr: string): Promise<ControllerView> {
    try {
      const s = await ctl.status(addr, this.callMs);
      return {
        addr, id: Number(s.id), role: s.role, term: Number(s.term), configNum: Number(s.latestConfigNum),
        commitIndex: Number(s.commitIndex), appliedIndex: Number(s.appliedIndex),
      };
    } catch (e) {
      return { addr, error: oneLineOf(e) };
    }
  }

  private stub(addr: string): ShardKVStub {
    let s = this.stubs.get(addr);
    if (!s) {
      s = shardKVStub(addr, this.opts.security);
      this.stubs.set(addr, s);
    }
    return s;
  }

  /** The Status of the shard server at `addr`, as a report. */
  private replicaReport(addr: string): Promise<ReplicaReport> {
    return new Promise((resolve) => {
      this.stub(addr).status({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + this.callMs) }, (e, r) => {
        if (e || !r) {
          resolve({ addr, error: oneLineOf(e ? fromServiceError(e, `server ${addr}`) : "no reply") });
          return;
        }
        resolve({
          addr,
          status: {
            id: Number(r.id), role: r.role, term: Number(r.term), leader: Number(r.leader), configNum: Number(r.configNum),
            commitIndex: Number(r.commitIndex), appliedIndex: Number(r.appliedIndex),
            shards: r.shards.map((s) => ({ shard: Number(s.shard), state: shardStateName(s.state), configNum: Number(s.configNum), keys: Number(s.keys), bytes: Number(s.bytes) })),
            members: (r.members ?? []).map((m) => ({ id: Number(m.id), role: m.role ?? "", hasProgress: m.hasProgress === true, lag: Number(m.lag ?? 0) })),
          },
        });
      });
    });
  }

  /** One scrape of `t` (the previous one kept for the next delta). */
  private async scrape(t: MetricsTarget): Promise<ScrapeResult> {
    try {
      const res = await fetch(`http://${t.metrics}/metrics`, { signal: AbortSignal.timeout(this.callMs) });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const scrape: Scrape = { atMs: this.clock.nowMs(), samples: parseExposition(await res.text()) };
      const prev = this.scrapes.get(t.metrics);
      this.scrapes.set(t.metrics, scrape);
      const gid = t.gid ?? gidOfScrape(scrape.samples);
      return { target: t, scrape, ...(prev ? { prev } : {}), ...(gid !== undefined ? { gid } : {}) };
    } catch (e) {
      this.scrapes.delete(t.metrics);
      const code = (e as { cause?: { code?: unknown } })?.cause?.code;
      const why = (e as Error)?.name === "TimeoutError" ? `no answer within ${this.callMs} ms`
        : code === "ECONNREFUSED" ? "connection refused" : typeof code === "string" ? code : oneLineOf(e);
      return { target: t, ...(t.gid !== undefined ? { gid: t.gid } : {}), error: `metrics ${t.metrics}: ${why}` };
    }
  }

  /** The metrics endpoint of the server at `addr` and why it could not be read, when the targets name it. */
  private metricsOf(addr: string, scraped: readonly ScrapeResult[]): { metrics?: string; metricsError?: string } {
    const s = scraped.find((x) => x.target.addr === addr);
    return s ? { metrics: s.target.metrics, ...(s.error ? { metricsError: s.error } : {}) } : {};
  }

  /** Per gid: how many targets it has, the chart point appended to its history, migration bytes. */
  private metricsByGroup(scraped: readonly ScrapeResult[], now: number) {
    const out = new Map<number, { targets: number; deltas: NodeDelta[]; movedIn?: number; inFlight?: number }>();
    for (const s of scraped) {
      if (s.gid === undefined || s.gid === 0) continue;
      const g = out.get(s.gid) ?? { targets: 0, deltas: [] };
      out.set(s.gid, g);
      g.targets++;
      if (!s.scrape) continue;
      const d = s.prev ? nodeDelta(s.prev, s.scrape) : undefined;
      if (d) g.deltas.push(d);
      const moved = sumOf(s.scrape.samples, migrationMovedBytesName, { direction: "in" });
      if (moved !== undefined) g.movedIn = (g.movedIn ?? 0) + moved;
      const inFlight = sumOf(s.scrape.samples, migrationInFlightBytesName);
      if (inFlight !== undefined) g.inFlight = (g.inFlight ?? 0) + inFlight;
    }
    for (const [gid, g] of out) {
      const h = (this.history.get(gid) ?? []).filter((p) => p.t >= now - this.historyMs);
      if (g.deltas.length > 0) h.push({ t: now, ...groupRate(g.deltas) });
      this.history.set(gid, h);
    }
    for (const gid of this.history.keys()) if (!out.has(gid)) this.history.delete(gid);
    return out;
  }
}
