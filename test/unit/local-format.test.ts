/**
 * `shardkv-local status` for people (deploy/local/format.ts): the first line names the cluster
 * directory and, once the controllers answered one, the cluster id.
 */
import { describe, expect, it } from "vitest";
import type { ClusterStatus } from "../../deploy/local/cluster";
import { formatStatus } from "../../deploy/local/format";

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
