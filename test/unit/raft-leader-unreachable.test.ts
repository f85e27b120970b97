/**
 * A follower told by its transport that the leader's connection ended (Raft.leaderUnreachable,
 * RaftNode.peerDown; the gRPC transport tells it when an established stream ends, as after a
 * kill -9) campaigns within a few ticks instead of an election timeout (the first by id at its
 * next tick, each next one two ticks later), and stays harmless when
 * the hint is wrong: in the core harness, and on the simulator's real RaftNodes with the
 * simulated network's link resets (test/sim/network.ts processDied, spuriousReset).
 */
import { describe, expect, it } from "vitest";
import type { NodeId } from "../../common/ids";
import { RaftHarness } from "../lib/raft-network";
import { leaderOf, runUntil, simGroup } from "../lib/sim-group";

const n = (x: number) => x as NodeId;

/** A 3-replica harness whose node 1 leads term 1, every follower following it. */
function ledBy1(): RaftHarness {
  const h = new RaftHarness([n(1), n(2), n(3)]);
  h.node(1).raw.campaign();
  h.stabilize();
  expect(h.leader()).toBe(1);
  return h;
}

/** Ticks nodes 2 and 3 in turn (their ticks are not in step), `rounds` times each, delivering in between. */
function tickFollowers(h: RaftHarness, rounds: number): void {
  for (let i = 0; i < rounds; i++) {
    for (const id of [n(2), n(3)]) {
      h.tick(id);
      h.stabilize();
    }
  }
}

describe("Raft core: leaderUnreachable", () => {
  it("elects a new leader at the first follower's next tick after the followers hear that the leader died", () => {
    const h = ledBy1();
    h.isolate(n(1)); // killed: nothing goes in or out
    h.node(2).raw.leaderUnreachable(n(1));
    h.node(3).raw.leaderUnreachable(n(1));
    tickFollowers(h, 2);
    const st = [h.node(2).raw.status(), h.node(3).raw.status()];
    const leaders = st.filter((s) => s.role === "leader");
    expect(leaders).toHaveLength(1);
    expect(leaders[0]!.term).toBe(2);
    expect(st.every((s) => s.leader === leaders[0]!.id)).toBe(true);
  });

  it("without the hint, two ticks elect nobody (the election timeout is 10 ticks)", () => {
    const h = ledBy1();
    h.isolate(n(1));
    tickFollowers(h, 2);
    for (const id of [2, 3]) expect(h.node(id).raw.status()).toMatchObject({ role: "follower", leader: 1, term: 1 });
  });

  it("one follower hearing it alone elects once the other's lease ends, not before", () => {
    const h = ledBy1();
    h.isolate(n(1));
    h.node(2).raw.leaderUnreachable(n(1));
    tickFollowers(h, 2);
    // Node 3 still counts on its lease of the dead leader: node 2's PreVote is ignored.
    expect(h.node(3).raw.status()).toMatchObject({ role: "follower", leader: 1, term: 1 });
    expect(h.node(2).raw.status().role).toBe("preCandidate");
    tickFollowers(h, 20);
    expect([h.node(2).raw.status().role, h.node(3).raw.status().role].filter((r) => r === "leader")).toHaveLength(1);
  });

  it("a wrong hint about a live leader changes no term and no leader", () => {
    const h = ledBy1();
    h.node(2).raw.leaderUnreachable(n(1));
    tickFollowers(h, 2);
    expect(h.node(2).raw.status().role).toBe("preCandidate");
    h.tick(n(1)); // the leader's next heartbeat
    h.stabilize();
    for (const id of [1, 2, 3]) expect(h.node(id).raw.status()).toMatchObject({ leader: 1, term: 1 });
    expect(h.node(2).raw.status().role).toBe("follower");
  });

  it("a hint about a replica that is not the leader does nothing", () => {
    const h = ledBy1();
    h.node(2).raw.leaderUnreachable(n(3));
    tickFollowers(h, 2);
    expect(h.node(2).raw.status()).toMatchObject({ role: "follower", leader: 1, term: 1 });
  });
});

describe("simulator: kill -9 of the leader, the survivors told by their links", () => {
  // simGroup: 10 ms ticks, election timeout 10-20 ticks, heartbeats every 2 ticks. A follower
  // heard the leader at most 2 ticks before the crash, so without the link reset none could
  // campaign before 8 more ticks had passed: a leader elected within 80 ms came from the reset.
  const withoutResetEarliestMs = (10 - 2) * 10;

  for (const [seed, size] of [[1, 3], [2, 3], [3, 3], [16, 3], [35, 3], [4, 5], [5, 5], [6, 5]] as const) {
    it(`seed ${seed}, ${size} replicas: a new leader within ${withoutResetEarliestMs} virtual ms`, async () => {
      const c = simGroup(size, seed);
      const old = await leaderOf(c);
      const oldTerm = old.term();
      const crashAt = c.clock.nowMs();
      c.crash(old.id);
      await runUntil(c, () => {
        const l = c.leader();
        return l !== undefined && l.id !== old.id && l.node!.status().commit > 0 && l.node!.term() > oldTerm;
      }, `a new leader after n${old.id} crashed (replay: seed ${seed})`);
      expect(c.clock.nowMs() - crashAt, `seed ${seed}`).toBeLessThan(withoutResetEarliestMs);
      expect(c.failures).toEqual([]);
    });
  }

  it("a spurious reset of a live leader's link loses no leader and changes no term", async () => {
    const c = simGroup(3, 7);
    const leader = await leaderOf(c);
    const term = leader.term();
    const follower = c.ids.find((id) => id !== leader.id)!;
    c.net.spuriousReset(leader.id, follower);
    const until = c.clock.nowMs() + 500; // 50 ticks: several election timeouts
    await runUntil(c, () => c.clock.nowMs() >= until, "500 virtual ms to pass");
    expect(c.leader()?.id).toBe(leader.id);
    for (const id of c.ids) expect(c.handles.get(id)!.node!.term()).toBe(term);
    expect(c.failures).toEqual([]);
  });
});
