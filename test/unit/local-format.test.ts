/**
 * `shardkv-local status` for people (deploy/local/format.ts): the first line names the cluster
 * directory and, once the controllers answered one, the cluster id.
 */
import { describe, expect, it } from "vitest";
import type { ClusterStatus } from "../../deploy/local/cluster";
import { formatStatus, healthProblems } from "../../deploy/local/format";

const base: ClusterStatus = {
  dir: "/abs/.shardkv", shardCount: 16, nats: null,
  nodes: [{ name: "c1", kind: "controller", id: 1, addr: "127.0.0.1:7001", pid: 42, state: "up", role: "leader", term: 2, leader: 1, configNum: 3, log: "l", dataDir: "d" }],
};

describe("shardkv-local status", () => {
  it("shows the cluster id the controllers answered, and nothing in its place when none did", () => {
    expect(formatStatus({ ...base, clusterId: "b418770e149e8cb1f27833f7038766de" }).split("\n")[0])
      .toBe("cluster /abs/.shardkv (id b418770e149e8cb1f27833f7038766de): 1/1 nodes up, 16 shards, NATS none");
    expect(formatStatus(base).split("\n")[0]).toBe("cluster /abs/.shardkv: 1/1 nodes up, 16 shards, NATS none");
  });
});

describe("shardkv-local status health (exit 1 when any problem)", () => {
  const node = (name: string, kind: "controller" | "server", gid: number | undefined, state: "up" | "down" | "paused", role?: string) =>
    ({ name, kind, gid, id: 1, addr: "a", pid: state === "down" ? null : 1, state, role, log: "l", dataDir: "d" });
  const config = { num: 2, shards: [1, 2], groups: { "1": ["a"], "2": ["b"] } };
  it("a healthy cluster has none", () => {
    expect(healthProblems({ ...base, config, nodes: [node("c1", "controller", undefined, "up", "leader"), node("g1n1", "server", 1, "up", "leader"), node("g2n1", "server", 2, "up", "leader")] })).toEqual([]);
  });
  it("names every node not up, a missing controller leader, a group without a leader and a missing config", () => {
    expect(healthProblems({ ...base, config, nodes: [
      node("c1", "controller", undefined, "up", "follower"), node("g1n1", "server", 1, "down"), node("g1n2", "server", 1, "up", "leader"),
      node("g2n1", "server", 2, "paused"), node("g2n2", "server", 2, "up", "follower"),
    ] })).toEqual(["g1n1 is down", "g2n1 is paused", "no controller leader", "group 2 has no leader"]);
    expect(healthProblems({ ...base, configError: "no controller leader: 0 of 1 replicas reachable" }))
      .toEqual(["no config from the controllers (no controller leader: 0 of 1 replicas reachable)"]);
  });
});
