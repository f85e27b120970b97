import { describe, expect, it } from "vitest";
import type { NodeId } from "../../common/ids";
import { RaftHarness } from "../lib/raft-network";
import { NotLeaderError } from "../../common/errors";

const ids = [1, 2, 3] as NodeId[];
const enc = (s: string) => new TextEncoder().encode(s);

describe("raft core smoke", () => {
  it("elects a leader, replicates, commits on all", () => {
    const h = new RaftHarness(ids);
    h.node(1).raw.campaign();
    h.stabilize();
    expect(h.leader()).toBe(1);
    h.node(1).raw.propose([enc("a"), enc("b")]);
    h.stabilize();
    for (const id of ids) expect(h.node(id).sm).toEqual(["a", "b"]);
    expect(() => h.node(2).raw.propose([enc("x")])).toThrow(NotLeaderError);
  });

  it("elects by ticking", () => {
    const h = new RaftHarness(ids);
    for (let t = 0; t < 50 && h.leader() === undefined; t++) {
      for (const id of ids) h.tick(id);
      h.stabilize();
    }
    expect(h.leader()).toBeDefined();
  });

  it("catches up a lagging follower by snapshot", () => {
    const h = new RaftHarness(ids);
    h.node(1).raw.campaign();
    h.stabilize();
    h.isolate(3 as NodeId);
    for (let i = 0; i < 5; i++) { h.node(1).raw.propose([enc(`v${i}`)]); h.stabilize(); }
    h.compact(1 as NodeId);
    h.heal();
    h.node(1).raw.propose([enc("after")]);
    for (let i = 0; i < 5; i++) { h.tick(1 as NodeId); h.stabilize(); }
    expect(h.node(3).sm).toEqual(["v0", "v1", "v2", "v3", "v4", "after"]);
  });

  it("serves ReadIndex after a heartbeat quorum", () => {
    const h = new RaftHarness(ids);
    h.node(1).raw.campaign();
    h.stabilize();
    h.node(1).raw.readIndex(enc("r1"));
    h.stabilize();
    expect(h.node(1).readStates.map((r) => Buffer.from(r.ctx).toString())).toEqual(["r1"]);
  });

  it("transfers leadership", () => {
    const h = new RaftHarness(ids);
    h.node(1).raw.campaign();
    h.stabilize();
    h.node(1).raw.transferLeader(3 as NodeId);
    h.stabilize();
    expect(h.leader()).toBe(3);
  });
});

describe("snapshot transfer keeps its snapshot", () => {
  it("a newer snapshot taken mid-transfer does not restart the transfer", () => {
    const h = new RaftHarness(ids);
    h.snapshotChunkBytes = 2;
    h.node(1).raw.campaign();
    h.stabilize();
    h.isolate(3 as NodeId);
    for (let i = 0; i < 5; i++) { h.node(1).raw.propose([enc(`v${i}`)]); h.stabilize(); }
    const first = h.compact(1 as NodeId);
    h.heal();
    // Start the transfer: a heartbeat round makes the leader probe node 3 and send chunk 0.
    h.tick(1 as NodeId);
    for (let round = 0; round < 3; round++) { h.processReady(1 as NodeId); h.deliver(); h.processReady(3 as NodeId); h.deliver(); }
    const sentBefore = h.inflight.filter((m) => m.type === "snapshot");
    // The leader takes a newer snapshot while the transfer is under way.
    h.isolate(3 as NodeId);
    h.node(1).raw.propose([enc("later")]);
    h.stabilize();
    // Compact only up to the first snapshot: node 3 can continue from the log after it.
    const second = h.compact(1 as NodeId, first.index);
    expect(second.index).toBeGreaterThan(first.index);
    h.heal();
    const seen: number[] = sentBefore.map((m) => m.snapshot!.index);
    for (let i = 0; i < 30; i++) {
      h.tick(1 as NodeId);
      h.processReady(1 as NodeId);
      for (const m of h.inflight) if (m.type === "snapshot" && m.to === 3) seen.push(m.snapshot!.index);
      h.stabilize();
    }
    // The transfer finished with the snapshot it started with (no restart with the newer one)...
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((x) => x === first.index)).toBe(true);
    // ...and node 3 caught up completely, the rest by log.
    expect(h.node(3).sm).toEqual(["v0", "v1", "v2", "v3", "v4", "later"]);
  });
});
