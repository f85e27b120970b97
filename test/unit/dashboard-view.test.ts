/**
 * The dashboard's picture of a cluster (deploy/dashboard/cluster-view.ts): each shard's owner
 * and state from the groups' Status replies, the migrations in progress, each replica's lag;
 * and its command lines (shardkv-dashboard, shardkv-local dashboard): one-line usage errors.
 */
import { describe, expect, it } from "vitest";
import { type ReplicaReport, type ShardReport, migrations, replicaViews, shardCells, spokesman } from "../../deploy/dashboard/cluster-view";
import { parseDashboardArgs } from "../../deploy/dashboard/args";
import { parseLocalArgs } from "../../deploy/local/args";
import { usageMessage } from "../lib/usage-message";

const rep = (shard: number, state: string, keys = 0, bytes = 0): ShardReport => ({ shard, state, configNum: 2, keys, bytes });

describe("shardCells and migrations", () => {
  it("owner and state per shard: pulling at the owner, handoff at the sender, gc, serving, unknown, unassigned", () => {
    // Config: shards 0-1 group 1, 2-4 group 2, 5 unassigned, 6 group 3 (which did not answer),
    // 7 group 2 (serving there, while group 1, polled a moment earlier, still had it in handoff).
    const owners = [1, 1, 2, 2, 2, 0, 3, 2];
    const reports = new Map<number, readonly ShardReport[]>([
      [1, [rep(0, "serving", 5, 50), rep(1, "serving", 1, 10), rep(2, "handoff", 40, 4000), rep(3, "handoff", 8, 800), rep(4, "notOwned"), rep(7, "handoff", 6, 60)]],
      [2, [rep(2, "pulling", 10, 1000), rep(3, "notOwned"), rep(4, "gc", 3, 30), rep(7, "serving", 6, 60)]],
    ]);
    const cells = shardCells(owners, reports);
    expect(cells).toEqual([
      { shard: 0, gid: 1, state: "serving", keys: 5, bytes: 50 },
      { shard: 1, gid: 1, state: "serving", keys: 1, bytes: 10 },
      { shard: 2, gid: 2, state: "pulling", from: 1, keys: 10, bytes: 1000 },
      // Group 2 has not started pulling shard 3: the data is still at group 1, in handoff.
      { shard: 3, gid: 2, state: "handoff", from: 1, keys: 8, bytes: 800 },
      { shard: 4, gid: 2, state: "gc", keys: 3, bytes: 30 },
      { shard: 5, gid: 0, state: "unassigned" },
      { shard: 6, gid: 3, state: "unknown" },
      { shard: 7, gid: 2, state: "serving", keys: 6, bytes: 60 },
    ]);
    expect(migrations(cells, reports)).toEqual([
      { shard: 2, from: 1, to: 2, state: "pulling", keys: 10, bytes: 1000, sourceBytes: 4000 },
      { shard: 3, from: 1, to: 2, state: "handoff", keys: 0, bytes: 0, sourceBytes: 800 },
      { shard: 4, to: 2, state: "gc", keys: 3, bytes: 30 },
    ]);
  });
});

describe("replicaViews", () => {
  const status = (id: number, role: string, term: number, appliedIndex: number, extra: Partial<NonNullable<ReplicaReport["status"]>> = {}) => ({
    id, role, term, leader: 1, configNum: 2, commitIndex: appliedIndex, appliedIndex, shards: [], members: [], ...extra,
  });

  it("the leader speaks for its group; each follower's lag is the leader's view, else behind its commit index", () => {
    const replicas: ReplicaReport[] = [
      { addr: "a:1", status: status(1, "leader", 5, 100, { members: [{ id: 2, role: "follower", hasProgress: true, lag: 7 }] }) },
      { addr: "a:2", status: status(2, "follower", 5, 93) },
      { addr: "a:3", status: status(3, "follower", 5, 60) },
      { addr: "a:4", error: "cannot reach server a:4: connection refused", metrics: "a:9" },
    ];
    expect(spokesman(replicas)?.id).toBe(1);
    const v = replicaViews(replicas);
    expect(v.map((r) => r.lag)).toEqual([0, 7, 40, undefined]);
    expect(v[3]).toEqual({ addr: "a:4", metrics: "a:9", error: "cannot reach server a:4: connection refused" });
    expect(v[0]).toMatchObject({ id: 1, role: "leader", term: 5, appliedIndex: 100 });
  });

  it("without a leader: the replica at the newest config speaks, and no lag is made up", () => {
    const replicas: ReplicaReport[] = [
      { addr: "a:1", status: status(1, "candidate", 6, 50, { configNum: 3 }) },
      { addr: "a:2", status: status(2, "follower", 5, 70, { configNum: 4 }) },
    ];
    expect(spokesman(replicas)?.id).toBe(2);
    expect(replicaViews(replicas).map((r) => r.lag)).toEqual([undefined, undefined]);
  });
});

describe("dashboard command lines", () => {
  it("shardkv-dashboard: controllers from the flag or $SHARDKV_CONTROLLERS, defaults, and one-line refusals", () => {
    expect(parseDashboardArgs(["--controllers", "127.0.0.1:7001,127.0.0.1:7002", "--insecure"], {})).toEqual({
      controllers: ["127.0.0.1:7001", "127.0.0.1:7002"], listen: "127.0.0.1:7780", metrics: [], intervalMs: 1000, historyMs: 300_000, tls: undefined,
    });
    const a = parseDashboardArgs(["--listen", "0.0.0.0:0", "--metrics", "h:9100,h:9101", "--interval", "500ms", "--history", "2m"], {
      SHARDKV_CONTROLLERS: "h:1", SHARDKV_TLS_CA: "/c/ca.crt", SHARDKV_TLS_CERT: "/c/admin.crt", SHARDKV_TLS_KEY: "/c/admin.key",
    });
    expect(a).toEqual({
      controllers: ["h:1"], listen: "0.0.0.0:0", metrics: ["h:9100", "h:9101"], intervalMs: 500, historyMs: 120_000,
      tls: { ca: "/c/ca.crt", cert: "/c/admin.crt", key: "/c/admin.key" },
    });
    expect(parseDashboardArgs(["--help"], {})).toBe("help");
    expect(usageMessage(() => parseDashboardArgs([], {}))).toBe("invalid --controllers: missing (or set $SHARDKV_CONTROLLERS)");
    expect(usageMessage(() => parseDashboardArgs(["--controllers", "h:1", "--listen", "nowhere"], {})))
      .toBe('invalid --listen: want host:port (port 0: any free port), got "nowhere"');
    expect(usageMessage(() => parseDashboardArgs(["--controllers", "h:1", "--interval", "50ms"], {}))).toBe("invalid --interval: at least 100ms, got 50ms");
    expect(usageMessage(() => parseDashboardArgs(["--controllers", "h:1", "extra"], {}))).toBe('unexpected argument "extra"');
  });

  it("shardkv-local dashboard: --listen only with dashboard", () => {
    expect(parseLocalArgs(["dashboard", "--dir", "/tmp/x"])).toEqual({ kind: "dashboard", dir: "/tmp/x", listen: "127.0.0.1:7780" });
    expect(parseLocalArgs(["dashboard", "--listen", "127.0.0.1:0"])).toEqual({ kind: "dashboard", dir: "./.shardkv", listen: "127.0.0.1:0" });
    expect(usageMessage(() => parseLocalArgs(["status", "--listen", "127.0.0.1:0"]))).toBe("invalid --listen: only valid with dashboard, not status");
    expect(usageMessage(() => parseLocalArgs(["dashboard", "g1n1"]))).toMatch(/^dashboard takes no arguments/);
  });
});
